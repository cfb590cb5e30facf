// The Orionis page: a thin view over the JSON routes of `orion serve`.
// Every captured string is put into the page with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

const PAGE = 500;  // traces asked for at a time; "more" asks for another page

const view = {
  traces: [], seen: new Set(), fresh: new Set(), limit: PAGE,
  id: null, trace: null, replay: null, state: null, selectedFrame: null,
  tab: "trace", window: null, failing: new Set(),
};

// -- helpers --------------------------------------------------------------------------

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

async function api(path) {
  const res = await fetch(path, { credentials: "same-origin" });
  const data = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

function duration(ns) {
  if (ns === null || ns === undefined) return "-";
  if (ns < 1e3) return ns + " ns";
  if (ns < 1e6) return (ns / 1e3).toFixed(1) + " µs";
  if (ns < 1e9) return (ns / 1e6).toFixed(1) + " ms";
  return (ns / 1e9).toFixed(2) + " s";
}

function when(ns) {
  return ns ? new Date(ns / 1e6).toLocaleString() : "-";
}

// A captured value as text, as `orion show` writes it: plain JSON values, or tagged trees
// ({t, text | items | entries | fields | redacted | elided | error, cut}; see the spec).
function valueText(v, depth = 0) {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v !== "object") return String(v);
  if (Array.isArray(v)) return "[" + v.map((x) => valueText(x, depth + 1)).join(", ") + "]";
  const cut = v.cut || v.truncated ? "…" : "";
  const type = v.t || "?";
  if (v.text !== undefined) return (type === "str" ? JSON.stringify(String(v.text)) : String(v.text)) + cut;
  if (v.redacted) return "‹redacted›";
  if (v.entries) {
    const inner = v.entries.map(([k, x]) => valueText(k, depth + 1) + ": " + valueText(x, depth + 1));
    const [open, close] = type === "dict" ? ["{", "}"] : [type + "({", "})"];
    return open + inner.join(", ") + (cut ? ", …" : "") + close;
  }
  if (v.items) {
    const inner = v.items.map((x) => valueText(x, depth + 1)).join(", ");
    const [open, close] = { list: ["[", "]"], tuple: ["(", ")"], set: ["{", "}"] }[type] || [type + "([", "])"];
    return open + inner + (cut ? ", …" : "") + close;
  }
  if (v.fields) {
    const inner = Object.entries(v.fields).map(([k, x]) => k + "=" + valueText(x, depth + 1));
    return type + "(" + inner.join(", ") + (cut ? ", …" : "") + ")";
  }
  if (v.elided) return "<" + type + (v.len !== undefined ? " of " + v.len : " …") + ">";
  if (v.error !== undefined) return "<" + type + ": repr failed: " + v.error + ">";
  return JSON.stringify(v);
}

// A call as one line: name(arguments) → value, ✖ the error it ended with, or still open.
function callText(c) {
  const args = Object.entries(c.args || {}).map(([k, v]) => k + "=" + valueText(v)).join(", ");
  let end = "";
  if (c.error) end = "  ✖ " + [c.error.type, c.error.message].filter(Boolean).join(": ");
  else if ("value" in c) end = "  → " + valueText(c.value);
  else if (c.outcome === "open") end = "  … still running when the trace ended";
  else if (c.outcome === "unwound") end = "  ✖";
  return (c.function || c.name || "?") + "(" + args + ")" + end;
}

function valueCell(v) {
  const cell = el("td", v && v.redacted ? "value redacted" : "value", valueText(v));
  return cell;
}

// -- the list -------------------------------------------------------------------------

function listQuery() {
  const q = new URLSearchParams();
  const pairs = [["grep", $("search").value.trim()], ["status", $("filter-status").value],
    ["lang", $("filter-lang").value], ["since", $("filter-since").value],
    ["fingerprint", $("filter-fingerprint").value.trim()]];
  for (const [k, v] of pairs) if (v) q.set(k, v);
  q.set("limit", view.limit);
  return q.toString();
}

