//! Pictures: `/models/{name}/global.svg`, `/models/{name}/weights.svg` and
//! `POST /models/{name}/explain.svg`.
//!
//! The pictures are drawn from the very values the JSON routes answer with (the
//! cached global summary, the weight dump, the explain flow), so a bar can always
//! be checked against its number. Drawing is deterministic: the same model version
//! and parameters give the same bytes, hence the same ETag, and `If-None-Match`
//! answers 304 on the GET pictures.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::explain::{self, ExplainRequest};
use super::extract::{Json, Query};
use super::global::{cached_summary, conditional_as, etag_of};
use super::AppState;
use crate::charts::views::{self, CoefficientScale, ExplainedRow, ViewError};
use crate::core::CoreError;
use crate::registry::ModelEntry;
use crate::summary;

/// The media type of every picture.
pub const SVG: &str = "image/svg+xml";

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/models/{name}/global.svg", get(get_global_svg))
        .route("/models/{name}/weights.svg", get(get_weights_svg))
        .route("/models/{name}/explain.svg", post(explain_svg))
}

/// Parameters of the importance picture.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GlobalSvgParams {
    /// Draw only the `top` most important features (at least 1). Default: all.
    pub top: Option<usize>,
}

/// Parameters of the coefficient picture.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WeightsSvgParams {
    /// `raw` (default): as fitted, per unit of each feature; `standardized`: times
    /// the feature's background standard deviation, comparable across features.
    pub scale: Option<ScaleParam>,
    /// One output, by name or index. Default: one panel per output.
    pub output: Option<String>,
}

/// How coefficients are drawn.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScaleParam {
    /// As fitted.
    Raw,
    /// Coefficient × feature standard deviation.
    Standardized,
}

fn model(state: &AppState, name: String) -> Result<std::sync::Arc<ModelEntry>, ApiError> {
    state
        .registry
        .get(&name)
        .ok_or(ApiError::ModelNotFound(name))
}

fn svg_response(body: String, headers: &HeaderMap) -> Response {
    let body = body.into_bytes();
    conditional_as(&body, &etag_of(&body), headers, SVG)
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> Self {
        match e {
            ViewError::NotApplicable(m) => ApiError::Core(CoreError::InvalidArgument(m)),
        }
    }
}

/// Global importance as horizontal bars: mean |attribution| per feature over the
/// background, the signed mean as a marker. The same cached summary as `/global`.
#[utoipa::path(get, path = "/models/{name}/global.svg", tag = "pictures",
    params(
        ("name" = String, Path, description = "Model name"),
        GlobalSvgParams,
        ("If-None-Match" = Option<String>, Header, description = "ETag of a picture already held")),
    responses(
        (status = 200, description = "Picture", content_type = "image/svg+xml", body = String,
            headers(("ETag" = String, description = "Entity tag of this picture"))),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "top=0, an unknown parameter, or no background", body = ErrorBody)))]
pub async fn get_global_svg(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<GlobalSvgParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if params.top == Some(0) {
        return Err(ApiError::InvalidInput("top must be at least 1".into()));
    }
    let entry = model(&state, name)?;
    let cached = cached_summary(&state, entry).await?;
    let svg = views::global_importance(&cached.summary, params.top);
    Ok(svg_response(svg, &headers))
}

/// Coefficients as horizontal bars, positive and negative in two colours, one
/// panel per output.
#[utoipa::path(get, path = "/models/{name}/weights.svg", tag = "pictures",
    params(
        ("name" = String, Path, description = "Model name"),
        WeightsSvgParams,
        ("If-None-Match" = Option<String>, Header, description = "ETag of a picture already held")),
    responses(
        (status = 200, description = "Picture", content_type = "image/svg+xml", body = String,
            headers(("ETag" = String, description = "Entity tag of this picture"))),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Unknown output or parameter; standardized without a background",
            body = ErrorBody)))]
pub async fn get_weights_svg(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<WeightsSvgParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let entry = model(&state, name)?;
    let weights = summary::weights(&entry, summary::TreePage::default());
    let output = params
        .output
        .as_deref()
        .map(|o| output_index(&weights.output_names, o))
        .transpose()?;
    let scale = match params.scale.unwrap_or(ScaleParam::Raw) {
        ScaleParam::Raw => CoefficientScale::Raw,
        ScaleParam::Standardized => CoefficientScale::Standardized,
    };
    let svg = views::coefficients(&weights, scale, output)?;
    Ok(svg_response(svg, &headers))
}

/// An output by name, or by index when no output has that name.
fn output_index(names: &[String], wanted: &str) -> Result<usize, ApiError> {
    names
        .iter()
        .position(|n| n == wanted)
        .or_else(|| wanted.parse::<usize>().ok().filter(|k| *k < names.len()))
        .ok_or_else(|| {
            ApiError::InvalidInput(format!(
                "unknown output '{wanted}'; outputs: {}",
                names.join(", ")
            ))
        })
}

/// One instance's explanation as a waterfall from the base value to the
/// prediction. Takes the explain body, with exactly one instance.
#[utoipa::path(post, path = "/models/{name}/explain.svg", tag = "pictures",
    params(("name" = String, Path, description = "Model name")),
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "Picture", content_type = "image/svg+xml", body = String),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Not exactly one instance; invalid instance, method or output",
            body = ErrorBody)))]
pub async fn explain_svg(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(request): Json<ExplainRequest>,
) -> Result<Response, ApiError> {
    explain::check_body_names(&request, &name)?;
    if request.instances.len() != 1 {
        return Err(ApiError::InvalidInput(format!(
            "a waterfall shows exactly one instance; the body has {}",
            request.instances.len()
        )));
    }
    let explained = explain::explain(state, &name, request).await?;
    let kind = explained.entry.built.model.kind();
    let r = &explained.response;
    let e = &r.explanations[0];
    let space = serde_json::to_value(r.output_space)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let inputs = explained.inputs.row(0).to_vec();
    let svg = views::explanation(&ExplainedRow {
        model: &r.model,
        version: r.version,
        method: &r.method,
        output: &e.output,
        output_space: &space,
        kind,
        feature_names: &r.feature_names,
        inputs: &inputs,
        attributions: &e.attributions,
        base_value: e.base_value,
        prediction: e.prediction,
    });
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(SVG))], svg).into_response())
}
