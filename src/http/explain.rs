//! Predictions and local explanations: `/models/{name}/predict`,
//! `/models/{name}/explain` and `/explain`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, JsonAnswer};
use super::instances;
use super::selection;
use super::texts::{self, TextExplainResponse};
use super::AppState;
use crate::core::explain::integrated_gradients::IgOptions;
use crate::core::explain::sampling::{SamplingParams, MAX_SAMPLES};
use crate::core::explain::{finite, Explanation, Method};
use crate::core::models::OutputSpace;
use crate::core::Cancel;
use crate::explainer::{self, ExplainArgs, MethodOptions};
use crate::registry::ModelEntry;
use std::time::Duration;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/explain", post(explain_any))
        .route("/models/{name}/explain", post(explain_model))
        .route("/models/{name}/predict", post(predict_model))
}

/// Which output: an index, or an output (class) name.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OutputRef {
    /// Output index, from 0.
    Index(usize),
    /// Output name, as in the model's `output_names`.
    Name(String),
}

/// The space outputs and attributions are expressed in.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SpaceName {
    /// Margins: the regression value, or log-odds for classifiers.
    Raw,
    /// After the link: class probabilities.
    Probability,
}

impl From<SpaceName> for OutputSpace {
    fn from(s: SpaceName) -> Self {
        match s {
            SpaceName::Raw => OutputSpace::Raw,
            SpaceName::Probability => OutputSpace::Probability,
        }
    }
}

/// An explanation request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// Model name: required on `POST /explain`, optional (must match) on the model's own route.
    #[serde(default)]
    #[schema(nullable = false)]
    pub model: Option<String>,
    /// Rows to explain: arrays in feature order, or objects keyed by feature name.
    /// `null` marks a missing value (tree models only). For a text classifier, rows
    /// are pooled embeddings (`emb_0` …); send `texts` instead to explain words.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub instances: instances::Instances,
    /// Text classifiers: the texts to explain, instead of `instances`. The answer is
    /// a `TextExplainResponse`: per-token attributions and the unknown words.
    #[serde(default)]
    pub texts: Option<Vec<String>>,
    /// `auto` (default: the exact method for the model's family) or a method name.
    #[serde(default)]
    pub method: Option<String>,
    /// Output to explain, by index or name. Default: the only output, or each row's
    /// predicted class.
    #[serde(default)]
    pub output: Option<OutputRef>,
    /// Several outputs per row instead of `output`: `"all"`, or `"top:K"` for each
    /// row's K largest outputs (most probable classes), largest first. Then
    /// `explanations` holds K per row, row by row, each naming its `instance`.
    #[serde(default)]
    pub outputs: Option<String>,
    /// `raw` (default) or `probability` (classifiers).
    #[serde(default)]
    pub output_space: Option<SpaceName>,
    /// `features` (default) or `groups`: one attribution per feature group the model
    /// declares (the sum of its features' attributions; standard errors are then
    /// left out, as they do not add up). `feature_names` then names the groups.
    #[serde(default)]
    pub group_by: Option<String>,
    /// Sampling methods: `features` (default) or `groups`, to let groups join and
    /// leave coalitions as one player (implies one attribution per group).
    #[serde(default)]
    pub players: Option<String>,
    /// Integrated gradients: quadrature nodes along the path, at most 2048. Given
    /// alone, exactly this many; otherwise the first count tried (default 50), doubled
    /// until the row's |convergence_delta| ≤ `tolerance` · |f(x) − f(baseline)| or
    /// 2048 nodes. `quality.samples` reports the count used. Texts: fixed, default 50.
    #[serde(default)]
    pub steps: Option<usize>,
    /// Read per method. Integrated gradients on `instances`: the relative convergence
    /// target of the adaptive steps, above 0 and at most 1 (default 0.001 when `steps`
    /// is not given; with `steps`, makes them adaptive from there). `kernel_shap` and
    /// `permutation_shap`: an absolute target, in the output's units, for every
    /// attribution's standard error: samples are drawn in doubling rounds until it is
    /// met, `n_samples` (default `--max-samples`) is reached, or `timeout_ms` passes
    /// (then the last finished round answers). Echoed as `quality.tolerance`.
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// Integrated gradients: `gausslegendre` (default), `riemann_left`, `riemann_right`,
    /// `riemann_middle` or `riemann_trapezoid`.
    #[serde(default)]
    pub rule: Option<String>,
    /// Integrated gradients: the baseline, one value per feature (default: the
    /// background mean).
    #[serde(default)]
    pub baseline: Option<Vec<f64>>,
    /// Sampling methods (`kernel_shap`, `permutation_shap`, `lime`): the random seed
    /// (default 0); the same request and seed give the same answer.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Sampling methods: the budget (coalitions, permutation pairs or LIME samples;
    /// defaults 2F+2048, 10 and 5000); with a `tolerance`, the cap of its rounds.
    #[serde(default)]
    pub n_samples: Option<usize>,
    /// Sampling methods: give up (422 `timeout`) past this many milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Sampling methods: at most this many background rows (a seeded sample; default 100).
    #[serde(default)]
    pub max_background: Option<usize>,
    /// `kernel_shap`: keep only the k largest attributions and refit.
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Tree models with `tree_path_dependent`: also SHAP interaction values per
    /// instance (features × features, symmetric, each row summing to that feature's
    /// attribution).
    #[serde(default)]
    pub interactions: Option<bool>,
    /// `basic` (default) or `full`: also deletion and insertion curves, faithfulness
    /// correlation and max-sensitivity for every row (costs extra model evaluations).
    #[serde(default)]
    pub quality: Option<QualityLevel>,
}

