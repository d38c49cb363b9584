//! Predictions and local explanations: `/models/{name}/predict`,
//! `/models/{name}/explain` and `/explain`.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::Json;
use super::instances;
use super::texts::{self, TextExplainResponse};
use super::AppState;
use crate::core::explain::integrated_gradients::IgOptions;
use crate::core::explain::{Explanation, Method};
use crate::core::models::OutputSpace;
use crate::explainer::{self, ExplainArgs, MethodOptions, OutputChoice};
use crate::registry::ModelEntry;

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
    pub model: Option<String>,
    /// Rows to explain: arrays in feature order, or objects keyed by feature name.
    /// `null` marks a missing value (tree models only). For a text classifier, rows
    /// are pooled embeddings (`emb_0` …); send `texts` instead to explain words.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub instances: Vec<serde_json::Value>,
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
    /// `raw` (default) or `probability` (classifiers).
    #[serde(default)]
    pub output_space: Option<SpaceName>,
    /// Integrated gradients: quadrature nodes along the path (default 50, at most 2048).
    #[serde(default)]
    pub steps: Option<usize>,
    /// Integrated gradients: `gausslegendre` (default), `riemann_left`, `riemann_right`,
    /// `riemann_middle` or `riemann_trapezoid`.
    #[serde(default)]
    pub rule: Option<String>,
    /// Integrated gradients: the baseline, one value per feature (default: the
    /// background mean).
    #[serde(default)]
    pub baseline: Option<Vec<f64>>,
}

impl ExplainRequest {
    /// The method settings this request gives, validated.
    fn options(&self) -> Result<MethodOptions, ApiError> {
        let mut ig = IgOptions::default();
        if let Some(steps) = self.steps {
            ig.steps = steps;
        }
        if let Some(rule) = &self.rule {
            ig.rule = rule.parse()?;
        }
        ig.baseline = self.baseline.clone();
        Ok(MethodOptions { ig })
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
    /// R² of the local surrogate (LIME).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surrogate_r2: Option<f64>,
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
    /// One per feature, aligned with `feature_names`.
    pub attributions: Vec<f64>,
    /// How exact the numbers are.
    pub quality: QualityDto,
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
    /// Feature names, aligned with every attribution vector.
    pub feature_names: Vec<String>,
    /// One per instance, in order.
    pub explanations: Vec<ExplanationDto>,
    /// Attributions as a (rows × features) matrix, as shap's `Explanation.values`.
    pub values: Vec<Vec<f64>>,
    /// Base values, one per row, as shap's `Explanation.base_values`.
    pub base_values: Vec<f64>,
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
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid instances, method or output", body = ErrorBody)))]
pub async fn explain_any(
    State(state): State<AppState>,
    Json(request): Json<ExplainRequest>,
) -> Result<axum::Json<ExplainAnswer>, ApiError> {
    let name = request.model.clone().ok_or_else(|| {
        ApiError::InvalidRequest(
            "missing field `model`: POST /explain needs the model's name".into(),
        )
    })?;
    explain(state, &name, request).await
}

/// Explain instances with this model.
#[utoipa::path(post, path = "/models/{name}/explain", tag = "explain",
    params(("name" = String, Path, description = "Model name")),
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "Explanations", body = ExplainAnswer),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid instances, method or output", body = ErrorBody)))]
pub async fn explain_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(request): Json<ExplainRequest>,
) -> Result<axum::Json<ExplainAnswer>, ApiError> {
    if let Some(other) = request.model.as_deref().filter(|m| *m != name) {
        return Err(ApiError::InvalidRequest(format!(
            "the body names model '{other}' but the path names '{name}'"
        )));
    }
    explain(state, &name, request).await
}

