//! Model-level views served as JSON: the global importance summary and the weight
//! dump. Both are computed from a model version; neither ever contains a
//! background row.

pub mod live;
mod weights;

use chrono::{DateTime, Utc};
use ndarray::Axis;
use serde::Serialize;
use utoipa::ToSchema;

use crate::core::explain::Explanation;
use crate::core::global::importance;
use crate::core::models::{HostedModel, OutputSpace};
use crate::core::{CoreError, CoreResult};
use crate::explainer::{self, ExplainArgs, OutputChoice};
use crate::spec::BuiltModel;
pub use weights::{
    weights, BackgroundStats, CategoryCount, EmbeddingTable, FeatureCoefficients, FeatureStat,
    LinearWeights, PreprocessedColumn, TreePage, TreeWeights, WeightsView, DEFAULT_TREE_PAGE,
    MAX_TREE_PAGE,
};

/// The model version a summary or weight dump is of.
#[derive(Debug, Clone, Copy)]
pub struct ModelVersion<'a> {
    /// Registered name.
    pub name: &'a str,
    /// Version number.
    pub version: u64,
    /// The built model.
    pub built: &'a BuiltModel,
}

/// Global importance of one model version over its background: computed once per
/// version and cached with it. The `/global` answer adds what changes between calls
/// (the live section, summaries from data) beside it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GlobalSummary {
    /// Model name.
    pub model: String,
    /// Model version summarised.
    pub version: u64,
    /// Model kind.
    pub kind: String,
    /// Attribution method whose magnitudes are averaged.
    pub method: String,
    /// Space the attributions are in (always `raw`: margins for classifiers).
    pub output_space: String,
    /// Background rows summarised.
    pub rows: usize,
    /// When the summary was computed (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub computed_at: DateTime<Utc>,
    /// Output names, in the order of `importance_by_output`.
    pub outputs: Vec<String>,
    /// Features, most important first.
    pub features: Vec<FeatureSummary>,
}

/// One feature's global importance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeatureSummary {
    /// Feature name.
    pub name: String,
    /// Mean |attribution| over the rows, averaged over outputs.
    pub importance: f64,
    /// Mean attribution (signed) over the rows, averaged over outputs.
    pub mean_attribution: f64,
    /// Mean |attribution| per output.
    pub importance_by_output: Vec<f64>,
    /// Linear models: coefficient × feature standard deviation per output, the change
    /// in the raw output for a one-standard-deviation change of the feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standardized_coefficients: Option<Vec<f64>>,
    /// XGBoost and LightGBM models: the number of splits on the feature (XGBoost's
    /// "weight", LightGBM's "split" importance). Absent for CatBoost, whose JSON
    /// document stores no split statistics (see `prediction_values_change`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub splits: Option<usize>,
    /// XGBoost and LightGBM models: the total loss reduction of those splits
    /// ("total_gain").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gain: Option<f64>,
    /// CatBoost models: CatBoost's own importance, PredictionValuesChange (what
    /// `get_feature_importance()` returns by default), in percent of the total:
    /// computed from the trees' leaf values and weights as CatBoost defines it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction_values_change: Option<f64>,
}

/// Compute the global summary of a model version over (at most `max_rows` of) its
/// background, with the family's exact method.
///
/// # Errors
/// [`CoreError::InvalidArgument`] when the model has no background.
pub fn global_summary(model: &ModelVersion, max_rows: usize) -> CoreResult<GlobalSummary> {
    let built = model.built;
    let reference = built.reference.as_ref().ok_or_else(|| {
        CoreError::InvalidArgument(
            "global importance is computed over the model's background data, and none was registered"
                .into(),
        )
    })?;
    let n = reference.rows();
    let take = n.min(max_rows.max(1));
    let picks: Vec<usize> = (0..take).map(|i| i * n / take).collect();
    let rows = reference.data.select(Axis(0), &picks);
    let n_outputs = built.output_names.len();
    let method = explainer::default_method(built, OutputSpace::Raw);
    let mut per_output: Vec<Vec<Explanation>> = Vec::with_capacity(n_outputs);
    for k in 0..n_outputs {
        let args = ExplainArgs {
            method,
            output: OutputChoice::Index(k),
            space: OutputSpace::Raw,
            options: Default::default(),
            players: Default::default(),
            cancel: Default::default(),
        };
        per_output.push(explainer::explain(built, rows.view(), &args)?.explanations);
    }
    let importances = importance::mean_abs(&per_output, built.feature_names.len());
    let split_stats = match &built.model {
        // CatBoost's JSON document stores no split gains, and an oblivious split is
        // repeated over its level of the expanded tree: no model-native importance.
        HostedModel::Trees(m) if m.kind() == "catboost" => None,
        HostedModel::Trees(m) => Some(m.split_importance()),
        HostedModel::Linear(_)
        | HostedModel::Mlp(_)
        | HostedModel::Text(_)
        | HostedModel::Additive(_)
        | HostedModel::ExtremeTrees(_)
        | HostedModel::Normalized(_) => None,
    };
    let catboost = match &built.model {
        HostedModel::Trees(m) if m.kind() == "catboost" => {
            crate::core::global::catboost::prediction_values_change(m)
        }
        _ => None,
    };
    let mut features: Vec<FeatureSummary> = importances
        .into_iter()
        .enumerate()
        .map(|(j, imp)| FeatureSummary {
            name: built.feature_names[j].clone(),
            importance: imp.importance,
            mean_attribution: imp.mean_attribution,
            importance_by_output: imp.by_output,
            splits: split_stats.as_ref().map(|s| s[j].splits),
            gain: split_stats.as_ref().map(|s| s[j].total_gain),
            prediction_values_change: catboost.as_ref().map(|c| c[j]),
            standardized_coefficients: match &built.model {
                HostedModel::Mlp(_)
                | HostedModel::Trees(_)
                | HostedModel::Text(_)
                | HostedModel::Additive(_)
                | HostedModel::ExtremeTrees(_)
                | HostedModel::Normalized(_) => None,
                HostedModel::Linear(m) => Some(
                    m.coefficients()
                        .column(j)
                        .iter()
                        .map(|w| w * reference.stats.std[j])
                        .collect(),
                ),
            },
        })
        .collect();
    features.sort_by(|a, b| b.importance.total_cmp(&a.importance));
    Ok(GlobalSummary {
        model: model.name.to_string(),
        version: model.version,
        kind: built.model.kind().to_string(),
        method: method.to_string(),
        output_space: "raw".into(),
        rows: take,
        computed_at: Utc::now(),
        outputs: built.output_names.clone(),
        features,
    })
}