async function loadList() {
  let traces;
  try {
    traces = await api("/api/traces?" + listQuery());
  } catch (err) {
    $("list-count").textContent = "error: " + err.message;
    return;
  }
  const first = view.seen.size === 0;
  for (const t of traces) {
    if (!view.seen.has(t.id) && !first) view.fresh.add(t.id);
    view.seen.add(t.id);
  }
  view.traces = traces;
  renderList();
  if (fillDiffChoices() && view.tab === "diff") loadDiff();  // a deep link's diff tab
}

function renderList() {
  const list = $("trace-list");
  list.replaceChildren();
  $("list-count").textContent = view.traces.length + " trace(s)";
  for (const t of view.traces) {
    const item = el("li", "trace status-" + (t.status || "unknown"));
    item.dataset.id = t.id;
    if (t.id === view.id) item.classList.add("selected");
    if (view.fresh.has(t.id)) item.classList.add("fresh");
    const top = el("div", "row");
    top.append(el("span", "badge", t.status || "?"), el("span", "lang", t.language || ""),
      el("span", "name", t.name || t.root || "?"), el("span", "dur", duration(t.duration_ns)));
    const exc = t.exception ? [t.exception.type, t.exception.message].filter(Boolean).join(": ") : "";
    const bottom = el("div", "row small");
    bottom.append(el("span", "when", when(t.start_ns)), el("span", "tid", t.id.slice(0, 12)));
    item.append(top);
    if (exc) item.append(el("div", "exc", exc));
    const fp = t.fingerprints && (t.status === "ok" ? t.fingerprints.structural : t.fingerprints.failure || t.fingerprints.structural);
    if (fp) {
      const link = el("span", "fp", fp.slice(0, 15));
      link.title = "show this fingerprint group";
      link.addEventListener("click", (e) => { e.stopPropagation(); $("filter-fingerprint").value = fp; loadList(); });
      bottom.append(link);
    }
    item.append(bottom);
    item.addEventListener("click", () => openTrace(t.id, null));
    list.append(item);
  }
  if (view.traces.length >= view.limit) {
    const more = el("button", "more", "more…");
    more.id = "more";
    more.addEventListener("click", () => { view.limit += PAGE; loadList(); });
    list.append(more);
  }
}

function startLive() {
  const source = new EventSource("/api/live");
  let timer = null;
  source.addEventListener("open", () => $("live-state").classList.add("on"));
  source.addEventListener("error", () => $("live-state").classList.remove("on"));
  let grown = null;
  source.addEventListener("trace", (e) => {
    clearTimeout(timer);
    timer = setTimeout(loadList, 250);
    let change = {};
    try { change = JSON.parse(e.data); } catch (err) { return; }
    if (view.replay && change.id === view.id) {  // the open trace is still being written
      clearTimeout(grown);
      grown = setTimeout(refreshReplay, 500);
    }
  });
}

// The open trace grew: take its new length (the cursor stays where it is).
async function refreshReplay() {
  const id = view.id;
  let replay;
  try { replay = await api("/api/trace/" + id + "/replay"); } catch (err) { return; }
  if (id !== view.id || !view.state) return;
  view.replay = replay;
  $("slider").max = Math.max(0, replay.events - 1);
  await loadState("at=" + view.state.index);
  loadTimeline();
}

// -- one trace ------------------------------------------------------------------------

function setUrl() {
  if (!view.id) return;
  const at = view.state ? "?at=" + view.state.index : "";
  const tab = view.tab !== "trace" ? (at ? "&" : "?") + "tab=" + view.tab : "";
  history.replaceState(null, "", "/trace/" + view.id + at + tab);
}

