// specdyn report: the shipped data, and units (groups of seeds, or single runs) built on demand.
"use strict";
const SD = {};

SD.COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
             "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
SD.DASHES = ["solid", "dot", "dash", "dashdot", "longdash"];

// Fixed-point arrays {e, q} (values q * 10^e) back to floats, everywhere in the data.
SD.decode = function (x) {
  if (Array.isArray(x)) return x.map(SD.decode);
  if (x === null || typeof x !== "object") return x;
  const keys = Object.keys(x);
  if (keys.length === 2 && "e" in x && "q" in x) {
    const f = x.e < 0 ? (v) => v / Math.pow(10, -x.e) : (v) => v * Math.pow(10, x.e);
    const unfix = (q) => (Array.isArray(q) ? q.map(unfix) : q === null ? null : f(q));
    return unfix(x.q);
  }
  const out = {};
  keys.forEach((k) => { out[k] = SD.decode(x[k]); });
  return out;
};

SD.union = function (lists) {
  const seen = new Set(), out = [];
  for (const list of lists) for (const x of list) if (!seen.has(x)) { seen.add(x); out.push(x); }
  return out;
};

// Viridis, for singular values coloured by rank index (x in [0, 1]).
const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
                 [31, 158, 137], [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37]];
SD.viridis = function (x) {
  const p = Math.min(Math.max(x, 0), 1) * (VIRIDIS.length - 1), i = Math.min(Math.floor(p), 8);
  const f = p - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return "rgb(" + a.map((c, j) => Math.round(c + f * (b[j] - c))).join(",") + ")";
};

// Magma, the colour scale of the effective-rank heatmaps (as in the PNG figures).
SD.MAGMA = ["#000004", "#140e36", "#3b0f70", "#641a80", "#8c2981", "#b73779", "#de4968",
            "#f7705c", "#fe9f6d", "#fecf92", "#fcfdbf"].map((c, i) => [i / 10, c]);

SD.alpha = function (color, a) {
  if (color.startsWith("rgb(")) return color.replace("rgb(", "rgba(").replace(")", "," + a + ")");
  const n = parseInt(color.slice(1), 16);
  return "rgba(" + [(n >> 16) & 255, (n >> 8) & 255, n & 255, a].join(",") + ")";
};

// Units: what one panel of a side-by-side row shows. "mean" view: one per group of runs that
// differ only by seed; "each" view: one per run.
SD.units = function (data, view) {
  const units = [];
  data.groups.forEach((g, gi) => {
    if (view === "each" && g.runs.length > 1) {
      g.runs.forEach((r) => units.push({label: g.label.replace(/ \(seeds .*\)$/, "") +
        " (seed " + data.runs[r].seed + ")", runs: [data.runs[r]], color: SD.COLORS[gi % 10]}));
    } else {
      units.push({label: g.label, runs: g.runs.map((r) => data.runs[r]),
                  color: SD.COLORS[gi % 10]});
    }
  });
  units.forEach((u, i) => { if (view === "each") u.color = SD.COLORS[i % 10]; });
  return units;
};

// Steps present in every series, and each series' rows at those steps.
SD.alignSteps = function (list) {
  const common = list.map((s) => new Set(s.t));
  const t = list[0].t.filter((x) => common.every((c) => c.has(x)));
  const rows = list.map((s) => {
    const at = new Map(s.t.map((x, i) => [x, i]));
    return t.map((x) => s.v[at.get(x)]);
  });
  return {t: t, rows: rows};
};

// Element-wise mean and standard deviation of same-shaped nested arrays (nulls skipped).
SD.meanStd = function (arrays) {
  if (!Array.isArray(arrays[0])) {
    const vals = arrays.filter((x) => x !== null && x !== undefined);
    if (!vals.length) return [null, null];
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    const v = vals.reduce((a, b) => a + (b - m) * (b - m), 0) / vals.length;
    return [m, Math.sqrt(v)];
  }
  const n = Math.min(...arrays.map((a) => (a ? a.length : 0)));
  const mean = [], std = [];
  for (let i = 0; i < n; i++) {
    const [m, s] = SD.meanStd(arrays.map((a) => a[i]));
    mean.push(m); std.push(s);
  }
  return [mean, std];
};

// A unit's series (keyed by matrix or pair) as {t, mean (T x k), std}; null if none recorded.
SD.unitSeries = function (unit, field, key) {
  const list = unit.runs.map((r) => r[field] && r[field][key]).filter((s) => s);
  if (!list.length) return null;
  const {t, rows} = SD.alignSteps(list);
  const [mean, std] = SD.meanStd(rows);
  return {t: t, mean: mean, std: std, n: list.length};
};

// A unit's metric grid (rows = matrices, columns = steps) as {steps, rows, mean, std}.
SD.unitGrid = function (unit, field, metric, rows) {
  const grids = unit.runs.map((r) => r[field] && r[field][metric]).filter((g) => g);
  if (!grids.length) return null;
  const steps = grids[0].steps.filter((s) => grids.every((g) => g.steps.includes(s)));
  const names = rows || SD.union(grids.map((g) => g.matrices));
  const per = grids.map((g) => {
    const col = new Map(g.steps.map((s, j) => [s, j]));
    return names.map((m) => {
      const i = g.matrices.indexOf(m);
      return steps.map((s) => (i < 0 ? null : g.values[i][col.get(s)]));
    });
  });
  const [mean, std] = SD.meanStd(per);
  return {steps: steps, rows: names, mean: mean, std: std, n: grids.length};
};

// One history column of one split as {t, mean, std} over the unit's runs.
SD.unitHistory = function (unit, split, column) {
  const list = unit.runs.map((r) => r.history[split])
    .filter((h) => h && h[column]).map((h) => ({t: h.step, v: h[column]}));
  if (!list.length) return null;
  const {t, rows} = SD.alignSteps(list);
  const [mean, std] = SD.meanStd(rows);
  return {t: t, mean: mean, std: std, n: list.length};
};
