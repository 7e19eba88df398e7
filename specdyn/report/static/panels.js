// specdyn report: Plotly figures ({data, layout}) built from units on demand.
"use strict";
SD.fig = {};

function baseLayout(title, height, extra) {
  return Object.assign({
    title: {text: title, font: {size: 14}, x: 0.02},
    height: height || 340,
    margin: {l: 60, r: 20, t: 40, b: 45},
    xaxis: {title: {text: "step"}},
    legend: {font: {size: 10}},
    hovermode: "closest",
  }, extra || {});
}

// Upper and lower edges of a mean +- std band, the lower filled up to the upper.
function band(x, mean, std, color, group) {
  const up = mean.map((m, i) => (m === null ? null : m + std[i]));
  const lo = mean.map((m, i) => (m === null ? null : m - std[i]));
  const edge = {x: x, mode: "lines", line: {width: 0}, hoverinfo: "skip", showlegend: false,
                legendgroup: group, type: "scatter"};
  return [Object.assign({y: up}, edge),
          Object.assign({y: lo, fill: "tonexty", fillcolor: SD.alpha(color, 0.2)}, edge)];
}

function line(x, y, name, color, extra) {
  return Object.assign({x: x, y: y, name: name, type: "scatter", mode: "lines",
                        line: {color: color, width: 1.6}, legendgroup: name}, extra || {});
}

// History curves of every unit overlaid: colour by unit (or by split for one unit), dash by
// split; extra columns (e.g. WER beside CER) dotted. Seeds: mean line and a +- std band.
SD.fig.curves = function (units, columns, title, logy) {
  const data = [];
  const splits = SD.union(units.flatMap((u) => u.runs.map((r) => Object.keys(r.history))));
  units.forEach((u) => splits.forEach((split, si) => columns.forEach((col, ci) => {
    const s = SD.unitHistory(u, split, col);
    if (!s) return;
    const color = units.length === 1 ? SD.COLORS[si % 10] : u.color;
    const dash = units.length === 1 ? (ci ? "dot" : "solid") : SD.DASHES[si % 5];
    const name = (units.length === 1 ? "" : u.label + " ") + split + (ci ? " " + col : "");
    if (s.n > 1) data.push(...band(s.t, s.mean, s.std, color, name));
    data.push(line(s.t, s.mean, name, color, {line: {color: color, dash: dash, width: 1.6}}));
  })));
  const yaxis = {title: {text: columns[0]}, type: logy ? "log" : "linear", exponentformat: "power"};
  return {data: data, layout: baseLayout(title, 340, {yaxis: yaxis, hovermode: "x unified"})};
};

// Every singular value of one matrix over steps, coloured by rank index (largest on top).
SD.fig.singularValues = function (unit, matrix, limit) {
  const s = SD.unitSeries(unit, "sv", matrix);
  if (!s) return null;
  const r = Math.min(s.mean[0].length, limit || Infinity);
  const data = [{x: [null], y: [null], type: "scatter", mode: "markers", showlegend: false,
                 hoverinfo: "skip", marker: {color: [1], cmin: 1, cmax: Math.max(r, 2),
                 colorscale: "Viridis", showscale: true, colorbar: {title: {text: "rank index"},
                 thickness: 12}}}];  // the colour bar only
  for (let i = r - 1; i >= 0; i--) {
    const color = SD.viridis(r > 1 ? i / (r - 1) : 0);
    const mean = s.mean.map((row) => row[i]), std = s.std.map((row) => row[i]);
    if (s.n > 1) data.push(...band(s.t, mean, std, color, "s" + (i + 1)));
    data.push(line(s.t, mean, "s" + (i + 1), color, {showlegend: false}));
  }
  const layout = baseLayout(unit.label, 340, {yaxis: {title: {text: "singular value"}}});
  return {data: data, layout: layout};
};

// A grid (rows by depth, top to bottom) against steps.
SD.fig.heatmap = function (grid, title, zrange, colorscale) {
  const height = Math.max(300, 16 * grid.rows.length + 110);
  const trace = {type: "heatmap", x: grid.steps, y: grid.rows, z: grid.mean,
                 colorscale: colorscale || SD.MAGMA, zmin: zrange ? zrange[0] : undefined,
                 zmax: zrange ? zrange[1] : undefined, hoverongaps: false,
                 hovertemplate: "%{y}<br>step %{x}<br>%{z:.4g}<extra></extra>"};
  const yaxis = {autorange: "reversed", automargin: true, tickfont: {size: 9}, type: "category"};
  return {data: [trace], layout: baseLayout(title, height, {yaxis: yaxis})};
};

// The diagonal of Eq. 3 or Eq. 5 of one series: index i (upwards) against steps.
SD.fig.diagonal = function (series, title) {
  const k = series.mean[0].length;
  const z = Array.from({length: k}, (_, i) => series.mean.map((row) => row[i]));
  const trace = {type: "heatmap", x: series.t, y: Array.from({length: k}, (_, i) => i), z: z,
                 colorscale: "Viridis", zmin: 0, zmax: 1,
                 hovertemplate: "index %{y}<br>step %{x}<br>%{z:.3f}<extra></extra>"};
  return {data: [trace], layout: baseLayout(title, 340, {yaxis: {title: {text: "index i"}}})};
};

// One row (a matrix or pair) of a score grid, every unit overlaid, seeds as bands.
SD.fig.scoreLines = function (units, field, metric, key, title) {
  const data = [];
  units.forEach((u) => {
    const g = SD.unitGrid(u, field, metric, [key]);
    if (!g || g.mean[0].every((v) => v === null)) return;
    if (g.n > 1) data.push(...band(g.steps, g.mean[0], g.std[0], u.color, u.label));
    data.push(line(g.steps, g.mean[0], u.label, u.color));
  });
  if (!data.length) return null;
  const layout = baseLayout(title, 340, {yaxis: {title: {text: metric}, range: [0, 1.02]}});
  return {data: data, layout: layout};
};

// A metric recorded at one step only: one bar per matrix (error bars: std over seeds).
SD.fig.bars = function (grid, title) {
  const y = grid.mean.map((row) => row[0]), err = grid.std.map((row) => row[0]);
  const trace = {type: "bar", x: grid.rows, y: y, marker: {color: SD.COLORS[0]},
                 error_y: grid.n > 1 ? {type: "data", array: err, visible: true} : undefined};
  const height = 340;
  const layout = baseLayout(title + " (step " + grid.steps[0] + ")", height,
                            {xaxis: {automargin: true, tickfont: {size: 9}}});
  return {data: [trace], layout: layout};
};