async function openTrace(id, at, tab) {
  view.id = id;
  view.fresh.delete(id);
  view.state = null; view.replay = null; view.window = null; view.selectedFrame = null;
  for (const item of document.querySelectorAll("#trace-list li")) {
    item.classList.toggle("selected", item.dataset.id === id);
  }
  $("welcome").hidden = true;
  $("tabs").hidden = false;
  $("summary").hidden = false;
  $("summary").replaceChildren(el("p", "muted", "loading…"));
  // Nothing of the trace shown before stays on the page while this one loads.
  $("stack").replaceChildren(el("li", "muted", "loading the trace…"));
  $("values").replaceChildren();
  $("values-title").textContent = "Values";
  $("timeline").replaceChildren();
  $("position").textContent = "";
  // Asked for at once: the summary comes back quickly, the replay once the server has
  // loaded the trace (the slow part for a big one), which starts now.
  const replay = api("/api/trace/" + id + "/replay");
  replay.catch(() => {});  // its error is shown below, after the summary's
  try {
    view.trace = await api("/api/trace/" + id);
  } catch (err) {
    $("summary").replaceChildren(el("p", "error", err.message));
    return;
  }
  if (view.id !== id) return;  // another trace was opened meanwhile
  view.id = view.trace.id;
  renderSummary();
  renderEnv();
  showTab(tab || "trace");
  $("timeline-info").textContent = "loading the trace…";
  try {
    view.replay = await replay;
  } catch (err) {
    $("timeline-info").textContent = "cannot replay: " + err.message;
    $("stack").replaceChildren(el("li", "muted", "(no stack to show)"));
    return;
  }
  if (view.id !== view.trace.id) return;
  view.failing = new Set(view.replay.failing_path.map((c) => c.name + "@" + c.start));
  const slider = $("slider");
  slider.max = Math.max(0, view.replay.events - 1);
  const target = at !== null && at !== undefined ? "at=" + at
    : view.replay.exception_index !== null ? "exception=1" : "at=0";
  await loadState(target);
  // The stack and values are on the page: draw the timeline once they have been painted.
  requestAnimationFrame(() => setTimeout(loadTimeline, 0));
}

function renderSummary() {
  const t = view.trace, s = t.summary;
  const box = $("summary");
  box.replaceChildren();
  const head = el("div", "row");
  head.append(el("span", "badge status-" + s.status, s.status),
    el("strong", null, s.name || s.root || "?"), el("span", "muted", t.id),
    el("span", "muted", when(s.start_ns) + " · " + duration(s.duration_ns) + " · " +
      ((s.counts || {}).calls || 0) + " calls · " + (s.language || "")));
  box.append(head);
  if (s.exception) {
    box.append(el("div", "exc", [s.exception.type, s.exception.message].filter(Boolean).join(": ") +
      (s.exception.function ? "  (in " + s.exception.function + ")" : "")));
  }
  $("trace-title").textContent = (s.name || s.root || "") + " " + t.id.slice(0, 12);
}

function renderEnv() {
  const h = view.trace.header;
  const box = $("env");
  box.replaceChildren();
  const table = el("table", "kv");
  const add = (k, v) => {
    const row = el("tr");
    row.append(el("th", null, k), typeof v === "object" && v !== null && !v.t && !Array.isArray(v)
      ? el("td", "value", JSON.stringify(v)) : valueCell(v));
    table.append(row);
  };
  add("agent", h.agent); add("mode", h.mode);
  for (const [k, v] of Object.entries(h.process || {})) add("process." + k, v);
  const env = h.env || {};
  for (const [k, v] of Object.entries(env)) {
    if (k === "vars" && v && typeof v === "object") {
      for (const [name, value] of Object.entries(v)) add("$" + name, value);
    } else add(k, v);
  }
  box.append(table);
}

async function loadState(query, move) {
  const q = query + (move ? "&move=" + move : "");
  let state;
  try {
    state = await api("/api/trace/" + view.id + "/state?" + q);
  } catch (err) {
    $("position").textContent = err.message;
    return;
  }
  view.state = state;
  view.selectedFrame = state.stack.length - 1;
  $("slider").value = state.index;
  renderState();
  setUrl();
}

function eventText(e) {
  const parts = [e.kind];
  if (e.function) parts.push(e.function);
  if (e.type) parts.push(e.type + (e.message ? ": " + e.message : ""));
  if (e.kind === "return" && "value" in e) parts.push("→ " + valueText(e.value));
  return parts.join(" ");
}

