//! Pictures: `/models/{name}/global.svg`, `/models/{name}/weights.svg` (coefficients,
//! or a network's layer matrices and first-layer images),
//! `/models/{name}/activations.svg`, `/models/{name}/dependence.svg` and
//! `POST /models/{name}/explain.svg`.
//!
//! The pictures are drawn from the very values the JSON routes answer with (the
//! cached global summary, the weight dump, the explain flow), so a bar can always
//! be checked against its number. Drawing is deterministic: the same model version
//! and parameters give the same bytes, hence the same ETag, and `If-None-Match`
//! answers 304 on the GET pictures.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::Query;
use super::global::{cached_summary, conditional_as, etag_of};
use super::ice::{self, DependenceQuery};
use super::routes::{routes, Access::*, Routes};
use super::{activations, AppState};

mod explanation;
use crate::charts::network::{self, ActivationsPicture};
use crate::charts::views::{self, CoefficientScale, ViewError};
use crate::core::global::catboost::prediction_values_change;
use crate::core::models::mlp::activations::{self as mlp_activations, CurveOptions};
use crate::core::models::HostedModel;
use crate::core::CoreError;
use crate::summary;

/// The media type of every picture.
pub const SVG: &str = "image/svg+xml";

/// Routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .op(Reader, routes!(get_global_svg))
        // Pictures of the weights print the numbers of `/weights` (every coefficient,
        // × the background's std when standardized; a network's matrices), so they
        // follow its rule: admins only.
        .op(Admin, routes!(get_weights_svg))
        .op(Reader, routes!(explanation::explain_svg))
        .op(Reader, routes!(get_activations_svg))
        .op(Reader, routes!(get_dependence_svg))
}

/// Parameters of the importance picture.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GlobalSvgParams {
    /// Draw only the `top` most important features (at least 1). Default: all.
    #[param(minimum = 1)]
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
    /// Neural networks: the layer whose weight matrix is drawn (0 = the input
    /// side). Default 0.
    pub layer: Option<usize>,
    /// Neural networks: `matrix` (default), the layer's weights as a heat map;
    /// `kernels`, each first-layer unit's weights as an image in the model's
    /// two-dimensional `input_shape`.
    pub view: Option<NetworkView>,
}

/// How a network's weights are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkView {
    /// One layer's matrix, inputs × units.
    Matrix,
    /// One image per first-layer unit.
    Kernels,
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
        (status = 403, description = "A reader token, and the background has fewer rows than --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "top=0, an unknown parameter, or no background", body = ErrorBody)))]
pub async fn get_global_svg(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    Query(params): Query<GlobalSvgParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if params.top == Some(0) {
        return Err(ApiError::InvalidInput("top must be at least 1".into()));
    }
    let entry = state.entry(&name)?;
    let audience = super::privacy::Audience::of(caller, &state.config);
    let cached = cached_summary(&state, entry, audience).await?;
    let svg = views::global_importance(&cached.summary, params.top);
    Ok(svg_response(svg, &headers))
}

/// Coefficients as horizontal bars, positive and negative in two colours, one
/// panel per output; for neural networks, one layer's weight matrix as a heat map
/// on a diverging scale centred at zero, or the first layer's units as images; for
/// XGBoost and LightGBM ensembles, their split gain and count per feature; for
/// CatBoost, whose document stores no split statistics, PredictionValuesChange.
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
        (status = 422, description = "Unknown output, layer or parameter; standardized without a \
            background; layer or view on a linear model, scale or output on a network; \
            view=kernels without a two-dimensional input_shape", body = ErrorBody)))]
pub async fn get_weights_svg(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<WeightsSvgParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let entry = state.entry(&name)?;
    let weights = summary::weights(&entry.as_version(), summary::TreePage::default());
    let svg = match &entry.built.model {
        HostedModel::Trees(m) => {
            if params.layer.is_some() || params.view.is_some() || params.scale.is_some() {
                return Err(ApiError::InvalidInput(
                    "tree models draw their split importance; layer, view and scale do not apply"
                        .into(),
                ));
            }
            if m.kind() == "catboost" {
                let change = prediction_values_change(m).ok_or_else(|| {
                    ApiError::InvalidInput(
                        "this CatBoost model's trees are not oblivious: no importance to draw \
                         (its document stores no split statistics); /global ranks its \
                         features by mean |attribution|"
                            .into(),
                    )
                })?;
                return Ok(svg_response(
                    views::catboost_importance(&weights, &change),
                    &headers,
                ));
            }
            let stats = m.split_importance();
            let splits: Vec<usize> = stats.iter().map(|s| s.splits).collect();
            let gains: Vec<f64> = stats.iter().map(|s| s.total_gain).collect();
            views::tree_importance(&weights, &splits, &gains)
        }
        _ if weights.mlp.is_some() => network_weights_svg(&weights, &params)?,
        _ => coefficients_svg(&weights, &params)?,
    };
    Ok(svg_response(svg, &headers))
}

