//! The Open Inference Protocol (KServe V2): `/v2/health/live`, `/v2/health/ready`,
//! `/v2/models/{name}` (metadata), `/v2/models/{name}/ready`, `/v2/models/{name}/infer`
//! and, as an extension with the same body, `/v2/models/{name}/explain`; the server
//! metadata `GET /v2` and the same model routes under `/versions/{version}` are in
//! `versioned.rs`. Input tensors become the `instances` of `predict::predict` and
//! [`super::explain::explain`], whose flows answer; errors keep the crate's one body.

mod tensor;
mod versioned;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

pub use tensor::RequestedOutput;
pub use tensor::{Datatype, InferRequest, InferResponse, InputTensor, OutputTensor};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::explain::{self, ExplainRequest};
use super::extract::{Json, JsonAnswer};
use super::outputs::SpaceName;
use super::predict::{self, PredictRequest};
use super::routes::{routes, Access::*, Routes};
use super::AppState;
use crate::registry::ModelEntry;

/// Routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .op(Open, routes!(get_live))
        .op(Open, routes!(get_ready))
        .op(Reader, routes!(get_metadata))
        .op(Reader, routes!(get_model_ready))
        .op(Reader, routes!(post_infer))
        .op(Reader, routes!(post_explain))
        .merge(versioned::router())
}

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    /// Always true while the process serves requests.
    pub live: bool,
}

/// Readiness answer (of the server, or of one model).
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Whether it can serve.
    pub ready: bool,
}

/// A tensor a model takes or gives.
#[derive(Debug, Serialize, ToSchema)]
pub struct TensorMetadata {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub datatype: Datatype,
    /// Shape, -1 for any number of rows.
    pub shape: Vec<i64>,
}

/// A model's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelMetadata {
    /// Model name.
    pub name: String,
    /// The version registered, as a string.
    pub versions: Vec<String>,
    /// Always `explaind`.
    pub platform: String,
    /// `input` `[-1, features]`; each feature may be sent instead as its own `[rows]` tensor.
    pub inputs: Vec<TensorMetadata>,
    /// `predictions` of `infer`.
    pub outputs: Vec<TensorMetadata>,
    /// `feature_names` (the columns of `input`) and `output_names`.
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
}

/// The server is alive.
#[utoipa::path(get, path = "/v2/health/live", tag = "oip",
    responses((status = 200, description = "Alive", body = Live)))]
pub async fn get_live() -> axum::Json<Live> {
    axum::Json(Live { live: true })
}

/// The model store is loaded and the server is not shutting down.
#[utoipa::path(get, path = "/v2/health/ready", tag = "oip",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Loading models or shutting down", body = Ready)))]
pub async fn get_ready(State(state): State<AppState>) -> impl IntoResponse {
    ready_answer(state.is_ready())
}

fn ready_answer(ready: bool) -> (StatusCode, axum::Json<Ready>) {
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(Ready { ready }))
}