function renderState() {
  const st = view.state;
  $("position").textContent = "#" + st.index + " / " + (st.events - 1) + " · " + duration(st.t) +
    " · " + (st.lane.name || st.lane.id) + " · " + eventText(st.event) +
    (st.move_error ? "  (" + st.move_error + ")" : "");
  const stack = $("stack");
  stack.replaceChildren();
  st.stack.forEach((f, i) => {
    const item = el("li", "frame");
    item.style.paddingLeft = (i * 12 + 4) + "px";
    if (view.failing.has(f.function + "@" + f.start)) item.classList.add("failing");
    if (i === view.selectedFrame) item.classList.add("selected");
    if (f.outcome === "unwound" || f.error) item.classList.add("error");
    item.append(el("span", "fn", f.function),
      el("span", "where", (f.file || "") + (f.line ? ":" + f.line : "")));
    item.addEventListener("click", () => { view.selectedFrame = i; renderState(); });
    stack.append(item);
  });
  if (!st.stack.length) stack.append(el("li", "muted", "(outside every call)"));
  renderValues();
  drawCursor();
}

function renderValues() {
  const box = $("values");
  box.replaceChildren();
  const f = view.state.stack[view.selectedFrame];
  if (!f) { $("values-title").textContent = "Values"; return; }
  $("values-title").textContent = "Values of " + f.function;
  const table = el("table", "kv");
  const section = (title, pairs) => {
    if (!pairs || !Object.keys(pairs).length) return;
    const row = el("tr", "section"); const th = el("th", null, title); th.colSpan = 2;
    row.append(th); table.append(row);
    for (const [k, v] of Object.entries(pairs)) {
      const r = el("tr"); r.append(el("th", null, k), valueCell(v)); table.append(r);
    }
  };
  section("arguments", f.args);
  if ("value" in f) section("return value", { "→": f.value });
  if (f.error) section("error", { [f.error.type || "error"]: f.error.message });
  section("locals", f.locals);
  if (!table.children.length) table.append(el("tr", "muted", "no values captured here"));
  box.append(table);
}

// -- the timeline ----------------------------------------------------------------------

const LANE_H = 18, DEPTH_H = 16, LEFT = 110;

async function loadTimeline() {
  if (!view.replay) return;
  const w = view.window || [0, view.replay.end_t || 1];
  const id = view.id;
  let data;
  try {
    data = await api("/api/trace/" + id + "/timeline?start=" + Math.floor(w[0]) + "&end=" + Math.ceil(w[1]));
  } catch (err) {
    $("timeline-info").textContent = err.message;
    return;
  }
  if (id !== view.id) return;
  view.timeline = data;
  drawTimeline();
}

// Where time t falls on the timeline; `width` read once per drawing (reading it between
// appends made the browser lay the page out again for every call drawn: seconds for 4,000).
function xOf(t, width = $("timeline").clientWidth - LEFT - 10) {
  const w = view.window || [0, view.replay.end_t || 1];
  return LEFT + (t - w[0]) / Math.max(1, w[1] - w[0]) * width;
}

function drawTimeline() {
  const box = $("timeline");
  box.replaceChildren();
  const lanes = view.replay.lanes;
  // Each lane as tall as its deepest call in view needs.
  const depth = new Map(lanes.map((l) => [l.id, 0]));
  for (const s of view.timeline.spans) depth.set(s.lane, Math.max(depth.get(s.lane), s.depth));
  const top = new Map();
  let height = 0;
  for (const lane of lanes) {
    top.set(lane.id, height);
    const label = svg("text", { x: 4, y: height + 14, class: "lane" });
    label.textContent = lane.name || "lane " + lane.id;
    box.append(label);
    height += Math.max(LANE_H, (depth.get(lane.id) + 1) * DEPTH_H) + 6;
  }
  box.setAttribute("height", height + 4);
  const width = box.clientWidth - LEFT - 10;
  const spans = document.createDocumentFragment();
  for (const s of view.timeline.spans) {
    const x1 = Math.max(LEFT, xOf(s.start, width)), x2 = Math.max(x1 + 1, xOf(s.end, width));
    const y = top.get(s.lane) + s.depth * DEPTH_H + 2;
    const rect = svg("rect", { x: x1, y, width: x2 - x1, height: DEPTH_H - 2,
      class: "span " + (s.outcome || "") });
    const title = svg("title"); title.textContent = s.function + " · " + duration(s.end - s.start);
    rect.append(title);
    rect.addEventListener("click", () => loadState("at=" + s.index));
    spans.append(rect);
    if (x2 - x1 > 40) {
      const text = svg("text", { x: x1 + 3, y: y + DEPTH_H - 5, class: "spanlabel" });
      text.textContent = s.function;
      spans.append(text);
    }
  }
  box.append(spans);
  const cursor = svg("line", { id: "cursor", y1: 0, y2: height + 4 });
  box.append(cursor);
  const w = view.window || [0, view.replay.end_t];
  $("timeline-info").textContent = "showing " + duration(w[0]) + " – " + duration(w[1]) +
    (view.timeline.sampled ? " (a sample of the calls: zoom in for all)" : "") +
    " · wheel to zoom, drag to pan, click a call to go there";
  drawCursor();
}

