//! Text classifiers over HTTP: the `texts` form of explain and predict requests
//! (called from [`super::explain`]), and `/models/{name}/weights/embeddings`.
//!
//! Words outside the vocabulary are skipped by the model; every answer lists them
//! per text under `unknown_words`. A text with no known word (the empty text
//! included) is answered, not refused: its pooled embedding is zero, it gets no
//! token attributions, and its prediction equals the base value.

use axum::extract::{Path, State};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::Query;
use super::outputs::SpaceName;
use super::quality::QualityDto;
use super::routes::{routes, Access::*, Routes};
use super::AppState;
use crate::core::explain::finite;
use crate::core::explain::text_attribution::TextExplanation;
use crate::core::models::OutputSpace;
use crate::explainer::{self, ExplainArgs};
use crate::registry::ModelEntry;

/// Routes of this module.
pub fn router() -> Routes {
    // Word vectors are the model's weights: admins only, as `/weights`.
    Routes::new().op(Admin, routes!(get_embeddings))
}

/// One known word of a text and its attribution.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenDto {
    /// The lowercased word.
    pub token: String,
    /// Byte offset of its first character in the text sent.
    pub start: usize,
    /// Byte offset just past its last character.
    pub end: usize,
    /// Its share of `prediction − base_value`.
    pub attribution: f64,
}

/// One text's explanation.
#[derive(Debug, Serialize, ToSchema)]
pub struct TextExplanationDto {
    /// Name of the output explained.
    pub output: String,
    /// The model's prediction for the text, in `output_space`.
    pub prediction: f64,
    /// The prediction for a text with no known word (zero pooled embedding).
    pub base_value: f64,
    /// The known words in text order, each with its attribution.
    pub tokens: Vec<TokenDto>,
    /// The attributions alone, aligned with `tokens`.
    pub attributions: Vec<f64>,
    /// Words outside the vocabulary, in text order: skipped by the model, not attributed.
    pub unknown_words: Vec<String>,
    /// How exact the numbers are (`convergence_delta` for integrated gradients).
    pub quality: QualityDto,
}

/// The explanation of texts by a text classifier.
#[derive(Debug, Serialize, ToSchema)]
pub struct TextExplainResponse {
    /// Model name.
    pub model: String,
    /// Model version that answered.
    pub version: u64,
    /// `integrated_gradients` (on the embeddings) or `occlusion`.
    pub method: String,
    /// The output explained when it is the same for every text, else null.
    pub output: Option<String>,
    /// Space of predictions and attributions.
    pub output_space: SpaceName,
    /// One per text, in order.
    pub explanations: Vec<TextExplanationDto>,
}

/// Check the `texts` of a request: at least one, at most `max`.
///
/// # Errors
/// [`ApiError::InvalidInput`] otherwise.
pub fn check_texts(texts: &[String], max: usize) -> Result<(), ApiError> {
    if texts.is_empty() {
        return Err(ApiError::InvalidInput(
            "texts must hold at least one text".into(),
        ));
    }
    if texts.len() > max {
        return Err(ApiError::InvalidInput(format!(
            "{} texts in one request; at most {max} are accepted",
            texts.len()
        )));
    }
    Ok(())
}

/// Explain `texts` with the text classifier in `entry`.
///
/// # Errors
/// [`ApiError::InvalidInput`] for an empty or too long list; the explainer's errors
/// (not a text classifier, a method other than integrated gradients or occlusion).
pub async fn explain(
    state: &AppState,
    entry: &std::sync::Arc<ModelEntry>,
    texts: Vec<String>,
    args: ExplainArgs,
) -> Result<TextExplainResponse, ApiError> {
    check_texts(&texts, state.config.max_instances)?;
    explainer::text_model(&entry.built.model)?;
    state.config.caps().check(&entry.built, &args)?;
    let space = args.space;
    let job = entry.clone();
    let outcome = state
        .run_cancellable(move |cancel| {
            let args = ExplainArgs {
                cancel: cancel.clone(),
                ..args
            };
            explainer::explain_texts(&job.built, &texts, &args)
        })
        .await??;
    check_finite(&outcome.explanations)?;
    state.metrics.count_explanations(
        &entry.name,
        outcome.method.as_str(),
        outcome.explanations.len(),
    );
    let outputs = &entry.built.output_names;
    let first = outcome.explanations.first().map(|e| e.output);
    let same = outcome.explanations.iter().all(|e| Some(e.output) == first);
    Ok(TextExplainResponse {
        model: entry.name.clone(),
        version: entry.version,
        method: outcome.method.to_string(),
        output: first.filter(|_| same).map(|k| outputs[k].clone()),
        output_space: if space == OutputSpace::Raw {
            SpaceName::Raw
        } else {
            SpaceName::Probability
        },
        explanations: outcome
            .explanations
            .into_iter()
            .map(|e| dto(e, outputs))
            .collect(),
    })
}

