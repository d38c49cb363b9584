//! Model registration and listing: `/models` and `/models/{name}`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, StatusCode};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Query};
use super::limits::{self, BodyLimit};
use super::routes::{routes, Access::*, Routes, UtoipaMethodRouterExt};
use super::AppState;
use crate::config::Config;
use crate::core::models::RawKind;
use crate::registry::ModelEntry;
use crate::spec::groups::GroupInfo;
use crate::spec::ModelSpec;

/// Routes of this module; registration bodies get their own, larger, size limit.
pub fn router(config: &Config) -> Routes {
    let upload = BodyLimit::new(config.max_model_bytes, "--max-model-bytes");
    Routes::new()
        .op(Reader, routes!(list_models))
        .op(Reader, routes!(get_model))
        // Replacing or removing a model is the admin's alone.
        .op(Admin, routes!(put_model).layer(upload))
        .op(Admin, routes!(delete_model))
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
    /// The background summary built at registration (`background_summary`), as the
    /// sampling explainers' answers name it; never its centres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background_summary: Option<String>,
    /// Feature groups, in report order (features in no declared group are groups
    /// of their own), when the model declares any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupInfo>>,
    /// The raw features, in column order, when some hold categories: instances and
    /// background rows send those as strings (a category not listed is "unseen").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_features: Option<Vec<RawFeatureInfo>>,
}

/// One raw feature of a model with categorical features.
#[derive(Debug, Serialize, ToSchema)]
pub struct RawFeatureInfo {
    /// Feature name.
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: RawFeatureKind,
    /// Categorical features: the categories the model knows, in code order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
}

/// What a raw feature holds.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawFeatureKind {
    /// A number (or null).
    Numeric,
    /// A category, sent as a string (or null).
    Categorical,
}

impl RawFeatureInfo {
    /// The raw features of a model, when some are categorical.
    pub fn of(built: &crate::spec::BuiltModel) -> Option<Vec<Self>> {
        let raw = built.model.raw_features()?;
        let features = built.feature_names.iter().zip(raw.kinds());
        Some(
            features
                .map(|(name, kind)| match kind {
                    RawKind::Numeric => RawFeatureInfo {
                        name: name.clone(),
                        kind: RawFeatureKind::Numeric,
                        categories: None,
                    },
                    RawKind::Categorical { categories } => RawFeatureInfo {
                        name: name.clone(),
                        kind: RawFeatureKind::Categorical,
                        categories: Some(categories.clone()),
                    },
                })
                .collect(),
        )
    }
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
            feature_names: entry.built.feature_names.to_vec(),
            output_names: entry.built.output_names.clone(),
            background_rows: entry.built.reference.as_ref().map_or(0, |r| r.rows()),
            background_summary: entry.built.summary.as_ref().map(|s| s.note.clone()),
            groups: entry
                .built
                .groups
                .as_ref()
                .map(|g| g.info(&entry.built.feature_names)),
            raw_features: RawFeatureInfo::of(&entry.built),
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
    let entry = state.entry(&name)?;
    Ok(axum::Json(ModelInfo::of(&entry)))
}

/// Query of a raw model upload (`Content-Type: application/octet-stream`).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Raw uploads: the file's kind; only `onnx`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Raw uploads: feature names, comma-separated (default `x0`, `x1`, …).
    #[serde(default)]
    pub feature_names: Option<String>,
    /// Raw uploads: output names, comma-separated.
    #[serde(default)]
    pub output_names: Option<String>,
    /// Raw uploads: free text shown in listings.
    #[serde(default)]
    pub description: Option<String>,
}

/// An ONNX file, as the body of a raw upload (documentation only).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct OnnxFile(pub Vec<u8>);

/// The registration document a request carries: the JSON body, or for
/// `application/octet-stream` a file described by the query (the file is kept in
/// the document base64-encoded, so it is stored and reloaded like any model).
async fn spec_of(query: UploadQuery, request: Request) -> Result<ModelSpec, ApiError> {
    let raw = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/octet-stream"));
    if !raw {
        if query.kind.is_some() || query.feature_names.is_some() || query.output_names.is_some() {
            return Err(ApiError::InvalidRequest(
                "query parameters describe raw uploads (Content-Type: application/octet-stream)"
                    .into(),
            ));
        }
        return Ok(Json::<ModelSpec>::from_request(request, &()).await?.0);
    }
    let kind = query.kind.unwrap_or_default();
    if kind != "onnx" {
        return Err(ApiError::InvalidRequest(format!(
            "raw uploads need ?kind=onnx (got '{kind}')"
        )));
    }
    let limit = limits::refuse_declared(&request)?;
    let body = Bytes::from_request(request, &()).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            limits::streamed_past(limit)
        } else {
            ApiError::BadJson(e.body_text())
        }
    })?;
    let split = |s: String| s.split(',').map(|p| p.trim().to_string()).collect();
    Ok(ModelSpec {
        kind,
        feature_names: query.feature_names.map(split).unwrap_or_default(),
        output_names: query.output_names.map(split),
        params: serde_json::Value::Null,
        background: None,
        model: Some(serde_json::Value::String(crate::formats::base64::encode(
            &body,
        ))),
        description: query.description,
        groups: None,
        background_summary: None,
    })
}

/// Register a model, or replace it (the version grows by one). With a model
/// directory configured, the answer comes only after the model is on disk. The
/// body is a JSON registration document, or an ONNX file sent raw with
/// `Content-Type: application/octet-stream` and `?kind=onnx`.
#[utoipa::path(put, path = "/models/{name}", tag = "models",
    params(("name" = String, Path, description = "Model name: letters, digits, '-', '_', '.'"),
        UploadQuery),
    request_body(content(
        (ModelSpec = "application/json"),
        (OnnxFile = "application/octet-stream"))),
    responses(
        (status = 201, description = "Registered", body = ModelInfo),
        (status = 200, description = "Replaced", body = ModelInfo),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body over the model size limit", body = ErrorBody),
        (status = 415, description = "Neither JSON nor application/octet-stream", body = ErrorBody),
        (status = 422, description = "Invalid name or model (an ONNX operator outside the supported set is named), or outputs over the background that are not finite numbers", body = ErrorBody),
        (status = 500, description = "The model store could not be written; nothing changed", body = ErrorBody)))]
pub async fn put_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, axum::Json<ModelInfo>), ApiError> {
    let spec = spec_of(query, request).await?;
    let guard = state.registry.lock_name(&name).await;
    let (entry, created) = state.registry.put(&guard, spec).await?;
    tracing::info!(model = %name, version = entry.version, "model registered");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(ModelInfo::of(&entry))))
}

/// Remove a model and its data sets. A data-set registration racing the deletion
/// either lands first and is deleted with the model, or is refused with 404.
#[utoipa::path(delete, path = "/models/{name}", tag = "models",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn delete_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    // Under the model's name lock; the data sets go first, so a storage error leaves
    // the model registered rather than data sets that would come back with the name.
    let guard = state.registry.lock_name(&name).await;
    if state.registry.get(&name).is_none() {
        return Err(ApiError::ModelNotFound(name));
    }
    state
        .datasets
        .delete_model(&guard)
        .await
        .map_err(ApiError::Storage)?;
    if !state.registry.delete(&guard).await? {
        return Err(ApiError::ModelNotFound(name));
    }
    tracing::info!(model = %name, "model deleted");
    state.jobs.forget_model(&name);
    Ok(StatusCode::NO_CONTENT)
}
