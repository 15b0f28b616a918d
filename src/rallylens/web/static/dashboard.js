/* rallylens dashboard: asset + as-of controls, verdict card, figures, rallies, study.
   Talks only to this server's JSON API; every text is set with textContent. */
"use strict";

const DAY_MS = 86400000;
const DEBOUNCE_MS = 200;
const KINDS = ["bear_market_rally", "spot_led", "leveraged_long"];

const state = { assets: {}, asset: null, first: null, last: null, seq: 0, timer: null,
                controller: null, current: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// --- dates: the slider counts days from the asset's first accepted date ----------
const toDay = (iso) => Date.parse(iso.slice(0, 10) + "T00:00:00Z");
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const dayIndex = (iso) => Math.round((toDay(iso) - state.first) / DAY_MS);
const indexDay = (i) => isoDay(state.first + i * DAY_MS);

function num(v, digits = 2) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits,
                                             minimumFractionDigits: digits });
}
const pct = (v, digits = 0) => (v === null || v === undefined ? "–" : num(v * 100, digits) + "%");

// --- fetching --------------------------------------------------------------------
async function getJSON(url, signal) {
  const response = await fetch(url, { signal, headers: { Accept: "application/json" } });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : `HTTP ${response.status}`;
    const err = new Error(detail);
    err.status = response.status;
    throw err;
  }
  return body;
}

function showError(message) {
  const box = $("error");
  if (!message) { box.hidden = true; box.textContent = ""; return; }
  box.textContent = message;
  box.hidden = false;
}

function setStatus(text, busy) {
  $("status").textContent = text;
  document.body.dataset.state = busy ? "loading" : "ready";
}

// --- controls --------------------------------------------------------------------
function setAsset(name, at) {
  const info = state.assets[name];
  state.asset = name;
  $("asset").value = name;
  state.first = toDay(info.range.first_date);
  state.last = toDay(info.range.last_date);
  const slider = $("as-of-slider");
  slider.min = 0;
  slider.max = Math.round((state.last - state.first) / DAY_MS);
  const date = $("as-of-date");
  date.min = info.range.first_date;
  date.max = info.range.last_date;
  const wanted = at && toDay(at) >= state.first && toDay(at) <= state.last ? at : info.range.last_date;
  setDate(wanted);
}

function setDate(iso) {
  $("as-of-date").value = iso;
  $("as-of-slider").value = dayIndex(iso);
}

function currentAt() { return $("as-of-date").value; }

function schedule(delay) {
  clearTimeout(state.timer);
  state.timer = setTimeout(refresh, delay);
}

function writeHash() {
  const params = new URLSearchParams({ asset: state.asset, at: currentAt() });
  history.replaceState(null, "", "#" + params.toString());
}

