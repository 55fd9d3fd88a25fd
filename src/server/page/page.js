// The planning page of `catchment serve`: a plan's districts on a map, its schools' figures,
// moves of blocks evaluated here from the plan's edit.json (the same arithmetic as
// src/districts/edit.rs `evaluate`), undo/redo, pins and "re-optimise the rest", versions and
// their comparison. Talks only to the service that served it.
"use strict";

const T = {
  en: {
    token: "Token", signin: "Sign in", plan: "Plan", open: "Open", language: "Language",
    clickHint: "Click a block to see its pupils, walks and what moving it costs.",
    total: "Total walk", optimum: "Certified optimum", gap: "gap", certificate: "Status",
    pupils: "Pupils", over2km: "over 2 km", undo: "Undo", redo: "Redo",
    reoptimise: "Re-optimise the rest", block: "Block", pupilsIn: "pupils", school: "school",
    pin: "Pin here", unpin: "Unpin", walkPerPupil: "walk per pupil m", cost: "change in total walk m",
    room: "room", seats: "seats", classes: "classes", utilisation: "utilisation",
    meanWalk: "mean walk m", versions: "Versions", note: "note", save: "Save as version",
    comparison: "Comparison", move: "Move", yes: "yes", no: "no", pins: "pins",
    optimal: "optimal (certified)", edited: "edited: not optimal", unproved: "as solved, not proved optimal",
    signedIn: "Signed in.", needToken: "Sign in with a token first.", saved: "Saved as version",
    compare: "Compare with the plan", changedBlocks: "blocks change school",
    reoptimised: "Re-optimised around the pins", by: "by",
    resolve: "Certified re-solve", simulate: "Simulate robustness", compareAny: "Compare",
    compareGo: "Compare", published: "Published", robustness: "Robustness", scenarios: "Scenarios",
    setId: "scenario set id", pinStreet: "Pin street", resolving: "Solving with the pins…",
    resolved: "Certified plan", pinsCost: "the pins cost", publishing: "Publishing the version…",
    publishedAs: "Published as plan", download: "Download", publish: "Publish", planLabel: "plan as solved",
    version: "version", pOver: "P(over capacity)", pClass: "P(a class over its size)",
    anyOver: "P(some school over capacity)", simulating: "Simulating…", totalWalk: "total walk km",
    waiting: "waiting for job",
  },
  de: {
    token: "Token", signin: "Anmelden", plan: "Plan", open: "Öffnen", language: "Sprache",
    clickHint: "Klicken Sie auf einen Block: seine Schüler, Wege und was ein Wechsel kostet.",
    total: "Gesamtweg", optimum: "Zertifiziertes Optimum", gap: "Abstand", certificate: "Status",
    pupils: "Schüler", over2km: "über 2 km", undo: "Rückgängig", redo: "Wiederholen",
    reoptimise: "Den Rest neu optimieren", block: "Block", pupilsIn: "Schüler", school: "Schule",
    pin: "Hier festhalten", unpin: "Lösen", walkPerPupil: "Weg je Schüler m", cost: "Änderung des Gesamtwegs m",
    room: "Platz", seats: "Plätze", classes: "Klassen", utilisation: "Auslastung",
    meanWalk: "mittlerer Weg m", versions: "Versionen", note: "Notiz", save: "Als Version speichern",
    comparison: "Vergleich", move: "Verschieben", yes: "ja", no: "nein", pins: "festgehalten",
    optimal: "optimal (zertifiziert)", edited: "bearbeitet: nicht optimal", unproved: "wie gelöst, nicht als optimal bewiesen",
    signedIn: "Angemeldet.", needToken: "Bitte zuerst mit einem Token anmelden.", saved: "Gespeichert als Version",
    compare: "Mit dem Plan vergleichen", changedBlocks: "Blöcke wechseln die Schule",
    reoptimised: "Um die festgehaltenen Blöcke neu optimiert", by: "von",
    resolve: "Zertifiziert neu lösen", simulate: "Robustheit simulieren", compareAny: "Vergleichen",
    compareGo: "Vergleichen", published: "Veröffentlicht", robustness: "Robustheit", scenarios: "Szenarien",
    setId: "ID der Szenarienreihe", pinStreet: "Straße festhalten", resolving: "Mit den festgehaltenen Blöcken lösen…",
    resolved: "Zertifizierter Plan", pinsCost: "kosten die festgehaltenen Blöcke", publishing: "Version wird veröffentlicht…",
    publishedAs: "Veröffentlicht als Plan", download: "Herunterladen", publish: "Veröffentlichen", planLabel: "Plan wie gelöst",
    version: "Version", pOver: "P(über Kapazität)", pClass: "P(eine Klasse über ihrer Größe)",
    anyOver: "P(eine Schule über Kapazität)", simulating: "Simulation läuft…", totalWalk: "Gesamtweg km",
    waiting: "warte auf Auftrag",
  },
};
const PALETTE = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
  "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f", "#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6"];
