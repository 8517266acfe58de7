// hpsearch dashboard: one page, hash routes, data from the live app's JSON endpoints or,
// in a report, from the JSON inlined in the page. Every value from the campaign reaches the
// DOM through textContent (reasons and log tails are arbitrary text).
"use strict";
(() => {
  const REPORT_EL = document.getElementById("hpsearch-data");
  const REPORT = REPORT_EL ? JSON.parse(REPORT_EL.textContent) : null;
  const LIVE = REPORT === null;
  const POLL_MS = 5000;
  const IDLE_POLL_MS = 30000;
  const COLORS = {
    COMPLETE: "#2e7d32", PRUNED: "#ef8f00", FAIL: "#c62828", RUNNING: "#1565c0",
    WAITING: "#9e9e9e",
  };
  const PLOT_CONFIG = { displaylogo: false, responsive: true };
  const main = document.getElementById("view");

  // ---------- data ----------
  async function api(name) {
    if (!LIVE) return Object.prototype.hasOwnProperty.call(REPORT, name) ? REPORT[name] : null;
    const response = await fetch("api/" + name, { cache: "no-store", credentials: "same-origin" });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`api/${name}: HTTP ${response.status}`);
    return response.json();
  }

  // ---------- small DOM helpers ----------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const trialLink = (n) => el("a", { href: `#trial/${n}`, class: "trial-link" }, `#${n}`);
  const stateBadge = (s) => el("span", { class: `state state-${s}` }, s);

  function fmt(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "number") {
      if (Number.isInteger(v)) return String(v);
      const a = Math.abs(v);
      if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
      return String(Number(v.toPrecision(4)));
    }
    return String(v);
  }
  function fmtDuration(s) {
    if (s === null || s === undefined) return "–";
    s = Math.round(s);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
    if (m) return `${m}m ${String(sec).padStart(2, "0")}s`;
    return `${sec}s`;
  }
  function table(headers, rows) {
    const t = el("table", { class: "kv" });
    if (headers) t.append(el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))));
    const body = el("tbody");
    for (const row of rows) body.append(el("tr", {}, ...row.map((c) => el("td", {}, c))));
    t.append(body);
    return t;
  }
  function section(title, ...children) {
    return el("section", { class: "card" }, el("h2", {}, title), ...children);
  }
  function plotDiv(id, cls) {
    return el("div", { id, class: cls || "plot" });
  }
  function baseLayout(extra) {
    return Object.assign({
      margin: { l: 60, r: 20, t: 10, b: 45 },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { size: 12 }, hovermode: "closest", legend: { orientation: "h", y: -0.25 },
    }, extra);
  }
  function react(id, traces, layout) {
    const div = document.getElementById(id);
    if (!div) return;
    Plotly.react(div, traces, layout, PLOT_CONFIG);
    if (!div.dataset.clicks) {
      // Points carry their trial number in customdata: a click opens that trial.
      div.on("plotly_click", (ev) => {
        const n = ev.points && ev.points[0] && ev.points[0].customdata;
        if (Number.isInteger(n)) location.hash = `#trial/${n}`;
      });
      div.dataset.clicks = "1";
    }
  }

  // ---------- header, shared by every view ----------
  let summary = null;
  function updateHeader(s) {
    summary = s;
    document.getElementById("campaign-name").textContent = s.campaign;
    document.title = `${s.campaign} · hpsearch`;
    const pill = document.getElementById("status");
    if (LIVE) {
      pill.textContent = s.running ? "running" : "finished";
      pill.className = "pill " + (s.running ? "pill-running" : "pill-done");
      document.getElementById("updated").textContent = `updated ${s.taken_at}`;
    }
    document.getElementById("nav-fail-count").textContent =
      s.counts.FAIL ? `(${s.counts.FAIL})` : "";
  }

  // ---------- overview ----------
  const overview = {
    data: () => api("summary"),
    skeleton() {
      return [
        el("div", { id: "cards", class: "cards" }),
        el("div", { class: "grid2" },
          section("Best so far against trial number", plotDiv("plot-by-number")),
          section("Best so far against wall time", plotDiv("plot-by-time"))),
        section("Trials finished per hour", plotDiv("plot-per-hour", "plot plot-short")),
        el("div", { id: "pareto-slot" }),
      ];
    },
    pareto(p) {
      // Several objectives: every complete trial on the first two, the front joined up.
      const slot = document.getElementById("pareto-slot");
      if (!p || !slot) return;
      if (!document.getElementById("plot-pareto")) {
        slot.replaceChildren(section(`Pareto front (${p.front.number.length} trials)`,
          plotDiv("plot-pareto")));
      } else {
        slot.querySelector("h2").textContent = `Pareto front (${p.front.number.length} trials)`;
      }
      const axis = (i) => ({ title: { text: `${p.metrics[i]} (${p.directions[i]})` } });
      react("plot-pareto", [
        { x: p.points.x, y: p.points.y, customdata: p.points.number, type: "scatter",
          mode: "markers", name: "trial", marker: { color: "#90a4ae", size: 6 },
          hovertemplate: "trial #%{customdata}: %{x}, %{y}<extra></extra>" },
        { x: p.front.x, y: p.front.y, customdata: p.front.number, type: "scatter",
          mode: "lines+markers", name: "Pareto front",
          line: { color: "#2e7d32", width: 2, shape: "hv" }, marker: { color: "#2e7d32", size: 8 },
          hovertemplate: "trial #%{customdata}: %{x}, %{y}<extra></extra>" },
      ], baseLayout({ xaxis: axis(0), yaxis: axis(1) }));
    },
    fill(s) {
      const cards = document.getElementById("cards");
      const card = (label, value, sub) =>
        el("div", { class: "stat" }, el("div", { class: "stat-label" }, label),
          el("div", { class: "stat-value" }, value), sub ? el("div", { class: "muted" }, sub) : null);
      const tl = s.time_left || {};
      let left = "–", leftSub = "no budget in the campaign";
      if (tl.time_left_s !== null && tl.time_left_s !== undefined) {
        left = fmtDuration(tl.time_left_s);
        const parts = [];
        if (tl.trials_left !== null) parts.push(`${tl.trials_left} of ${tl.trials_budget} trials left`);
        if (tl.wall_left_s !== null) parts.push(`${fmtDuration(tl.wall_left_s)} of wall clock`);
        leftSub = parts.join(", ");
      } else if (tl.trials_left !== null && tl.trials_left !== undefined) {
        left = `${tl.trials_left} trials`;
        leftSub = `of ${tl.trials_budget}`;
      }
      const best = s.best ? el("a", { href: `#trial/${s.best.number}` }, fmt(s.best.value)) : "–";
      cards.replaceChildren(
        card("Trials", String(s.n_trials), `${s.direction} objective`),
        ...["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"].map((st) =>
          el("div", { class: `stat stat-${st}` }, el("div", { class: "stat-label" }, st.toLowerCase()),
            el("div", { class: "stat-value" }, String(s.counts[st] || 0)))),
        card("Best value", best, s.best ? `trial #${s.best.number}` : "no complete trial yet"),
        card("Trials per hour", tl.rate_per_hour ? fmt(tl.rate_per_hour) : "–",
          tl.elapsed_s ? `over ${fmtDuration(tl.elapsed_s)}` : null),
        card("Time left", left, leftSub),
      );
      const n = s.best_by_number, t = s.best_by_time;
      const points = (x, d) => ({
        x, y: d.value, customdata: d.number, type: "scatter", mode: "markers",
        name: d.total > d.number.length ? `trials (${d.number.length} of ${d.total} drawn)` : "trial",
        marker: { color: "#90a4ae", size: 6 }, hovertemplate: "trial #%{customdata}: %{y}<extra></extra>",
      });
      const line = (x, d) => ({
        x, y: d.best, type: "scatter", mode: "lines", name: "best so far",
        line: { color: "#2e7d32", width: 2, shape: "hv" }, hoverinfo: "skip",
      });
      react("plot-by-number", [points(n.number, n), line(n.number, n)],
        baseLayout({ xaxis: { title: { text: "trial number" } }, yaxis: { title: { text: "objective" } } }));
      react("plot-by-time", [points(t.time, t), line(t.time, t)],
        baseLayout({ xaxis: { type: "date", title: { text: "completed at" } },
          yaxis: { title: { text: "objective" } } }));
      const h = s.per_hour;
      react("plot-per-hour", ["COMPLETE", "PRUNED", "FAIL"].map((st) => ({
        x: h.hour, y: h[st], type: "bar", name: st, marker: { color: COLORS[st] },
      })), baseLayout({ barmode: "stack", xaxis: { type: "date" }, yaxis: { title: { text: "trials" } } }));
      overview.pareto(s.pareto);
    },
  };

  // ---------- best trials ----------
  const tableState = { sort: "value", desc: null, text: "", state: "ALL", top: 50, data: null };
  function tableColumns(d) {
    const cols = d.columns.map((name, i) => ({ key: name, label: name, index: i }));
    let i = d.columns.length;
    for (const p of d.params) cols.push({ key: "p:" + p, label: p, index: i++, group: "param" });
    for (const m of d.metrics) cols.push({ key: "m:" + m, label: m, index: i++, group: "metric" });
    return cols;
  }
  function selectedRows() {
    const d = tableState.data;
    const cols = tableColumns(d);
    const col = cols.find((c) => c.key === tableState.sort) || cols[2];
    const desc = tableState.desc === null ? d.direction === "maximize" && col.key === "value" : tableState.desc;
    const text = tableState.text.trim().toLowerCase();
    let rows = d.rows;
    if (tableState.state !== "ALL") rows = rows.filter((r) => r[1] === tableState.state);
    if (text) rows = rows.filter((r) => r.some((c) => c !== null && String(c).toLowerCase().includes(text)));
    const k = col.index;
    rows = rows.slice().sort((a, b) => {
      const x = a[k], y = b[k];
      if (x === null && y === null) return a[0] - b[0];
      if (x === null) return 1; // missing values last, whatever the direction
      if (y === null) return -1;
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return (desc ? -c : c) || a[0] - b[0];
    });
    return { cols, rows, desc, col };
  }
  function download(kind) {
    const { cols, rows } = selectedRows();
    let blob;
    if (kind === "csv") {
      const q = (v) => (v === null ? "" : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
      const header = cols.map((c) => (c.group ? `${c.group}s_${c.label}` : c.label));
      blob = new Blob([[header, ...rows].map((r) => r.map(q).join(",")).join("\n") + "\n"], { type: "text/csv" });
    } else {
      const records = rows.map((r) => {
        const rec = { params: {}, metrics: {} };
        for (const c of cols) {
          if (c.group === "param") rec.params[c.label] = r[c.index];
          else if (c.group === "metric") rec.metrics[c.label] = r[c.index];
          else rec[c.label] = r[c.index];
        }
        return rec;
      });
      blob = new Blob([JSON.stringify(records, null, 1)], { type: "application/json" });
    }
    const a = el("a", { href: URL.createObjectURL(blob), download: `${summary ? summary.study : "trials"}-trials.${kind}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
  function renderTable() {
    const { cols, rows, desc, col } = selectedRows();
    const shown = tableState.top > 0 ? rows.slice(0, tableState.top) : rows;
    const head = el("tr", {}, ...cols.map((c) => el("th", {
      class: `sortable${c.group ? " col-" + c.group : ""}${c.key === col.key ? " sorted" : ""}`,
      title: c.group ? `${c.group}: ${c.label}` : c.label,
      onclick: () => {
        if (tableState.sort === c.key) tableState.desc = !desc;
        else { tableState.sort = c.key; tableState.desc = c.key === "value" ? null : false; }
        renderTable();
      },
    }, c.label, c.key === col.key ? (desc ? " ▼" : " ▲") : "")));
    const body = el("tbody");
    const frag = document.createDocumentFragment();
    for (const r of shown) {
      const tr = el("tr", { "data-number": r[0] });
      cols.forEach((c, i) => {
        const v = r[c.index];
        let cell;
        if (i === 0) cell = trialLink(v);
        else if (c.key === "state") cell = stateBadge(v);
        else if (c.key === "duration_s") cell = fmtDuration(v);
        else cell = fmt(v);
        tr.append(el("td", { class: c.group ? "num" : null }, cell));
      });
      frag.append(tr);
    }
    body.append(frag);
    const t = document.getElementById("trials-table");
    t.replaceChildren(el("thead", {}, head), body);
    document.getElementById("table-count").textContent =
      `showing ${shown.length} of ${rows.length} matching (${tableState.data.rows.length} trials)`;
  }
  const best = {
    data: () => api("trials"),
    skeleton() {
      const states = ["ALL", "COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"];
      const stateSel = el("select", { id: "filter-state", onchange: (e) => { tableState.state = e.target.value; renderTable(); } },
        ...states.map((s) => el("option", { value: s }, s === "ALL" ? "all states" : s)));
      stateSel.value = tableState.state;
      const topSel = el("select", { id: "filter-top", onchange: (e) => { tableState.top = Number(e.target.value); renderTable(); } },
        ...[10, 25, 50, 100, 500, 0].map((n) => el("option", { value: n }, n ? `top ${n}` : "all")));
      topSel.value = String(tableState.top);
      const text = el("input", { id: "filter-text", type: "search", placeholder: "filter: node, state, value…",
        value: tableState.text, oninput: (e) => { tableState.text = e.target.value; renderTable(); } });
      return [section("Best trials",
        el("div", { class: "controls" }, stateSel, topSel, text,
          el("button", { id: "download-csv", onclick: () => download("csv") }, "CSV"),
          el("button", { id: "download-json", onclick: () => download("json") }, "JSON"),
          el("span", { id: "table-count", class: "muted" })),
        el("div", { class: "table-wrap" }, el("table", { id: "trials-table", class: "trials" })))];
    },
    fill(d) {
      tableState.data = d;
      renderTable();
    },
  };

  // ---------- trial detail ----------
  const trial = {
    data: (n) => api(`trial/${n}`),
    skeleton: () => [el("div", { id: "trial-detail" })],
    fill(d, n) {
      const root = document.getElementById("trial-detail");
      if (d === null) {
        root.replaceChildren(section(`Trial #${n}`, el("p", {}, LIVE
          ? "No such trial in this campaign."
          : "This trial's page is not in the report (it keeps the best trials and the failures); see the table.")));
        return;
      }
      const kv = (obj) => table(null, Object.entries(obj || {}).map(([k, v]) =>
        [k, typeof v === "object" && v !== null ? JSON.stringify(v) : fmt(v)]));
      const run = {
        host: d.hostname, worker: d.worker, started: d.start, finished: d.complete,
        duration: fmtDuration(d.duration_s),
      };
      const attrs = Object.assign({}, d.attrs);
      const runTable = kv(Object.assign(run, attrs));
      if (d.retries.length) {
        runTable.querySelector("tbody").append(el("tr", {}, el("td", {}, "retried as"),
          el("td", {}, ...d.retries.map(trialLink))));
      }
      const parts = [
        el("h1", {}, `Trial #${d.number} `, stateBadge(d.state),
          d.value !== null ? el("span", { class: "value" }, ` objective ${fmt(d.value)}`) : null),
      ];
      if (d.fail_reason) parts.push(el("div", { class: "failure", id: "fail-reason" }, d.fail_reason));
      parts.push(el("div", { class: "grid2" },
        section("Parameters", table(["name", "value", "range"], Object.entries(d.params).map(
          ([k, v]) => [k, fmt(v), d.distributions[k] || ""]))),
        section("Final metrics", Object.keys(d.metrics).length ? kv(d.metrics) : el("p", { class: "muted" }, "none reported")),
        section("Run", runTable),
        section("Threads and affinity in effect", Object.keys(d.threads).length ? kv(d.threads) : el("p", { class: "muted" }, "not recorded"))));
      parts.push(section("Intermediate values", d.intermediate.step.length
        ? plotDiv("plot-intermediate", "plot plot-short") : el("p", { class: "muted" }, "none reported")));
      parts.push(section("Log tail", d.log_tail ? el("pre", { class: "log", id: "log-tail" }, d.log_tail)
        : el("p", { class: "muted" }, "no log")));
      root.replaceChildren(...parts);
      if (d.intermediate.step.length) {
        react("plot-intermediate", [{ x: d.intermediate.step, y: d.intermediate.value, type: "scatter",
          mode: "lines+markers", line: { color: COLORS[d.state] || "#455a64" }, name: "value" }],
        baseLayout({ xaxis: { title: { text: "step (epoch)" }, dtick: Math.max(1, Math.ceil((d.intermediate.step.at(-1) - d.intermediate.step[0]) / 10)) },
          yaxis: { title: { text: "objective" } } }));
      }
    },
  };

  // ---------- importance, parallel coordinates, slices ----------
  function axisScale(axis) {
    if (axis.choices) {
      const n = axis.choices.length;
      return { pos: (v) => (v === null ? null : n > 1 ? axis.choices.indexOf(v) / (n - 1) : 0.5),
        ticks: axis.choices.map((c, i) => [n > 1 ? i / (n - 1) : 0.5, c]) };
    }
    const tr = (v) => (v === null ? null : axis.log ? Math.log10(v) : v);
    const vals = axis.values.filter((v) => v !== null).map(tr);
    const lo = Math.min(...vals), hi = Math.max(...vals);
    const pos = (v) => (v === null ? null : hi > lo ? (tr(v) - lo) / (hi - lo) : 0.5);
    const inv = (x) => (axis.log ? 10 ** x : x);
    return { pos, ticks: vals.length ? [[0, fmt(inv(lo))], [1, fmt(inv(hi))]] : [] };
  }
  function parallelCoordinates(d) {
    // Drawn as SVG lines, not WebGL: it must render on any laptop and in a headless check.
    const axes = d.axes.concat([{ name: "objective", values: d.value, log: false, choices: null }]);
    const scales = axes.map(axisScale);
    const order = d.value.map((v, i) => i).sort((a, b) => d.direction === "maximize"
      ? d.value[a] - d.value[b] : d.value[b] - d.value[a]); // worst first: best drawn on top
    const bins = 5, palette = ["#d7e3f4", "#a9c4e8", "#6f9bd6", "#3a6fb8", "#0b3d91"];
    const traces = [];
    for (let b = 0; b < bins; b++) {
      const x = [], y = [];
      const lo = Math.floor((b * order.length) / bins), hi = Math.floor(((b + 1) * order.length) / bins);
      for (const i of order.slice(lo, hi)) {
        axes.forEach((a, k) => { x.push(k); y.push(scales[k].pos(a.values[i])); });
        x.push(null); y.push(null);
      }
      const pct = (q) => Math.round(100 * q);
      traces.push({ x, y, type: "scatter", mode: "lines", hoverinfo: "skip",
        name: b === bins - 1 ? `best ${pct(1 / bins)}%` : `${pct(1 - (b + 1) / bins)}–${pct(1 - b / bins)}%`,
        line: { color: palette[b], width: b === bins - 1 ? 2 : 1 } });
    }
    const annotations = [], shapes = [];
    axes.forEach((a, k) => {
      shapes.push({ type: "line", x0: k, x1: k, y0: 0, y1: 1, line: { color: "#37474f", width: 1 } });
      annotations.push({ x: k, y: 1.12, text: a.log ? `${a.name} (log)` : a.name, showarrow: false, font: { size: 13 } });
      for (const [pos, label] of scales[k].ticks) {
        annotations.push({ x: k, y: pos, text: label, showarrow: false, xanchor: "right", xshift: -4, font: { size: 10, color: "#455a64" } });
      }
    });
    return { traces, layout: baseLayout({ margin: { l: 70, r: 30, t: 40, b: 40 }, annotations, shapes,
      xaxis: { visible: false, range: [-0.5, axes.length - 0.7] }, yaxis: { visible: false, range: [-0.05, 1.18] },
      hovermode: false, legend: { orientation: "h", y: -0.05 } }) };
  }
  const importance = {
    data: () => api("importance"),
    skeleton: () => [
      el("div", { class: "grid2" },
        section("Parameter importance (PED-ANOVA)", el("p", { id: "importance-note", class: "muted" }),
          plotDiv("plot-importance", "plot plot-short")),
        section("Parallel coordinates (complete trials, by objective rank)",
          el("p", { id: "sample-note", class: "muted" }), plotDiv("plot-parallel"))),
      section("Slice plots: objective against each parameter", el("div", { id: "slices", class: "grid3" })),
    ],
    fill(d) {
      document.getElementById("importance-note").textContent = d.note || "";
      document.getElementById("sample-note").textContent = d.total > d.number.length
        ? `drawn: the best tenth and an even sample, ${d.number.length} of ${d.total} trials` : "";
      const entries = Object.entries(d.importances).sort((a, b) => a[1] - b[1]);
      react("plot-importance", [{ type: "bar", orientation: "h", x: entries.map((e) => e[1]),
        y: entries.map((e) => e[0]), marker: { color: "#3a6fb8" }, hovertemplate: "%{y}: %{x:.3f}<extra></extra>" }],
      baseLayout({ margin: { l: 110, r: 20, t: 10, b: 40 }, xaxis: { title: { text: "importance" }, rangemode: "tozero" } }));
      const pc = parallelCoordinates(d);
      react("plot-parallel", pc.traces, pc.layout);
      const slices = document.getElementById("slices");
      if (slices.children.length !== d.axes.length) {
        slices.replaceChildren(...d.axes.map((a, k) => el("div", { class: "slice" },
          el("h3", {}, a.name), plotDiv(`plot-slice-${k}`, "plot plot-slice"))));
      }
      d.axes.forEach((a, k) => {
        react(`plot-slice-${k}`, [{ x: a.values, y: d.value, customdata: d.number, type: "scatter", mode: "markers",
          marker: { size: 6, color: d.number, colorscale: "Viridis", showscale: k === d.axes.length - 1,
            colorbar: { title: { text: "trial" }, thickness: 10 } },
          hovertemplate: "trial #%{customdata}<br>%{x}: %{y}<extra></extra>" }],
        baseLayout({ margin: { l: 50, r: 10, t: 5, b: 35 }, showlegend: false,
          xaxis: { type: a.choices ? "category" : a.log ? "log" : "linear" }, yaxis: { title: { text: "objective" } } }));
      });
    },
  };

  // ---------- node timeline ----------
  const timeline = {
    data: () => api("timeline"),
    skeleton: () => [
      section("Node timeline: one lane per worker", el("p", { id: "timeline-note", class: "muted" }),
        plotDiv("plot-timeline", "plot plot-tall")),
      section("Trials running at once", plotDiv("plot-concurrency", "plot plot-short")),
    ],
    fill(d) {
      const u = d.utilisation;
      document.getElementById("timeline-note").textContent =
        `${d.lanes.length} lanes; busy ${u === null ? "–" : Math.round(100 * u) + "%"} of lane time ` +
        "between the first start and the last end (idle gaps are time the machine was not searching).";
      const div = document.getElementById("plot-timeline");
      const height = Math.min(Math.max(260, 26 * d.lanes.length + 90), 4000);
      div.style.height = `${height}px`;
      // Each trial is a thick line segment, one SVG path per state: ten thousand bars as
      // separate shapes would take the browser seconds to draw.
      const width = Math.max(2, Math.min(18, (0.6 * (height - 120)) / Math.max(d.lanes.length, 1)));
      const traces = Object.entries(d.bars).map(([state, b]) => {
        const x = [], y = [], n = [];
        b.number.forEach((num, i) => {
          x.push(b.start[i], b.end[i], null);
          y.push(b.lane[i], b.lane[i], null);
          n.push(num, num, null);
        });
        return { type: "scatter", mode: "lines", name: state, x, y, customdata: n,
          line: { color: COLORS[state], width },
          hovertemplate: `trial #%{customdata} (${state})<br>%{x}<extra>%{y}</extra>` };
      });
      react("plot-timeline", traces, baseLayout({
        xaxis: { type: "date" }, yaxis: { type: "category", categoryorder: "array", categoryarray: d.lanes.slice().reverse(), automargin: true },
        legend: { orientation: "h", y: 1.02, yanchor: "bottom" }, margin: { l: 90, r: 20, t: 30, b: 40 } }));
      react("plot-concurrency", [{ x: d.concurrency.time, y: d.concurrency.running, type: "scatter", mode: "lines",
        line: { shape: "hv", color: "#1565c0" }, name: "running" }],
      baseLayout({ xaxis: { type: "date" }, yaxis: { title: { text: "trials" }, rangemode: "tozero" },
        shapes: d.lanes.length ? [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: d.lanes.length, y1: d.lanes.length,
          line: { dash: "dot", color: "#9e9e9e" } }] : [] }));
    },
  };

  // ---------- failures ----------
  const failures = {
    data: () => api("failures"),
    skeleton: () => [el("div", { id: "failure-groups" })],
    fill(d) {
      const root = document.getElementById("failure-groups");
      if (!d.groups.length) {
        root.replaceChildren(section("Failures", el("p", {}, "No failed trials.")));
        return;
      }
      root.replaceChildren(section(`Failures: ${d.total} trials, ${d.groups.length} reasons`,
        ...d.groups.map((g) => el("div", { class: "failure-group" },
          el("div", { class: "failure" }, g.reason),
          el("p", { class: "muted" }, `${g.count} trial${g.count > 1 ? "s" : ""} on ${g.nodes.join(", ")}; ` +
            `from ${g.first || "?"} to ${g.last || "?"}` + (g.retried.length ? `; retried: ${g.retried.map(([n, r]) => `#${n} as #${r}`).join(", ")}` : "")),
          el("div", { class: "chips" }, ...g.trials.slice(0, 300).map(trialLink),
            g.trials.length > 300 ? ` and ${g.trials.length - 300} more` : null)))));
    },
  };

  // ---------- routing and live refresh ----------
  const VIEWS = { overview, best, trial, importance, timeline, failures };
  let current = { name: null, arg: null, version: null };

  function parseHash() {
    const h = location.hash.replace(/^#\/?/, "");
    const [name, arg] = h.split("/");
    if (name === "trial" && /^\d+$/.test(arg || "")) return { name: "trial", arg: Number(arg) };
    return { name: VIEWS[name] ? name : "overview", arg: null };
  }
  async function show(refresh) {
    const { name, arg } = parseHash();
    const view = VIEWS[name];
    if (!refresh) {
      current = { name, arg, version: null };
      for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === name);
      main.replaceChildren(...view.skeleton());
      main.dataset.view = name;
    }
    const data = name === "overview" && summary && refresh ? summary : await view.data(arg);
    if (current.name !== name || current.arg !== arg) return; // the user moved on meanwhile
    view.fill(data, arg);
    current.version = summary ? summary.version : null;
    if (!main.dataset.ready) performance.mark(`hpsearch-ready-${name}`); // for the benchmark
    main.dataset.ready = "1";
  }
  function showError(err) {
    console.error(err);
    main.append(el("p", { class: "failure" }, `Could not load this view: ${err.message}`));
  }
  async function poll() {
    let wait = POLL_MS;
    try {
      if (!document.hidden) {
        const s = await api("summary");
        updateHeader(s);
        // A view still loading (version null) is refreshed by its own load, not here.
        if (current.version !== null && s.version !== current.version) await show(true);
        wait = s.running ? POLL_MS : IDLE_POLL_MS;
      }
    } catch (err) {
      const pill = document.getElementById("status");
      pill.textContent = "disconnected";
      pill.className = "pill pill-lost";
      wait = IDLE_POLL_MS;
    }
    setTimeout(poll, wait);
  }

  async function start() {
    updateHeader(await api("summary"));
    window.addEventListener("hashchange", () => { delete main.dataset.ready; show(false).catch(showError); });
    document.getElementById("goto-trial").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = ev.target.querySelector("input").value;
      if (/^\d+$/.test(v)) location.hash = `#trial/${v}`;
    });
    await show(false);
    if (LIVE) setTimeout(poll, POLL_MS);
  }
  start().catch(showError);
})();
