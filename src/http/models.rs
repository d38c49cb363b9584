//! Model registration and listing: `/models` and `/models/{name}`.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::Json;
use super::AppState;
use crate::config::Config;
use crate::registry::ModelEntry;
use crate::spec::ModelSpec;

/// Routes of this module; registration bodies get their own, larger, size limit.
pub fn router(config: &Config) -> Router<AppState> {
    Router::new().route("/models", get(list_models)).route(
        "/models/{name}",
        get(get_model)
            .put(put_model)
            .layer(DefaultBodyLimit::max(config.max_model_bytes))
            .delete(delete_model),
    )
}

/// What explaind knows of a registered model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    /// Registered name.
    pub name: String,
    /// Model family.
    pub kind: String,
    /// 1 at registration, +1 on each replacement.
    pub version: u64,
    /// When this version was registered (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Free text from the registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Input features, in column order.
    pub feature_names: Vec<String>,
    /// Outputs, in order.
    pub output_names: Vec<String>,
    /// Rows of background data held for explanations (0 when none).
    pub background_rows: usize,
}

impl ModelInfo {
    /// The public description of an entry.
    pub fn of(entry: &ModelEntry) -> Self {
        ModelInfo {
            name: entry.name.clone(),
            kind: entry.built.model.kind().to_string(),
            version: entry.version,
            created_at: entry.created_at,
            description: entry.description.clone(),
            feature_names: entry.built.feature_names.clone(),
            output_names: entry.built.output_names.clone(),
            background_rows: entry.built.reference.as_ref().map_or(0, |r| r.rows()),
        }
    }
}

/// All registered models.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Models, sorted by name.
    pub models: Vec<ModelInfo>,
}

/// List the registered models.
#[utoipa::path(get, path = "/models", tag = "models",
    responses((status = 200, description = "Registered models", body = ModelList)))]
pub async fn list_models(State(state): State<AppState>) -> axum::Json<ModelList> {
    let models = state
        .registry
        .list()
        .iter()
        .map(|e| ModelInfo::of(e))
        .collect();
    axum::Json(ModelList { models })
}

/// Describe one model.
#[utoipa::path(get, path = "/models/{name}", tag = "models",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "The model", body = ModelInfo),
        (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn get_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<axum::Json<ModelInfo>, ApiError> {
    let entry = state
        .registry
        .get(&name)
        .ok_or(ApiError::ModelNotFound(name))?;
    Ok(axum::Json(ModelInfo::of(&entry)))
}

/// Register a model, or replace it (the version grows by one). With a model
/// directory configured, the answer comes only after the model is on disk.
#[utoipa::path(put, path = "/models/{name}", tag = "models",
    params(("name" = String, Path, description = "Model name: letters, digits, '-', '_', '.'")),
    request_body = ModelSpec,
    responses(
        (status = 201, description = "Registered", body = ModelInfo),
        (status = 200, description = "Replaced", body = ModelInfo),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body over the model size limit", body = ErrorBody),
        (status = 422, description = "Invalid name or model", body = ErrorBody),
        (status = 500, description = "The model store could not be written; nothing changed", body = ErrorBody)))]
pub async fn put_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(spec): Json<ModelSpec>,
) -> Result<(StatusCode, axum::Json<ModelInfo>), ApiError> {
    let (entry, created) = state.registry.put(&name, spec).await?;
    tracing::info!(model = %name, version = entry.version, "model registered");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(ModelInfo::of(&entry))))
}

/// Remove a model.
#[utoipa::path(delete, path = "/models/{name}", tag = "models",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn delete_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.registry.delete(&name).await? {
        tracing::info!(model = %name, "model deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::ModelNotFound(name))
    }
}
