// explaind dashboard: plain JavaScript over the JSON and SVG routes, no build step.
"use strict";

const POLL_MS = 5000;
const state = { model: null, info: null, globalEtag: null, timer: null };

const $ = (id) => document.getElementById(id);
const fmt = (v) => (Math.abs(v) >= 100 ? v.toLocaleString("en-US", { maximumFractionDigits: 0 })
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
  const answer = await (await fetch("/models")).json();
  list.replaceChildren();
  for (const m of answer.models) {
    const button = document.createElement("button");
    button.textContent = m.name;
    button.dataset.model = m.name;
    button.title = `${m.kind}, version ${m.version}`;
    button.addEventListener("click", () => selectModel(m.name));
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
  for (const b of document.querySelectorAll("#models button")) {
    b.classList.toggle("selected", b.dataset.model === name);
  }
  const info = await (await fetch(path(name, ""))).json();
  const weights = await (await fetch(path(name, "weights"))).json();
  if (name !== state.model) return; // another model was selected meanwhile
  state.info = info;
  $("model").hidden = false;
  $("model-name").textContent = `${info.name} (${info.kind}, version ${info.version})`;
  $("model-description").textContent = info.description || "";
  buildForm(info, weights);
  show("explain-error", "");
  $("explain-result").hidden = true;
  weightChoices(weights);
  loadWeights();
  loadActivations(weights);
  await pollGlobal();
  state.timer = setInterval(pollGlobal, POLL_MS);
}

function buildForm(info, weights) {
  const fields = $("explain-fields");
  fields.replaceChildren();
  const stats = weights.background ? weights.background.features : [];
  info.feature_names.forEach((name, j) => {
    const label = document.createElement("label");
    label.textContent = name;
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
  const response = await fetch(path(name, "global"), { headers, cache: "no-store" });
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
  // The picture is redrawn only when the summary changed; inline, like the waterfall.
  const picture = await fetch(path(name, "global.svg"), { cache: "no-store" });
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
}

// What weights.svg can draw for this model, as query strings: coefficients on two
// scales for linear models; each layer's matrix, and the first layer's units as
// images when the input has a two-dimensional shape, for networks.
function weightChoices(weights) {
  const choices = [];
  if (weights.mlp) {
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
  if (shown) $("activations-img").src = path(state.model, "activations.svg");
}

async function loadWeights() {
  const choice = $("weights-choice").value;
  const url = path(state.model, `weights.svg?${choice}`);
  const response = await fetch(url);
  if (!response.ok) {
    show("weights-error", await errorText(response));
    $("weights-img").hidden = true;
    return;
  }
  show("weights-error", "");
  $("weights-img").hidden = false;
  $("weights-img").src = url;
}

async function explain(event) {
  event.preventDefault();
  const instance = {};
  for (const input of document.querySelectorAll("#explain-fields input")) {
    instance[input.dataset.feature] = Number(input.value);
  }
  const body = JSON.stringify({ instances: [instance] });
  const init = { method: "POST", headers: { "Content-Type": "application/json" }, body };
  const [json, svg] = await Promise.all([
    fetch(path(state.model, "explain"), init),
    fetch(path(state.model, "explain.svg"), init),
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
  p.textContent = `${e.output}: predicted ${fmt(e.prediction)} ` +
    `(base value ${fmt(e.base_value)}, ${answer.method}, ${answer.output_space} space)`;
  // The server's waterfall, inline so its bars can be inspected.
  $("waterfall").innerHTML = svg.ok ? await svg.text() : "";
  const order = answer.feature_names.map((_, j) => j)
    .sort((a, b) => Math.abs(e.attributions[b]) - Math.abs(e.attributions[a]));
  $("explain-table").querySelector("tbody").replaceChildren(...order.map((j) => {
    const span = document.createElement("span");
    span.className = e.attributions[j] < 0 ? "neg" : "pos";
    span.textContent = (e.attributions[j] > 0 ? "+" : "") + fmt(e.attributions[j]);
    return row([answer.feature_names[j], fmt(instance[answer.feature_names[j]]), span]);
  }));
  $("explain-result").hidden = false;
}

$("explain-form").addEventListener("submit", explain);
$("weights-choice").addEventListener("change", loadWeights);
loadModels().catch((err) => { $("models").textContent = `cannot list models: ${err}`; });