/// A model's inputs and outputs.
#[utoipa::path(get, path = "/v2/models/{name}", tag = "oip",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Model metadata", body = ModelMetadata),
        (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn get_metadata(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<axum::Json<ModelMetadata>, ApiError> {
    let entry = state.entry(&name)?;
    Ok(axum::Json(metadata(&entry)))
}

/// The metadata of a registered model version.
fn metadata(entry: &ModelEntry) -> ModelMetadata {
    let built = &entry.built;
    let outputs = built.output_names.len();
    let mut parameters = Map::new();
    parameters.insert("feature_names".into(), json!(&*built.feature_names));
    parameters.insert("output_names".into(), json!(built.output_names));
    ModelMetadata {
        name: entry.name.clone(),
        versions: vec![entry.version.to_string()],
        platform: "explaind".into(),
        inputs: input_metadata(built),
        outputs: vec![TensorMetadata {
            name: "predictions".into(),
            datatype: Datatype::Fp64,
            shape: prediction_shape(outputs)
                .into_iter()
                .map(|d| d.map_or(-1, |d| d as i64))
                .collect(),
        }],
        parameters,
    }
}

/// One [rows, features] FP64 tensor; for a model with categorical features, one
/// [rows] tensor per feature (BYTES for the categorical ones: a tensor has one type).
fn input_metadata(built: &crate::spec::BuiltModel) -> Vec<TensorMetadata> {
    let Some(raw) = built.model.raw_features() else {
        return vec![TensorMetadata {
            name: "input".into(),
            datatype: Datatype::Fp64,
            shape: vec![-1, built.feature_names.len() as i64],
        }];
    };
    let names = built.feature_names.iter().enumerate();
    names
        .map(|(j, name)| TensorMetadata {
            name: name.clone(),
            datatype: match raw.categories(j) {
                Some(_) => Datatype::Bytes,
                None => Datatype::Fp64,
            },
            shape: vec![-1],
        })
        .collect()
}

/// [rows] for one output, [rows, outputs] for several (None: any number of rows).
fn prediction_shape(outputs: usize) -> Vec<Option<usize>> {
    if outputs == 1 {
        vec![None]
    } else {
        vec![None, Some(outputs)]
    }
}

/// Whether a model is registered and the server ready.
#[utoipa::path(get, path = "/v2/models/{name}/ready", tag = "oip",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 503, description = "Loading models or shutting down", body = Ready)))]
pub async fn get_model_ready(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    state.entry(&name)?;
    Ok(ready_answer(state.is_ready()))
}

/// `infer`'s parameters. Others that OIP clients send (`content_type`,
/// `binary_data_output`, …) are ignored, as the protocol lets a server do.
#[derive(Debug, Deserialize)]
struct InferParameters {
    /// As in predict requests.
    #[serde(default)]
    output_space: Option<SpaceName>,
}

/// Predict: the tensor form of `POST /models/{name}/predict`.
#[utoipa::path(post, path = "/v2/models/{name}/infer", tag = "oip",
    params(("name" = String, Path, description = "Model name")),
    request_body = InferRequest,
    responses(
        (status = 200, description = "`predictions`: [rows] for one output, [rows, outputs] for several", body = InferResponse),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Shape, datatype or data length that do not fit, or invalid instances", body = ErrorBody)))]
pub async fn post_infer(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(request): Json<InferRequest>,
) -> Result<JsonAnswer<InferResponse>, ApiError> {
    infer(state, name, request).await.map(JsonAnswer)
}

/// The flow of `infer`, versioned or not.
async fn infer(
    state: AppState,
    name: String,
    request: InferRequest,
) -> Result<InferResponse, ApiError> {
    let parameters: InferParameters = serde_json::from_value(Value::Object(
        request.parameters.clone().unwrap_or_default(),
    ))
    .map_err(|e| ApiError::InvalidInput(format!("parameters: {e}")))?;
    let instances = tensor::to_instances(&request.inputs)?;
    let predict_request = PredictRequest {
        instances,
        texts: None,
        output_space: parameters.output_space,
    };
    let answer = predict::predict(state, name, predict_request).await?.0;
    let rows = answer.predictions.len();
    let k = answer.output_names.len();
    let shape = fill_rows(prediction_shape(k), rows);
    let data = answer.predictions.into_iter().flatten().collect();
    let outputs = vec![OutputTensor::new("predictions", shape, data)];
    let mut info = Map::new();
    info.insert("output_names".into(), json!(answer.output_names));
    info.insert("output_space".into(), json!(answer.output_space));
    Ok(InferResponse {
        model_name: answer.model,
        model_version: answer.version.to_string(),
        id: request.id,
        parameters: info,
        outputs: tensor::select(outputs, request.outputs.as_deref())?,
    })
}

fn fill_rows(shape: Vec<Option<usize>>, rows: usize) -> Vec<usize> {
    shape.into_iter().map(|d| d.unwrap_or(rows)).collect()
}

/// Explain: the tensor form of `POST /models/{name}/explain`. `parameters` holds
/// the explain request's fields; with `outputs` (`all`, `top:K`) each row has K
/// explanations and `attributions` gains a last axis.
#[utoipa::path(post, path = "/v2/models/{name}/explain", tag = "oip",
    params(("name" = String, Path, description = "Model name")),
    request_body = InferRequest,
    responses(
        (status = 200, description = "`attributions` [rows, features] (or [rows, features, K]), `base_values` and `predictions` [rows] (or [rows, K])", body = InferResponse),
        (status = 403, description = "A reader token, and the method compares with fewer background rows than --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Shape, datatype or data length that do not fit, or invalid instances, method or output", body = ErrorBody)))]
pub async fn post_explain(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    Json(request): Json<InferRequest>,
) -> Result<JsonAnswer<InferResponse>, ApiError> {
    explain_tensors(state, name, caller, request)
        .await
        .map(JsonAnswer)
}

/// The flow of `explain`, versioned or not.
async fn explain_tensors(
    state: AppState,
    name: String,
    caller: Caller,
    request: InferRequest,
) -> Result<InferResponse, ApiError> {
    let mut fields = request.parameters.clone().unwrap_or_default();
    if let Some(key) = ["instances", "texts", "model"]
        .into_iter()
        .find(|k| fields.contains_key(*k))
    {
        return Err(ApiError::InvalidInput(format!(
            "parameters: `{key}` is not a parameter here; send rows as `inputs`"
        )));
    }
    let several = fields.contains_key("outputs");
    let instances = tensor::to_rows(&request.inputs)?;
    let rows = instances.len();
    fields.insert("instances".into(), Value::Array(instances));
    // Through text: the request's instances are raw JSON, which a `Value` cannot give.
    let text = Value::Object(fields).to_string();
    let explain_request: ExplainRequest = serde_json::from_str(&text)
        .map_err(|e| ApiError::InvalidInput(format!("parameters: {e}")))?;
    if explain_request.method.as_deref() == Some("anchors") {
        return Err(ApiError::InvalidInput(format!(
            "parameters: method anchors answers a rule per row, not an attributions tensor; \
             ask POST /models/{name}/explain for it"
        )));
    }
    let entry = state.entry(&name)?;
    let answer = explain::explain(state, entry, explain_request, caller)
        .await?
        .response;
    // Explanations per row: 1, or K with `outputs` (row by row).
    let k = answer.explanations.len().checked_div(rows).unwrap_or(1);
    let features = answer.feature_names.len();
    let mut attributions = vec![0.0; answer.explanations.len() * features];
    for (i, e) in answer.explanations.iter().enumerate() {
        let (row, j) = (i / k, i % k);
        for (f, a) in e.attributions.iter().enumerate() {
            attributions[(row * features + f) * k + j] = *a;
        }
    }
    let per_row = |shape: Vec<usize>| {
        if several {
            [shape, vec![k]].concat()
        } else {
            shape
        }
    };
    let outputs = vec![
        OutputTensor::new("attributions", per_row(vec![rows, features]), attributions),
        OutputTensor::new(
            "base_values",
            per_row(vec![rows]),
            answer.explanations.iter().map(|e| e.base_value).collect(),
        ),
        OutputTensor::new(
            "predictions",
            per_row(vec![rows]),
            answer.explanations.iter().map(|e| e.prediction).collect(),
        ),
    ];
    let mut info = Map::new();
    info.insert("method".into(), json!(answer.method));
    info.insert("output_space".into(), json!(answer.output_space));
    info.insert("feature_names".into(), json!(&*answer.feature_names));
    let explained: Vec<&str> = answer
        .explanations
        .iter()
        .map(|e| e.output.as_str())
        .collect();
    info.insert("outputs".into(), json!(explained));
    if let Some(seed) = answer.seed {
        info.insert("seed".into(), json!(seed));
    }
    Ok(InferResponse {
        model_name: answer.model,
        model_version: answer.version.to_string(),
        id: request.id,
        parameters: info,
        outputs: tensor::select(outputs, request.outputs.as_deref())?,
    })
}