fn coefficients_svg(
    weights: &summary::WeightsView,
    params: &WeightsSvgParams,
) -> Result<String, ApiError> {
    if params.layer.is_some() || params.view.is_some() {
        return Err(ApiError::InvalidInput(format!(
            "layer and view apply to neural networks; '{}' is a {} model (use scale and output)",
            weights.model, weights.kind
        )));
    }
    let output = params
        .output
        .as_deref()
        .map(|o| output_index(&weights.output_names, o))
        .transpose()?;
    let scale = match params.scale.unwrap_or(ScaleParam::Raw) {
        ScaleParam::Raw => CoefficientScale::Raw,
        ScaleParam::Standardized => CoefficientScale::Standardized,
    };
    Ok(views::coefficients(weights, scale, output)?)
}

fn network_weights_svg(
    weights: &summary::WeightsView,
    params: &WeightsSvgParams,
) -> Result<String, ApiError> {
    if params.scale.is_some() || params.output.is_some() {
        return Err(ApiError::InvalidInput(
            "scale and output apply to linear models; a network's weights.svg takes layer \
             and view"
                .into(),
        ));
    }
    match params.view.unwrap_or(NetworkView::Matrix) {
        NetworkView::Matrix => Ok(network::layer_weights(weights, params.layer.unwrap_or(0))?),
        NetworkView::Kernels if params.layer.is_some_and(|l| l != 0) => Err(
            ApiError::InvalidInput("view=kernels draws the first layer (layer 0) only".into()),
        ),
        NetworkView::Kernels => Ok(network::kernels(weights)?),
    }
}

/// A network's activation functions, one panel per non-softmax layer, each over
/// the range of pre-activations seen on the background with their histogram shaded
/// behind it and its dead (ReLU) or saturated (sigmoid, tanh) units counted: the
/// numbers of `/activations/curves` and `/activations/summary`.
#[utoipa::path(get, path = "/models/{name}/activations.svg", tag = "pictures",
    params(
        ("name" = String, Path, description = "Model name"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of a picture already held")),
    responses(
        (status = 200, description = "Picture", content_type = "image/svg+xml", body = String,
            headers(("ETag" = String, description = "Entity tag of this picture"))),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 403, description = "A reader token, and a background of fewer rows than \
            --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Not a neural network, or no background", body = ErrorBody)))]
pub async fn get_activations_svg(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let entry = state.entry(&name)?;
    activations::mlp_of(&entry)?;
    let rows = activations::background_rows(&entry)?;
    let extremes = activations::extremes_for(&state, caller, rows)?;
    let svg = state
        .run_blocking(move || -> Result<String, ApiError> {
            let net = activations::mlp_of(&entry)?;
            let data = &entry.built.reference.as_ref().expect("checked above").data;
            let options = CurveOptions {
                extremes,
                ..CurveOptions::default()
            };
            let curves = mlp_activations::curves(net, data.view(), options)?;
            let summary = mlp_activations::summarize_with(net, data.view(), extremes)?;
            Ok(network::activations(&ActivationsPicture {
                model: &entry.name,
                version: entry.version,
                rows,
                curves: &curves,
                summary: &summary,
            }))
        })
        .await??;
    Ok(svg_response(svg, &headers))
}

/// Partial dependence of one feature: the partial dependence curve bold over the
/// thin ICE curves, the grid as ticks on the x axis, one panel per output. The
/// numbers of `/global/dependence` with the same parameters.
#[utoipa::path(get, path = "/models/{name}/dependence.svg", tag = "pictures",
    params(
        ("name" = String, Path, description = "Model name"),
        DependenceQuery,
        ("If-None-Match" = Option<String>, Header, description = "ETag of a picture already held")),
    responses(
        (status = 200, description = "Picture", content_type = "image/svg+xml", body = String,
            headers(("ETag" = String, description = "Entity tag of this picture"))),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 403, description = "A reader token with `dataset` or `ice`, or a background of \
            fewer rows than --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such model or data set", body = ErrorBody),
        (status = 422, description = "Unknown feature, output or parameter, grid or ice above \
            the configured maximum, no background and no data set", body = ErrorBody)))]
pub async fn get_dependence_svg(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    Query(query): Query<DependenceQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (entry, view) = ice::dependence(&state, &name, query, caller).await?;
    let svg = views::dependence(&view, entry.built.model.kind());
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
