//! Partial dependence and ICE curves, computed now: `GET
//! /models/{name}/global/dependence` over the background or a data set, and `POST`
//! with rows the caller sends (the same plans as the background jobs, [`super::jobs`]).
//!
//! An ICE curve follows one row, so curves over the background or a data set are
//! for admins ([`super::privacy`]). Any caller may send rows of their own: the answer
//! is the partial dependence over the background, as `GET` gives it, with one ICE
//! curve per instance sent, on the same grid.

use std::sync::Arc;

use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, JsonAnswer, Query};
use super::instances::{self, Instances};
use super::jobs::{plan, JobRequest};
use super::outputs::{OutputRef, SpaceName};
use super::privacy::Audience;
use super::routes::{routes, Access::*, Routes};
use super::AppState;
use crate::analysis::{DataResult, DependenceView};
use crate::core::global::dependence::{self, DependenceParams};
use crate::core::models::OutputSpace;
use crate::jobs::JobKind;
use crate::registry::ModelEntry;

/// Routes of this module.
pub fn router() -> Routes {
    // Any caller may send rows of their own ([`super::privacy`]).
    // Readers may ask for partial dependence: what they may see of the rows behind
    // it is decided per answer.
    Routes::new()
        .op(Reader, routes!(get_dependence))
        .op(Reader, routes!(post_dependence))
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
    let (entry, mut view) = dependence(&state, &name, query, caller).await?;
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

/// Query of a partial-dependence request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DependenceQuery {
    /// The feature, by name.
    pub feature: String,
    /// A registered data set (default: the model's background); admin tokens only.
    #[serde(default)]
    pub dataset: Option<String>,
    /// Grid points (default 20, at most `--global-max-grid`).
    #[serde(default)]
    pub grid: Option<usize>,
    /// ICE curves (default 10, at most `--global-max-ice`; 0 for none). Admin tokens
    /// only: for reader tokens the default is 0 and more is refused.
    #[serde(default)]
    pub ice: Option<usize>,
    /// One output by name or index (default: every output).
    #[serde(default)]
    pub output: Option<String>,
    /// `raw` or `probability` (default: probability for classifiers, raw otherwise).
    #[serde(default)]
    pub output_space: Option<SpaceName>,
}

/// Partial dependence and ICE curves of one feature, computed now.
#[utoipa::path(get, path = "/models/{name}/global/dependence", tag = "global",
    params(("name" = String, Path, description = "Model name"), DependenceQuery),
    responses(
        (status = 200, description = "Grid, partial dependence and ICE curves per output", body = DependenceView),
        (status = 403, description = "A reader token with `dataset` or `ice`, or a background of fewer rows than --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such model or data set", body = ErrorBody),
        (status = 422, description = "Unknown feature or output, grid or ice above the configured maximum, no background and no data set", body = ErrorBody)))]
pub async fn get_dependence(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    Query(q): Query<DependenceQuery>,
) -> Result<axum::Json<DependenceView>, ApiError> {
    let (_, view) = dependence(&state, &name, q, caller).await?;
    Ok(axum::Json(view))
}

/// Partial dependence as `GET /models/{name}/global/dependence` answers it, with
/// the model entry it was computed on (for pictures that need its kind).
///
/// # Errors
/// As the route: an unknown model or data set, an unknown feature or output, a
/// budget above its maximum, no background and no data set, what `caller` may not
/// ask for ([`super::privacy`]).
pub async fn dependence(
    state: &AppState,
    name: &str,
    q: DependenceQuery,
    caller: Caller,
) -> Result<(Arc<ModelEntry>, DependenceView), ApiError> {
    let entry = state.entry(name)?;
    let output = q.output.map(|o| match o.parse::<usize>() {
        Ok(k) => OutputRef::Index(k),
        Err(_) => OutputRef::Name(o),
    });
    let request = JobRequest {
        kind: JobKind::Dependence,
        dataset: q.dataset,
        feature: Some(q.feature),
        grid: q.grid,
        ice: q.ice,
        output,
        output_space: q.output_space,
        seed: None,
        repeats: None,
        loss: None,
        method: None,
        n_samples: None,
        max_background: None,
    };
    let audience = Audience::of(caller, &state.config);
    let plan = plan(state, Arc::clone(&entry), request, audience).await?;
    let result = state
        .run_cancellable(move |cancel| plan.run(&|_| {}, cancel))
        .await??;
    crate::core::serde_finite::check(&result, "dependence")
        .map_err(|e| ApiError::InvalidInput(e.to_string()))?;
    match result {
        DataResult::Dependence(view) => Ok((entry, view)),
        DataResult::PermutationImportance(_) | DataResult::MeanAbsAttribution(_) => Err(
            ApiError::Internal("a dependence plan gave another result".into()),
        ),
    }
}
