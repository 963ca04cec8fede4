// baton web: the dashboard's page. Everything from the tapes is put on screen with
// textContent (tool outputs are attacker-controlled text), never as markup.
"use strict";

const TOKEN = document.querySelector('meta[name="baton-token"]').content;
const PAGE = 200;
const view = { project: null, thread: null, total: 0, offset: 0, selected: null, rows: [], source: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  opts.headers["x-baton-token"] = TOKEN;
  const response = await fetch(path, opts);
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function withToken(url) {
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

function base() {
  return `/api/p/${view.project}/t/${encodeURIComponent(view.thread)}`;
}

async function loadThreads() {
  const nav = document.getElementById("threads");
  const data = await api("/api/threads");
  nav.replaceChildren();
  const others = document.getElementById("compare-other");
  const chosen = others.value;
  others.replaceChildren();
  for (const project of data.projects) {
    if (project.index === view.project) {
      for (const row of project.threads) {
        if (row.thread !== view.thread) others.append(el("option", { value: row.thread }, row.thread));
      }
      if (chosen) others.value = chosen;
    }
    nav.append(el("div", { class: "project" }, project.project));
    if (project.threads.length === 0) nav.append(el("div", { class: "muted" }, "no threads"));
    for (const row of project.threads) {
      const link = el("a", { href: `#p/${project.index}/t/${encodeURIComponent(row.thread)}`, "data-thread": row.thread },
        row.thread + " ", el("span", { class: "status-" + row.status }, row.status),
        el("div", { class: "muted" }, `${row.node} · step ${row.step} · features ${row.features} · ${row.tokens} tok`));
      if (view.thread === row.thread && view.project === project.index) link.classList.add("current");
      nav.append(link);
    }
  }
}

async function openThread(project, thread) {
  const changed = view.project !== project || view.thread !== thread;
  view.project = project;
  view.thread = thread;
  if (changed) view.selected = null;
  document.getElementById("thread").hidden = false;
  document.getElementById("crumbs").textContent = `project ${project} › ${thread}`;
  await Promise.all([loadSteps(true), loadTree(), loadFeatures(), loadThreads()]);
  listen();
}

async function loadSteps(toEnd) {
  const first = await api(`${base()}/steps?offset=0&limit=1`);
  view.total = first.total;
  if (toEnd) view.offset = Math.max(0, view.total - PAGE);
  const page = await api(`${base()}/steps?offset=${view.offset}&limit=${PAGE}`);
  view.rows = page.rows;
  renderSummary(page);
  renderSteps();
  if (view.selected === null && view.rows.length) selectStep(view.rows[view.rows.length - 1].index);
}

function renderSummary(page) {
  const head = page.head || {};
  const parts = [`${page.thread}`, head.status || "", `node ${head.node || ""}`, `session ${head.session ?? ""}`,
    `step ${head.step ?? ""}`, `features ${head.features_passing ?? 0}/${head.features_total ?? 0}`, `${head.tokens ?? 0} tokens`];
  if (head.cost != null) parts.push("$" + Number(head.cost).toFixed(4));
  if (head.paused) parts.push("PAUSED: " + head.paused);
  if (page.abandoned) parts.push(`${page.abandoned} checkpoints rewound away`);
  document.getElementById("summary").textContent = parts.join(" · ");
  document.getElementById("step-count").textContent = `${view.offset + 1}–${view.offset + view.rows.length} of ${view.total}`;
}

function renderSteps() {
  const body = document.querySelector("#steps tbody");
  body.replaceChildren();
  for (const row of view.rows) {
    const tools = row.tools.map(([name, ok]) => ok ? name : name + "✗").join(" ");
    const outcome = (row.forks.length ? "forks: " + row.forks.join(", ") + " · " : "") + row.outcome;
    const tr = el("tr", { class: "step", "data-index": row.index, onclick: () => selectStep(row.index) },
      el("td", {}, row.step), el("td", {}, row.session), el("td", {}, row.node), el("td", {}, tools),
      el("td", {}, row.tokens), el("td", {}, row.latency_ms), el("td", { class: "outcome" }, outcome));
    if (row.failed) tr.classList.add("failed");
    else if (row.verified) tr.classList.add("verified");
    if (row.index === view.selected) tr.classList.add("selected");
    body.append(tr);
  }
}

async function selectStep(index) {
  view.selected = index;
  for (const tr of document.querySelectorAll("#steps tr.step")) tr.classList.toggle("selected", Number(tr.dataset.index) === index);
  const step = await api(`${base()}/step/${index}`);
  const commit = step.commit ? ` · commit ${step.commit.sha.slice(0, 7)}` : "";
  document.getElementById("step-title").textContent = `step ${step.step}${commit}`;
  document.getElementById("inspector").textContent = step.text;
  const row = view.rows.find((r) => r.index === index);
  const before = view.rows.find((r) => r.index === index - 1);
  document.getElementById("diff-from").value = before ? before.step : (row ? Math.max(0, row.step - 1) : 0);
}

async function showDiff() {
  const row = view.rows.find((r) => r.index === view.selected);
  if (!row) return;
  const from = Number(document.getElementById("diff-from").value);
  const [a, b] = from <= row.step ? [from, row.step] : [row.step, from];
  try {
    const diff = await api(`${base()}/diff?from=${a}&to=${b}`);
    document.getElementById("step-title").textContent = `diff ${a} → ${b}`;
    document.getElementById("inspector").textContent = diff.text;
  } catch (error) {
    document.getElementById("inspector").textContent = "diff failed: " + error.message;
  }
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

async function loadTree() {
  const holder = document.getElementById("tree");
  const data = await api(`${base()}/tree`);
  const nodes = data.nodes;
  const maxStep = Math.max(1, ...nodes.map((n) => n.head_step));
  const width = 900, left = 200, lane = 26;
  const x = (step) => left + (step / maxStep) * (width - left - 20);
  const drawing = svg("svg", { width, height: 10 + lane * nodes.length, role: "img", "aria-label": "fork tree" });
  const rows = new Map(nodes.map((n, i) => [n.thread, i]));
  nodes.forEach((node, i) => {
    const y = 18 + i * lane;
    const group = svg("g", { class: "lane", "data-thread": node.thread });
    group.addEventListener("click", () => { location.hash = `p/${view.project}/t/${encodeURIComponent(node.thread)}`; });
    const label = `${node.thread} (${node.status})` + (node.abandoned ? ` ↺${node.abandoned}` : "");
    group.append(svg("text", { x: 4, y: y + 4 }, label));
    if (node.parent !== null && rows.has(node.parent)) {
      const py = 18 + rows.get(node.parent) * lane;
      group.append(svg("line", { x1: x(node.at), y1: py, x2: x(node.at), y2: y, stroke: "#888", "stroke-dasharray": "3 2" }));
    }
    group.append(svg("line", { x1: x(node.at), y1: y, x2: x(node.head_step), y2: y, stroke: node.thread === view.thread ? "#0b63a6" : "#999", "stroke-width": 3 }));
    for (const mark of node.marks) {
      const color = mark.kind === "fail" ? "#b3261e" : mark.kind === "pass" ? "#1e7b34" : "#555";
      const dot = svg("circle", { cx: x(mark.step), cy: y, r: mark.kind === "commit" ? 2.5 : 4, fill: color, class: "mark-" + mark.kind });
      dot.append(svg("title", {}, `step ${mark.step}: ${mark.kind}`));
      group.append(dot);
    }
    drawing.append(group);
  });
  holder.replaceChildren(drawing);
}

async function loadFeatures() {
  const holder = document.getElementById("features");
  const data = await api(`/api/p/${view.project}/features`);
  holder.replaceChildren();
  if (!data.features.length) holder.append(el("div", { class: "muted" }, "no feature list yet"));
  for (const { feature, runs } of data.features) {
    const verdict = feature.passes ? el("span", { class: "pass" }, "passes") : el("span", { class: "fail" }, "failing");
    const box = el("div", { class: "feature", "data-feature": feature.id }, el("strong", {}, feature.id), " ", verdict, " ",
      el("span", { class: "muted" }, feature.verify === "manual" ? "(manual)" : ""), el("div", {}, feature.description || ""));
    for (const run of runs.slice(0, 3)) {
      const result = run.result || {};
      const outcome = result.passed === true ? "passed" : result.passed === false ? "failed" : (result.outcome || "");
      const line = el("div", { class: "muted" }, `run ${run.run}: ${outcome}`, result.failure ? " — " + (result.failure.message || JSON.stringify(result.failure)) : "");
      box.append(line);
      for (const image of run.images) {
        box.append(el("img", { src: withToken(`/api/p/${view.project}/evidence/${encodeURIComponent(feature.id)}/${encodeURIComponent(run.run)}/${encodeURIComponent(image)}`), alt: `${feature.id} ${image}`, loading: "lazy" }));
      }
    }
    holder.append(box);
  }
}

async function control(op) {
  const reply = document.getElementById("control-reply");
  const body = { op };
  if (op === "instruct") body.text = document.getElementById("instruction").value;
  try {
    const result = await api(`${base()}/control`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    reply.textContent = result.message;
    if (op === "instruct" && result.ok) document.getElementById("instruction").value = "";
  } catch (error) {
    reply.textContent = "failed: " + error.message;
  }
}

async function recall(event) {
  event.preventDefault();
  const out = document.getElementById("recall-results");
  const q = document.getElementById("recall").value;
  out.textContent = "searching…";
  try {
    const data = await api(`/api/p/${view.project}/recall?q=${encodeURIComponent(q)}&thread=${encodeURIComponent(view.thread)}`);
    out.textContent = typeof data.hits === "string" ? data.hits : JSON.stringify(data.hits, null, 2);
  } catch (error) {
    out.textContent = "recall failed: " + error.message;
  }
}

// Two threads side by side: where they part, their figures, the files that differ.
async function compare(event) {
  event.preventDefault();
  const out = document.getElementById("compare");
  const other = document.getElementById("compare-other").value;
  if (!other) { out.textContent = "no other thread in this project"; return; }
  out.textContent = "comparing…";
  try {
    const r = await api(`${base()}/compare?other=${encodeURIComponent(other)}`);
    const d = r.divergence;
    const parted = d.common === null ? "no common history"
      : d.step === null ? `both are thread ${d.common}` : `lines meet in ${d.common} and part after step ${d.step}`;
    const next = (s) => s.next ? `step ${s.next.step}: ${s.next.tools.join(", ") || "no tool calls"} ${s.next.outcome}` : "nothing yet";
    const features = (s) => `${s.features_passing}/${s.features_total}` + (s.blocked.length ? ` (${s.blocked.length} blocked)` : "");
    const rows = [
      ["status", (s) => s.status], ["head step", (s) => s.head_step], ["features", features],
      ["tokens", (s) => s.tokens], ["cost", (s) => s.cost_usd === null ? "—" : "$" + s.cost_usd.toFixed(4)],
      ["wall time", (s) => `${Math.round(s.wall_secs)} s`], ["commits", (s) => s.commits], ["next after parting", next],
    ];
    const table = el("table", { class: "compare" },
      el("tr", {}, el("th", {}, ""), el("th", {}, r.a.thread), el("th", {}, r.b.thread)),
      ...rows.map(([label, value]) => el("tr", {}, el("th", {}, label), el("td", {}, value(r.a)), el("td", {}, value(r.b)))));
    const files = r.files_error ? `files not compared: ${r.files_error}`
      : r.files.length === 0 ? "files: the same in both trees"
      : r.files.map((f) => `${f.status[0].toUpperCase()} ${f.path}  +${f.additions} −${f.deletions}`).join("\n");
    out.replaceChildren(el("p", {}, parted), table, el("pre", {}, files));
  } catch (error) {
    out.textContent = "compare failed: " + error.message;
  }
}

let refreshing = false;
function listen() {
  if (view.source) view.source.close();
  view.source = new EventSource(withToken(`${base()}/live`));
  document.getElementById("live").textContent = "live";
  view.source.addEventListener("tape", async () => {
    if (refreshing) return;
    refreshing = true;
    try {
      const follow = document.getElementById("follow").checked;
      await loadSteps(follow);
      if (follow && view.rows.length) selectStep(view.rows[view.rows.length - 1].index);
    } finally {
      refreshing = false;
    }
  });
  view.source.onerror = () => { document.getElementById("live").textContent = "live: reconnecting"; };
}

function route() {
  const match = /^#p\/(\d+)\/t\/([^/]+)$/.exec(location.hash);
  if (match) openThread(Number(match[1]), decodeURIComponent(match[2]));
}

document.getElementById("pause").addEventListener("click", () => control("pause"));
document.getElementById("continue").addEventListener("click", () => control("continue"));
document.getElementById("stop").addEventListener("click", () => control("stop"));
document.getElementById("instruct").addEventListener("click", () => control("instruct"));
document.getElementById("diff").addEventListener("click", showDiff);
document.getElementById("detail").addEventListener("click", () => view.selected !== null && selectStep(view.selected));
document.getElementById("older").addEventListener("click", () => { view.offset = Math.max(0, view.offset - PAGE); loadSteps(false); });
document.getElementById("newer").addEventListener("click", () => { view.offset = Math.min(Math.max(0, view.total - PAGE), view.offset + PAGE); loadSteps(false); });
document.getElementById("recall-form").addEventListener("submit", recall);
document.getElementById("compare-form").addEventListener("submit", compare);
window.addEventListener("hashchange", route);
loadThreads().then(route);
