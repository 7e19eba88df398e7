// specdyn report: controls, sections and drawing. Figures are built only when shown.
"use strict";
SD.start = function (DATA) {
  const RUNS = DATA.runs;
  const PLOTLY_CONFIG = {displaylogo: false, responsive: true};
  const MATRICES = SD.union(RUNS.map((r) => r.matrices));
  const PAIRS = SD.union(RUNS.map((r) => r.pairs));
  const METRICS = SD.union(RUNS.map((r) => Object.keys(r.metrics)));
  const DIAGNOSTICS = SD.union(RUNS.map((r) => Object.keys(r.diagnostics)));
  const SEEDS = DATA.groups.some((g) => g.runs.length > 1);
  const state = {matrix: RUNS[0].matrix || MATRICES[0], pair: RUNS[0].pair || PAIRS[0],
                 metric: "normalized_effective_rank", rows: "task", view: "mean", limit: "all",
                 diagnostic: DIAGNOSTICS[0]};
  const hash = new URLSearchParams(location.hash.slice(1));
  for (const key of Object.keys(state)) if (hash.get(key)) state[key] = hash.get(key);
  if (!METRICS.includes(state.metric)) state.metric = METRICS[0];
  let units = SD.units(DATA, state.view);

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    (children || []).forEach((c) => node.append(c));
    return node;
  }

  function select(key, options, labels) {
    const node = el("select", {id: "select-" + key, "aria-label": key});
    options.forEach((o, i) => node.append(el("option", {value: o}, [labels ? labels[i] : o])));
    if (!options.length) node.append(el("option", {value: ""}, ["none recorded yet"]));
    if (!options.includes(state[key])) state[key] = options[0];
    node.value = options.length ? state[key] : "";
    node.addEventListener("change", () => {
      state[key] = node.value;
      const chosen = Object.entries(state).filter(([, v]) => v !== undefined && v !== "");
      location.hash = new URLSearchParams(chosen).toString();
      if (key === "view") units = SD.units(DATA, state.view);
      window.specdynReady = false;
      Promise.all(RENDER[key].map((f) => f())).then(() => { window.specdynReady = true; });
    });
    return el("label", {}, [key === "limit" ? "values " : key + " ", node]);
  }

  function section(id, title, help, controls, boxes) {
    const head = el("div", {class: "head"}, [el("h2", {}, [title]), ...(controls || [])]);
    const body = boxes.map((b) => el("div", {id: b, class: "grid"}));
    $("app").append(el("section", {id: id + "-section"}, [head, el("p", {class: "help"}, [help]),
                                                            ...body]));
  }

  // Plot each item ({fig} or {note}) in the box; reuse the box's plots when the layout holds.
  function draw(id, items) {
    const box = $(id), old = Array.from(box.children);
    const reuse = old.length === items.length &&
      items.every((it, i) => !!it.fig === old[i].classList.contains("panel-plot"));
    if (!reuse) {
      old.filter((d) => d.classList.contains("panel-plot")).forEach((d) => Plotly.purge(d));
      box.replaceChildren();
    }
    // Every cell first, then the plots: each is drawn at its cell's final width.
    const divs = reuse ? old : items.map(() => box.appendChild(el("div")));
    return Promise.all(items.map((it, i) => {
      const div = divs[i];
      if (!it.fig) { div.className = "panel-note"; div.textContent = it.note; return null; }
      div.className = "panel-plot";
      return Plotly.react(div, it.fig.data, it.fig.layout, PLOTLY_CONFIG);
    }));
  }

  function orNote(fig, note) { return fig ? {fig: fig} : {note: note}; }

  function perUnit(build, note) {
    return units.map((u) => {
      const recorded = u.runs.some((r) => r.matrices.length);
      const text = !recorded ? "nothing recorded yet" : typeof note === "function" ? note(u) : note;
      return orNote(build(u), u.label + ": " + text);
    });
  }

  function rowsOf(u) {
    return SD.union(u.runs.map((r) => (state.rows === "task" ? r.rows : r.matrices)));
  }

  function renderCurves() {
    const label = RUNS[0].errorLabel;
    const extra = SD.union(RUNS.flatMap((r) => Object.values(r.history).map(Object.keys)))
      .filter((c) => !["step", "loss", "error"].includes(c));
    const error = SD.fig.curves(units, ["error", ...extra], label[0].toUpperCase() +
                                label.slice(1), false);
    error.layout.yaxis.title.text = label;
    const loss = SD.fig.curves(units, ["loss"], "Loss", true);
    return draw("curves", [orNote(loss.data.length ? loss : null, "no history yet"),
                           orNote(error.data.length ? error : null, "no history yet")]);
  }

  function renderSV() {
    const limit = state.limit === "all" ? Infinity : Number(state.limit);
    return draw("sv", perUnit((u) => SD.fig.singularValues(u, state.matrix, limit),
                              "'" + state.matrix + "' not recorded"));
  }

  function renderRank() {
    const zrange = state.metric === "normalized_effective_rank" ? [0, 1] : null;
    return draw("rank", perUnit((u) => {
      const grid = SD.unitGrid(u, "metrics", state.metric, rowsOf(u));
      return grid && grid.steps.length ? SD.fig.heatmap(grid, u.label, zrange) : null;
    }, "nothing recorded yet"));
  }

  // Eq. 3 (pairs) or Eq. 5 (matrices): the chosen one's diagonal per unit, its score over
  // steps (units overlaid), and every pair's or matrix's score per unit.
  function renderPairs(kind, key, field, diagTitle) {
    const late = (u) => kind === "agreement" && u.runs.every((r) => !r.agree);
    const missing = (what) => (u) => (late(u) ? "no agreement yet (written when the run " +
                                      "finishes)" : what);
    const diag = perUnit((u) => {
      const s = SD.unitSeries(u, field, key);
      return s ? SD.fig.diagonal(s, u.label + ": " + key) : null;
    }, missing("'" + key + "' not recorded"));
    const lines = SD.fig.scoreLines(units, "scores", kind, key, diagTitle + ": " + key);
    const grids = perUnit((u) => {
      const rows = kind === "alignment" ? SD.union(u.runs.map((r) => r.pairs)) : rowsOf(u);
      const grid = SD.unitGrid(u, "scores", kind, rows);
      return grid && grid.steps.length ? SD.fig.heatmap(grid, u.label, [0, 1], "Viridis") : null;
    }, missing("no " + kind + " scores"));
    const prefix = kind === "alignment" ? "align" : "agree";
    const linesNote = units.some(late) ? missing("")(units[0]) : "no " + kind + " scores";
    return Promise.all([draw(prefix + "-diag", [...diag, orNote(lines, linesNote)]),
                        draw(prefix + "-score", grids)]);
  }

  function renderAlign() {
    return renderPairs("alignment", state.pair, "align", "Alignment score (top-10)");
  }

  function renderAgree() {
    return renderPairs("agreement", state.matrix, "agree", "Agreement score (top-10)");
  }

  function renderDiagnostics() {
    if (!DIAGNOSTICS.length) return null;
    const figs = perUnit((u) => {
      const grid = SD.unitGrid(u, "diagnostics", state.diagnostic, null);
      if (!grid || !grid.steps.length) return null;
      return grid.steps.length === 1 ? SD.fig.bars(grid, u.label + ": " + state.diagnostic)
                                      : SD.fig.heatmap(grid, u.label + ": " + state.diagnostic);
    }, "'" + state.diagnostic + "' not computed");
    return Promise.all([draw("diag", figs), SD.tables.diagnostics($("diag-table"), units)]);
  }

  const RENDER = {matrix: [renderSV, renderAgree], pair: [renderAlign], metric: [renderRank],
                  rows: [renderRank, renderAgree], limit: [renderSV], diagnostic: [renderDiagnostics],
                  view: [renderCurves, renderSV, renderRank, renderAlign, renderAgree,
                         renderDiagnostics]};

  function build() {
    $("subtitle").textContent = RUNS.length + (RUNS.length === 1 ? " run" : " runs") +
      ", written " + DATA.generated;
    const viewSelect = SEEDS ? [select("view", ["mean", "each"],
                                       ["mean \u00b1 std over seeds", "each seed"])] : [];
    $("controls").append(select("matrix", MATRICES), select("pair", PAIRS), ...viewSelect);
    section("runs", "Runs", "Runs that differ only by seed form one group.", [], ["runs-table"]);
    SD.tables.runs($("runs-table"), DATA);
    section("curves", "Loss and error", "Every split over training steps; drag to zoom, " +
            "double-click to reset.", [], ["curves"]);
    section("sv", "Singular values", "Every singular value of the chosen matrix over steps, " +
            "coloured by rank index (largest on top).", [select("limit", ["all", "50", "20", "10"],
            ["all", "top 50", "top 20", "top 10"])], ["sv"]);
    section("rank", "Effective rank", "Matrices by depth (top to bottom) against steps; " +
            "normalised effective rank (Eq. 2) is on a fixed 0-1 scale.",
            [select("metric", METRICS), select("rows", ["task", "all"],
                                               ["task's rows", "all matrices"])], ["rank"]);
    section("align", "Alignment", "Diagonal of the alignment matrix (Eq. 3) of the chosen pair, " +
            "its top-10 score (Eq. 4), and the score of every pair.", [],
            ["align-diag", "align-score"]);
    section("agree", "Agreement", "Diagonal of the agreement (Eq. 5) of the chosen matrix " +
            "with the final step, its top-10 score, and the score of every matrix.", [],
            ["agree-diag", "agree-score"]);
    if (RUNS.some((r) => Object.keys(r.baselines || {}).length)) {
      section("random", "Against random", "Each metric at the last step beside what random " +
              "data of the same dimensions gives: an i.i.d. Gaussian matrix of the same shape " +
              "and entry scale, or independent uniformly random singular vectors for " +
              "alignment and agreement (mean, and the value's distance in stds).", [],
              ["random-table"]);
      SD.tables.baselines($("random-table"), DATA);
    }
    if (DIAGNOSTICS.length) {
      section("diag", "Single-checkpoint diagnostics", "Per-matrix metrics beyond the " +
              "recorder's five; the table holds every one at the last step.",
              [select("diagnostic", DIAGNOSTICS)], ["diag", "diag-table"]);
    }
  }

  function timed(name, render) {  // ms each section takes to draw, for benchmarks
    const start = performance.now(), done = render();
    window.specdynTimes[name] = performance.now() - start;
    return done;
  }

  build();
  Promise.all([timed("curves", renderCurves), timed("sv", renderSV), timed("rank", renderRank),
               timed("align", renderAlign), timed("agree", renderAgree),
               timed("diagnostics", renderDiagnostics)]).then(() => {
    window.specdynTimes.drawn = performance.now();
    window.specdynReady = true;
    document.body.dataset.ready = "1";
  });
};
