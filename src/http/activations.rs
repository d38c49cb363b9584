//! Neural-network activations: what each layer computes for given rows, how its
//! units behave over the background, and the activation curves over the range of
//! pre-activations the model really sees.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, JsonAnswer};
use super::instances;
use super::privacy::Audience;
use super::routes::{routes, Access::*, Routes};
use super::AppState;
use crate::core::explain::finite;
use crate::core::models::mlp::activations::{
    self, ActivationCurve, CurveOptions, Extremes, LayerActivations, LayerSummary,
};
use crate::core::models::{HostedModel, Mlp};
use crate::core::CoreError;
use crate::registry::ModelEntry;

/// Routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .op(Reader, routes!(post_activations))
        .op(Reader, routes!(get_activation_summary))
        .op(Reader, routes!(get_activation_curves))
}

/// Rows whose layer values are wanted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivationsRequest {
    /// Rows, as in explain requests.
    #[schema(value_type = Vec<Object>)]
    pub instances: instances::Instances,
}

/// Each layer's pre- and post-activation values for the rows sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivationsResponse {
    /// Model name.
    pub model: String,
    /// Model version.
    pub version: u64,
    /// One entry per layer, input side first: `layer`, `activation`, `pre` and `post`
    /// (rows × units).
    #[schema(value_type = Vec<Object>)]
    pub layers: Vec<LayerActivations>,
}

/// How the units behave over the background.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivationSummaryResponse {
    /// Model name.
    pub model: String,
    /// Model version.
    pub version: u64,
    /// Background rows summarised.
    pub rows: usize,
    /// One entry per layer: per unit the fraction of rows where it is inactive (ReLU:
    /// pre ≤ 0; sigmoid: |pre| > 4; tanh: |pre| > 2), the mean and the range of
    /// pre-activations (`pre_min`, `pre_max`: for reader tokens interpolated
    /// quantiles, halfway between the two smallest and the two largest values, no
    /// single row's); the fraction of units inactive on every row.
    #[schema(value_type = Vec<Object>)]
    pub layers: Vec<LayerSummary>,
}

/// Activation functions sampled over the observed pre-activation range.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivationCurvesResponse {
    /// Model name.
    pub model: String,
    /// Model version.
    pub version: u64,
    /// Background rows the ranges come from.
    pub rows: usize,
    /// One per non-softmax layer: `x`, `y` series and a `histogram` of observed
    /// pre-activations (`edges`, `counts`), over the layer's range (for reader tokens
    /// from its units' interpolated ranges, as in the summary).
    #[schema(value_type = Vec<Object>)]
    pub curves: Vec<ActivationCurve>,
}

/// The network of an entry, or `method_not_supported` for other kinds.
pub(super) fn mlp_of(entry: &ModelEntry) -> Result<&Mlp, ApiError> {
    match &entry.built.model {
        HostedModel::Mlp(m) => Ok(m),
        HostedModel::Linear(_)
        | HostedModel::Trees(_)
        | HostedModel::Additive(_)
        | HostedModel::ExtremeTrees(_)
        | HostedModel::Normalized(_) => Err(ApiError::Core(CoreError::MethodNotSupported {
            method: "activations".into(),
            kind: entry.built.model.kind(),
        })),
        // The head, on pooled embeddings (features emb_0 …).
        HostedModel::Text(m) => Ok(m.head()),
    }
}

/// How `caller` may see the extremes of pre-activations over the entry's background
/// of `rows` rows: exact for admins; interpolated for readers, who are refused a
/// background of fewer than `--min-summary-rows` rows (see [`super::privacy`]).
///
/// # Errors
/// [`ApiError::PrivateRows`] for a reader and too few rows.
pub(super) fn extremes_for(
    state: &AppState,
    caller: Caller,
    rows: usize,
) -> Result<Extremes, ApiError> {
    let audience = Audience::of(caller, &state.config);
    audience.check_rows(rows, "the background")?;
    Ok(if audience.is_admin() {
        Extremes::Exact
    } else {
        Extremes::Interpolated
    })
}

