// specdyn report: HTML tables (runs, diagnostics at the last step).
"use strict";
SD.tables = {};

function cell(tag, text, title) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (title) node.title = title;
  return node;
}

function fmt(x) {
  if (x === null || x === undefined) return "";
  return Number.isInteger(x) ? String(x) : Number(x).toPrecision(3);
}

function fill(table, header, rows) {
  const head = document.createElement("tr");
  header.forEach((h) => head.append(cell("th", h)));
  table.replaceChildren(head);
  rows.forEach((row) => {
    const tr = document.createElement("tr");
    row.forEach((c) => tr.append(Array.isArray(c) ? cell("td", c[0], c[1]) : cell("td", c)));
    table.append(tr);
  });
}

// One row per run: its group, folder, task, seed, recorded steps and final values per split.
SD.tables.runs = function (box, data) {
  const splits = SD.union(data.runs.map((r) => Object.keys(r.history)));
  const label = data.runs[0].errorLabel;
  const header = ["group", "run", "task", "preset", "seed", "recorded steps"]
    .concat(splits.flatMap((s) => [s + " loss", s + " " + label]));
  const rows = [];
  data.groups.forEach((g) => g.runs.forEach((i) => {
    const r = data.runs[i], steps = r.sv[r.matrices[0]] ? r.sv[r.matrices[0]].t : [];
    const last = splits.flatMap((s) => {
      const h = r.history[s];
      return h ? [fmt(h.loss[h.loss.length - 1]), fmt(h.error[h.error.length - 1])] : ["", ""];
    });
    const recorded = steps.length ? steps.length + " (last " + steps[steps.length - 1] + ")" : "0";
    rows.push([g.label, [r.name, r.path], r.task, r.preset, String(r.seed), recorded, ...last]);
  }));
  const table = document.createElement("table");
  fill(table, header, rows);
  box.replaceChildren(table);
};

// Every diagnostic metric of every matrix at the unit's last step (mean over seeds).
SD.tables.diagnostics = function (box, units) {
  const parts = units.map((u) => {
    const names = SD.union(u.runs.map((r) => Object.keys(r.diagnostics)));
    const grids = names.map((m) => SD.unitGrid(u, "diagnostics", m, null));
    const matrices = SD.union(grids.filter((g) => g).map((g) => g.rows));
    const rows = matrices.map((m) => [m, ...grids.map((g) => {
      const i = g ? g.rows.indexOf(m) : -1;
      return i < 0 ? "" : fmt(g.mean[i][g.steps.length - 1]);
    })]);
    const table = document.createElement("table");
    fill(table, ["matrix", ...names], rows);
    const caption = document.createElement("caption");
    caption.textContent = u.label;
    table.prepend(caption);
    return table;
  });
  box.replaceChildren(...parts);
};

// Every metric set against random data of the same dimensions, at each run's last step:
// value, the baseline's mean +- std, and how many stds the value lies above (+) or below.
SD.tables.baselines = function (box, data) {
  const parts = data.runs.filter((r) => Object.keys(r.baselines).length).map((r) => {
    const metrics = Object.keys(r.baselines);
    const names = SD.union(metrics.map((m) => Object.keys(r.baselines[m])));
    const rows = names.map((n) => [n, ...metrics.map((m) => {
      const b = r.baselines[m][n];
      if (!b || b[0] === null) return "";
      const z = b[2] > 0 ? (b[0] - b[1]) / b[2] : null;
      const text = fmt(b[0]) + " (rand " + fmt(b[1]) + (z === null ? "" : ", " +
        (z >= 0 ? "+" : "") + z.toFixed(1) + " sd") + ")";
      return [text, "random: mean " + fmt(b[1]) + ", std " + fmt(b[2])];
    })]);
    const table = document.createElement("table");
    fill(table, ["matrix or pair", ...metrics], rows);
    const caption = document.createElement("caption");
    caption.textContent = r.name;
    table.prepend(caption);
    return table;
  });
  box.replaceChildren(...parts);
};