const SVG = "http://www.w3.org/2000/svg";

const state = {
  lang: "en", token: "", planId: "", model: null, summary: null,
  moves: [], undo: [], redo: [], pins: new Map(), selected: null, evaluation: null,
  shapes: [], changed: new Set(), lastUpdateMs: 0,
};

const $ = (id) => document.getElementById(id);
const t = (k) => (T[state.lang] && T[state.lang][k]) || T.en[k] || k;

function applyLanguage() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  if (state.model) { render(); }
}

function say(text, error) {
  $("message").textContent = text || "";
  $("message").style.color = error ? "#a33" : "#264";
}

async function api(method, path, body) {
  const headers = { "Authorization": "Bearer " + state.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (_) { json = null; }
  if (!r.ok) throw new Error((json && json.message) || (r.status + " " + r.statusText));
  return json;
}

// ---- evaluation: the same arithmetic as src/districts/edit.rs `evaluate` ----

function contribution(b, place) {
  if (place === null) return b.at;
  if (b.pupils === 0) return [[place, 0, 0, 0]];
  const w = b.walk_m[place];
  if (w === null || w === undefined) return null;
  return [[place, b.pupils, w, b.over_2km[place]]];
}

function countPieces(m, district) {
  const ns = m.schools.length, n = m.blocks.length;
  const count = new Array(ns).fill(0);
  const seen = new Uint8Array(n);
  const stack = [];
  for (let i = 0; i < n; i++) {
    const s = district[i];
    if (seen[i] || s === null || s === undefined) continue;
    count[s] += 1;
    seen[i] = 1; stack.push(i);
    while (stack.length) {
      const u = stack.pop();
      for (const v of m.neighbours[u]) {
        if (!seen[v] && district[v] === s) { seen[v] = 1; stack.push(v); }
      }
    }
  }
  return count;
}

function evaluate(m, moves) {
  const ns = m.schools.length;
  const index = m._index;
  const sIndex = m._sindex;
  const place = new Array(m.blocks.length).fill(null);
  const district = m.blocks.map((b) => (b.school === undefined ? null : b.school));
  const load = new Array(ns).fill(0), walk = new Array(ns).fill(0), long = new Array(ns).fill(0);
  m.fixed.forEach((f, s) => { load[s] += f[0]; walk[s] += f[1]; long[s] += f[2]; });
  for (const b of m.blocks) for (const [s, n, w, l] of b.at) { load[s] += n; walk[s] += w; long[s] += l; }
  const costs = [];
  for (const mv of moves) {
    const bi = index.get(mv.block_id), to = sIndex.get(mv.school_id);
    if (bi === undefined || to === undefined) throw new Error("unknown block or school " + mv.block_id);
    const b = m.blocks[bi];
    const after = contribution(b, to);
    if (after === null) throw new Error("no route from block " + b.id);
    const before = contribution(b, place[bi]) || [];
    let wb = 0, wa = 0, moving = 0;
    for (const [s, n, w, l] of before) { load[s] -= n; walk[s] -= w; long[s] -= l; wb += w; }
    for (const [s, n, w, l] of after) { load[s] += n; walk[s] += w; long[s] += l; wa += w; moving = n; }
    costs.push({ block_id: b.id, from: district[bi] === null ? null : m.schools[district[bi]].id,
      to: mv.school_id, pupils: moving, cost_m: wa - wb, room: load[to] <= m.schools[to].capacity });
    place[bi] = to; district[bi] = to;
  }
  const hasAdj = m.neighbours.some((n) => n.length > 0);
  const now = hasAdj ? countPieces(m, district) : new Array(ns).fill(0);
  const before = hasAdj ? m._piecesBefore : new Array(ns).fill(0);
  const warnings = [];
  const perSchool = m.schools.map((s, i) => {
    const over = Math.max(0, load[i] - s.capacity);
    if (over > 0) warnings.push(`school '${s.id}' has ${load[i]} pupils for ${s.capacity} seats: ${over} over`);
    if (now[i] > Math.max(before[i], 1)) warnings.push(`the district of school '${s.id}' is in ${now[i]} pieces (was ${before[i]})`);
    let k = Math.ceil(load[i] / Math.max(s.class_size, 1));
    if (s.max_classes !== undefined && s.max_classes !== null && load[i] > 0) k = Math.max(Math.min(k, s.max_classes), 1);
    return { id: s.id, pupils: load[i], seats: s.capacity, classes: k, over_capacity: over,
      mean_walk_m: load[i] === 0 ? 0 : Math.floor((walk[i] + Math.floor(load[i] / 2)) / load[i]),
      over_2km: long[i], pieces: now[i] };
  });
  const total = walk.reduce((a, b) => a + b, 0);
  const gap = Math.max(0, total - m.optimum_m);
  return {
    total_m: total, pupils: load.reduce((a, b) => a + b, 0), over_2km: long.reduce((a, b) => a + b, 0),
    optimum_m: m.optimum_m, gap_m: gap,
    gap_pct: m.optimum_m === 0 ? 0 : Math.round(gap * 100 / m.optimum_m * 1000) / 1000,
    status: moves.length > 0 ? "edited" : (m.optimal ? "optimal" : "unproved"),
    per_school: perSchool, warnings, moves: costs, district,
  };
}

// ---- the map ----

// The map's projection: blocks and schools fitted into the 1000 x 800 view box.
function projection(m) {
  const pts = m.blocks.filter((b) => b.lat !== undefined && b.lat !== null);
  const all = pts.map((b) => [b.lat, b.lon]).concat(m.schools.map((s) => [s.lat, s.lon]));
  if (all.length === 0) return null;
  let minLat = Infinity, maxLat = -Infinity, minLon = Infinity, maxLon = -Infinity;
  for (const [la, lo] of all) { minLat = Math.min(minLat, la); maxLat = Math.max(maxLat, la); minLon = Math.min(minLon, lo); maxLon = Math.max(maxLon, lo); }
  const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const w = Math.max((maxLon - minLon) * k, 1e-6), h = Math.max(maxLat - minLat, 1e-6);
  const scale = Math.min(960 / w, 760 / h);
  return {
    px: (lat, lon) => [20 + (lon - minLon) * k * scale, 20 + (maxLat - lat) * scale],
    grid: m.blocks.length > 0 && m.blocks[0].id.startsWith("CRS3035RES100m"),
    cell: Math.max(2, (100 / 111320) * scale),
  };
}

// Every block as a shape of `svg` (cells or dots), and the schools; returns the shapes.
function drawBlocks(svg, labels) {
  const m = state.model, p = projection(m);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  if (!p) return [];
  const shapes = m.blocks.map((b, i) => {
    if (b.lat === undefined || b.lat === null) return null;
    const [x, y] = p.px(b.lat, b.lon);
    let el;
    if (p.grid) {
      el = document.createElementNS(SVG, "rect");
      el.setAttribute("x", (x - p.cell / 2).toFixed(1)); el.setAttribute("y", (y - p.cell / 2).toFixed(1));
      el.setAttribute("width", p.cell.toFixed(2)); el.setAttribute("height", p.cell.toFixed(2));
    } else {
      el = document.createElementNS(SVG, "circle");
      el.setAttribute("cx", x.toFixed(1)); el.setAttribute("cy", y.toFixed(1)); el.setAttribute("r", "4");
    }
    el.setAttribute("class", "blk");
    el.dataset.index = String(i);
    el.dataset.block = b.id;
    svg.appendChild(el);
    return el;
  });
  m.schools.forEach((s) => {
    const [x, y] = p.px(s.lat, s.lon);
    const c = document.createElementNS(SVG, "circle");
    c.setAttribute("cx", x.toFixed(1)); c.setAttribute("cy", y.toFixed(1)); c.setAttribute("r", "5");
    c.setAttribute("class", "school");
    svg.appendChild(c);
    if (labels) {
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", (x + 7).toFixed(1)); label.setAttribute("y", (y + 4).toFixed(1));
      label.textContent = s.id;
      svg.appendChild(label);
    }
  });
  return shapes;
}

function drawMap() {
  const svg = $("map");
  state.shapes = drawBlocks(svg, true);
  state.shapes.forEach((el, i) => { if (el) el.addEventListener("click", () => selectBlock(i)); });
  // The districts' outlines (grid cells): one path, redrawn with every change.
  const outline = document.createElementNS(SVG, "path");
  outline.setAttribute("id", "outline");
  const firstSchool = svg.querySelector(".school");
  svg.insertBefore(outline, firstSchool);
  state.outline = outline;
  state.cells = null;
}

// The edges between edge-neighbouring grid cells (ids CRS3035RES100mN…E…) of different
// districts, as path data; cells without a neighbour in the list are edges of the city.
function outlinePath(district) {
  const m = state.model, shapes = state.shapes;
  if (!m.blocks.length || !m.blocks[0].id.startsWith("CRS3035RES100m")) return "";
  if (!state.cells) {
    // Each cell's grid position (100 m units), corner and width, read once.
    const at = new Map();
    const cells = m.blocks.map((b, i) => {
      const g = /N(\d+)E(\d+)/.exec(b.id), el = shapes[i];
      if (!g || !el) return null;
      const n = Math.round(Number(g[1]) / 100), e = Math.round(Number(g[2]) / 100);
      at.set(n * 1e6 + e, i);
      return [n, e, Number(el.getAttribute("x")), Number(el.getAttribute("y")), Number(el.getAttribute("width"))];
    });
    state.cells = { cells, at };
  }
  const { cells, at } = state.cells;
  const parts = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    if (!c) continue;
    const [n, e, x, y, w] = c;
    const east = at.get(n * 1e6 + e + 1), south = at.get((n - 1) * 1e6 + e);
    if (east !== undefined && district[east] !== district[i]) parts.push(`M${(x + w).toFixed(1)} ${y.toFixed(1)}v${w.toFixed(2)}`);
    if (south !== undefined && district[south] !== district[i]) parts.push(`M${x.toFixed(1)} ${(y + w).toFixed(1)}h${w.toFixed(2)}`);
  }
  return parts.join("");
}

