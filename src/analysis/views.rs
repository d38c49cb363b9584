//! The answers of the data summaries, as JSON. None holds a row of data.

use serde::Serialize;
use utoipa::ToSchema;

use crate::core::models::OutputSpace;

/// What every data summary starts with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Head {
    /// Model name.
    pub model: String,
    /// Model version summarised.
    pub version: u64,
    /// The data set used; null for the model's background.
    pub dataset: Option<String>,
    /// Rows used (at most `--global-max-rows`, evenly spaced).
    pub rows: usize,
}

/// A finished data summary, of one of three kinds.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DataResult {
    /// Permutation importance.
    PermutationImportance(PermutationView),
    /// Partial dependence and ICE curves.
    Dependence(DependenceView),
    /// Mean |φ| of an explainer.
    MeanAbsAttribution(AttributionView),
}

/// Permutation importance of every feature, most important first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PermutationView {
    /// Model, version, data set and rows.
    #[serde(flatten)]
    pub head: Head,
    /// `rmse`, `log_loss` or `accuracy` (measured as the error rate 1 − accuracy).
    pub loss: String,
    /// The loss on the data as given.
    pub baseline_loss: f64,
    /// Shuffles per feature.
    pub repeats: usize,
    /// The seed of the shuffles; the same seed gives the same numbers.
    pub seed: u64,
    /// Features, largest importance first.
    pub features: Vec<PermutationFeature>,
}

/// One feature's permutation importance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PermutationFeature {
    /// Feature name.
    pub name: String,
    /// Mean increase of the loss when the feature's column is shuffled.
    pub importance: f64,
    /// Population standard deviation of that increase over the repeats.
    pub std: f64,
    /// The increase of each repeat.
    pub increases: Vec<f64>,
}

/// Partial dependence of the outputs on one feature, with ICE curves.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DependenceView {
    /// Model, version, data set and rows.
    #[serde(flatten)]
    pub head: Head,
    /// The feature varied.
    pub feature: String,
    /// `raw` or `probability`.
    pub output_space: String,
    /// The values the feature was set to, scikit-learn's grid: evenly spaced between
    /// the data's 5% and 95% quantiles (scipy's `mquantiles`), or its distinct values
    /// when there are fewer than the points asked and each is common; for a
    /// categorical feature, the codes of all its categories, in code order.
    pub grid: Vec<f64>,
    /// A categorical feature: the category at each grid point (what `grid` codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// ICE curves per output: of rows evenly spaced over the data (none for reader
    /// tokens), or of the instances a `POST` sent.
    pub ice_rows: usize,
    /// One entry per output asked for.
    pub outputs: Vec<OutputCurves>,
}

/// One output's curves.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutputCurves {
    /// Output name.
    pub output: String,
    /// Partial dependence at each grid value: the mean prediction over the rows.
    pub average: Vec<f64>,
    /// ICE curves: for each ICE row, its prediction at each grid value.
    pub ice: Vec<Vec<f64>>,
}

/// Mean |φ| of an explainer over data, most important first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttributionView {
    /// Model, version, data set and rows.
    #[serde(flatten)]
    pub head: Head,
    /// The explainer used (never `auto`).
    pub method: String,
    /// The seed of a sampling method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Always `raw`: margins for classifiers.
    pub output_space: String,
    /// Outputs averaged, in the order of `importance_by_output`.
    pub outputs: Vec<String>,
    /// Features, largest mean |φ| first.
    pub features: Vec<AttributionFeature>,
}

/// One feature's mean |φ|.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttributionFeature {
    /// Feature name.
    pub name: String,
    /// Mean |φ| over the rows, averaged over outputs.
    pub importance: f64,
    /// Mean φ (signed), averaged over outputs.
    pub mean_attribution: f64,
    /// Mean |φ| per output.
    pub importance_by_output: Vec<f64>,
}

/// The name of an output space in the views.
pub(crate) fn space_name(space: OutputSpace) -> &'static str {
    match space {
        OutputSpace::Raw => "raw",
        OutputSpace::Probability => "probability",
    }
}

/// The categories a categorical feature's grid of codes stands for; `None` for a
/// numeric feature.
pub(super) fn category_names(
    built: &crate::spec::BuiltModel,
    feature: usize,
    grid: &[f64],
) -> Option<Vec<String>> {
    let raw = built.model.raw_features()?;
    raw.categories(feature)?;
    Some(
        grid.iter()
            .map(|&c| {
                raw.category(feature, c)
                    .unwrap_or("(unseen category)")
                    .to_string()
            })
            .collect(),
    )
}