/// How much quality information to compute.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum QualityLevel {
    /// Additivity residual and what the method reports anyway.
    Basic,
    /// Also the scores of the `scores` field.
    Full,
}

impl ExplainRequest {
    /// What to compute, from the method, output, space and settings this request
    /// gives, checked against the model.
    fn args(&self, entry: &ModelEntry) -> Result<ExplainArgs, ApiError> {
        Ok(ExplainArgs {
            method: self.method.as_deref().unwrap_or("auto").parse()?,
            output: selection::output_choice(entry, self.output.as_ref(), self.outputs.as_deref())?,
            space: self.output_space.unwrap_or(SpaceName::Raw).into(),
            options: self.options()?,
            players: selection::players(self.group_by.as_deref(), self.players.as_deref())?,
            cancel: Cancel::never(),
        })
    }

    /// The method settings this request gives, validated.
    fn options(&self) -> Result<MethodOptions, ApiError> {
        let method: Method = self.method.as_deref().unwrap_or("auto").parse()?;
        let sampled = matches!(method, Method::KernelShap | Method::PermutationShap);
        let mut ig = IgOptions::default();
        if let Some(steps) = self.steps {
            ig.steps = steps;
            ig.tolerance = None;
        }
        if let Some(tolerance) = self.tolerance.filter(|_| !sampled) {
            ig.tolerance = Some(tolerance);
        }
        ig.checked_tolerance()?;
        if let Some(rule) = &self.rule {
            ig.rule = rule.parse()?;
        }
        ig.baseline = self.baseline.clone();
        let sampling = SamplingParams {
            seed: self.seed.unwrap_or(0),
            n_samples: self.n_samples,
            timeout: self.timeout_ms.map(Duration::from_millis),
            top_k: self.top_k,
            max_background: self.max_background,
            tolerance: self.tolerance.filter(|_| sampled),
            ..SamplingParams::default()
        };
        crate::core::explain::sampling::check_tolerance(sampling.tolerance)?;
        Ok(MethodOptions {
            ig,
            sampling,
            full_quality: self.quality == Some(QualityLevel::Full),
            interactions: self.interactions.unwrap_or(false),
        })
    }
}

/// How exact one explanation is.
#[derive(Debug, Serialize, ToSchema)]
pub struct QualityDto {
    /// prediction − base_value − Σ attributions, as computed.
    pub additivity_residual: f64,
    /// Standard error of each attribution (sampling methods).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standard_errors: Option<Vec<f64>>,
    /// Model evaluations used (sampling methods).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// Σφ − (f(x) − f(baseline)) (path methods).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convergence_delta: Option<f64>,
    /// Integrated gradients with adaptive steps: the relative target the steps
    /// (`samples`) were doubled for, |convergence_delta| ≤ tolerance · |prediction −
    /// base_value|; above it only when 2048 steps did not reach it. `kernel_shap` and
    /// `permutation_shap` with a `tolerance`: the standard-error target, in output units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// Sampling with a `tolerance`: whether every standard error reached it (false
    /// when `n_samples` or `timeout_ms` came first); `samples` says how many it took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance_met: Option<bool>,
    /// Sampling with a `tolerance`: the largest standard error achieved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_standard_error: Option<f64>,
    /// R² of the local surrogate (LIME).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surrogate_r2: Option<f64>,
    /// The local surrogate's prediction for the row (LIME).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_prediction: Option<f64>,
    /// On request (`"quality": "full"`): deletion and insertion curves with their
    /// areas (deletion: lower is better; insertion: higher is better), faithfulness
    /// correlation (Bhatt et al. 2020; higher is better) and max-sensitivity (Yeh et
    /// al. 2019; lower is better).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<ScoresDto>,
}