// --- rendering: verdict card -----------------------------------------------------
function renderVerdict(a) {
  const card = $("verdict-card");
  card.replaceChildren();
  card.dataset.verdict = a.verdict;
  card.dataset.asOf = a.as_of;
  card.dataset.asset = a.asset;
  const rally = a.rally;
  card.append(el("div", { class: "verdict-head" },
    el("span", { class: "badge " + a.verdict }, a.verdict.replaceAll("_", " ")),
    el("strong", {}, `${a.asset} · as of ${a.as_of.slice(0, 16).replace("T", " ")} UTC`),
    el("span", {}, `last close ${num(a.last_close)}`),
    el("span", { class: "muted" }, `rally ${rally.rally_id} (${a.status.replace("_", " ")}), ` +
      `low ${rally.low_ts.slice(0, 10)} at ${num(rally.low_price)}, regime ${rally.regime}`),
    el("span", {}, `confidence ${pct(a.confidence)}`)));
  card.append(el("p", { class: "headline" }, a.headline));
  if (a.failure && a.failure.text) {
    card.append(el("p", { class: "failure", "data-role": "failure" }, a.failure.text));
    const near = a.failure.analogues || [];
    if (near.length) {
      const ul = el("ul", { class: "reasons" });
      for (const an of near) {
        const outcome = an.failed === null ? "outcome pending"
          : an.failed ? `failed within ${a.failure.horizon_days} days` : `held ${a.failure.horizon_days} days`;
        ul.append(el("li", {}, `${an.asset} rally from ${(an.low_ts || "").slice(0, 10)} ` +
          `(${(an.verdict || "").replaceAll("_", " ")}, gain ${pct(an.gain)} at day ${an.checkpoint_days}): ` +
          `${outcome}, 30-day return ${pct(an.fwd_30d, 1)}`));
      }
      card.append(el("details", {}, el("summary", {}, `closest past rallies (${near.length})`), ul));
    }
  }
  const scores = el("div", { class: "scores" }, el("h3", {}, "scores"));
  for (const kind of KINDS) {
    const v = a.scores[kind] || 0;
    const meter = el("span", { class: "meter" }, el("span", {}));
    meter.firstChild.style.width = `${Math.round(v * 100)}%`;
    scores.append(el("div", {}, el("span", {}, kind.replaceAll("_", " ")), meter,
                     el("span", {}, `${num(v)} (coverage ${pct(a.coverage[kind])})`)));
  }
  const reasons = el("div", {}, el("h3", {}, "why"));
  const list = el("ul", { class: "reasons" });
  for (const r of a.reasons) list.append(el("li", {}, r.text));
  for (const r of a.other_evidence) list.append(el("li", { class: "against" }, `(${r.kind.replaceAll("_", " ")}) ${r.text}`));
  reasons.append(list);
  const levels = el("div", {}, el("h3", {}, "levels to watch"));
  const lv = el("ul", { class: "reasons" });
  for (const [name, value] of Object.entries(a.levels)) {
    lv.append(el("li", {}, `${name.replaceAll("_", " ")}: ${num(value)}`));
  }
  levels.append(lv);
  card.append(el("div", { class: "columns" }, scores, reasons, levels));
  const missing = Object.entries(a.missing);
  if (missing.length) {
    const det = el("details", {}, el("summary", {}, `missing data (${missing.length})`));
    const ul = el("ul", { class: "reasons" });
    for (const [name, why] of missing) ul.append(el("li", {}, `${name}: ${why}`));
    det.append(ul);
    card.append(det);
  }
  markCurrentRally();
}

// --- rendering: figures ----------------------------------------------------------
function renderFigures(payload) {
  const box = $("figures");
  const wanted = new Set(payload.figures.map((f) => f.name));
  for (const div of [...box.querySelectorAll(".figure")]) {
    if (!wanted.has(div.dataset.name)) { Plotly.purge(div); div.remove(); }
  }
  payload.figures.forEach((f, i) => {
    let div = box.querySelector(`.figure[data-name="${f.name}"]`);
    if (!div) div = el("div", { class: "figure", "data-name": f.name });
    if (box.children[i] !== div) box.insertBefore(div, box.children[i] || null);
    const layout = Object.assign({}, f.figure.layout || {}, { autosize: true });
    Plotly.react(div, f.figure.data || [], layout, { responsive: true, displaylogo: false });
    div.dataset.asOf = payload.as_of;
  });
  box.dataset.asOf = payload.as_of;
}

// --- rendering: rallies ----------------------------------------------------------
function renderRallies(payload) {
  const body = $("rallies-table").tBodies[0];
  body.replaceChildren();
  for (const r of [...payload.rallies].reverse()) {
    const row = el("tr", { class: "rally-row", "data-rally-id": r.rally_id,
                           "data-peak": r.peak_ts.slice(0, 10) },
      el("td", {}, r.rally_id), el("td", {}, r.low_ts.slice(0, 10)), el("td", {}, num(r.low_price)),
      el("td", {}, r.peak_ts.slice(0, 10)), el("td", {}, num(r.peak_price)),
      el("td", {}, r.gain_pct === null ? "–" : `${num(r.gain_pct, 1)}%`), el("td", {}, r.days),
      el("td", {}, r.regime || "–"), el("td", {}, r.status.replace("_", " ")),
      el("td", {}, el("span", { class: "badge " + r.verdict }, r.verdict.replaceAll("_", " "))),
      el("td", {}, num(r.score)), el("td", {}, pct(r.confidence)));
    row.addEventListener("click", () => {
      setDate(row.dataset.peak);
      refresh();
    });
    body.append(row);
  }
  $("rallies-table").dataset.asOf = payload.as_of;
  markCurrentRally();
}

function markCurrentRally() {
  const id = state.current;
  for (const row of $("rallies-table").tBodies[0].rows) {
    row.classList.toggle("current", id !== null && row.dataset.rallyId === String(id));
  }
}

