//! The explain answer: per-row explanations with their quality, and the same
//! attributions in the shape of shap's `Explanation`.

use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use super::anchor::{anchor_dto, AnchorDto, Names};
use crate::core::explain::{Explanation, Method};
use crate::explainer;
use crate::http::outputs::SpaceName;
use crate::http::quality::QualityDto;
use crate::http::texts::TextExplainResponse;
use crate::registry::ModelEntry;

/// One row's explanation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplanationDto {
    /// Name of the output explained.
    pub output: String,
    /// The model's prediction for that output, in `output_space`.
    pub prediction: f64,
    /// Expected output over the background: where attributions start.
    pub base_value: f64,
    /// The instance explained (its index in the request), when `outputs` asks for
    /// several explanations per instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<usize>,
    /// One per feature (or group), aligned with `feature_names`.
    pub attributions: Vec<f64>,
    /// How exact the numbers are.
    pub quality: QualityDto,
    /// SHAP interaction values (features × features), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interactions: Option<Vec<Vec<f64>>>,
    /// `method: "anchors"`: the row's anchor (then `attributions` is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorDto>,
}

/// An explanation answer. `values`, `base_values` and `feature_names` repeat the
/// attributions in the shape of shap's `Explanation`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainResponse {
    /// Model name.
    pub model: String,
    /// Model version that answered.
    pub version: u64,
    /// Method used (never `auto`).
    pub method: String,
    /// The output explained when it is the same for every row, else null.
    pub output: Option<String>,
    /// Space of predictions and attributions.
    pub output_space: SpaceName,
    /// Feature names, aligned with every attribution vector (group names with
    /// `group_by` or `players` set to `groups`).
    // Without groups, the model's own list, shared: a reference count per answer, not a copy.
    #[serde(serialize_with = "shared_names")]
    #[schema(value_type = Vec<String>)]
    pub feature_names: Arc<[String]>,
    /// One per instance, in order (one per instance and output with `outputs`).
    pub explanations: Vec<ExplanationDto>,
    /// Attributions as a (rows × features) matrix, as shap's `Explanation.values`.
    pub values: Vec<Vec<f64>>,
    /// Base values, one per row, as shap's `Explanation.base_values`.
    pub base_values: Vec<f64>,
    /// The seed the sampling method used (absent for deterministic methods).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// How the numbers were computed, where that needs saying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The answer to an explain request: per feature for `instances`, per token for `texts`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ExplainAnswer {
    /// Attributions to features.
    Features(ExplainResponse),
    /// Attributions to the words of texts.
    Texts(TextExplainResponse),
}

fn shared_names<S: serde::Serializer>(names: &Arc<[String]>, s: S) -> Result<S::Ok, S::Error> {
    names.as_ref().serialize(s)
}

/// The answer for `outcome`, computed by `entry` in `space` with `seed`;
/// `show_rows`: whether the caller may see rows built from background rows (the
/// examples of anchors).
pub(crate) fn respond(
    entry: &ModelEntry,
    outcome: explainer::Outcome,
    space: SpaceName,
    seed: u64,
    show_rows: bool,
) -> ExplainResponse {
    let seed = outcome.method.is_seeded().then_some(seed);
    let names = Names {
        features: &entry.built.feature_names,
        outputs: &entry.built.output_names,
        raw: entry.built.model.raw_features(),
    };
    let outputs = &entry.built.output_names;
    let first = outcome.explanations.first().map(|e| e.output);
    let same = outcome.explanations.iter().all(|e| Some(e.output) == first);
    let note = match outcome.method {
        Method::LinearShap if space == SpaceName::Probability => Some(
            "probability space: log-odds SHAP values rescaled by (p(x) - E[p]) / (f(x) - E[f]) \
             (DeepLIFT's rescale rule); base_value is E[p] over the background",
        ),
        Method::Anchors => Some(
            "anchors answer a rule per instance (`anchor`), not attributions: `attributions` \
             and `values` are empty, base_value is E[f] over the background",
        ),
        _ => None,
    }
    .map(str::to_string);
    let values = outcome
        .explanations
        .iter()
        .map(|e| e.attributions.clone())
        .collect();
    let base_values = outcome.explanations.iter().map(|e| e.base_value).collect();
    ExplainResponse {
        model: entry.name.clone(),
        version: entry.version,
        method: outcome.method.to_string(),
        output: first.filter(|_| same).map(|k| outputs[k].clone()),
        output_space: space,
        feature_names: match (&entry.built.groups, outcome.grouped) {
            (Some(g), true) => g.names.clone().into(),
            _ => entry.built.feature_names.clone(),
        },
        explanations: outcome
            .explanations
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let mut d = dto(e, outputs, outcome.method);
                d.instance = outcome.instances.as_ref().map(|rows| rows[i]);
                d.interactions = outcome
                    .interactions
                    .as_ref()
                    .map(|all| all[i].rows().into_iter().map(|r| r.to_vec()).collect());
                d.anchor =
                    (outcome.anchors.as_ref()).map(|all| anchor_dto(&all[i], &names, show_rows));
                d
            })
            .collect(),
        values,
        base_values,
        seed,
        note,
    }
}

fn dto(e: Explanation, outputs: &[String], method: Method) -> ExplanationDto {
    let mut quality: QualityDto = e.quality.into();
    if method == Method::Anchors {
        quality.additivity_residual = None;
    }
    ExplanationDto {
        output: outputs[e.output].clone(),
        prediction: e.prediction,
        base_value: e.base_value,
        attributions: e.attributions,
        instance: None,
        interactions: None,
        anchor: None,
        quality,
    }
}
