// Hyperion dashboard and report. Every user string is put in the page with textContent (never as
// HTML); figures come as Plotly figure objects built on the server (hyperion/dashboard/figures.py).
"use strict";
(function () {
  const body = document.body;
  const REPORT = body.dataset.report === "true";
  const POLL_MS = Number(body.dataset.pollMs) || 0;
  const PAGE = 50;

  function data(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }
  function num(x) {
    if (x === null || x === undefined) return "-";
    if (typeof x !== "number") return String(x);
    if (Number.isInteger(x)) return String(x);
    return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6 ? String(Number(x.toPrecision(6))) : x.toExponential(4);
  }
  function when(t) {
    return t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : "-";
  }
  function duration(s) {
    if (s === null || s === undefined) return "-";
    if (s < 60) return s.toFixed(1) + " s";
    if (s < 3600) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }
  function studyUrl(name) {
    return "/studies/" + encodeURIComponent(name);  // one segment: "/" in a name stays %2F
  }
  async function get(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const payload = await response.json();
    if (!response.ok) throw new Error(payload.error || response.statusText);
    return payload;
  }
  function live(ok, why) {
    const badge = document.getElementById("live");
    if (!badge) return;
    badge.className = ok ? "live" : "live down";
    badge.textContent = ok ? "live" : "offline";
    badge.title = ok ? "the page follows the storage" : "cannot reach the server: " + why;
  }
  function every(ms, fn) {
    if (!ms || REPORT) return;
    const tick = async () => {
      try {
        await fn();
        live(true);
      } catch (err) {
        live(false, err.message);
      }
      setTimeout(tick, ms);
    };
    setTimeout(tick, ms);
  }

  // -- studies ----------------------------------------------------------------------------------------
  const picked = new Set();

  function updateCompare() {
    const a = document.getElementById("compare");
    if (!a) return;
    a.hidden = picked.size < 2;
    a.href = "/compare?" + [...picked].map((n) => "study=" + encodeURIComponent(n)).join("&");
    a.textContent = "compare " + picked.size + " studies";
  }

  function renderStudies(studies) {
    const tbody = document.querySelector("#studies tbody");
    tbody.replaceChildren();
    document.getElementById("no-studies").hidden = studies.length > 0;
    for (const s of studies) {
      const tr = el("tr");
      const link = el("a", s.name, { href: studyUrl(s.name) });
      const name = el("td");
      const pick = el("input", null, { type: "checkbox", class: "pick", "data-name": s.name, title: "compare" });
      pick.checked = picked.has(s.name);
      pick.addEventListener("change", () => {
        if (pick.checked) picked.add(s.name); else picked.delete(s.name);
        updateCompare();
      });
      name.append(pick, " ", link);
      const running = s.open_by ? "running" : "finished";
      const goal = s.metrics.map((m, i) => s.modes[i] + " " + m).join(", ");
      tr.append(name, el("td", running, { class: "state-" + running }), el("td", goal));
      for (const k of ["trials", "completed", "killed", "failed"]) tr.append(el("td", s[k], { class: "n" }));
      tr.append(el("td", s.running + s.interrupted, { class: "n" }), el("td", num(s.best), { class: "n" }));
      tr.append(el("td", when(s.created)), el("td", duration(s.updated - s.created), { class: "n" }));
      tbody.append(tr);
    }
  }

  function renderCompared(studies) {
    const tbody = document.querySelector("#compared tbody");
    tbody.replaceChildren();
    for (const s of studies) {
      const tr = el("tr");
      const name = el("td");
      name.append(el("a", s.name, { href: studyUrl(s.name) }));
      const goal = s.metrics.map((m, i) => s.modes[i] + " " + m).join(", ");
      const best = s.best ? num(s.best.value) + " (trial " + s.best.number + ")" : "-";
      tr.append(name, el("td", goal), el("td", s.trials, { class: "n" }), el("td", s.counts.completed, { class: "n" }),
        el("td", best, { class: "n" }), el("td", duration(s.duration_s), { class: "n" }));
      tbody.append(tr);
    }
  }

  // -- study ------------------------------------------------------------------------------------------
  const ORDER = ["history", "pareto", "intermediate", "importance", "contour", "rank", "slices", "parallel_coordinates", "lineage", "timeline"];
  const LABELS = {
    history: "History", pareto: "Pareto front", intermediate: "Intermediate values", importance: "Importance",
    contour: "Contour", rank: "Rank", slices: "Slices", parallel_coordinates: "Parallel coordinates", lineage: "Lineage",
    timeline: "Timeline",
  };

  function renderHeader(study) {
    const dl = document.getElementById("study-header");
    dl.replaceChildren();
    const goal = study.metrics.map((m, i) => study.modes[i] + " " + m).join(", ");
    const counts = Object.entries(study.counts).filter(([, n]) => n).map(([k, n]) => n + " " + k).join(", ");
    const best = study.best ? num(study.best.value) + " (trial " + study.best.number + ")" : "-";
    const rows = [["state", study.open_by ? "running: " + study.open_by : study.state], ["goal", goal],
      ["trials", study.trials + (counts ? " (" + counts + ")" : "")], ["best", best],
      ["started", when(study.created)], ["duration", duration(study.duration_s)]];
    for (const [k, v] of rows) dl.append(el("dt", k), el("dd", v, { "data-field": k }));
  }

  function renderFigures(figures) {
    const section = document.getElementById("figures");
    const nav = document.getElementById("figures-nav");
    for (const key of ORDER) {
      if (!figures[key]) {  // a figure that no longer applies (e.g. a filter left too few trials) goes
        const stale = document.getElementById("fig-" + key);
        if (stale) {
          stale.remove();
          const link = nav.querySelector('a[href="#fig-' + key + '"]');
          if (link) link.remove();
        }
        continue;
      }
      let holder = document.getElementById("fig-" + key);
      if (!holder) {
        holder = el("div", null, { id: "fig-" + key, class: "figure", "data-figure": key });
        section.append(holder);
        nav.append(el("a", LABELS[key], { href: "#fig-" + key }));
      }
      const fig = figures[key];
      Plotly.react(holder, fig.data, fig.layout, { responsive: true, displaylogo: false });
      if (key === "lineage" || key === "history") {
        holder.removeAllListeners && holder.removeAllListeners("plotly_click");
        holder.on("plotly_click", (ev) => {
          const p = ev.points && ev.points[0];
          const number = p && (p.customdata !== undefined ? p.customdata : p.x);
          if (Number.isInteger(number)) openTrial(number);
        });
      }
    }
  }

  // The trial table: the server sorts, filters and pages (SQL); the report does the same in memory.
  const table = { sort: "number", desc: false, offset: 0, total: 0, filter: {} };
  let study = null;

  function paramNames() {
    return Object.entries(study.space).filter(([, d]) => d && d.type !== "Fixed").map(([k]) => k);
  }
  function rowMatches(row) {
    const f = table.filter;
    if (f.state && row.state !== f.state) return false;
    if (f.param) {
      const v = row.params[f.param];
      if (v === undefined) return false;
      if (f.range) {
        const x = Number(v);
        if (f.lo !== "" && !(x >= Number(f.lo))) return false;
        if (f.hi !== "" && !(x <= Number(f.hi))) return false;
      } else if (f.lo !== "" && String(v) !== f.lo) return false;
    }
    return true;
  }
  function sortKey(row) {
    if (table.sort === "duration") return row.duration_s;
    return row[table.sort];
  }
  async function loadPage() {
    if (REPORT) {
      const rows = data("data-rows").filter(rowMatches);
      rows.sort((a, b) => {
        const x = sortKey(a), y = sortKey(b);
        if (x === y) return a.number - b.number;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * (table.desc ? -1 : 1);
      });
      return { total: rows.length, rows: rows.slice(table.offset, table.offset + PAGE) };
    }
    const q = filterQuery();
    for (const [k, v] of Object.entries({ sort: table.sort, desc: table.desc ? "1" : "", offset: table.offset, limit: PAGE })) q.set(k, v);
    return get("/api/studies/" + encodeURIComponent(study.name) + "/trials?" + q.toString());
  }
  // The filter of the trial table, which every figure follows too (the server keeps only those trials).
  function filterQuery() {
    const q = new URLSearchParams();
    const f = table.filter;
    if (f.state) q.set("state", f.state);
    if (f.param && (f.lo !== "" || f.hi !== "")) q.set("p." + f.param, f.range ? f.lo + ":" + f.hi : f.lo);
    return q;
  }
  async function loadStudy() {
    const q = filterQuery().toString();
    return get("/api/studies/" + encodeURIComponent(study.name) + (q ? "?" + q : ""));
  }
  async function renderTable() {
    const page = await loadPage();
    table.total = page.total;
    const names = paramNames();
    const thead = document.querySelector("#trials thead");
    const columns = [["number", "trial"], ["state", "state"], ["value", study.metrics.length > 1 ? "values" : study.metrics[0]],
      ["last_step", "last step"], ["duration", "duration"]];
    const head = el("tr");
    for (const [key, label] of columns) {
      const th = el("th", label + (table.sort === key ? (table.desc ? " ▼" : " ▲") : ""), { "data-sort": key, class: "sortable" });
      th.onclick = () => {
        table.desc = table.sort === key ? !table.desc : false;
        table.sort = key;
        table.offset = 0;
        renderTable();
      };
      head.append(th);
    }
    for (const n of names) head.append(el("th", n));
    thead.replaceChildren(head);
    const tbody = document.querySelector("#trials tbody");
    tbody.replaceChildren();
    for (const row of page.rows) {
      const tr = el("tr", null, { "data-number": row.number, class: "state-" + row.state });
      const link = el("a", row.trial_id, { href: REPORT ? "#trial-detail" : studyUrl(study.name) + "/trials/" + row.number });
      if (REPORT) link.onclick = () => openTrial(row.number);
      const first = el("td");
      first.append(link);
      const value = row.values ? row.values.map(num).join(", ") : num(row.value);
      tr.append(first, el("td", row.state), el("td", value, { class: "n" }), el("td", num(row.last_step), { class: "n" }),
        el("td", duration(row.duration_s), { class: "n" }));
      for (const n of names) tr.append(el("td", n in row.params ? num(row.params[n]) : ""));
      if (row.kill_reason || row.error) tr.title = row.kill_reason || row.error;
      tbody.append(tr);
    }
    const last = Math.min(table.offset + PAGE, table.total);
    document.getElementById("page-info").textContent = table.total
      ? (table.offset + 1) + "-" + last + " of " + table.total : "no trials match";
    document.getElementById("prev").disabled = table.offset === 0;
    document.getElementById("next").disabled = last >= table.total;
  }
  function wireTable() {
    const form = document.getElementById("trial-filter");
    const select = form.elements.param;
    for (const n of paramNames()) select.append(el("option", n, { value: n }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const desc = study.space[select.value] || {};
      table.filter = { state: form.elements.state.value, param: select.value, lo: form.elements.lo.value.trim(),
        hi: form.elements.hi.value.trim(), range: desc.type === "Float" || desc.type === "Int" };
      table.offset = 0;
      renderTable().catch(showError);
      if (!REPORT) loadStudy().then((fresh) => renderFigures(fresh.figures)).catch(showError);
    });
    document.getElementById("prev").onclick = () => { table.offset = Math.max(0, table.offset - PAGE); renderTable(); };
    document.getElementById("next").onclick = () => { table.offset += PAGE; renderTable(); };
  }
  function showError(err) {
    document.getElementById("page-info").textContent = "error: " + err.message;
  }
  function openTrial(number) {
    if (!REPORT) {
      window.location.href = studyUrl(study.name) + "/trials/" + number;
      return;
    }
    const details = data("data-details");
    const holder = document.getElementById("trial-detail");
    holder.hidden = false;
    if (details[number]) renderTrial(holder, details[number]);
    else holder.replaceChildren(el("p", "trial " + number + ": details are in the report for the best and latest trials only; open it in `hyperion dashboard`."));
    holder.scrollIntoView();
  }

  // -- trial ------------------------------------------------------------------------------------------
  function pairs(title, obj) {
    const section = el("section");
    section.append(el("h3", title));
    const dl = el("dl", null, { class: "header" });
    for (const [k, v] of Object.entries(obj || {})) dl.append(el("dt", k), el("dd", typeof v === "object" && v !== null ? JSON.stringify(v) : num(v)));
    section.append(dl);
    return section;
  }
  function renderTrial(holder, t) {
    holder.replaceChildren(el("h2", t.trial_id + " (" + t.state + ")", { id: "trial-title" }));
    holder.append(pairs("Summary", {
      value: t.values ? t.values.map(num).join(", ") : t.value, "last step": t.last_step, started: when(t.started),
      duration: duration(t.duration_s), worker: t.worker || "-", parent: t.parent_id || "-", depth: t.depth,
      feasible: t.violation === null || t.violation === undefined ? "-" : t.violation <= 0 ? "yes" : "no (violation " + num(t.violation) + ")",
    }));
    holder.append(pairs("Parameters", t.params));
    holder.append(pairs("Metrics", t.metrics));
    for (const [label, text, cls] of [["Rationale", t.rationale, "rationale"], ["Kill reason", t.kill_reason, "kill-reason"], ["Error", t.error, "error"]]) {
      if (!text) continue;
      holder.append(el("h3", label), el("pre", text, { class: cls }));
    }
    const art = Object.assign({}, t.artifacts || {});
    const output = [["stdout_tail", "Standard output (its last lines)", "stdout"], ["stderr_tail", "Standard error (its last lines)", "stderr"]];
    if (art.dir) holder.append(pairs("Working directory", { dir: art.dir }));
    for (const [key, label, cls] of output) {
      if (art[key]) holder.append(el("h3", label), el("pre", art[key], { class: cls }));
    }
    for (const key of ["dir", ...output.map((o) => o[0])]) delete art[key];
    if (Object.keys(art).length) holder.append(pairs("Artifacts", art));
    if (t.reports && t.reports.length) {
      holder.append(el("h3", "Reports (" + t.reports.length + ")"));
      const keys = [...new Set(t.reports.flatMap((r) => Object.keys(r.metrics)))];
      const tab = el("table", null, { class: "grid", id: "reports" });
      const head = el("tr");
      head.append(el("th", "step"), ...keys.map((k) => el("th", k)));
      tab.append(head);
      for (const r of t.reports) {
        const tr = el("tr");
        tr.append(el("td", r.step, { class: "n" }), ...keys.map((k) => el("td", num(r.metrics[k]), { class: "n" })));
        tab.append(tr);
      }
      holder.append(tab);
    }
    if (t.checkpoints && t.checkpoints.length) {
      holder.append(el("h3", "Checkpoints (" + t.checkpoints.length + " kept)"));
      const tab = el("table", null, { class: "grid", id: "checkpoints" });
      const head = el("tr");
      head.append(el("th", "step"), el("th", "saved"), el("th", "size"), el("th", "location"));
      tab.append(head);
      for (const c of t.checkpoints) {
        const tr = el("tr");
        const size = c.size === null || c.size === undefined ? "-" : c.size >= 1048576 ? (c.size / 1048576).toFixed(1) + " MB"
          : c.size >= 1024 ? (c.size / 1024).toFixed(1) + " kB" : c.size + " B";
        tr.append(el("td", c.step, { class: "n" }), el("td", when(c.time)), el("td", size, { class: "n" }),
          el("td", c.location, { class: "location", title: c.location }));
        tab.append(tr);
      }
      holder.append(tab);
    }
    for (const call of (t.source_events || []).filter((e) => e.kind === "llm_call")) {
      holder.append(el("h3", "LLM call " + call.call + " that proposed it"));
      holder.append(pairs("Call", { model: call.model, latency_s: call.latency_s, "tokens in": call.tokens_in,
        "tokens out": call.tokens_out, used: call.used, rejected: (call.rejected || []).length, error: call.error || "-" }));
      holder.append(el("h4", "Prompt"), el("pre", call.prompt, { class: "prompt" }));
      holder.append(el("h4", "Reply"), el("pre", call.reply || "(no reply)", { class: "reply" }));
      if ((call.rejected || []).length) {
        const ul = el("ul", null, { class: "rejected" });
        for (const why of call.rejected) ul.append(el("li", why));
        holder.append(el("h4", "Rejected suggestions and why"), ul);
      }
    }
  }

  // -- start ------------------------------------------------------------------------------------------
  async function start() {
    const page = body.dataset.page;
    if (page === "studies") {
      renderStudies(data("data-studies"));
      every(POLL_MS * 2, async () => renderStudies(await get("/api/studies")));
    } else if (page === "compare") {
      renderCompared(data("data-compared"));
      const fig = data("data-figure");
      Plotly.react(document.getElementById("fig-comparison"), fig.data, fig.layout, { responsive: true, displaylogo: false });
    } else if (page === "study") {
      study = data("data-study");
      renderHeader(study);
      renderFigures(data("data-figures"));
      wireTable();
      await renderTable();
      let seq = study.seq;
      every(POLL_MS, async () => {
        const now = await get("/api/studies/" + encodeURIComponent(study.name) + "/seq");
        if (now.seq === seq) return;
        seq = now.seq;
        const fresh = await loadStudy();
        study = fresh.study;
        renderHeader(study);
        renderFigures(fresh.figures);
        await renderTable();
      });
    } else if (page === "trial") {
      renderTrial(document.getElementById("trial-detail"), data("data-trial"));
    }
    body.dataset.ready = "true";
  }
  start().catch((err) => {
    body.dataset.ready = "error";
    console.error(err);
  });
})();