/// Quality scores of one explanation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoresDto {
    /// Output after removing 0, 1, …, F features in decreasing order of attribution.
    pub deletion_curve: Vec<f64>,
    /// Normalised area under the deletion curve (lower is better).
    pub deletion_area: f64,
    /// Output after restoring 0, 1, …, F features in that order.
    pub insertion_curve: Vec<f64>,
    /// Normalised area under the insertion curve (higher is better).
    pub insertion_area: f64,
    /// Faithfulness correlation in [−1, 1] (higher is better); null when undefined.
    pub faithfulness: Option<f64>,
    /// Largest relative change of the attributions within 10% of a standard
    /// deviation of each feature (lower is better).
    pub max_sensitivity: f64,
}

/// One row's explanation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplanationDto {
    /// Name of the output explained.
    pub output: String,
    /// The model's prediction for that output, in `output_space`.
    pub prediction: f64,
    /// Expected output over the background: where attributions start.
    pub base_value: f64,
    /// The instance explained (its index in the request), when `outputs` asks for
    /// several explanations per instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<usize>,
    /// One per feature (or group), aligned with `feature_names`.
    pub attributions: Vec<f64>,
    /// How exact the numbers are.
    pub quality: QualityDto,
    /// SHAP interaction values (features × features), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interactions: Option<Vec<Vec<f64>>>,
}

/// An explanation answer. `values`, `base_values` and `feature_names` repeat the
/// attributions in the shape of shap's `Explanation`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainResponse {
    /// Model name.
    pub model: String,
    /// Model version that answered.
    pub version: u64,
    /// Method used (never `auto`).
    pub method: String,
    /// The output explained when it is the same for every row, else null.
    pub output: Option<String>,
    /// Space of predictions and attributions.
    pub output_space: SpaceName,
    /// Feature names, aligned with every attribution vector (group names with
    /// `group_by` or `players` set to `groups`).
    // Without groups, the model's own list, shared: a reference count per answer, not a copy.
    #[serde(serialize_with = "shared_names")]
    #[schema(value_type = Vec<String>)]
    pub feature_names: Arc<[String]>,
    /// One per instance, in order (one per instance and output with `outputs`).
    pub explanations: Vec<ExplanationDto>,
    /// Attributions as a (rows × features) matrix, as shap's `Explanation.values`.
    pub values: Vec<Vec<f64>>,
    /// Base values, one per row, as shap's `Explanation.base_values`.
    pub base_values: Vec<f64>,
    /// The seed the sampling method used (absent for deterministic methods).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// How the numbers were computed, where that needs saying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The answer to an explain request: per feature for `instances`, per token for `texts`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ExplainAnswer {
    /// Attributions to features.
    Features(ExplainResponse),
    /// Attributions to the words of texts.
    Texts(TextExplainResponse),
}

/// Explain instances with a model named in the body.
#[utoipa::path(post, path = "/explain", tag = "explain",
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "Explanations", body = ExplainAnswer),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 403, description = "A reader token, and the method compares with fewer background rows than --min-summary-rows (or `max_background` below it)", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid instances, method or output, or instances whose prediction or attributions are not finite numbers (overflow)", body = ErrorBody)))]
pub async fn explain_any(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<ExplainRequest>,
) -> Result<JsonAnswer<ExplainAnswer>, ApiError> {
    let name = request.model.clone().ok_or_else(|| {
        ApiError::InvalidRequest(
            "missing field `model`: POST /explain needs the model's name".into(),
        )
    })?;
    Ok(JsonAnswer(
        explain_answer(state, &name, request, caller).await?,
    ))
}