async fn explain(
    state: AppState,
    name: &str,
    request: ExplainRequest,
) -> Result<axum::Json<ExplainAnswer>, ApiError> {
    let entry = state
        .registry
        .get(name)
        .ok_or_else(|| ApiError::ModelNotFound(name.to_string()))?;
    let method: Method = request.method.as_deref().unwrap_or("auto").parse()?;
    let output = match &request.output {
        None => OutputChoice::Predicted,
        Some(r) => OutputChoice::Index(output_index(&entry, r)?),
    };
    let space = request.output_space.unwrap_or(SpaceName::Raw);
    let args = ExplainArgs {
        method,
        output,
        space: space.into(),
        options: request.options()?,
    };
    if let Some(texts) = request.texts {
        if !request.instances.is_empty() {
            return Err(ApiError::InvalidRequest(
                "send either `instances` or `texts`, not both".into(),
            ));
        }
        let answer = texts::explain(&state, &entry, texts, args).await?;
        return Ok(axum::Json(ExplainAnswer::Texts(answer)));
    }
    if request.instances.is_empty() && explainer::text_model(&entry.built.model).is_ok() {
        return Err(ApiError::InvalidInput(
            "this text classifier explains `texts`: send {\"texts\": [\"...\"]}".into(),
        ));
    }
    let x = instances::to_matrix(&request.instances, &entry.built, state.config.max_instances)?;
    let job_entry = entry.clone();
    let outcome = state
        .run_blocking(move || explainer::explain(&job_entry.built, x.view(), &args))
        .await??;
    state
        .metrics
        .count_explanations(name, outcome.method.as_str(), outcome.explanations.len());
    Ok(axum::Json(ExplainAnswer::Features(respond(
        &entry, outcome, space,
    ))))
}

fn output_index(entry: &ModelEntry, output: &OutputRef) -> Result<usize, ApiError> {
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

fn respond(entry: &ModelEntry, outcome: explainer::Outcome, space: SpaceName) -> ExplainResponse {
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
        feature_names: entry.built.feature_names.clone(),
        explanations: outcome
            .explanations
            .into_iter()
            .map(|e| dto(e, outputs))
            .collect(),
        values,
        base_values,
        note,
    }
}

fn dto(e: Explanation, outputs: &[String]) -> ExplanationDto {
    ExplanationDto {
        output: outputs[e.output].clone(),
        prediction: e.prediction,
        base_value: e.base_value,
        attributions: e.attributions,
        quality: QualityDto {
            additivity_residual: e.quality.additivity_residual,
            standard_errors: e.quality.standard_errors,
            samples: e.quality.samples,
            convergence_delta: e.quality.convergence_delta,
            surrogate_r2: e.quality.surrogate_r2,
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
    pub instances: Vec<serde_json::Value>,
    /// Text classifiers: texts to predict, instead of `instances`.
    #[serde(default)]
    pub texts: Option<Vec<String>>,
    /// `probability` (default for classifiers) or `raw` (default, and only choice, for regressions).
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
        (status = 422, description = "Invalid instances", body = ErrorBody)))]
pub async fn predict_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(request): Json<PredictRequest>,
) -> Result<axum::Json<PredictResponse>, ApiError> {
    let entry = state
        .registry
        .get(&name)
        .ok_or_else(|| ApiError::ModelNotFound(name.clone()))?;
    let link = entry.built.model.as_model().link();
    let space = match request.output_space {
        Some(SpaceName::Probability) if !link.has_probability() => {
            return Err(ApiError::InvalidInput(
                "output_space 'probability' needs a classifier; this model's outputs are raw values"
                    .into(),
            ))
        }
        Some(space) => space,
        None if link.has_probability() => SpaceName::Probability,
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
            state
                .run_blocking(move || job.built.model.as_model().predict(x.view(), space.into()))
                .await?
        }
    };
    Ok(axum::Json(PredictResponse {
        model: entry.name.clone(),
        version: entry.version,
        output_space: space,
        output_names: entry.built.output_names.clone(),
        predictions: predictions.rows().into_iter().map(|r| r.to_vec()).collect(),
    }))
}
