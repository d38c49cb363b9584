//! Local explanations: `/models/{name}/explain` and `/explain` (per feature for
//! `instances`, per word for `texts`). The request and answer types live in
//! `request` and `answer`; predictions in [`super::predict`].

mod anchor;
mod answer;
mod request;

use std::sync::Arc;

use axum::extract::{Path, State};
use ndarray::{Array2, ArrayView2};

pub(crate) use anchor::{picture as anchor_picture, Names as AnchorNames};
pub use anchor::{AnchorDto, AnchorExamplesDto, ConditionDto};
pub use answer::{ExplainAnswer, ExplainResponse, ExplanationDto};
pub use request::{ExplainRequest, QualityLevel};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, JsonAnswer};
use super::instances;
use super::outputs::SpaceName;
use super::routes::{routes, Access::*, Routes};
use super::texts;
use super::AppState;
use crate::core::explain::finite;
use crate::core::explain::sampling::MAX_SAMPLES;
use crate::explainer::{self, ExplainArgs};
use crate::registry::ModelEntry;

/// Routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .op(Reader, routes!(explain_any))
        .op(Reader, routes!(explain_model))
}

/// Explain instances with a model named in the body.
#[utoipa::path(post, path = "/explain", tag = "explain",
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "Explanations", body = ExplainAnswer),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 403, description = "A reader token, and the method compares with fewer background rows than --min-summary-rows (or `max_background` below it)", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid instances, method, output or method settings (e.g. anchors' `precision` outside (0, 1]), or instances whose prediction or attributions are not finite numbers (overflow)", body = ErrorBody)))]
pub async fn explain_any(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<ExplainRequest>,
) -> Result<JsonAnswer<ExplainAnswer>, ApiError> {
    let name = request.model.clone().ok_or_else(|| {
        ApiError::InvalidRequest(
            "missing field `model`: POST /explain needs the model's name".into(),
        )
    })?;
    Ok(JsonAnswer(
        explain_answer(state, &name, request, caller).await?,
    ))
}

/// Explain instances with this model.
#[utoipa::path(post, path = "/models/{name}/explain", tag = "explain",
    params(("name" = String, Path, description = "Model name")),
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "Explanations", body = ExplainAnswer),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 403, description = "A reader token, and the method compares with fewer background rows than --min-summary-rows (or `max_background` below it)", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid instances, method, output or method settings (e.g. anchors' `precision` outside (0, 1]), or instances whose prediction or attributions are not finite numbers (overflow)", body = ErrorBody)))]
pub async fn explain_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    Json(request): Json<ExplainRequest>,
) -> Result<JsonAnswer<ExplainAnswer>, ApiError> {
    check_body_names(&request, &name)?;
    Ok(JsonAnswer(
        explain_answer(state, &name, request, caller).await?,
    ))
}

/// On a model's own route the body may name the model too, but only the same one.
///
/// # Errors
/// [`ApiError::InvalidRequest`] when the names differ.
pub fn check_body_names(request: &ExplainRequest, name: &str) -> Result<(), ApiError> {
    match request.model.as_deref().filter(|m| *m != name) {
        Some(other) => Err(ApiError::InvalidRequest(format!(
            "the body names model '{other}' but the path names '{name}'"
        ))),
        None => Ok(()),
    }
}

/// The answer to an explain request: word attributions for `texts`, feature
/// attributions for `instances`.
///
/// # Errors
/// As [`explain`], and both or neither of `texts` and `instances`.
pub async fn explain_answer(
    state: AppState,
    name: &str,
    request: ExplainRequest,
    caller: Caller,
) -> Result<ExplainAnswer, ApiError> {
    let entry = state.entry(name)?;
    answer_for(state, entry, request, caller).await
}