function fill(s) { return s === null || s === undefined ? "#eee" : PALETTE[s % PALETTE.length]; }

function colourMap() {
  const e = state.evaluation;
  if (state.outline) state.outline.setAttribute("d", outlinePath(e.district));
  state.shapes.forEach((el, i) => {
    if (!el) return;
    const s = e.district[i];
    el.setAttribute("fill", fill(s));
    let cls = "blk";
    if (state.selected === i) cls += " sel";
    if (state.pins.has(state.model.blocks[i].id)) cls += " pinned";
    if (state.changed.has(state.model.blocks[i].id)) cls += " changed";
    el.setAttribute("class", cls);
  });
}

// ---- figures ----

function km(m) { return (m / 1000).toFixed(3); }

function render() {
  const started = performance.now();
  const m = state.model;
  const e = evaluate(m, state.moves);
  state.evaluation = e;
  $("total").textContent = km(e.total_m);
  $("total").dataset.meters = String(e.total_m);
  $("optimum").textContent = km(e.optimum_m);
  $("gap").textContent = `${km(e.gap_m)} km (${e.gap_pct.toFixed(2)}%)`;
  $("plan-status").textContent = t(e.status);
  $("plan-status").dataset.status = e.status;
  $("pupils").textContent = String(e.pupils);
  $("over2km").textContent = String(e.over_2km);
  const tbody = $("schools").querySelector("tbody");
  tbody.textContent = "";
  e.per_school.forEach((s, i) => {
    const tr = document.createElement("tr");
    tr.dataset.school = s.id;
    if (s.over_capacity > 0) tr.className = "over";
    const util = s.seats === 0 ? 0 : s.pupils / s.seats;
    const bar = document.createElement("span");
    bar.className = "bar" + (util > 1 ? " over" : "");
    bar.style.width = Math.min(100, Math.round(util * 60)) + "px";
    const cells = [`${s.id} ${m.schools[i].name}`, s.pupils, s.seats, s.classes, null, s.mean_walk_m, s.over_2km];
    const names = ["name", "pupils", "seats", "classes", "util", "mean", "over2km"];
    cells.forEach((v, j) => {
      const td = document.createElement("td");
      td.className = names[j];
      if (v === null) { td.appendChild(bar); td.appendChild(document.createTextNode(" " + Math.round(util * 100) + "%")); }
      else td.textContent = String(v);
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
  });
  const ul = $("warnings");
  ul.textContent = "";
  for (const w of e.warnings) { const li = document.createElement("li"); li.textContent = w; ul.appendChild(li); }
  $("undo").disabled = state.undo.length === 0;
  $("redo").disabled = state.redo.length === 0;
  $("pins-count").textContent = state.pins.size > 0 ? `${state.pins.size} ${t("pins")}` : "";
  colourMap();
  if (state.selected !== null) showBlock(state.selected);
  state.lastUpdateMs = performance.now() - started;
  document.body.dataset.updateMs = state.lastUpdateMs.toFixed(2);
}

function showBlock(i) {
  const m = state.model, b = m.blocks[i], e = state.evaluation;
  $("block").hidden = false;
  $("block-id").textContent = b.id;
  $("block-pupils").textContent = String(b.pupils);
  const cur = e.district[i];
  $("block-school").textContent = cur === null ? "-" : m.schools[cur].id;
  $("pin").textContent = state.pins.has(b.id) ? t("unpin") : t("pin");
  const streets = $("block-streets");
  streets.textContent = "";
  for (const k of b.streets || []) {
    const btn = document.createElement("button");
    btn.type = "button"; btn.className = "pin-street"; btn.dataset.street = m.streets[k];
    btn.textContent = `${t("pinStreet")}: ${m.streets[k]}`;
    btn.addEventListener("click", () => pinStreet(k));
    streets.appendChild(btn);
  }
  const tbody = $("block-table").querySelector("tbody");
  tbody.textContent = "";
  // The block's walk now: as planned, or whole at its school after a move.
  const moved = state.moves.some((mv) => mv.block_id === b.id);
  const nowWalk = moved ? (b.pupils ? b.walk_m[cur] : 0) : b.at.reduce((a, x) => a + x[2], 0);
  m.schools.forEach((s, j) => {
    const tr = document.createElement("tr");
    tr.dataset.school = s.id;
    const w = b.pupils ? b.walk_m[j] : 0;
    const reachable = w !== null && w !== undefined;
    const per = b.pupils && reachable ? Math.round(w / b.pupils) : (b.pupils ? "-" : 0);
    const cost = reachable ? w - nowWalk : null;
    const room = e.per_school[j].pupils + (j === cur ? 0 : b.pupils) <= s.capacity;
    const cells = [s.id, per, cost === null ? "-" : (cost > 0 ? "+" : "") + cost, room ? t("yes") : t("no")];
    for (const v of cells) { const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td); }
    const td = document.createElement("td");
    if (j !== cur && reachable) {
      const btn = document.createElement("button");
      btn.type = "button"; btn.textContent = t("move"); btn.className = "move";
      btn.addEventListener("click", () => moveBlock(b.id, s.id));
      td.appendChild(btn);
    }
    tr.appendChild(td);
    tbody.appendChild(tr);
  });
}

function selectBlock(i) { state.selected = i; colourMap(); showBlock(i); }

function change(newMoves) {
  state.undo.push(state.moves);
  state.redo = [];
  state.moves = newMoves;
  state.changed = new Set();
  render();
}

function moveBlock(blockId, schoolId) {
  change(state.moves.concat([{ block_id: blockId, school_id: schoolId }]));
}

// ---- plans and versions ----

async function openPlan(id) {
  if (!state.token) { say(t("needToken"), true); return; }
  say("");
  document.body.dataset.ready = "";
  state.planId = id;
  const [summary, model] = await Promise.all([
    api("GET", `/v1/plans/${id}`),
    api("GET", `/v1/plans/${id}/files/edit.json`),
  ]);
  model._index = new Map(model.blocks.map((b, i) => [b.id, i]));
  model._sindex = new Map(model.schools.map((s, i) => [s.id, i]));
  model._piecesBefore = countPieces(model, model.blocks.map((b) => (b.school === undefined ? null : b.school)));
  state.summary = summary; state.model = model;
  state.moves = []; state.undo = []; state.redo = []; state.pins = new Map(); state.selected = null; state.changed = new Set();
  $("main").hidden = false;
  $("block").hidden = true;
  $("diff").hidden = true;
  $("publish").hidden = true;
  $("sim").hidden = true;
  location.hash = "plan=" + id;
  drawMap();
  render();
  await listVersions();
  document.body.dataset.ready = "1";
}

async function listVersions() {
  const list = await api("GET", `/v1/plans/${state.planId}/versions`);
  const ul = $("versions");
  ul.textContent = "";
  for (const v of list) {
    const li = document.createElement("li");
    li.dataset.version = v.id;
    const when = new Date(v.created_at * 1000).toISOString().slice(0, 16).replace("T", " ");
    li.appendChild(document.createTextNode(`#${v.number} ${when} ${t("by")} ${v.author}: ${v.note} (${km(v.evaluation.total_m)} km) `));
    const btn = document.createElement("button");
    btn.type = "button"; btn.className = "compare"; btn.textContent = t("compare");
    btn.addEventListener("click", () => compare(state.planId, v.id).catch((e) => say(e.message, true)));
    li.appendChild(btn);
    const pub = document.createElement("button");
    pub.type = "button"; pub.className = "publish"; pub.textContent = t("publish");
    pub.addEventListener("click", () => publishVersion(v.id).catch((e) => say(e.message, true)));
    li.appendChild(pub);
    ul.appendChild(li);
  }
  for (const [sel, pick] of [[$("cmp-a"), 0], [$("cmp-b"), list.length]]) {
    sel.textContent = "";
    const options = [[state.planId, t("planLabel")]].concat(list.map((v) => [v.id, `${t("version")} #${v.number}: ${v.note}`]));
    options.forEach(([value, label], i) => {
      const o = document.createElement("option");
      o.value = value; o.textContent = label; if (i === pick) o.selected = true;
      sel.appendChild(o);
    });
  }
}

async function compare(a, b) {
  const d = await api("GET", `/v1/diff?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
  state.changed = new Set(d.changed.map((c) => c.block_id));
  $("diff").hidden = false;
  $("diff").dataset.ready = "";
  $("diff-summary").textContent = `${d.changed.length} ${t("changedBlocks")} · A ${km(d.a_total_m)} km · B ${km(d.b_total_m)} km`;
  const tbody = $("diff-table").querySelector("tbody");
  tbody.textContent = "";
  for (const s of d.per_school) {
    if (s.a_pupils === s.b_pupils && s.a_mean_walk_m === s.b_mean_walk_m) continue;
    const tr = document.createElement("tr");
    tr.dataset.school = s.id;
    for (const v of [s.id, s.a_pupils, s.b_pupils, (s.b_pupils > s.a_pupils ? "+" : "") + (s.b_pupils - s.a_pupils), s.a_mean_walk_m, s.b_mean_walk_m]) {
      const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
  colourMap();
  const label = (id) => { const o = [...$("cmp-a").options].find((x) => x.value === id); return o ? o.textContent : id; };
  $("cap-a").textContent = "A: " + label(a);
  $("cap-b").textContent = "B: " + label(b);
  const [da, db] = await Promise.all([sideDistricts(a), sideDistricts(b)]);
  paintSide($("map-a"), da);
  paintSide($("map-b"), db);
  $("diff").dataset.ready = "1";
}

async function saveVersion(note) {
  const v = await api("POST", `/v1/plans/${state.planId}/versions`, { note, moves: state.moves });
  say(`${t("saved")} #${v.number}`);
  await listVersions();
}

async function reoptimise() {
  const pins = [...state.pins.entries()].map(([block_id, school_id]) => ({ block_id, school_id }));
  const r = await api("POST", `/v1/plans/${state.planId}/reoptimise`, { pins });
  change(r.moves);
  say(t("reoptimised"));
}

function togglePin() {
  const i = state.selected;
  if (i === null) return;
  const b = state.model.blocks[i];
  if (state.pins.has(b.id)) state.pins.delete(b.id);
  else state.pins.set(b.id, state.model.schools[state.evaluation.district[i]].id);
  render();
}

// Every block of street `k`, pinned to its school now.
function pinStreet(k) {
  const m = state.model, e = state.evaluation;
  m.blocks.forEach((b, i) => {
    const s = e.district[i];
    if ((b.streets || []).includes(k) && s !== null && s !== undefined) state.pins.set(b.id, m.schools[s].id);
  });
  render();
}

// A job answered 202: poll it until it ends; returns its row.
async function waitJob(id) {
  for (;;) {
    const j = await api("GET", `/v1/jobs/${id}`);
    if (j.state === "done") return j;
    if (j.state === "failed") throw new Error((j.error && j.error.message) || "failed");
    say(`${t("waiting")} ${id.slice(0, 8)}… ${j.stage || j.state}`);
    await new Promise((r) => setTimeout(r, 700));
  }
}

// POST /v1/plans/{id}/resolve: the plan solved again with `body` (pins or a version).
async function resolvePlan(body) {
  let r = await api("POST", `/v1/plans/${state.planId}/resolve?wait=true`, body);
  if (!r.summary) { await waitJob(r.id); r = await api("GET", `/v1/plans/${r.id}`); }
  return r;
}

// A certified re-solve with the page's pins: the new plan is opened.
async function resolveCertified() {
  const pins = [...state.pins.entries()].map(([block_id, school_id]) => ({ block_id, school_id }));
  say(t("resolving"));
  const r = await resolvePlan({ pins });
  await openPlan(r.id);
  const p = r.summary.pins;
  say(`${t("resolved")} ${r.id}${p ? ` · ${t("pinsCost")} ${km(p.cost_m)} km` : ""}`);
}

// Publish a version: a certified plan with every block in its district in the version, and
// the council's files of that plan.
async function publishVersion(vid) {
  say(t("publishing"));
  const r = await resolvePlan({ version: vid });
  $("publish").hidden = false;
  $("publish").dataset.plan = r.id;
  $("publish-summary").textContent = `${t("publishedAs")} ${r.id} · ${km(r.summary.walk.total_m)} km`;
  const ul = $("publish-files");
  ul.textContent = "";
  for (const path of r.links.published) {
    const li = document.createElement("li");
    const name = path.split("/").pop().split("?")[0];
    li.dataset.file = path;
    const btn = document.createElement("button");
    btn.type = "button"; btn.textContent = `${t("download")} ${name}`;
    btn.addEventListener("click", () => download(path).catch((e) => say(e.message, true)));
    li.appendChild(btn);
    ul.appendChild(li);
  }
  say(`${t("publishedAs")} ${r.id}`);
}

// A file of the service saved by the browser (fetched with the token, handed over as a blob).
async function download(path) {
  const res = await fetch(path, { headers: { "Authorization": "Bearer " + state.token } });
  if (!res.ok) throw new Error(res.status + " " + path);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url; a.download = path.split("/").pop();
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 2000);
}

// Every block's school on one side of a comparison: the plan as solved, or a version.
async function sideDistricts(id) {
  const m = state.model;
  if (id === state.planId) return m.blocks.map((b) => (b.school === undefined ? null : b.school));
  const v = await api("GET", `/v1/versions/${id}`);
  return m.blocks.map((b) => { const s = v.districts[b.id]; return s === undefined ? null : m._sindex.get(s); });
}

function paintSide(svg, district) {
  drawBlocks(svg, false).forEach((el, i) => {
    if (!el) return;
    el.setAttribute("fill", fill(district[i]));
    if (state.changed.has(state.model.blocks[i].id)) el.setAttribute("class", "blk changed");
  });
}

// Bars of `rows` ([label, value, second value or null]) in `svg`, values in 0..max.
function bars(svg, rows, max, fmt) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const h = 12, left = 60, width = 300;
  svg.setAttribute("viewBox", `0 0 400 ${Math.max(1, rows.length) * h + 4}`);
  rows.forEach(([label, v, w], i) => {
    const y = 2 + i * h;
    const text = document.createElementNS(SVG, "text");
    text.setAttribute("x", "0"); text.setAttribute("y", String(y + 9)); text.textContent = label;
    svg.appendChild(text);
    for (const [val, cls, off] of [[v, "p", 0], [w, "c", 5]]) {
      if (val === null || val === undefined) continue;
      const r = document.createElementNS(SVG, "rect");
      r.setAttribute("x", String(left)); r.setAttribute("y", String(y + off));
      r.setAttribute("width", (max > 0 ? (val / max) * width : 0).toFixed(1));
      r.setAttribute("height", w === null || w === undefined ? "9" : "4.5");
      r.setAttribute("class", cls);
      svg.appendChild(r);
    }
    const tv = document.createElementNS(SVG, "text");
    tv.setAttribute("x", String(left + width + 4)); tv.setAttribute("y", String(y + 9)); tv.textContent = fmt(v);
    svg.appendChild(tv);
  });
}

