//! The server's metadata, `GET /v2`, and the model routes under
//! `/v2/models/{name}/versions/{version}` (metadata, ready, infer and the explain
//! extension), which OIP clients (tritonclient, KServe's REST client) call with a
//! model version.
//!
//! explaind keeps one version of each model, the latest registered (a `PUT` replaces
//! it, `version` counting up), so a versioned route answers as its unversioned twin
//! when `version` is that one and is a 404 naming the version served otherwise. A
//! request that finds the model replaced while it ran (its answer made by another
//! version) is a 404 too, not an answer of a version it did not ask for.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::{explain_tensors, infer, metadata, ready_answer, InferRequest, InferResponse};
use super::{ModelMetadata, Ready};
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Json, JsonAnswer};
use crate::http::routes::{routes, Access::*, Routes};
use crate::http::AppState;
use crate::registry::ModelEntry;

/// Routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .op(Open, routes!(get_server_metadata))
        .op(Reader, routes!(get_version_metadata))
        .op(Reader, routes!(get_version_ready))
        .op(Reader, routes!(post_version_infer))
        .op(Reader, routes!(post_version_explain))
}

/// The server's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerMetadata {
    /// Always `explaind`.
    pub name: String,
    /// The server's version (the crate's).
    pub version: String,
    /// Protocol extensions served: `explain`, `POST /v2/models/{name}/explain`
    /// (attributions as tensors; the body of `infer`).
    pub extensions: Vec<String>,
}

/// The server's name, version and extensions.
#[utoipa::path(get, path = "/v2", tag = "oip",
    responses((status = 200, description = "Server metadata", body = ServerMetadata)))]
pub async fn get_server_metadata() -> axum::Json<ServerMetadata> {
    axum::Json(ServerMetadata {
        name: "explaind".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        extensions: vec!["explain".into()],
    })
}

/// The served version of `name`, when it is `version`.
fn served(
    state: &AppState,
    name: &str,
    version: &str,
) -> Result<std::sync::Arc<ModelEntry>, ApiError> {
    let entry = state.entry(name)?;
    check(name, version, &entry.version.to_string())?;
    Ok(entry)
}

/// `Ok` when the version that answered is the one asked for.
fn check(name: &str, asked: &str, answered: &str) -> Result<(), ApiError> {
    if asked == answered {
        return Ok(());
    }
    let served = answered.parse().unwrap_or_default();
    Err(ApiError::VersionNotFound(name.into(), asked.into(), served))
}

/// A model version's inputs and outputs.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}", tag = "oip",
    params(("name" = String, Path, description = "Model name"),
           ("version" = String, Path, description = "Model version (the one served)")),
    responses(
        (status = 200, description = "Model metadata", body = ModelMetadata),
        (status = 404, description = "No such model, or not the version served", body = ErrorBody)))]
pub async fn get_version_metadata(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<axum::Json<ModelMetadata>, ApiError> {
    let entry = served(&state, &name, &version)?;
    Ok(axum::Json(metadata(&entry)))
}

/// Whether a model version is served and the server ready.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}/ready", tag = "oip",
    params(("name" = String, Path, description = "Model name"),
           ("version" = String, Path, description = "Model version (the one served)")),
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 404, description = "No such model, or not the version served", body = ErrorBody),
        (status = 503, description = "Loading models or shutting down", body = Ready)))]
pub async fn get_version_ready(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    served(&state, &name, &version)?;
    Ok(ready_answer(state.is_ready()))
}

/// Predict with a model version: `POST /v2/models/{name}/infer` when `version` is
/// the one served.
#[utoipa::path(post, path = "/v2/models/{name}/versions/{version}/infer", tag = "oip",
    params(("name" = String, Path, description = "Model name"),
           ("version" = String, Path, description = "Model version (the one served)")),
    request_body = InferRequest,
    responses(
        (status = 200, description = "As `POST /v2/models/{name}/infer`", body = InferResponse),
        (status = 404, description = "No such model, or not the version served", body = ErrorBody),
        (status = 422, description = "Shape, datatype or data length that do not fit, or invalid instances", body = ErrorBody)))]
pub async fn post_version_infer(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    Json(request): Json<InferRequest>,
) -> Result<JsonAnswer<InferResponse>, ApiError> {
    served(&state, &name, &version)?;
    let answer = infer(state, name.clone(), request).await?;
    check(&name, &version, &answer.model_version)?;
    Ok(JsonAnswer(answer))
}

/// Explain with a model version: `POST /v2/models/{name}/explain` when `version`
/// is the one served.
#[utoipa::path(post, path = "/v2/models/{name}/versions/{version}/explain", tag = "oip",
    params(("name" = String, Path, description = "Model name"),
           ("version" = String, Path, description = "Model version (the one served)")),
    request_body = InferRequest,
    responses(
        (status = 200, description = "As `POST /v2/models/{name}/explain`", body = InferResponse),
        (status = 403, description = "A reader token, and the method compares with fewer background rows than --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such model, or not the version served", body = ErrorBody),
        (status = 422, description = "Shape, datatype or data length that do not fit, or invalid instances, method or output", body = ErrorBody)))]
pub async fn post_version_explain(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    caller: Caller,
    Json(request): Json<InferRequest>,
) -> Result<JsonAnswer<InferResponse>, ApiError> {
    served(&state, &name, &version)?;
    let answer = explain_tensors(state, name.clone(), caller, request).await?;
    check(&name, &version, &answer.model_version)?;
    Ok(JsonAnswer(answer))
}