/// Every layer's values for the rows sent.
#[utoipa::path(post, path = "/models/{name}/activations", tag = "activations",
    params(("name" = String, Path, description = "Model name")),
    request_body = ActivationsRequest,
    responses(
        (status = 200, description = "Layer values", body = ActivationsResponse),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Not a neural network, invalid instances, or layer values that are not finite numbers (overflow)", body = ErrorBody)))]
pub async fn post_activations(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(request): Json<ActivationsRequest>,
) -> Result<JsonAnswer<ActivationsResponse>, ApiError> {
    let entry = state.entry(&name)?;
    mlp_of(&entry)?;
    let x = instances::to_matrix(&request.instances, &entry.built, state.config.max_instances)?;
    let job = entry.clone();
    let layers = state
        .run_blocking(move || {
            let layers = activations::layer_activations(mlp_of(&job)?, x.view())?;
            let inputs = finite::Inputs {
                x: x.view(),
                feature_names: &job.built.feature_names,
                row_word: "instance",
            };
            finite::check_layers(&inputs, &layers)
                .map_err(|e| ApiError::InvalidInput(e.to_string()))?;
            Ok::<_, ApiError>(layers)
        })
        .await??;
    Ok(JsonAnswer(ActivationsResponse {
        model: entry.name.clone(),
        version: entry.version,
        layers,
    }))
}

/// Dead and saturated units over the background.
#[utoipa::path(get, path = "/models/{name}/activations/summary", tag = "activations",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Per-layer unit summary", body = ActivationSummaryResponse),
        (status = 403, description = "A reader token, and a background of fewer rows than \
            --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Not a neural network, or no background", body = ErrorBody)))]
pub async fn get_activation_summary(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
) -> Result<JsonAnswer<ActivationSummaryResponse>, ApiError> {
    let entry = state.entry(&name)?;
    mlp_of(&entry)?;
    let rows = background_rows(&entry)?;
    let extremes = extremes_for(&state, caller, rows)?;
    let job = entry.clone();
    let layers = state
        .run_blocking(move || {
            let data = &job.built.reference.as_ref().expect("checked above").data;
            activations::summarize_with(mlp_of(&job)?, data.view(), extremes)
                .map_err(ApiError::from)
        })
        .await??;
    Ok(JsonAnswer(ActivationSummaryResponse {
        model: entry.name.clone(),
        version: entry.version,
        rows,
        layers,
    }))
}

/// Activation curves over the pre-activation range seen on the background.
#[utoipa::path(get, path = "/models/{name}/activations/curves", tag = "activations",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Curves and histograms", body = ActivationCurvesResponse),
        (status = 403, description = "A reader token, and a background of fewer rows than \
            --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Not a neural network, or no background", body = ErrorBody)))]
pub async fn get_activation_curves(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
) -> Result<JsonAnswer<ActivationCurvesResponse>, ApiError> {
    let entry = state.entry(&name)?;
    mlp_of(&entry)?;
    let rows = background_rows(&entry)?;
    let options = CurveOptions {
        extremes: extremes_for(&state, caller, rows)?,
        ..CurveOptions::default()
    };
    let job = entry.clone();
    let curves = state
        .run_blocking(move || {
            let data = &job.built.reference.as_ref().expect("checked above").data;
            activations::curves(mlp_of(&job)?, data.view(), options).map_err(ApiError::from)
        })
        .await??;
    Ok(JsonAnswer(ActivationCurvesResponse {
        model: entry.name.clone(),
        version: entry.version,
        rows,
        curves,
    }))
}

/// Rows of the entry's background, or `invalid_argument` when it has none.
pub(super) fn background_rows(entry: &ModelEntry) -> Result<usize, ApiError> {
    entry.built.reference.as_ref().map(|r| r.rows()).ok_or_else(|| {
        ApiError::Core(CoreError::InvalidArgument(
            "activation summaries are computed over the model's background data, and none was registered".into(),
        ))
    })
}
