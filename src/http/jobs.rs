//! Summaries from data: background jobs (`POST /models/{name}/global/jobs`,
//! `GET /jobs/{id}`), the plans they and the partial-dependence routes run
//! ([`super::ice`] answers those at once), and the
//! `from_data` section that `/models/{name}/global` gains once a job has succeeded.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::Json;
use super::outputs::{output_index, OutputRef, SpaceName};
use super::privacy::Audience;
use super::routes::{routes, Access::*, Routes};
use super::AppState;
use crate::analysis::{AttributionOptions, DependenceOptions, PermutationOptions, Plan};
use crate::core::explain::sampling::SamplingParams;
use crate::core::global::loss::Loss;
use crate::core::Cancel;
use crate::datasets::Dataset;
use crate::jobs::{JobKind, JobView};
use crate::registry::ModelEntry;

/// Routes of this module.
pub fn router() -> Routes {
    // Readers may run data summaries: what they may see of the rows behind them is
    // decided per answer ([`super::privacy`]).
    Routes::new()
        .op(Reader, routes!(post_job))
        .op(Reader, routes!(list_jobs))
        .op(Reader, routes!(get_job))
}

/// The loss of permutation importance.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LossName {
    /// Root mean squared error (regressions; their default).
    Rmse,
    /// Log-loss (classifiers; their default).
    LogLoss,
    /// Error rate, 1 − accuracy (classifiers): the importance is the accuracy drop.
    Accuracy,
}

impl From<LossName> for Loss {
    fn from(l: LossName) -> Self {
        match l {
            LossName::Rmse => Loss::Rmse,
            LossName::LogLoss => Loss::LogLoss,
            LossName::Accuracy => Loss::Accuracy,
        }
    }
}

/// A data-summary job. Which fields apply depends on `kind`; others are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// `permutation_importance`, `dependence` or `mean_abs_attribution`.
    pub kind: JobKind,
    /// A registered data set; required for `permutation_importance`, otherwise the
    /// model's background is used when absent.
    #[serde(default)]
    pub dataset: Option<String>,
    /// Seeds the shuffles or the sampling explainer (default 0).
    #[serde(default)]
    pub seed: Option<u64>,
    /// `permutation_importance`: shuffles per feature (default 5).
    #[serde(default)]
    pub repeats: Option<usize>,
    /// `permutation_importance`: `rmse`, `log_loss` or `accuracy` (default by task).
    #[serde(default)]
    pub loss: Option<LossName>,
    /// `dependence`: the feature, by name.
    #[serde(default)]
    pub feature: Option<String>,
    /// `dependence`: grid points (default 20).
    #[serde(default)]
    pub grid: Option<usize>,
    /// `dependence`: ICE curves (default 10).
    #[serde(default)]
    pub ice: Option<usize>,
    /// `dependence`: `raw` or `probability` (default: probability for classifiers).
    #[serde(default)]
    pub output_space: Option<SpaceName>,
    /// `dependence`, `mean_abs_attribution`: one output by name or index (default all).
    #[serde(default)]
    pub output: Option<OutputRef>,
    /// `mean_abs_attribution`: the explainer (`auto`, `kernel_shap`, `lime`, ...).
    #[serde(default)]
    pub method: Option<String>,
    /// `mean_abs_attribution`, sampling methods: the sample budget per row.
    #[serde(default)]
    pub n_samples: Option<usize>,
    /// `mean_abs_attribution`, sampling methods: background rows (default 100).
    #[serde(default)]
    pub max_background: Option<usize>,
}

impl JobRequest {
    /// Refuse fields that do not apply to the kind, rather than ignore them.
    fn check_fields(&self) -> Result<(), ApiError> {
        let set = [
            ("seed", self.seed.is_some()),
            ("repeats", self.repeats.is_some()),
            ("loss", self.loss.is_some()),
            ("feature", self.feature.is_some()),
            ("grid", self.grid.is_some()),
            ("ice", self.ice.is_some()),
            ("output_space", self.output_space.is_some()),
            ("output", self.output.is_some()),
            ("method", self.method.is_some()),
            ("n_samples", self.n_samples.is_some()),
            ("max_background", self.max_background.is_some()),
        ];
        let applies: &[&str] = match self.kind {
            JobKind::PermutationImportance => &["seed", "repeats", "loss"],
            JobKind::Dependence => &["feature", "grid", "ice", "output_space", "output"],
            JobKind::MeanAbsAttribution => {
                &["seed", "method", "n_samples", "max_background", "output"]
            }
        };
        match set.iter().find(|(name, on)| *on && !applies.contains(name)) {
            Some((name, _)) => Err(ApiError::InvalidRequest(format!(
                "`{name}` does not apply to {} jobs; they take: {}",
                serde_json::to_value(self.kind)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or(""),
                applies.join(", ")
            ))),
            None => Ok(()),
        }
    }
}

fn dataset(
    state: &AppState,
    name: &str,
    id: Option<&str>,
) -> Result<Option<Arc<Dataset>>, ApiError> {
    id.map(|id| {
        state
            .datasets
            .get(name, id)
            .ok_or_else(|| ApiError::DatasetNotFound(name.to_string(), id.to_string()))
    })
    .transpose()
}

/// Default output space of curves: after the link (a classifier's probabilities, a
/// count model's mean, as scikit-learn's `partial_dependence` with `predict`), raw
/// otherwise.
fn space_or_default(entry: &ModelEntry, space: Option<SpaceName>) -> SpaceName {
    space.unwrap_or(if entry.built.model.as_model().link().transforms() {
        SpaceName::Probability
    } else {
        SpaceName::Raw
    })
}

