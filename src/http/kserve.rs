//! KServe's V1 inference protocol, so explaind can serve as the explainer (and
//! predictor) of a KServe InferenceService: `GET /v1/models/{name}`,
//! `POST /v1/models/{name}:predict` and `POST /v1/models/{name}:explain`, with
//! bodies `{"instances": [...]}` as elsewhere in explaind.

use axum::extract::{Path, Request, State};
use axum::http::{header, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::explain::{self, ExplainAnswer, ExplainRequest};
use super::extract::{Json, JsonAnswer};
use super::predict::{self, PredictRequest, PredictResponse};
use super::routes::{routes, Access::*, Routes};
use super::AppState;

/// Routes of this module. The `:verb` suffix shares a path segment with the name,
/// so one route takes `name:verb` and splits it; `methods_of_target` answers 405
/// to a method the resource asked for does not have.
pub fn router() -> Routes {
    let (schemas, paths, service) = routes!(get_model_status, post_model_verb);
    let service = service
        // Not reached (the layer answers every other method), but its own: the
        // router-wide fallback would otherwise replace it, layer and all.
        .fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn(methods_of_target));
    Routes::new().op_at(
        Some("/v1/models/{target}"),
        Reader,
        (schemas, paths, service),
    )
}

/// `NAME` is read with GET (and HEAD), `NAME:verb` is POSTed to: any other
/// method gets 405 with those methods in `Allow`, before the body is read. (From
/// the route alone, axum would allow all three on both.)
async fn methods_of_target(Path(target): Path<String>, request: Request, next: Next) -> Response {
    let (allow, fits) = if target.contains(':') {
        ("POST", request.method() == Method::POST)
    } else {
        let method = request.method();
        ("GET,HEAD", method == Method::GET || method == Method::HEAD)
    };
    if fits {
        next.run(request).await
    } else {
        ([(header::ALLOW, allow)], ApiError::MethodNotAllowed).into_response()
    }
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
    params(("name" = String, Path, pattern = "^[^:]*$",
        description = "Model name (`NAME:verb` is the POST route of a verb)")),
    responses(
        (status = 200, description = "Model status", body = ModelStatus),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 405, description = "The name holds ':': `NAME:verb` is a verb's route, for POST", body = ErrorBody)))]
pub async fn get_model_status(
    State(state): State<AppState>,
    Path(target): Path<String>,
) -> Result<axum::Json<ModelStatus>, ApiError> {
    let entry = state.entry(&target)?;
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
        (status = 403, description = "A reader token, and the method compares with fewer background rows than --min-summary-rows (or `max_background` below it)", body = ErrorBody),
        (status = 404, description = "No such model or verb", body = ErrorBody),
        (status = 422, description = "Invalid instances", body = ErrorBody)))]
pub async fn post_model_verb(
    State(state): State<AppState>,
    Path(target): Path<String>,
    caller: super::auth::Caller,
    Json(request): Json<ExplainRequest>,
) -> Result<JsonAnswer<VerbResponse>, ApiError> {
    let (name, verb) = target.rsplit_once(':').ok_or_else(|| {
        ApiError::RouteNotFound(format!(
            "/v1/models/{target} (expected NAME:predict or NAME:explain)"
        ))
    })?;
    match verb {
        "explain" => {
            let answer = explain::explain_answer(state, name, request, caller).await?;
            Ok(JsonAnswer(VerbResponse::Explain(answer)))
        }
        "predict" => {
            let request = PredictRequest {
                instances: request.instances,
                texts: request.texts,
                output_space: request.output_space,
            };
            let answer = predict::predict(state, name.to_string(), request).await?;
            Ok(JsonAnswer(VerbResponse::Predict(answer.0)))
        }
        other => Err(ApiError::RouteNotFound(format!(
            "/v1/models/{name}:{other} (verbs: predict, explain)"
        ))),
    }
}