/// As [`explain_answer`], by the model version `entry` the caller resolved once for
/// the whole request.
///
/// # Errors
/// As [`explain_answer`].
pub async fn answer_for(
    state: AppState,
    entry: Arc<ModelEntry>,
    mut request: ExplainRequest,
    caller: Caller,
) -> Result<ExplainAnswer, ApiError> {
    let Some(texts) = request.texts.take() else {
        if request.instances.is_empty() && explainer::text_model(&entry.built.model).is_ok() {
            return Err(ApiError::InvalidInput(
                "this text classifier explains `texts`: send {\"texts\": [\"...\"]}".into(),
            ));
        }
        return Ok(ExplainAnswer::Features(
            explain(state, entry, request, caller).await?.response,
        ));
    };
    if !request.instances.is_empty() {
        return Err(ApiError::InvalidRequest(
            "send either `instances` or `texts`, not both".into(),
        ));
    }
    if request.tolerance.is_some() {
        return Err(ApiError::InvalidInput(
            "tolerance applies to integrated gradients on `instances`; texts are explained \
             with a fixed number of steps (`steps`, default 50)"
                .into(),
        ));
    }
    let args = request.args(&entry)?;
    super::privacy::Audience::of(caller, &state.config).check_explain(&entry, &args)?;
    Ok(ExplainAnswer::Texts(
        texts::explain(&state, &entry, texts, args).await?,
    ))
}

/// An explanation answer with the checked inputs it explains.
#[derive(Debug)]
pub struct Explained {
    /// The answer the JSON routes send.
    pub response: ExplainResponse,
    /// The instances as a (rows × features) matrix, in feature order.
    pub inputs: Array2<f64>,
    /// The model version that answered.
    pub entry: Arc<ModelEntry>,
}

/// The explain flow every explain route shares (JSON and pictures): check the
/// instances, run the explainer on the blocking pool, count it. `entry` is the model
/// version the caller resolved once for the whole request, so the answer's `version`
/// is the one that computed it.
///
/// # Errors
/// Invalid instances, method or output, as [`ApiError`]s; for a reader, too few
/// background rows ([`super::privacy`]).
pub async fn explain(
    state: AppState,
    entry: Arc<ModelEntry>,
    request: ExplainRequest,
    caller: Caller,
) -> Result<Explained, ApiError> {
    let x = instances::to_matrix(&request.instances, &entry.built, state.config.max_instances)?;
    let space = request.output_space.unwrap_or(SpaceName::Raw);
    let mut args = request.args(&entry)?;
    let audience = super::privacy::Audience::of(caller, &state.config);
    audience.check_explain(&entry, &args)?;
    state.config.caps().check(&entry.built, &args)?;
    // The anchor search's default budget stays under this server's cap.
    if request.n_samples.is_none() {
        let budget = &mut args.options.anchors.max_samples;
        *budget = (*budget).min(state.config.max_samples);
    }
    // Adaptive integrated gradients double their steps up to the same cap, and
    // sampling with a tolerance its samples.
    args.options.ig.max_steps = state.config.max_ig_steps;
    let sampling = &mut args.options.sampling;
    if sampling.tolerance.is_some() && sampling.n_samples.is_none() {
        sampling.n_samples = Some(state.config.max_samples.min(MAX_SAMPLES));
    }
    let seed = args.options.sampling.seed;
    let job_entry = entry.clone();
    let cost = explainer::cost(&entry.built, &args, x.nrows());
    let (outcome, inputs) = state
        .run_sized(cost, move |cancel| {
            let args = ExplainArgs {
                cancel: cancel.clone(),
                ..args
            };
            let outcome = explainer::explain(&job_entry.built, x.view(), &args)?;
            check_finite(&job_entry, x.view(), &outcome)?;
            Ok::<_, ApiError>((outcome, x))
        })
        .await??;
    state.metrics.count_explanations(
        &entry.name,
        outcome.method.as_str(),
        outcome.explanations.len(),
    );
    entry.live.record(inputs.view(), &outcome, space.into());
    Ok(Explained {
        response: answer::respond(&entry, outcome, space, seed, audience.is_admin()),
        inputs,
        entry,
    })
}

/// Refuse an outcome holding a non-finite number (finite inputs can overflow),
/// naming the instance and the feature: the one check every explain route shares.
fn check_finite(
    entry: &ModelEntry,
    x: ArrayView2<f64>,
    outcome: &explainer::Outcome,
) -> Result<(), ApiError> {
    let inputs = finite::Inputs {
        x: x.reborrow(),
        feature_names: &entry.built.feature_names,
        row_word: "instance",
    };
    finite::check_explanations(
        &inputs,
        &outcome.explanations,
        outcome.instances.as_deref(),
        outcome.grouped,
        outcome.interactions.as_deref(),
    )
    .map_err(|e| ApiError::InvalidInput(e.to_string()))
}
