// explaind dashboard: plain JavaScript over the JSON and SVG routes, no build step.
"use strict";

const POLL_MS = 5000;
const state = { model: null, info: null, globalEtag: null, timer: null, topFeature: null, text: false };
const TOKEN_KEY = "explaind-token";

// Servers with access control want a bearer token on every API call. The page keeps
// the one typed in for this tab only (sessionStorage) and sends it as
// `Authorization: Bearer …`; pictures are fetched the same way and shown from blobs,
// since an <img src> cannot carry the header.
function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function api(url, init = {}) {
  const headers = new Headers(init.headers || {});
  if (token()) headers.set("Authorization", `Bearer ${token()}`);
  const response = await fetch(url, { ...init, headers });
  if (response.status === 401) askForToken(token() ? "that token was not accepted" : "");
  return response;
}

function askForToken(why) {
  $("token-form").hidden = false;
  $("token-status").textContent =
    `this server needs an access token${why ? ": " + why : ""}`;
  $("token").focus();
}

function useToken(event) {
  event.preventDefault();
  const value = $("token").value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
  $("token").value = "";
  $("token-status").textContent = value ? "token set for this tab" : "";
  loadModels().catch((err) => { $("models").textContent = `cannot list models: ${err}`; });
}

// Show the picture at `url` in the <img> `img`, or return the error message.
// `current` says whether the picture is still wanted when it arrives (a later
// choice may have been answered first).
async function showImage(img, url, current = () => true) {
  const response = await api(url);
  if (!response.ok) return errorText(response);
  const blob = await response.blob();
  if (!current()) return "";
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(blob);
  img.dataset.url = url;
  return "";
}

const $ = (id) => document.getElementById(id);
const fmt = (v) => (typeof v === "string" ? v : Math.abs(v) >= 100 ? v.toLocaleString("en-US", { maximumFractionDigits: 0 })
  : Number(v.toPrecision(4)).toString());
const path = (name, rest) =>
  `/models/${encodeURIComponent(name)}${rest ? "/" + rest : ""}`;

async function errorText(response) {
  try { return (await response.json()).error.message; } catch (_) { return response.statusText; }
}

function show(id, text) {
  const el = $(id);
  el.textContent = text || "";
  el.hidden = !text;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c;
    tr.appendChild(td);
  }
  return tr;
}

async function loadModels() {
  const list = $("models");
  const response = await api("/models");
  if (!response.ok) {
    list.innerHTML = "";
    const li = document.createElement("li");
    li.className = "error";
    li.textContent = await errorText(response);
    list.appendChild(li);
    return;
  }
  const answer = await response.json();
  list.replaceChildren();
  for (const m of answer.models) {
    const button = document.createElement("button");
    button.textContent = m.name;
    button.dataset.model = m.name;
    button.title = `${m.kind}, version ${m.version}`;
    // The model shown already is not selected again: the page selects the first
    // one as it loads, and a click on it then would build its cards twice.
    button.addEventListener("click", () => {
      if (m.name !== state.model) selectModel(m.name);
    });
    const li = document.createElement("li");
    li.appendChild(button);
    list.appendChild(li);
  }
  if (answer.models.length === 0) list.innerHTML = '<li class="muted">no models registered</li>';
  else selectModel(answer.models[0].name);
}

async function selectModel(name) {
  clearInterval(state.timer);
  state.model = name;
  state.globalEtag = null;
  state.topFeature = null;
  for (const b of document.querySelectorAll("#models button")) {
    b.classList.toggle("selected", b.dataset.model === name);
  }
  const info = await (await api(path(name, ""))).json();
  // The weight dump needs the admin role: a reader's page goes on without it.
  const dump = await api(path(name, "weights"));
  const weights = dump.ok ? await dump.json() : { denied: await errorText(dump) };
  if (name !== state.model) return; // another model was selected meanwhile
  state.info = info;
  // Text classifiers take `texts`, not `instances`: one text box, answered per word.
  // Counterfactuals and anchors search over instances: no such card for them.
  state.text = TEXT_KINDS.includes(info.kind);
  $("change-card").hidden = state.text;
  $("model").hidden = false;
  $("model-name").textContent = `${info.name} (${info.kind}, version ${info.version})`;
  $("model-description").textContent = info.description || "";
  buildForm(info, weights);
  show("explain-error", "");
  $("explain-result").hidden = true;
  // The weight pictures print the dump's numbers: admins only too.
  $("weights").hidden = Boolean(weights.denied);
  if (!weights.denied) {
    weightChoices(info, weights);
    loadWeights();
  }
  loadActivations(weights);
  // Global importance, live traffic and dependence curves are computed over the
  // background: a model registered without one (a text classifier, often) says so
  // once, rather than polling for an error and offering features it cannot draw.
  const background = info.background_rows > 0;
  $("global-note").hidden = background;
  $("global-body").hidden = !background;
  $("dependence-card").hidden = !background;
  show("global-error", "");
  $("global-status").textContent = "";
  if (!background) {
    $("live").hidden = true;
    return;
  }
  await pollGlobal();
  if (name !== state.model) return;
  dependenceChoices(info);
  loadDependence();
  state.timer = setInterval(pollGlobal, POLL_MS);
}

