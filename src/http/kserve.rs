//! KServe's V1 inference protocol, so explaind can serve as the explainer (and
//! predictor) of a KServe InferenceService: `GET /v1/models/{name}`,
//! `POST /v1/models/{name}:predict` and `POST /v1/models/{name}:explain`, with
//! bodies `{"instances": [...]}` as elsewhere in explaind.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::explain::{self, ExplainAnswer, ExplainRequest, PredictRequest, PredictResponse};
use super::extract::Json;
use super::AppState;

/// Routes of this module. The `:verb` suffix shares a path segment with the name,
/// so one route takes `name:verb` and splits it.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/models/{target}",
        get(get_model_status)
            .post(post_model_verb)
            .fallback(method_not_allowed),
    )
}

/// 405 with the methods of the resource asked for: `NAME` is read with GET (and
/// HEAD), `NAME:verb` is POSTed to. The route serves both, so the `Allow` header
/// axum would derive from it would list all three for each.
async fn method_not_allowed(Path(target): Path<String>) -> impl IntoResponse {
    let allow = if target.contains(':') {
        "POST"
    } else {
        "GET,HEAD"
    };
    ([(header::ALLOW, allow)], ApiError::MethodNotAllowed)
}

/// KServe's model status answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelStatus {
    /// Model name.
    pub name: String,
    /// Whether the model can serve.
    pub ready: bool,
}

/// A `:predict` or `:explain` answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum VerbResponse {
    /// `:predict`.
    Predict(PredictResponse),
    /// `:explain`.
    Explain(ExplainAnswer),
}

/// Whether a model is registered and explaind ready.
#[utoipa::path(get, path = "/v1/models/{name}", tag = "kserve",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Model status", body = ModelStatus),
        (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn get_model_status(
    State(state): State<AppState>,
    Path(target): Path<String>,
) -> Result<axum::Json<ModelStatus>, ApiError> {
    let entry = state
        .registry
        .get(&target)
        .ok_or(ApiError::ModelNotFound(target))?;
    Ok(axum::Json(ModelStatus {
        name: entry.name.clone(),
        ready: state.is_ready(),
    }))
}

/// `POST /v1/models/{name}:predict` or `:explain`.
#[utoipa::path(post, path = "/v1/models/{name_and_verb}", tag = "kserve",
    params(("name_and_verb" = String, Path, description = "`NAME:predict` or `NAME:explain`")),
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "Predictions (`:predict`) or explanations (`:explain`)", body = VerbResponse),
        (status = 404, description = "No such model or verb", body = ErrorBody),
        (status = 422, description = "Invalid instances", body = ErrorBody)))]
pub async fn post_model_verb(
    State(state): State<AppState>,
    Path(target): Path<String>,
    Json(request): Json<ExplainRequest>,
) -> Result<axum::Json<VerbResponse>, ApiError> {
    let (name, verb) = target.rsplit_once(':').ok_or_else(|| {
        ApiError::RouteNotFound(format!(
            "/v1/models/{target} (expected NAME:predict or NAME:explain)"
        ))
    })?;
    match verb {
        "explain" => {
            let answer = explain::explain_answer(state, name, request).await?;
            Ok(axum::Json(VerbResponse::Explain(answer)))
        }
        "predict" => {
            let request = PredictRequest {
                instances: request.instances,
                texts: request.texts,
                output_space: request.output_space,
            };
            let answer = explain::predict(state, name.to_string(), request).await?;
            Ok(axum::Json(VerbResponse::Predict(answer.0)))
        }
        other => Err(ApiError::RouteNotFound(format!(
            "/v1/models/{name}:{other} (verbs: predict, explain)"
        ))),
    }
}
