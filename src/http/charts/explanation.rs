//! `POST /models/{name}/explain.svg`: one explanation as a picture, by the explain
//! flow the JSON route runs. An instance's attributions (or its anchor), or, for a
//! text classifier, one text's word attributions.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::SVG;
use crate::charts::views::{self, Explained, ExplainedRow, ExplainedText};
use crate::explainer;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::explain::{self, ExplainAnswer, ExplainRequest};
use crate::http::extract::Json;
use crate::http::outputs::SpaceName;
use crate::http::AppState;
use crate::registry::ModelEntry;

/// One instance's explanation as a waterfall from the base value to the
/// prediction; with `method: "anchors"`, its anchor: the rule, the answer it keeps,
/// precision (with its lower bound) and coverage. Takes the explain body, with
/// exactly one instance, or, for a text classifier, exactly one text in `texts`:
/// then each known word is a step, in the order of the text.
#[utoipa::path(post, path = "/models/{name}/explain.svg", tag = "pictures",
    params(("name" = String, Path, description = "Model name")),
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "Picture", content_type = "image/svg+xml", body = String),
        (status = 400, description = "Malformed JSON; both `instances` and `texts`", body = ErrorBody),
        (status = 403, description = "A reader token, and the method compares with fewer \
            background rows than --min-summary-rows (or `max_background` below it)", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Not exactly one instance (or, with `texts`, one text); \
            invalid instance, text, method or output", body = ErrorBody)))]
pub async fn explain_svg(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    Json(request): Json<ExplainRequest>,
) -> Result<Response, ApiError> {
    explain::check_body_names(&request, &name)?;
    if request.outputs.is_some() || request.group_by.is_some() || request.players.is_some() {
        return Err(ApiError::InvalidInput(
            "a waterfall shows one output's per-feature attributions: leave out `outputs`, \
             `group_by` and `players`"
                .into(),
        ));
    }
    let entry = state.entry(&name)?;
    let svg = match &request.texts {
        Some(texts) if request.instances.is_empty() => {
            if texts.len() != 1 {
                return Err(ApiError::InvalidInput(format!(
                    "a waterfall shows exactly one text; `texts` has {}",
                    texts.len()
                )));
            }
            text_svg(state, entry, request, caller).await?
        }
        // Both forms: the explain flow says which to leave out.
        Some(_) => text_svg(state, entry, request, caller).await?,
        None => instance_svg(state, entry, request, caller).await?,
    };
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(SVG))], svg).into_response())
}

/// `raw` or `probability`, as the answers spell it.
fn space_name(space: SpaceName) -> String {
    serde_json::to_value(space)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

async fn instance_svg(
    state: AppState,
    entry: Arc<ModelEntry>,
    request: ExplainRequest,
    caller: Caller,
) -> Result<String, ApiError> {
    if request.instances.len() != 1 {
        let texts = if explainer::text_model(&entry.built.model).is_ok() {
            " (this text classifier explains `texts`: send {\"texts\": [\"...\"]})"
        } else {
            ""
        };
        return Err(ApiError::InvalidInput(format!(
            "a waterfall shows exactly one instance; `instances` has {}{texts}",
            request.instances.len()
        )));
    }
    let explained = explain::explain(state, entry, request, caller).await?;
    let kind = explained.entry.built.model.kind();
    let r = &explained.response;
    let e = &r.explanations[0];
    let inputs = explained.inputs.row(0).to_vec();
    let built = &explained.entry.built;
    if let Some(anchor) = &e.anchor {
        let names = explain::AnchorNames {
            features: &built.feature_names,
            outputs: &built.output_names,
            raw: built.model.raw_features(),
        };
        return Ok(explain::anchor_picture(
            &r.model, r.version, anchor, &names, &inputs,
        ));
    }
    Ok(views::explanation(&ExplainedRow {
        answer: Explained {
            model: &r.model,
            version: r.version,
            method: &r.method,
            output: &e.output,
            output_space: &space_name(r.output_space),
            kind,
            base_value: e.base_value,
            prediction: e.prediction,
        },
        feature_names: &r.feature_names,
        inputs: &inputs,
        raw: built.model.raw_features(),
        attributions: &e.attributions,
    }))
}

async fn text_svg(
    state: AppState,
    entry: Arc<ModelEntry>,
    request: ExplainRequest,
    caller: Caller,
) -> Result<String, ApiError> {
    let kind = entry.built.model.kind();
    let r = match explain::answer_for(state, entry.clone(), request, caller).await? {
        ExplainAnswer::Texts(r) => r,
        ExplainAnswer::Features(_) => {
            unreachable!("a request with `texts` is answered per word or refused")
        }
    };
    let e = &r.explanations[0];
    let words: Vec<(&str, usize, f64)> = e
        .tokens
        .iter()
        .map(|t| (t.token.as_str(), t.start, t.attribution))
        .collect();
    Ok(views::text_explanation(&ExplainedText {
        answer: Explained {
            model: &r.model,
            version: r.version,
            method: &r.method,
            output: &e.output,
            output_space: &space_name(r.output_space),
            kind,
            base_value: e.base_value,
            prediction: e.prediction,
        },
        words: &words,
        unknown_words: e.unknown_words.len(),
    }))
}