function buildForm(info, weights) {
  const fields = $("explain-fields");
  fields.replaceChildren();
  fields.hidden = state.text;
  $("explain-text-label").hidden = !state.text;
  $("explain-title").textContent = state.text ? "Explain one text" : "Explain one instance";
  if (state.text) return;
  const stats = weights.background ? weights.background.features : [];
  const raw = info.raw_features || [];
  info.feature_names.forEach((name, j) => {
    const label = document.createElement("label");
    label.textContent = name;
    if (raw[j] && raw[j].kind === "categorical") {
      // A category, chosen by name; the background's most common one first.
      const select = document.createElement("select");
      select.name = name;
      select.dataset.feature = name;
      select.append(...raw[j].categories.map((c) => new Option(c, c)));
      const counts = (stats[j] && stats[j].categories || []).filter((c) => c.category !== null);
      if (counts.length) {
        select.value = counts.reduce((a, b) => (b.rows > a.rows ? b : a)).category;
      }
      label.appendChild(select);
      fields.appendChild(label);
      return;
    }
    const input = document.createElement("input");
    input.type = "number";
    input.step = "any";
    input.required = true;
    input.name = name;
    input.dataset.feature = name;
    const median = stats[j] && stats[j].median;
    input.value = median === null || median === undefined ? "0" : String(median);
    label.appendChild(input);
    fields.appendChild(label);
  });
}

async function pollGlobal() {
  const name = state.model;
  const headers = state.globalEtag ? { "If-None-Match": state.globalEtag } : {};
  const response = await api(path(name, "global"), { headers, cache: "no-store" });
  if (name !== state.model) return;
  const now = new Date().toLocaleTimeString();
  if (response.status === 304) {
    $("global-status").textContent = `unchanged, checked ${now}`;
    return;
  }
  if (!response.ok) {
    show("global-error", await errorText(response));
    $("global-chart").replaceChildren();
    $("global-table").hidden = true;
    return;
  }
  show("global-error", "");
  state.globalEtag = response.headers.get("ETag");
  const summary = await response.json();
  if (summary.features.length) state.topFeature = summary.features[0].name;
  // The picture is redrawn only when the summary changed; inline, like the waterfall.
  const picture = await api(path(name, "global.svg"), { cache: "no-store" });
  if (name !== state.model) return;
  $("global-chart").innerHTML = picture.ok ? await picture.text() : "";
  const body = $("global-table").querySelector("tbody");
  $("global-table").hidden = false;
  // Mean attributions of exact linear SHAP are zero up to rounding: say so.
  const largest = Math.max(...summary.features.map((f) => f.importance));
  const mean = (v) => (Math.abs(v) < 1e-9 * largest ? "\u2248 0" : fmt(v));
  body.replaceChildren(...summary.features.map((f) =>
    row([f.name, fmt(f.importance), mean(f.mean_attribution)])));
  $("global-status").textContent =
    `${summary.rows} rows, ${summary.method}; updated ${now}`;
  showLive(summary.live);
}

// The live section of the summary: the served window beside the background, the
// most drifted features first.
function showLive(live) {
  $("live").hidden = !live;
  if (!live) return;
  const w = live.window;
  $("live-status").textContent = `${w.rows} rows explained in the last ${live.window_secs} s, ` +
    `${live.since_start.rows} since the version was loaded (${live.output_space} space)`;
  const value = (v) => (v === null || v === undefined ? "\u2013" : fmt(v));
  const drift = (psi) => (psi === null || psi === undefined ? ""
    : psi > 0.25 ? "drift-high" : psi > 0.1 ? "drift-mid" : "");
  const features = [...w.features].sort((a, b) => (b.psi ?? -1) - (a.psi ?? -1));
  $("live-table").querySelector("tbody").replaceChildren(...features.map((f) => {
    const psi = document.createElement("span");
    psi.className = drift(f.psi);
    psi.textContent = value(f.psi);
    const tr = row([f.name, value(f.mean_abs), value(f.baseline_mean_abs),
      value(f.importance_shift), psi]);
    tr.dataset.feature = f.name;
    return tr;
  }));
}

