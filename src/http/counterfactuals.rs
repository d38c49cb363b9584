//! Counterfactuals: `POST /models/{name}/counterfactuals`, the cheapest changes of
//! an instance that give the answer asked for, under constraints (see
//! [`crate::core::counterfactual`]). The request and its checks live in `request`.

mod request;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub use request::{CounterfactualRequest, TargetSpec, DEFAULT_TIMEOUT_MS, MAX_COUNT};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, JsonAnswer};
use super::privacy::Audience;
use super::routes::{routes, Access::*, Routes};
use super::AppState;
use crate::charts;
use crate::core::counterfactual::{self, changed, Found, Outcome};
use crate::registry::ModelEntry;

/// Routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .op(Reader, routes!(counterfactuals_model))
        .op(Reader, routes!(counterfactuals_svg))
}

/// The answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CounterfactualResponse {
    /// Model name.
    pub model: String,
    /// The model version that answered.
    pub version: u64,
    /// Counterfactuals, cheapest first; empty when none was found.
    pub counterfactuals: Vec<CounterfactualDto>,
    /// Whether the search finished, so that each counterfactual is the cheapest its
    /// rule allows (the first: the cheapest of all).
    pub optimal: bool,
    /// The best lower bound proved on the cost of the cheapest counterfactual
    /// (its cost when `optimal`); null when none exists.
    pub bound: Option<f64>,
    /// The solver that answered: `linear_exact` (linear and binary logistic models,
    /// or a `raw` range on one margin of a multinomial logistic one),
    /// `tree_branch_and_bound` (tree ensembles) or `growing_spheres` (any other
    /// model or target, a multinomial logistic class included; never `optimal`).
    pub method: String,
    /// Time the search took, in milliseconds.
    pub elapsed_ms: f64,
    /// Proved that no change within the constraints gives the answer asked for.
    pub infeasible: bool,
    /// The seed used (it only matters to `growing_spheres`).
    pub seed: u64,
}

/// One counterfactual.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CounterfactualDto {
    /// The changed instance, in the form the request sent (object or array).
    #[schema(value_type = crate::spec::values::Instance)]
    pub instance: serde_json::Value,
    /// The features changed, in feature order.
    pub changes: Vec<ChangeDto>,
    /// The model's outputs on it, in the target's space (probabilities for a class).
    pub prediction: Vec<f64>,
    /// Its cost under the request's `cost`.
    pub cost: f64,
}

/// One feature's change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeDto {
    /// Feature name.
    pub feature: String,
    /// The instance's value.
    #[schema(value_type = crate::spec::values::RawValue)]
    pub from: serde_json::Value,
    /// The counterfactual's value.
    #[schema(value_type = crate::spec::values::RawValue)]
    pub to: serde_json::Value,
}

/// The cheapest changes of an instance that give the answer asked for.
#[utoipa::path(post, path = "/models/{name}/counterfactuals", tag = "explain",
    params(("name" = String, Path, description = "Model name")),
    request_body = CounterfactualRequest,
    responses(
        (status = 200, description = "Counterfactuals (none, with `infeasible: true`, when the constraints allow none)", body = CounterfactualResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 403, description = "A reader token, and the model has fewer background rows than --min-summary-rows (the default bounds and cost summarise them)", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid instance, target or constraint (unknown feature, lo > hi, bounds excluding an immutable feature's value, bounds or integer on a categorical feature, a target already met, min > max, count over 5)", body = ErrorBody)))]
pub async fn counterfactuals_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    Json(request): Json<CounterfactualRequest>,
) -> Result<JsonAnswer<CounterfactualResponse>, ApiError> {
    let entry = state.entry(&name)?;
    let audience = Audience::of(caller, &state.config);
    Ok(JsonAnswer(
        search(&state, entry, request, audience).await?.response,
    ))
}

/// The cheapest counterfactual as a picture: the instance beside it, the changed
/// features highlighted.
#[utoipa::path(post, path = "/models/{name}/counterfactuals.svg", tag = "pictures",
    params(("name" = String, Path, description = "Model name")),
    request_body = CounterfactualRequest,
    responses(
        (status = 200, description = "Picture", content_type = "image/svg+xml", body = String),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 403, description = "As the JSON route", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "As the JSON route", body = ErrorBody)))]