/// Explain instances with this model.
#[utoipa::path(post, path = "/models/{name}/explain", tag = "explain",
    params(("name" = String, Path, description = "Model name")),
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "Explanations", body = ExplainAnswer),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 403, description = "A reader token, and the method compares with fewer background rows than --min-summary-rows (or `max_background` below it)", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid instances, method or output, or instances whose prediction or attributions are not finite numbers (overflow)", body = ErrorBody)))]
pub async fn explain_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    Json(request): Json<ExplainRequest>,
) -> Result<JsonAnswer<ExplainAnswer>, ApiError> {
    check_body_names(&request, &name)?;
    Ok(JsonAnswer(
        explain_answer(state, &name, request, caller).await?,
    ))
}

/// On a model's own route the body may name the model too, but only the same one.
///
/// # Errors
/// [`ApiError::InvalidRequest`] when the names differ.
pub fn check_body_names(request: &ExplainRequest, name: &str) -> Result<(), ApiError> {
    match request.model.as_deref().filter(|m| *m != name) {
        Some(other) => Err(ApiError::InvalidRequest(format!(
            "the body names model '{other}' but the path names '{name}'"
        ))),
        None => Ok(()),
    }
}

/// The answer to an explain request: word attributions for `texts`, feature
/// attributions for `instances`.
///
/// # Errors
/// As [`explain`], and both or neither of `texts` and `instances`.
pub async fn explain_answer(
    state: AppState,
    name: &str,
    mut request: ExplainRequest,
    caller: Caller,
) -> Result<ExplainAnswer, ApiError> {
    let Some(texts) = request.texts.take() else {
        let entry = state
            .registry
            .get(name)
            .ok_or_else(|| ApiError::ModelNotFound(name.to_string()))?;
        if request.instances.is_empty() && explainer::text_model(&entry.built.model).is_ok() {
            return Err(ApiError::InvalidInput(
                "this text classifier explains `texts`: send {\"texts\": [\"...\"]}".into(),
            ));
        }
        return Ok(ExplainAnswer::Features(
            explain(state, name, request, caller).await?.response,
        ));
    };
    if !request.instances.is_empty() {
        return Err(ApiError::InvalidRequest(
            "send either `instances` or `texts`, not both".into(),
        ));
    }
    if request.tolerance.is_some() {
        return Err(ApiError::InvalidInput(
            "tolerance applies to integrated gradients on `instances`; texts are explained \
             with a fixed number of steps (`steps`, default 50)"
                .into(),
        ));
    }
    let entry = state
        .registry
        .get(name)
        .ok_or_else(|| ApiError::ModelNotFound(name.to_string()))?;
    let args = request.args(&entry)?;
    super::privacy::Audience::of(caller, &state.config).check_explain(&entry, &args)?;
    Ok(ExplainAnswer::Texts(
        texts::explain(&state, &entry, texts, args).await?,
    ))
}

/// An explanation answer with the checked inputs it explains.
#[derive(Debug)]
pub struct Explained {
    /// The answer the JSON routes send.
    pub response: ExplainResponse,
    /// The instances as a (rows × features) matrix, in feature order.
    pub inputs: Array2<f64>,
    /// The model version that answered.
    pub entry: Arc<ModelEntry>,
}

/// The explain flow every explain route shares (JSON and pictures): find the model,
/// check the instances, run the explainer on the blocking pool, count it.
///
/// # Errors
/// Unknown model, invalid instances, method or output, as [`ApiError`]s; for a
/// reader, too few background rows ([`super::privacy`]).
pub async fn explain(
    state: AppState,
    name: &str,
    request: ExplainRequest,
    caller: Caller,
) -> Result<Explained, ApiError> {
    let entry = state
        .registry
        .get(name)
        .ok_or_else(|| ApiError::ModelNotFound(name.to_string()))?;
    let x = instances::to_matrix(&request.instances, &entry.built, state.config.max_instances)?;
    let space = request.output_space.unwrap_or(SpaceName::Raw);
    let mut args = request.args(&entry)?;
    super::privacy::Audience::of(caller, &state.config).check_explain(&entry, &args)?;
    explainer::Caps::of(&state.config).check(&entry.built, &args)?;
    // Adaptive integrated gradients double their steps up to the same cap, and
    // sampling with a tolerance its samples.
    args.options.ig.max_steps = state.config.max_ig_steps;
    let sampling = &mut args.options.sampling;
    if sampling.tolerance.is_some() && sampling.n_samples.is_none() {
        sampling.n_samples = Some(state.config.max_samples.min(MAX_SAMPLES));
    }
    let seed = args.options.sampling.seed;
    let job_entry = entry.clone();
    let cost = explainer::cost(&entry.built, &args, x.nrows());
    let (outcome, inputs) = state
        .run_sized(cost, move |cancel| {
            let args = ExplainArgs {
                cancel: cancel.clone(),
                ..args
            };
            let outcome = explainer::explain(&job_entry.built, x.view(), &args)?;
            check_finite(&job_entry, x.view(), &outcome)?;
            Ok::<_, ApiError>((outcome, x))
        })
        .await??;
    state
        .metrics
        .count_explanations(name, outcome.method.as_str(), outcome.explanations.len());
    entry.live.record(inputs.view(), &outcome, space.into());
    Ok(Explained {
        response: respond(&entry, outcome, space, seed),
        inputs,
        entry,
    })
}