// The plan's robustness: a simulation of moves before enrolment, overflow probabilities per
// school as a chart (red: over capacity, pink: a class over its size).
async function simulate() {
  say(t("simulating"));
  let r = await api("POST", `/v1/plans/${state.planId}/simulations?wait=true`, { draws: 2000 });
  if (!r.simulation) { const j = await waitJob(r.id); r = await api("GET", j.result); }
  const sim = r.simulation;
  const rows = sim.per_school
    .map((x) => [x.school_id, x.p_over_capacity, x.p_class_over])
    .sort((a, b) => b[1] - a[1] || b[2] - a[2] || (a[0] < b[0] ? -1 : 1));
  $("sim").hidden = false;
  $("sim").dataset.simulation = r.id;
  $("sim-summary").textContent = `${t("anyOver")}: ${(sim.p_any_over_capacity * 100).toFixed(1)}% · ${t("pOver")} / ${t("pClass")}`;
  bars($("sim-chart"), rows, Math.max(0.01, ...rows.map((x) => Math.max(x[1], x[2]))), (v) => (v * 100).toFixed(1) + "%");
  say("");
}

// A scenario set side by side: its comparison table and each scenario's total walk.
function parseCsv(text) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; }
    else if (c !== "\r") field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

async function openSet(id) {
  const set = await api("GET", `/v1/scenarios/${id}`);
  if (set.state !== "done") { say(`${id}: ${set.state}`, set.state === "failed"); return; }
  const path = set.files.find((f) => f.endsWith("/comparison.csv"));
  const res = await fetch(path, { headers: { "Authorization": "Bearer " + state.token } });
  if (!res.ok) throw new Error(res.status + " " + path);
  const rows = parseCsv(await res.text());
  const table = $("set-table");
  const head = table.querySelector("thead"), body = table.querySelector("tbody");
  head.textContent = ""; body.textContent = "";
  rows.forEach((r, i) => {
    const tr = document.createElement("tr");
    for (const v of r) { const td = document.createElement(i === 0 ? "th" : "td"); td.textContent = v; tr.appendChild(td); }
    (i === 0 ? head : body).appendChild(tr);
  });
  table.hidden = false;
  const col = rows[0].indexOf("total_walk_m");
  const chart = $("set-chart");
  if (col >= 0) {
    const data = rows.slice(1).map((r) => [r[0], Number(r[col]) / 1000]).filter((x) => !Number.isNaN(x[1]));
    bars(chart, data.map(([l, v]) => [l, v, null]), Math.max(...data.map((x) => x[1]), 1), (v) => v.toFixed(1) + " km");
    chart.hidden = false;
  } else chart.hidden = true;
}