pub async fn counterfactuals_svg(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    Json(request): Json<CounterfactualRequest>,
) -> Result<Response, ApiError> {
    let entry = state.entry(&name)?;
    let audience = Audience::of(caller, &state.config);
    let searched = search(&state, entry.clone(), request, audience).await?;
    let r = &searched.response;
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Number(n) => n.as_f64().map_or(n.to_string(), short),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let names = &entry.built.feature_names;
    let row = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::Object(map) => {
                names.iter().map(|n| text(&map[n.as_str()])).collect()
            }
            other => other.as_array().into_iter().flatten().map(text).collect(),
        }
    };
    let first = r.counterfactuals.first();
    let before = row(&searched.instance);
    let after = first.map(|c| row(&c.instance));
    let list = |p: &[f64]| p.iter().map(|v| short(*v)).collect::<Vec<_>>().join(", ");
    let (p0, p1) = (
        list(&searched.prediction),
        first.map_or(String::new(), |c| list(&c.prediction)),
    );
    let svg = charts::counterfactual::counterfactual(&charts::counterfactual::CounterfactualView {
        model: &r.model,
        version: r.version,
        method: &r.method,
        feature_names: names,
        instance: &before,
        counterfactual: after.as_deref(),
        predictions: (&p0, &p1),
        cost: first.map_or(0.0, |c| c.cost),
        optimal: r.optimal,
    });
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::charts::SVG),
        )],
        svg,
    )
        .into_response())
}

/// A value with four decimals at most, trailing zeros dropped.
fn short(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A search's answer with what the picture needs besides.
#[derive(Debug)]
pub struct Searched {
    /// The JSON answer.
    pub response: CounterfactualResponse,
    /// The instance as the request sent it.
    pub instance: serde_json::Value,
    /// The model's outputs on the instance, in the target's space.
    pub prediction: Vec<f64>,
}

/// Check the caller and the request, search on the blocking pool within its time
/// limit, answer.
///
/// # Errors
/// For a reader, too few background rows ([`Audience::check_counterfactuals`]); as
/// [`CounterfactualRequest::check`]; [`ApiError::Overloaded`] when shed.
pub async fn search(
    state: &AppState,
    entry: Arc<ModelEntry>,
    request: CounterfactualRequest,
    audience: Audience,
) -> Result<Searched, ApiError> {
    audience.check_counterfactuals(&entry)?;
    let instance = request.instance.clone();
    let checked = request.check(&entry, state.config.request_timeout_ms)?;
    let job = entry.clone();
    let timeout = Duration::from_millis(checked.timeout_ms);
    let problem = checked.problem;
    let (outcome, problem, elapsed) = state
        .run_cancellable(move |cancel| {
            let start = Instant::now();
            let cancel = cancel.child_until(start + timeout);
            let outcome = counterfactual::solve(&job.built.model, &problem, &cancel);
            (outcome, problem, start.elapsed())
        })
        .await?;
    let prediction = counterfactual::predict_in_goal_space(entry.built.model.as_model(), &problem);
    Ok(Searched {
        response: respond(&entry, &problem, outcome, &instance, elapsed),
        instance,
        prediction,
    })
}

fn respond(
    entry: &ModelEntry,
    problem: &counterfactual::Problem,
    outcome: Outcome,
    sent: &serde_json::Value,
    elapsed: Duration,
) -> CounterfactualResponse {
    let found = outcome
        .found
        .iter()
        .map(|f| dto(entry, problem, f, sent))
        .collect();
    CounterfactualResponse {
        model: entry.name.clone(),
        version: entry.version,
        counterfactuals: found,
        optimal: outcome.optimal,
        bound: outcome.bound,
        method: outcome.method.as_str().to_string(),
        elapsed_ms: elapsed.as_secs_f64() * 1e3,
        infeasible: outcome.infeasible,
        seed: problem.seed,
    }
}

fn dto(
    entry: &ModelEntry,
    problem: &counterfactual::Problem,
    f: &Found,
    sent: &serde_json::Value,
) -> CounterfactualDto {
    let names = &entry.built.feature_names;
    let value = |j: usize, v: f64| -> serde_json::Value {
        let category = entry
            .built
            .model
            .raw_features()
            .and_then(|r| r.category(j, v));
        match category {
            Some(c) => serde_json::Value::from(c),
            None if v.is_nan() => serde_json::Value::Null,
            None => serde_json::Value::from(v),
        }
    };
    // The instance's own value of feature j as the request sent it (an unseen
    // category has a code but no name of the model's).
    let sent_value = |j: usize| -> serde_json::Value {
        match sent {
            serde_json::Value::Object(map) => map.get(&names[j]).cloned(),
            serde_json::Value::Array(items) => items.get(j).cloned(),
            _ => None,
        }
        .unwrap_or_else(|| value(j, problem.instance[j]))
    };
    // A value the search kept is shown as sent, a changed one by the model's name.
    let shown = |j: usize| -> serde_json::Value {
        if f.values[j].to_bits() == problem.instance[j].to_bits() {
            sent_value(j)
        } else {
            value(j, f.values[j])
        }
    };
    let instance = if sent.is_object() {
        serde_json::Value::Object(
            names
                .iter()
                .enumerate()
                .map(|(j, n)| (n.clone(), shown(j)))
                .collect(),
        )
    } else {
        (0..names.len()).map(shown).collect()
    };
    CounterfactualDto {
        instance,
        changes: changed(&problem.instance, &f.values)
            .into_iter()
            .map(|j| ChangeDto {
                feature: names[j].clone(),
                from: sent_value(j),
                to: value(j, f.values[j]),
            })
            .collect(),
        prediction: f.prediction.clone(),
        cost: f.cost,
    }
}