/// Refuse an outcome holding a non-finite number (finite inputs can overflow),
/// naming the instance and the feature: the one check every explain route shares.
fn check_finite(
    entry: &ModelEntry,
    x: ArrayView2<f64>,
    outcome: &explainer::Outcome,
) -> Result<(), ApiError> {
    let inputs = finite::Inputs {
        x: x.reborrow(),
        feature_names: &entry.built.feature_names,
        row_word: "instance",
    };
    finite::check_explanations(
        &inputs,
        &outcome.explanations,
        outcome.instances.as_deref(),
        outcome.grouped,
        outcome.interactions.as_deref(),
    )
    .map_err(|e| ApiError::InvalidInput(e.to_string()))
}

fn shared_names<S: serde::Serializer>(names: &Arc<[String]>, s: S) -> Result<S::Ok, S::Error> {
    names.as_ref().serialize(s)
}

/// The index of an output given by index or name.
pub(crate) fn output_index(entry: &ModelEntry, output: &OutputRef) -> Result<usize, ApiError> {
    let names = &entry.built.output_names;
    match output {
        OutputRef::Index(k) if *k < names.len() => Ok(*k),
        OutputRef::Index(k) => Err(ApiError::InvalidInput(format!(
            "output {k} out of range: the model has {} output(s)",
            names.len()
        ))),
        OutputRef::Name(n) => names.iter().position(|o| o == n).ok_or_else(|| {
            ApiError::InvalidInput(format!(
                "unknown output '{n}'; outputs: {}",
                names.join(", ")
            ))
        }),
    }
}

fn respond(
    entry: &ModelEntry,
    outcome: explainer::Outcome,
    space: SpaceName,
    seed: u64,
) -> ExplainResponse {
    let seed = outcome.method.is_model_agnostic().then_some(seed);
    let outputs = &entry.built.output_names;
    let first = outcome.explanations.first().map(|e| e.output);
    let same = outcome.explanations.iter().all(|e| Some(e.output) == first);
    let note =
        (space == SpaceName::Probability && outcome.method == Method::LinearShap).then(|| {
            "probability space: log-odds SHAP values rescaled by (p(x) - E[p]) / (f(x) - E[f]) \
         (DeepLIFT's rescale rule); base_value is E[p] over the background"
                .to_string()
        });
    let values = outcome
        .explanations
        .iter()
        .map(|e| e.attributions.clone())
        .collect();
    let base_values = outcome.explanations.iter().map(|e| e.base_value).collect();
    ExplainResponse {
        model: entry.name.clone(),
        version: entry.version,
        method: outcome.method.to_string(),
        output: first.filter(|_| same).map(|k| outputs[k].clone()),
        output_space: space,
        feature_names: match (&entry.built.groups, outcome.grouped) {
            (Some(g), true) => g.names.clone().into(),
            _ => entry.built.feature_names.clone(),
        },
        explanations: outcome
            .explanations
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let mut d = dto(e, outputs);
                d.instance = outcome.instances.as_ref().map(|rows| rows[i]);
                d.interactions = outcome
                    .interactions
                    .as_ref()
                    .map(|all| all[i].rows().into_iter().map(|r| r.to_vec()).collect());
                d
            })
            .collect(),
        values,
        base_values,
        seed,
        note,
    }
}