// What weights.svg can draw for this model, as query strings: coefficients on two
// scales for linear models; each layer's matrix, and the first layer's units as
// images when the input has a two-dimensional shape, for networks; the split
// importance, which takes no parameter, for tree ensembles.
// CatBoost's document stores no split statistics: its own importance instead.
const TREE_KINDS = ["xgboost", "lightgbm"];
const TEXT_KINDS = ["text_classifier"];

function weightChoices(info, weights) {
  const choices = [];
  if (info.kind === "catboost") {
    choices.push(["", "PredictionValuesChange (CatBoost's importance)"]);
  } else if (TREE_KINDS.includes(info.kind) || weights.trees) {
    choices.push(["", "split importance"]);
  } else if (weights.mlp) {
    weights.mlp.layers.forEach((l, k) =>
      choices.push([`layer=${k}`, `layer ${k} (${l.activation}) weight matrix`]));
    if (weights.mlp.input_shape && weights.mlp.input_shape.length === 2) {
      choices.push(["view=kernels", "first-layer units as images"]);
    }
  } else {
    if (weights.background) choices.push(["scale=standardized", "standardized (\u00d7 std)"]);
    choices.push(["scale=raw", "raw"]);
  }
  $("weights-choice").replaceChildren(...choices.map(([value, text]) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = text;
    return option;
  }));
}

// Networks with a background: the activation curves over what the layers see.
function loadActivations(weights) {
  const shown = Boolean(weights.mlp && weights.background);
  $("activations").hidden = !shown;
  $("activations-img").removeAttribute("src");
  if (shown) {
    showImage($("activations-img"), path(state.model, "activations.svg"))
      .then((error) => show("activations-error", error));
  }
}

async function loadWeights() {
  const choice = $("weights-choice").value;
  const url = path(state.model, `weights.svg${choice ? "?" + choice : ""}`);
  const error = await showImage($("weights-img"), url);
  show("weights-error", error);
  $("weights-img").hidden = Boolean(error);
}

// The dependence card offers every feature of the model, in the model's order; the
// most important one (by the global summary, when there is one) is drawn at once.
function dependenceChoices(info) {
  $("dependence-feature").replaceChildren(...info.feature_names.map((name) => {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name;
    return option;
  }));
  if (state.topFeature) $("dependence-feature").value = state.topFeature;
}

async function loadDependence() {
  const name = state.model;
  const feature = $("dependence-feature").value;
  if (!feature) return;
  const url = path(name, `dependence.svg?feature=${encodeURIComponent(feature)}`);
  const current = () => name === state.model && $("dependence-feature").value === feature;
  const error = await showImage($("dependence-img"), url, current);
  if (!current()) return;
  show("dependence-error", error);
  $("dependence-img").hidden = Boolean(error);
}

function formInstance() {
  const instance = {};
  for (const input of document.querySelectorAll("#explain-fields [data-feature]")) {
    // Categories go as their names, numbers as numbers.
    instance[input.dataset.feature] = input.tagName === "SELECT" ? input.value : Number(input.value);
  }
  return instance;
}

// The counterfactual and anchor pictures, inline so their rows can be inspected.
async function postPicture(target, url, body) {
  const init = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await api(url, init);
  if (!response.ok) {
    show("change-error", await errorText(response));
    $(target).innerHTML = "";
    return;
  }
  show("change-error", "");
  $(target).innerHTML = await response.text();
}

async function counterfactual(event) {
  event.preventDefault();
  const cls = $("target-class").value.trim();
  const [lo, hi] = [$("target-min").value, $("target-max").value];
  let target;
  if (cls) target = /^[0-9]+$/.test(cls) ? Number(cls) : cls;
  else target = { ...(lo !== "" && { min: Number(lo) }), ...(hi !== "" && { max: Number(hi) }) };
  await postPicture("counterfactual", path(state.model, "counterfactuals.svg"),
    { instance: formInstance(), target });
}

async function anchor() {
  await postPicture("anchor", path(state.model, "explain.svg"),
    { method: "anchors", instances: [formInstance()] });
}