function drawCursor() {
  const cursor = document.getElementById("cursor");
  if (!cursor || !view.state) return;
  const x = xOf(view.state.t);
  cursor.setAttribute("x1", x); cursor.setAttribute("x2", x);
}

function zoomAndPan() {
  const box = $("timeline");
  let refetch = null;
  const later = () => { clearTimeout(refetch); drawTimeline(); refetch = setTimeout(loadTimeline, 200); };
  box.addEventListener("wheel", (e) => {
    if (!view.replay) return;
    e.preventDefault();
    const [a, b] = view.window || [0, view.replay.end_t];
    const width = box.clientWidth - LEFT - 10;
    const at = a + Math.max(0, e.offsetX - LEFT) / width * (b - a);
    const factor = e.deltaY < 0 ? 0.7 : 1 / 0.7;
    const span = Math.min(view.replay.end_t, Math.max(10, (b - a) * factor));
    const start = Math.max(0, at - (at - a) * span / (b - a));
    view.window = [start, Math.min(view.replay.end_t, start + span)];
    later();
  }, { passive: false });
  let drag = null;
  box.addEventListener("mousedown", (e) => { drag = { x: e.clientX, w: view.window || [0, view.replay.end_t] }; });
  window.addEventListener("mouseup", () => { drag = null; });
  box.addEventListener("mousemove", (e) => {
    if (!drag || !view.replay) return;
    const [a, b] = drag.w;
    const shift = (drag.x - e.clientX) / (box.clientWidth - LEFT - 10) * (b - a);
    const start = Math.max(0, Math.min(view.replay.end_t - (b - a), a + shift));
    view.window = [start, start + (b - a)];
    later();
  });
}

// -- tabs: graph, flame, diff -----------------------------------------------------------

function showTab(tab) {
  view.tab = tab;
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.tab === tab);
  }
  for (const section of document.querySelectorAll("section.tab")) {
    section.hidden = section.id !== "tab-" + tab;
  }
  if (tab === "graph") loadGraph();
  if (tab === "flame") loadFlame();
  if (tab === "diff") { fillDiffChoices(); loadDiff(); }
  setUrl();
}

// The graph of the open trace, or of the traces the list's filters select, merged.
function graphUrl() {
  const kind = "kind=" + $("graph-kind").value;
  if ($("graph-scope").value === "trace") return "/api/trace/" + view.id + "/graph?" + kind;
  const q = new URLSearchParams(listQuery());
  q.delete("limit");
  return "/api/graph?" + kind + "&" + q.toString();
}