// --- rendering: study ------------------------------------------------------------
function renderStudy(s) {
  const box = $("study-body");
  box.replaceChildren();
  box.append(el("p", {}, `${s.events} events over ${s.assets.join(", ")}` +
                (s.since ? ` since ${s.since.slice(0, 10)}` : "")));
  const table = el("table", { id: "study-table" });
  table.append(el("thead", {}, el("tr", {}, ...["by", "group", "n", "failure rate", "90% interval",
                                                "median 30d return", "note"].map((h) => el("th", {}, h)))));
  const tbody = el("tbody");
  for (const h of s.hit_rates) {
    tbody.append(el("tr", {}, el("td", {}, h.by), el("td", {}, h.group), el("td", {}, h.n),
      el("td", {}, pct(h.fail_rate)),
      el("td", {}, h.fail_lo === null ? "–" : `${pct(h.fail_lo)}–${pct(h.fail_hi)}`),
      el("td", {}, pct(h.fwd_30d_median, 1)), el("td", {}, h.note || "")));
  }
  table.append(tbody);
  box.append(el("div", { class: "scroll" }, table));
  const sc = s.scores;
  box.append(el("p", {}, `walk-forward model: Brier ${num(sc.brier)} vs ${num(sc.base_brier)} base rate, ` +
                         `log loss ${num(sc.log_loss)} vs ${num(sc.base_log_loss)} (n=${sc.n_scored ?? "–"})`));
  const cov = el("ul", { class: "reasons" });
  for (const line of s.coverage) cov.append(el("li", {}, line));
  for (const d of s.dropped) cov.append(el("li", { class: "against" }, `dropped: ${d.reason} (${d.n})`));
  box.append(cov);
  box.dataset.ready = "1";
}

async function loadStudy() {
  try {
    renderStudy(await getJSON("/api/study"));
  } catch (err) {
    const box = $("study-body");
    box.replaceChildren(el("p", { class: "muted" }, `study not available: ${err.message}`));
    box.dataset.ready = "1";
  }
}

// --- the refresh cycle -----------------------------------------------------------
async function refresh() {
  clearTimeout(state.timer);
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  const seq = ++state.seq;
  const query = new URLSearchParams({ asset: state.asset, at: currentAt() }).toString();
  writeHash();
  setStatus("loading…", true);
  showError(null);
  const started = performance.now();
  const fresh = () => seq === state.seq;
  const jobs = [
    getJSON(`/api/analyze?${query}`, controller.signal).then((a) => {
      if (fresh()) { state.current = a.rally.rally_id; renderVerdict(a); }
    }),
    getJSON(`/api/rallies?${query}`, controller.signal).then((r) => fresh() && renderRallies(r)),
    getJSON(`/api/figures?${query}`, controller.signal).then((f) => fresh() && renderFigures(f)),
  ];
  const results = await Promise.allSettled(jobs);
  if (!fresh()) return;
  const failed = results.filter((r) => r.status === "rejected" && r.reason.name !== "AbortError");
  if (failed.length) showError(failed.map((r) => r.reason.message).filter((m, i, all) => all.indexOf(m) === i).join(" · "));
  setStatus(`${Math.round(performance.now() - started)} ms`, false);
}

async function init() {
  try {
    const payload = await getJSON("/api/assets");
    for (const a of payload.assets) {
      state.assets[a.asset] = a;
      $("asset").append(el("option", { value: a.asset }, a.asset));
    }
    if (!payload.assets.length) { showError("the store holds no price data"); return; }
    const hash = new URLSearchParams(location.hash.slice(1));
    const first = state.assets[hash.get("asset")] ? hash.get("asset") : payload.assets[0].asset;
    setAsset(first, hash.get("at"));
  } catch (err) {
    showError(`cannot list assets: ${err.message}`);
    setStatus("", false);
    return;
  }
  $("asset").addEventListener("change", (e) => { setAsset(e.target.value, currentAt()); refresh(); });
  $("as-of-slider").addEventListener("input", (e) => {
    $("as-of-date").value = indexDay(Number(e.target.value));
    schedule(DEBOUNCE_MS);
  });
  $("as-of-slider").addEventListener("change", () => refresh());
  $("as-of-date").addEventListener("change", (e) => {
    if (!e.target.value) return;
    const clamped = Math.min(Math.max(toDay(e.target.value), state.first), state.last);
    setDate(isoDay(clamped));
    refresh();
  });
  $("latest").addEventListener("click", () => { setDate(isoDay(state.last)); refresh(); });
  refresh();
  loadStudy();
}

document.addEventListener("DOMContentLoaded", init);