fn dto(e: TextExplanation, outputs: &[String]) -> TextExplanationDto {
    TextExplanationDto {
        output: outputs[e.output].clone(),
        prediction: e.prediction,
        base_value: e.base_value,
        attributions: e.tokens.iter().map(|t| t.attribution).collect(),
        tokens: e
            .tokens
            .into_iter()
            .map(|t| TokenDto {
                token: t.token.text,
                start: t.token.start,
                end: t.token.end,
                attribution: t.attribution,
            })
            .collect(),
        unknown_words: e.unknown.into_iter().map(|t| t.text).collect(),
        quality: e.quality.into(),
    }
}

/// Predict `texts` with the text classifier in `entry`: (texts, outputs).
///
/// # Errors
/// As [`explain`].
pub async fn predict(
    state: &AppState,
    entry: &std::sync::Arc<ModelEntry>,
    texts: Vec<String>,
    space: OutputSpace,
) -> Result<Array2<f64>, ApiError> {
    check_texts(&texts, state.config.max_instances)?;
    explainer::text_model(&entry.built.model)?;
    let job = entry.clone();
    let predictions = state
        .run_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            explainer::text_model(&job.built.model).map(|t| t.predict_texts(&refs, space))
        })
        .await??;
    match predictions
        .rows()
        .into_iter()
        .position(|r| r.iter().any(|v| !v.is_finite()))
    {
        Some(i) => Err(non_finite(i, "prediction".into())),
        None => Ok(predictions),
    }
}

/// Refuse text explanations holding a non-finite number (the weights of a
/// registered model can overflow on some texts), naming the text and the word.
fn check_finite(explanations: &[TextExplanation]) -> Result<(), ApiError> {
    for (i, e) in explanations.iter().enumerate() {
        let attributions: Vec<f64> = e.tokens.iter().map(|t| t.attribution).collect();
        let found =
            finite::first_non_finite_in(e.prediction, e.base_value, &attributions, &e.quality);
        if let Some((what, token)) = found {
            let what = match token.and_then(|j| e.tokens.get(j)) {
                Some(t) => format!("{what} of word '{}'", t.token.text),
                None => what,
            };
            return Err(non_finite(i, what));
        }
    }
    Ok(())
}

fn non_finite(text: usize, what: String) -> ApiError {
    ApiError::InvalidInput(format!(
        "text {text}: the {what} is not a finite number (overflow in the model's weights \
         for this text); answers hold finite numbers only"
    ))
}

/// Query of the embeddings route.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EmbeddingQuery {
    /// The word (matched lowercased).
    pub word: String,
    /// How many nearest neighbours (default 10, at most 1000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub k: Option<usize>,
}

/// A word's embedding and its nearest neighbours.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingResponse {
    /// Model name.
    pub model: String,
    /// Model version.
    pub version: u64,
    /// The word, lowercased.
    pub word: String,
    /// Its embedding vector.
    pub vector: Vec<f64>,
    /// The `k` other vocabulary words most similar by cosine, best first.
    pub neighbours: Vec<Neighbour>,
}

/// A vocabulary word and its similarity to the word asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct Neighbour {
    /// The word.
    pub word: String,
    /// Cosine similarity of the two embeddings, in \[−1, 1\].
    pub similarity: f64,
}

/// Most neighbours one request may ask for.
const MAX_NEIGHBOURS: usize = 1000;

/// A word's embedding vector and its nearest neighbours by cosine similarity.
#[utoipa::path(get, path = "/models/{name}/weights/embeddings", tag = "weights",
    params(("name" = String, Path, description = "Model name"), EmbeddingQuery),
    responses(
        (status = 200, description = "The vector and its neighbours", body = EmbeddingResponse),
        (status = 404, description = "No such model, or the word is not in the vocabulary", body = ErrorBody),
        (status = 422, description = "Not a text classifier, or a bad query", body = ErrorBody)))]
pub async fn get_embeddings(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<EmbeddingQuery>,
) -> Result<axum::Json<EmbeddingResponse>, ApiError> {
    let entry = state.entry(&name)?;
    explainer::text_model(&entry.built.model)?;
    let k = query.k.unwrap_or(10);
    if k == 0 || k > MAX_NEIGHBOURS {
        return Err(ApiError::InvalidRequest(format!(
            "k must be between 1 and {MAX_NEIGHBOURS}"
        )));
    }
    let (job, word) = (entry.clone(), query.word.clone());
    // A pass over the whole table: off the async workers, like explanations.
    let (vector, neighbours) = state
        .run_blocking(move || -> Result<_, ApiError> {
            let text = explainer::text_model(&job.built.model)?;
            let vector = text
                .embedding(&word)
                .ok_or_else(|| ApiError::WordNotFound(word.clone()))?
                .to_vec();
            let neighbours: Vec<Neighbour> = text
                .nearest_words(&word, k)?
                .into_iter()
                .map(|(word, similarity)| Neighbour { word, similarity })
                .collect();
            Ok((vector, neighbours))
        })
        .await??;
    Ok(axum::Json(EmbeddingResponse {
        model: entry.name.clone(),
        version: entry.version,
        word: query.word.to_lowercase(),
        vector,
        neighbours,
    }))
}