async function loadGraph() {
  $("graph-info").textContent = "loading…";
  $("graph-node").replaceChildren();
  let g;
  try { g = await api(graphUrl()); } catch (err) {
    $("graph-info").textContent = err.message; return;
  }
  const box = $("graph");
  box.replaceChildren();
  const pos = g.layout;
  const xs = Object.values(pos).map((p) => p[0]), ys = Object.values(pos).map((p) => p[1]);
  const minX = Math.min(...xs, 0) - 100, minY = Math.min(...ys, 0) - 40;
  const maxX = Math.max(...xs, 0) + 100, maxY = Math.max(...ys, 0) + 40;
  box.setAttribute("viewBox", [minX, minY, maxX - minX, maxY - minY].join(" "));
  box.setAttribute("width", "100%");  // scaled to fit the pane, proportions kept
  box.setAttribute("height", Math.min(600, Math.max(200, maxY - minY)));
  for (const e of g.edges) {
    if (!pos[e.from] || !pos[e.to]) continue;
    const line = svg("line", { x1: pos[e.from][0], y1: pos[e.from][1], x2: pos[e.to][0],
      y2: pos[e.to][1], class: "edge" + (e.errors ? " error" : "") });
    const title = svg("title"); title.textContent = e.calls + "× " + duration(e.total_ns);
    line.append(title);
    box.append(line);
  }
  // A name several nodes share (every module's <module>) is shown with its module.
  const named = new Map();
  for (const n of g.nodes) named.set(n.label, (named.get(n.label) || 0) + 1);
  for (const n of g.nodes) {
    const [x, y] = pos[n.id];
    const group = svg("g", { class: "node" + (n.errors ? " error" : ""), transform: `translate(${x},${y})` });
    const label = (named.get(n.label) > 1 ? n.id : n.label) + " · " + n.calls + "×";
    const width = Math.min(320, 12 + label.length * 6.5);
    group.append(svg("rect", { x: -width / 2, y: -13, width, height: 26, rx: 6 }));
    const text = svg("text", { x: 0, y: 4, "text-anchor": "middle" });
    text.textContent = label;
    group.append(text);
    group.addEventListener("click", () => showNode(g, n));
    box.append(group);
  }
  const over = $("graph-scope").value === "listed" ? " · " + g.traces.length + " trace(s) merged" : "";
  const skipped = (g.unreadable || []).length ? " · " + g.unreadable.length + " unreadable, left out" : "";
  $("graph-info").textContent = g.nodes.length + " nodes · " + g.edges.length + " edges" + over +
    skipped + " · layout: " + g.layout_engine + " · click a node";
}

function showNode(g, n) {
  const box = $("graph-node");
  box.replaceChildren(el("h3", null, n.label));
  const table = el("table", "kv");
  const add = (k, v) => { const r = el("tr"); r.append(el("th", null, k), el("td", null, v)); table.append(r); };
  add("calls", n.calls); add("errors", n.errors + " (" + (n.error_rate * 100).toFixed(1) + "%)");
  add("total", duration(n.total_ns)); add("self", duration(n.self_ns));
  add("p50 / p95", duration(n.p50_ns) + " / " + duration(n.p95_ns));
  for (const e of g.edges.filter((e) => e.from === n.id)) {
    add("calls " + e.to, e.calls + "× · " + duration(e.total_ns) + (e.errors ? " · " + e.errors + " failed" : ""));
  }
  box.append(table);
  if ((n.failing_traces || []).length) {
    const failing = el("ul", "failing-traces");
    for (const id of n.failing_traces) {
      const item = el("li", "link", "failed in " + id.slice(0, 12));
      item.addEventListener("click", () => openTrace(id, null, "trace"));
      failing.append(item);
    }
    box.append(failing);
  }
}

async function loadFlame() {
  $("flame-info").textContent = "loading…";
  let tree;
  try { tree = await api("/api/trace/" + view.id + "/flame"); } catch (err) {
    $("flame-info").textContent = err.message; return;
  }
  $("flame-info").textContent = "total " + duration(tree.value) + " (self time summed up each call path; widest first)";
  const box = $("flame");
  box.replaceChildren();
  const draw = (node, parent, depth) => {
    if (depth > 40) return;
    const div = el("div", "flame-node");
    const bar = el("div", "flame-bar", node.name + " " + duration(node.value));
    bar.title = node.name + " · " + duration(node.value);
    div.append(bar);
    const kids = el("div", "flame-kids");
    for (const child of node.children) {
      if (child.value / tree.value < 0.002) continue;
      const slot = draw(child, kids, depth + 1);
      if (slot) slot.style.width = (child.value / node.value * 100) + "%";
    }
    div.append(kids);
    parent.append(div);
    return div;
  };
  draw(tree, box, 0);
}

