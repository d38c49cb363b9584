//! ICE curves of rows the caller sends: `POST /models/{name}/global/dependence`.
//!
//! An ICE curve follows one row, so curves over the background or a data set are
//! for admins ([`super::privacy`]). Any caller may send rows of their own: the answer
//! is the partial dependence over the background, as `GET` gives it, with one ICE
//! curve per instance sent, on the same grid.

use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, JsonAnswer};
use super::instances::{self, Instances};
use super::jobs::DependenceQuery;
use super::outputs::{OutputRef, SpaceName};
use super::routes::{routes, Access::*, Routes};
use super::AppState;
use crate::analysis::DependenceView;
use crate::core::global::dependence::{self, DependenceParams};
use crate::core::models::OutputSpace;

/// Routes of this module.
pub fn router() -> Routes {
    // Any caller may send rows of their own ([`super::privacy`]).
    Routes::new().op(Reader, routes!(post_dependence))
}

/// Partial dependence over the background with ICE curves of the rows sent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IceRequest {
    /// The feature, by name.
    pub feature: String,
    /// The rows whose ICE curves are wanted: arrays in feature order, or objects
    /// keyed by feature name (at most `--max-instances`).
    #[schema(value_type = Vec<crate::spec::values::Instance>)]
    pub instances: Instances,
    /// Grid points (default 20, at most `--global-max-grid`).
    #[serde(default)]
    pub grid: Option<usize>,
    /// One output by name or index (default: every output).
    #[serde(default)]
    pub output: Option<OutputRef>,
    /// `raw` or `probability` (default: probability for classifiers, raw otherwise).
    #[serde(default)]
    pub output_space: Option<SpaceName>,
}

/// Partial dependence of one feature over the background, with the ICE curves of
/// the instances sent (`ice_rows` is their count, `ice` in their order).
#[utoipa::path(post, path = "/models/{name}/global/dependence", tag = "global",
    params(("name" = String, Path, description = "Model name")),
    request_body = IceRequest,
    responses(
        (status = 200, description = "Grid, partial dependence over the background, and one ICE curve per instance sent", body = DependenceView),
        (status = 403, description = "A reader token, and the background has fewer rows than --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Unknown feature or output, grid above the configured maximum, no background, instances that do not fit the model, or whose curves leave f64's range", body = ErrorBody)))]
pub async fn post_dependence(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    Json(r): Json<IceRequest>,
) -> Result<JsonAnswer<DependenceView>, ApiError> {
    let query = DependenceQuery {
        feature: r.feature,
        dataset: None,
        grid: r.grid,
        ice: Some(0),
        output: r.output.map(|o| match o {
            OutputRef::Index(k) => k.to_string(),
            OutputRef::Name(n) => n,
        }),
        output_space: r.output_space,
    };
    let (entry, mut view) = super::jobs::dependence(&state, &name, query, caller).await?;
    let built = &entry.built;
    let x = instances::to_matrix(&r.instances, built, state.config.max_instances)?;
    let position = |names: &[String], wanted: &str| names.iter().position(|n| n == wanted);
    let feature = position(&built.feature_names, &view.feature)
        .ok_or_else(|| ApiError::Internal("the feature of a dependence is the model's".into()))?;
    let outputs: Vec<usize> = view
        .outputs
        .iter()
        .filter_map(|o| position(&built.output_names, &o.output))
        .collect();
    let space = match view.output_space.as_str() {
        "probability" => OutputSpace::Probability,
        _ => OutputSpace::Raw,
    };
    let grid = view.grid.clone();
    let cost = crate::explainer::predict_cost(built, x.nrows() * grid.len());
    let job = std::sync::Arc::clone(&entry);
    let mut curves = state
        .run_sized(cost, move |cancel| {
            let rows: Vec<usize> = (0..x.nrows()).collect();
            let params = DependenceParams {
                feature,
                grid: &grid,
                ice_rows: &rows,
                space,
            };
            let m = job.built.model.as_model();
            dependence::partial_dependence(m, x.view(), &params, &|_| {}, cancel)
                .map(|d| (d.ice, rows.len()))
        })
        .await??;
    for (curve, k) in view.outputs.iter_mut().zip(outputs) {
        curve.ice = std::mem::take(&mut curves.0[k]);
    }
    view.ice_rows = curves.1;
    // The caller's rows can push the model past f64's range (1e308 × a weight):
    // refuse with where, rather than answer `null`.
    crate::core::serde_finite::check(&view, "dependence")
        .map_err(|e| ApiError::InvalidInput(e.to_string()))?;
    Ok(JsonAnswer(view))
}