async function explain(event) {
  event.preventDefault();
  const text = state.text ? $("explain-text").value : null;
  const instance = state.text ? null : formInstance();
  const body = JSON.stringify(state.text ? { texts: [text] } : { instances: [instance] });
  const init = { method: "POST", headers: { "Content-Type": "application/json" }, body };
  const [json, svg] = await Promise.all([
    api(path(state.model, "explain"), init),
    api(path(state.model, "explain.svg"), init),
  ]);
  if (!json.ok) {
    show("explain-error", await errorText(json));
    $("explain-result").hidden = true;
    return;
  }
  show("explain-error", "");
  const answer = await json.json();
  const e = answer.explanations[0];
  const p = $("prediction");
  p.dataset.value = String(e.prediction);
  const base = state.text ? "base value, no known word," : "base value";
  p.textContent = `${e.output}: predicted ${fmt(e.prediction)} ` +
    `(${base} ${fmt(e.base_value)}, ${answer.method}, ${answer.output_space} space)`;
  // The server's waterfall, inline so its bars can be inspected.
  $("waterfall").innerHTML = svg.ok ? await svg.text() : "";
  if (state.text) showWords(e, text); else showFeatures(answer, e, instance);
  $("explain-result").hidden = false;
}

const signed = (v) => {
  const span = document.createElement("span");
  span.className = v < 0 ? "neg" : "pos";
  span.textContent = (v > 0 ? "+" : "") + fmt(v);
  return span;
};

// One row per feature, the largest attribution first.
function showFeatures(answer, e, instance) {
  $("explain-words").hidden = true;
  $("explain-what").textContent = "feature";
  $("explain-value").textContent = "value";
  const order = answer.feature_names.map((_, j) => j)
    .sort((a, b) => Math.abs(e.attributions[b]) - Math.abs(e.attributions[a]));
  $("explain-table").querySelector("tbody").replaceChildren(...order.map((j) =>
    row([answer.feature_names[j], fmt(instance[answer.feature_names[j]]), signed(e.attributions[j])])));
}

// The text as sent with each known word marked in its attribution's colour (the
// stronger, the more opaque), then one row per word, the largest first. Offsets are
// in bytes of UTF-8, so the text is cut as bytes.
function showWords(e, text) {
  const bytes = new TextEncoder().encode(text);
  const cut = (a, b) => new TextDecoder().decode(bytes.subarray(a, b));
  const largest = Math.max(1e-12, ...e.tokens.map((t) => Math.abs(t.attribution)));
  const parts = [];
  let at = 0;
  e.tokens.forEach((t, k) => {
    parts.push(cut(at, t.start));
    const mark = document.createElement("mark");
    mark.textContent = cut(t.start, t.end);
    mark.dataset.token = t.token;
    mark.dataset.attribution = String(t.attribution);
    mark.title = `#${k + 1} ${t.token}: ${(t.attribution > 0 ? "+" : "") + fmt(t.attribution)}`;
    const alpha = (0.15 + 0.6 * Math.abs(t.attribution) / largest).toFixed(2);
    mark.style.background = t.attribution < 0 ? `rgba(30,136,229,${alpha})` : `rgba(255,13,87,${alpha})`;
    parts.push(mark);
    at = t.end;
  });
  parts.push(cut(at, bytes.length));
  if (e.unknown_words.length) parts.push(` (unknown, skipped: ${e.unknown_words.join(", ")})`);
  $("explain-words").replaceChildren(...parts);
  $("explain-words").hidden = false;
  $("explain-what").textContent = "word";
  $("explain-value").textContent = "place in the text";
  const order = e.tokens.map((_, k) => k)
    .sort((a, b) => Math.abs(e.tokens[b].attribution) - Math.abs(e.tokens[a].attribution));
  $("explain-table").querySelector("tbody").replaceChildren(...order.map((k) =>
    row([e.tokens[k].token, `#${k + 1}`, signed(e.tokens[k].attribution)])));
}

$("explain-form").addEventListener("submit", explain);
$("change-form").addEventListener("submit", counterfactual);
$("anchor-submit").addEventListener("click", anchor);
$("token-form").addEventListener("submit", useToken);
if (token()) { $("token-form").hidden = false; $("token-status").textContent = "token set for this tab"; }
$("weights-choice").addEventListener("change", loadWeights);
$("dependence-feature").addEventListener("change", loadDependence);
loadModels().catch((err) => { $("models").textContent = `cannot list models: ${err}`; });