function init() {
  state.lang = localStorage.getItem("catchment.lang") || ((navigator.language || "en").startsWith("de") ? "de" : "en");
  $("lang").value = state.lang;
  state.token = sessionStorage.getItem("catchment.token") || "";
  $("lang").addEventListener("change", () => { state.lang = $("lang").value; localStorage.setItem("catchment.lang", state.lang); applyLanguage(); });
  $("signin").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("catchment.token", state.token);
    $("token").value = "";
    say(t("signedIn"));
  });
  $("open").addEventListener("submit", (ev) => {
    ev.preventDefault();
    openPlan($("plan-id").value.trim()).catch((e) => say(e.message, true));
  });
  $("undo").addEventListener("click", () => {
    if (!state.undo.length) return;
    state.redo.push(state.moves); state.moves = state.undo.pop(); render();
  });
  $("redo").addEventListener("click", () => {
    if (!state.redo.length) return;
    state.undo.push(state.moves); state.moves = state.redo.pop(); render();
  });
  $("pin").addEventListener("click", togglePin);
  $("reoptimise").addEventListener("click", () => reoptimise().catch((e) => say(e.message, true)));
  $("resolve").addEventListener("click", () => resolveCertified().catch((e) => say(e.message, true)));
  $("simulate").addEventListener("click", () => simulate().catch((e) => say(e.message, true)));
  $("compare-any").addEventListener("submit", (ev) => {
    ev.preventDefault();
    compare($("cmp-a").value, $("cmp-b").value).catch((e) => say(e.message, true));
  });
  $("open-set").addEventListener("submit", (ev) => {
    ev.preventDefault();
    openSet($("set-id").value.trim()).catch((e) => say(e.message, true));
  });
  $("save").addEventListener("submit", (ev) => {
    ev.preventDefault();
    saveVersion($("note").value).catch((e) => say(e.message, true));
  });
  applyLanguage();
  const m = /plan=([0-9a-f]{32})/.exec(location.hash);
  if (m) {
    $("plan-id").value = m[1];
    if (state.token) openPlan(m[1]).catch((e) => say(e.message, true));
  }
}

window.catchmentPage = { state, evaluate, moveBlock, selectBlock, pinStreet };
document.addEventListener("DOMContentLoaded", init);