/// Check a job request into a plan (on the blocking pool: it reads the rows), with
/// what the audience may ask for ([`super::privacy`]).
pub(super) async fn plan(
    state: &AppState,
    entry: Arc<ModelEntry>,
    mut r: JobRequest,
    audience: Audience,
) -> Result<Plan, ApiError> {
    r.check_fields()?;
    audience.check_dataset(r.dataset.as_deref())?;
    if r.kind == JobKind::Dependence {
        r.ice = audience.ice(r.ice)?;
    }
    let limits = state.config.summary_limits();
    let data = dataset(state, &entry.name, r.dataset.as_deref())?;
    audience.check_source(&entry, data.as_deref(), limits.max_rows)?;
    let output = r
        .output
        .as_ref()
        .map(|o| output_index(&entry, o))
        .transpose()?;
    let seed = r.seed.unwrap_or(0);
    type Planning = Box<dyn FnOnce(&Cancel) -> crate::core::CoreResult<Plan> + Send>;
    let work: Planning = match r.kind {
        JobKind::PermutationImportance => {
            let data = data.ok_or_else(|| {
                ApiError::InvalidRequest(
                    "permutation_importance needs `dataset`: a labelled data set registered \
                     with PUT /models/{name}/datasets/{id}"
                        .into(),
                )
            })?;
            let options = PermutationOptions {
                repeats: r.repeats,
                seed,
                loss: r.loss.map(Loss::from),
            };
            Box::new(move |_| Plan::permutation(entry, &data, &options, &limits))
        }
        JobKind::Dependence => {
            let feature = r.feature.clone().ok_or_else(|| {
                ApiError::InvalidRequest("dependence jobs need `feature`, a feature name".into())
            })?;
            let options = DependenceOptions {
                feature,
                grid: r.grid,
                ice: r.ice,
                output,
                space: space_or_default(&entry, r.output_space).into(),
            };
            Box::new(move |_| Plan::dependence(entry, data.as_deref(), &options, &limits))
        }
        JobKind::MeanAbsAttribution => {
            let caps = state.config.caps();
            let options = AttributionOptions {
                method: r.method.as_deref().unwrap_or("auto").parse()?,
                sampling: SamplingParams {
                    seed,
                    n_samples: r.n_samples,
                    max_background: r.max_background,
                    ..SamplingParams::default()
                },
                output,
            };
            caps.check_sampling(&options.sampling)?;
            Box::new(move |cancel| {
                Plan::attribution(entry, data.as_deref(), &options, &limits, cancel)
            })
        }
    };
    Ok(state.run_cancellable(work).await??)
}

/// Start a data-summary job: 202 with the job and its `Location`.
#[utoipa::path(post, path = "/models/{name}/global/jobs", tag = "global",
    params(("name" = String, Path, description = "Model name")),
    request_body = JobRequest,
    responses(
        (status = 202, description = "Accepted; poll the job at `Location`", body = JobView,
            headers(("Location" = String, description = "The job: /jobs/{id}"))),
        (status = 403, description = "A reader token naming a data set, asking for ICE curves, or over fewer rows than --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such model or data set", body = ErrorBody),
        (status = 422, description = "Unknown feature or method, budget above the configured maximum, a field that does not apply, a data set that no longer fits", body = ErrorBody),
        (status = 503, description = "Too many jobs queued or running", body = ErrorBody)))]
pub async fn post_job(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    Json(request): Json<JobRequest>,
) -> Result<Response, ApiError> {
    let entry = state.entry(&name)?;
    let kind = request.kind;
    let data = request.dataset.clone();
    let audience = Audience::of(caller, &state.config);
    let plan = plan(&state, Arc::clone(&entry), request, audience).await?;
    let job = state
        .jobs
        .submit(kind, &entry, data, move |progress, cancel| {
            plan.run(progress, cancel)
        })
        .map_err(|e| {
            tracing::warn!(error = %e, "job refused");
            ApiError::Overloaded
        })?;
    let location = HeaderValue::from_str(&format!("/jobs/{}", job.id))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        axum::Json(job.view(false)),
    )
        .into_response())
}

/// A model's jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    /// Jobs still kept, newest first, without their results.
    pub jobs: Vec<JobView>,
}

/// List a model's jobs (without results).
#[utoipa::path(get, path = "/models/{name}/global/jobs", tag = "global",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Jobs", body = JobList),
        (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn list_jobs(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<axum::Json<JobList>, ApiError> {
    state.entry(&name)?;
    let jobs = state
        .jobs
        .list(&name)
        .iter()
        .map(|j| j.view(false))
        .collect();
    Ok(axum::Json(JobList { jobs }))
}

/// One job: state, progress, and its result once succeeded or error once failed.
/// Readers see results without ICE curves, and none over too few rows.
#[utoipa::path(get, path = "/jobs/{id}", tag = "global",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 403, description = "A reader token, and the result is over fewer rows than --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody)))]
pub async fn get_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<axum::Json<JobView>, ApiError> {
    let job = state.jobs.get(&id).ok_or(ApiError::JobNotFound(id))?;
    let mut view = job.view(true);
    let audience = Audience::of(caller, &state.config);
    view.result = view.result.map(|r| audience.result(&r)).transpose()?;
    Ok(axum::Json(view))
}