fn dto(e: Explanation, outputs: &[String]) -> ExplanationDto {
    ExplanationDto {
        output: outputs[e.output].clone(),
        prediction: e.prediction,
        base_value: e.base_value,
        attributions: e.attributions,
        instance: None,
        interactions: None,
        quality: QualityDto {
            additivity_residual: e.quality.additivity_residual,
            standard_errors: e.quality.standard_errors,
            samples: e.quality.samples,
            convergence_delta: e.quality.convergence_delta,
            tolerance: e.quality.tolerance,
            tolerance_met: e.quality.tolerance_met,
            max_standard_error: e.quality.max_standard_error,
            surrogate_r2: e.quality.surrogate_r2,
            local_prediction: e.quality.local_prediction,
            scores: e.quality.scores.map(|s| ScoresDto {
                deletion_curve: s.deletion.values,
                deletion_area: s.deletion.area,
                insertion_curve: s.insertion.values,
                insertion_area: s.insertion.area,
                faithfulness: s.faithfulness,
                max_sensitivity: s.max_sensitivity,
            }),
        },
    }
}

/// A prediction request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// Rows, as in explain requests.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub instances: instances::Instances,
    /// Text classifiers: texts to predict, instead of `instances`.
    #[serde(default)]
    pub texts: Option<Vec<String>>,
    /// `probability` (the default wherever a link applies: class probabilities, or a
    /// Poisson model's mean count) or `raw` (margins; the only choice for regressions).
    #[serde(default)]
    pub output_space: Option<SpaceName>,
}

/// Predictions, one row of outputs per instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct PredictResponse {
    /// Model name.
    pub model: String,
    /// Model version that answered.
    pub version: u64,
    /// Space of the predictions.
    pub output_space: SpaceName,
    /// Output names, aligned with each row of `predictions`.
    pub output_names: Vec<String>,
    /// (rows × outputs).
    pub predictions: Vec<Vec<f64>>,
}

/// Predict with this model.
#[utoipa::path(post, path = "/models/{name}/predict", tag = "explain",
    params(("name" = String, Path, description = "Model name")),
    request_body = PredictRequest,
    responses(
        (status = 200, description = "Predictions", body = PredictResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Invalid instances, or instances whose prediction is not a finite number (overflow)", body = ErrorBody)))]
pub async fn predict_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(request): Json<PredictRequest>,
) -> Result<JsonAnswer<PredictResponse>, ApiError> {
    predict(state, name, request).await
}

/// Predict with the named model: the flow every predict route shares.
pub(crate) async fn predict(
    state: AppState,
    name: String,
    request: PredictRequest,
) -> Result<JsonAnswer<PredictResponse>, ApiError> {
    let entry = state
        .registry
        .get(&name)
        .ok_or_else(|| ApiError::ModelNotFound(name.clone()))?;
    // "probability" means after the link: class probabilities, or the mean count of
    // a Poisson model; only an identity link has nothing to transform.
    let transforms = entry.built.model.as_model().link() != crate::core::models::Link::Identity;
    let space = match request.output_space {
        Some(SpaceName::Probability) if !transforms => return Err(ApiError::InvalidInput(
            "output_space 'probability' needs a classifier; this model's outputs are raw values"
                .into(),
        )),
        Some(space) => space,
        None if transforms => SpaceName::Probability,
        None => SpaceName::Raw,
    };
    let predictions = match request.texts {
        Some(_) if !request.instances.is_empty() => {
            return Err(ApiError::InvalidRequest(
                "send either `instances` or `texts`, not both".into(),
            ))
        }
        Some(t) => texts::predict(&state, &entry, t, space.into()).await?,
        None => {
            let x =
                instances::to_matrix(&request.instances, &entry.built, state.config.max_instances)?;
            let job = entry.clone();
            let cost = explainer::predict_cost(&entry.built, x.nrows());
            state
                .run_sized(cost, move |_| {
                    let p = job.built.model.as_model().predict(x.view(), space.into());
                    let inputs = finite::Inputs {
                        x: x.view(),
                        feature_names: &job.built.feature_names,
                        row_word: "instance",
                    };
                    finite::check_predictions(&inputs, p.view(), &job.built.output_names)
                        .map(|()| p)
                        .map_err(|e| ApiError::InvalidInput(e.to_string()))
                })
                .await??
        }
    };
    Ok(JsonAnswer(PredictResponse {
        model: entry.name.clone(),
        version: entry.version,
        output_space: space,
        output_names: entry.built.output_names.clone(),
        predictions: predictions.rows().into_iter().map(|r| r.to_vec()).collect(),
    }))
}