// The traces to compare with; true when the one chosen changed.
function fillDiffChoices() {
  const select = $("diff-other");
  if (!view.id) return false;
  const current = select.value;
  select.replaceChildren();
  for (const t of view.traces) {
    if (t.id === view.id) continue;
    const option = el("option", null, t.id.slice(0, 12) + " · " + (t.status || "") + " · " + (t.name || t.root || ""));
    option.value = t.id;
    select.append(option);
  }
  const sameRoot = view.traces.find((t) => t.id !== view.id && view.trace && t.root === view.trace.summary.root && t.status !== view.trace.summary.status);
  select.value = current || (sameRoot ? sameRoot.id : select.value);
  return select.value !== current;
}

async function loadDiff() {
  const other = $("diff-other").value;
  const box = $("diff");
  if (!other) { box.replaceChildren(el("p", "muted", "no other trace to compare with")); return; }
  box.replaceChildren(el("p", "muted", "comparing…"));
  let d;
  try { d = await api("/api/diff?a=" + view.id + "&b=" + other); } catch (err) {
    box.replaceChildren(el("p", "error", err.message)); return;
  }
  box.replaceChildren();
  const heads = el("div", "sides");
  heads.append(el("div", "side", "A " + d.a.id.slice(0, 12) + " · " + d.a.status + " · " + d.a.calls + " calls"),
    el("div", "side", "B " + d.b.id.slice(0, 12) + " · " + d.b.status + " · " + d.b.calls + " calls"));
  box.append(heads);
  if (d.same) { box.append(el("p", null, "the two traces have the same structure and values")); return; }
  const fd = d.first_divergence;
  if (fd) {
    const block = el("div", "divergence");
    block.id = "first-divergence";
    block.append(el("h3", null, "first divergence: " + fd.kind + " in " + (fd.function || "?") +
      (fd.parent ? " (called by " + fd.parent + ")" : "")));
    const sides = el("div", "sides");
    for (const stack of [fd.a_stack, fd.b_stack]) {
      const col = el("ol", "side stack");
      for (const f of stack || []) col.append(el("li", null, callText(f) + (f.line ? "  :" + f.line : "")));
      if (!(stack || []).length) col.append(el("li", "muted", "(no such call)"));
      sides.append(col);
    }
    block.append(sides);
    box.append(block);
  }
  if (d.tree) box.append(diffTree(d.tree));
  const text = el("pre", "side-by-side", (d.side_by_side || []).join("\n"));
  text.title = "orion diff -y";
  box.append(text);
  const table = el("table", "diff-table");
  const head = el("tr"); head.append(el("th", null, "difference"), el("th", null, "A"), el("th", null, "B"));
  table.append(head);
  for (const x of d.differences) {
    const row = el("tr", "diff-" + x.kind);
    const detail = x.detail && typeof x.detail === "object" ? JSON.stringify(x.detail) : x.detail;
    row.append(el("td", null, x.kind + " · " + (x.path || []).join(" › ") + (detail ? " · " + detail : "")),
      el("td", "value", x.a ? callText(x.a) : ""), el("td", "value", x.b ? callText(x.b) : ""));
    table.append(row);
  }
  box.append(table);
  const first = document.getElementById("first-divergence-row") || document.getElementById("first-divergence");
  if (first) first.scrollIntoView({ block: "center" });
}

const DIFF_MARKS = { same: "", leads: "", changed: "≠", only_a: "<", only_b: ">", folded: "⋯",
  lane_a: "<", lane_b: ">" };

// The two call trees side by side, a row per pair of calls as `orion diff` matched them.
function diffTree(tree) {
  const table = el("table", "diff-tree");
  const head = el("tr");
  head.append(el("th", null, "A"), el("th", "mark"), el("th", null, "B"));
  table.append(head);
  for (const row of tree.rows) {
    const tr = el("tr", "row-" + row.mark);
    let left, right;
    if (row.mark === "folded") {
      const below = row.calls > row.pairs ? " (" + row.calls + " with their callees)" : "";
      left = right = "… " + row.pairs + " unchanged calls" + below + ": " + row.functions.join(", ");
    } else if (row.mark === "lane_a" || row.mark === "lane_b") {
      left = row.mark === "lane_a" ? "lane " + row.lane + " (" + row.calls + " calls)" : "";
      right = row.mark === "lane_b" ? "lane " + row.lane + " (" + row.calls + " calls)" : "";
    } else {
      const more = row.calls > 1 ? "  (+" + (row.calls - 1) + " below)" : "";
      left = row.a ? callText(row.a) + (row.b ? "" : more) : "";
      right = row.b ? callText(row.b) + (row.a ? "" : more) : "";
    }
    const cells = [el("td", "a", left), el("td", "mark", DIFF_MARKS[row.mark]), el("td", "b", right)];
    for (const cell of [cells[0], cells[2]]) cell.style.paddingLeft = (row.depth * 14 + 4) + "px";
    if (row.kinds && row.kinds.length) cells[1].title = row.kinds.join(", ");
    if (row.first) {
      tr.id = "first-divergence-row";
      tr.classList.add("first");
      cells[1].textContent = "◆";
      cells[1].title = "first divergence" + (row.kinds ? ": " + row.kinds.join(", ") : "");
    }
    tr.append(...cells);
    table.append(tr);
  }
  if (tree.truncated) {
    const cell = el("td", "muted", "… more rows than shown here: see orion diff");
    cell.colSpan = 3;
    table.append(el("tr")).append(cell);
  }
  return table;
}

// -- wiring ---------------------------------------------------------------------------

function keys(e) {
  if (!view.state || view.tab !== "trace" || e.target.tagName === "INPUT" && e.target.type !== "range"
      || e.target.tagName === "SELECT") return;
  const moves = { ArrowRight: "forward", ArrowLeft: "backward", ArrowDown: "over", ArrowUp: "back_over" };
  let move = moves[e.key];
  if (e.shiftKey && e.key === "ArrowDown") move = "out";
  if (e.shiftKey && e.key === "ArrowUp") move = "back_out";
  if (e.key === "e") { loadState("exception=1"); e.preventDefault(); return; }
  if (!move) return;
  e.preventDefault();
  loadState("at=" + view.state.index, move);
}

function route() {
  const path = location.pathname.match(/^\/trace\/([0-9a-f]{1,32})$/) ||
    location.hash.match(/^#\/trace\/([0-9a-f]{1,32})/);
  if (!path) return;
  const params = new URLSearchParams(location.search || (location.hash.split("?")[1] || ""));
  const at = params.get("at");
  openTrace(path[1], at !== null && /^\d+$/.test(at) ? Number(at) : null, params.get("tab"));
}

function init() {
  let timer = null;
  const relist = () => { clearTimeout(timer); view.limit = PAGE; timer = setTimeout(loadList, 200); };
  for (const id of ["search", "filter-fingerprint"]) $(id).addEventListener("input", relist);
  for (const id of ["filter-status", "filter-lang", "filter-since"]) {
    $(id).addEventListener("change", () => { view.limit = PAGE; loadList(); });
  }
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  for (const button of document.querySelectorAll("#controls button[data-move]")) {
    button.addEventListener("click", () => view.state && loadState("at=" + view.state.index, button.dataset.move));
  }
  $("go-exception").addEventListener("click", () => loadState("exception=1"));
  let slide = null;
  $("slider").addEventListener("input", (e) => {
    clearTimeout(slide);
    slide = setTimeout(() => loadState("at=" + e.target.value), 60);
  });
  $("graph-kind").addEventListener("change", loadGraph);
  $("graph-scope").addEventListener("change", loadGraph);
  $("diff-other").addEventListener("change", loadDiff);
  document.addEventListener("keydown", keys);
  zoomAndPan();
  window.addEventListener("resize", () => view.timeline && drawTimeline());
  route();  // a deep link opens its trace while the list loads
  loadList();
  startLive();
}

document.addEventListener("DOMContentLoaded", init);
