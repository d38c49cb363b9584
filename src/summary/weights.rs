//! The weight dump of a model version (`/weights`): its parameters as JSON, the
//! background's column statistics (never its rows), and for pipelines the
//! preprocessing its file holds.

use serde::Serialize;
use utoipa::ToSchema;

use super::ModelVersion;
use crate::core::global::dependence::private_quantile;
use crate::core::models::mlp::weights as mlp_weights;
use crate::core::models::{trees, HostedModel};

/// A model's parameters as JSON.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WeightsView {
    /// Model name.
    pub model: String,
    /// Model version.
    pub version: u64,
    /// Model kind.
    pub kind: String,
    /// Feature names, in input order.
    pub feature_names: Vec<String>,
    /// Output names, in output order.
    pub output_names: Vec<String>,
    /// Statistics of the background data (never the rows), if one was registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<BackgroundStats>,
    /// Linear and logistic models: intercepts and coefficients. A linear head
    /// behind preprocessing that is no affine map of the raw features (imputers,
    /// encoders: an additive model) has one entry per column it reads, in the order
    /// of `preprocessing`, named `feature: steps`; behind a `mixing` step, one per
    /// column that step gives (`f0`, `f1`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linear: Option<LinearWeights>,
    /// Pipelines with a step that mixes the columns of a row in front of the model:
    /// that step (`Normalizer (norm L2)`, `affine map (Sub, MatMul 4×3: a PCA or
    /// TruncatedSVD …)`); `linear` or `trees` then show the model after it, over the
    /// columns it gives (`f0`, `f1`, …), and `preprocessing` the columns it reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mixing: Option<String>,
    /// MLPs: each layer's weights (fan_in × fan_out), bias, activation and statistics,
    /// the ten inputs with the largest weights per layer, and for inputs with a
    /// declared `input_shape` each first-layer unit's weights in that shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub mlp: Option<mlp_weights::WeightsView>,
    /// Pipelines (ONNX files with preprocessing before their model): per column the
    /// model reads, the raw feature it is computed from and the steps (scaling,
    /// imputation, one-hot or label encoding) as the file holds them. The trees are
    /// shown folded onto the raw features, as they are explained.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preprocessing: Option<Vec<PreprocessedColumn>>,
    /// Tree ensembles: a summary and one page of trees (`?offset=&limit=` or `?tree=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trees: Option<TreeWeights>,
    /// Text classifiers: the size of the embedding table (`mlp` then describes the
    /// head). Single words' vectors and neighbours: `/weights/embeddings?word=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<EmbeddingTable>,
}

/// One column a pipeline computes before its model.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreprocessedColumn {
    /// The raw feature it is computed from.
    pub feature: String,
    /// The steps in order, e.g. `impute NaN → 3`, `scale (x − 5.2) × 0.4`,
    /// `one-hot = 'north'`.
    pub steps: Vec<String>,
}

/// The shape of a text classifier's embedding table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmbeddingTable {
    /// Number of vocabulary words (rows).
    pub vocabulary: usize,
    /// Embedding dimensions (columns).
    pub dim: usize,
}

/// Column statistics of the background.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackgroundStats {
    /// Number of rows.
    pub rows: usize,
    /// One entry per feature, in input order.
    pub features: Vec<FeatureStat>,
}

/// Statistics of one feature over the background (null when every value is missing).
/// The range and the median are interpolated quantiles that are no single row's
/// value ([`private_quantile`]): a column's exact minimum and maximum would be two
/// rows' values.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeatureStat {
    /// Feature name.
    pub name: String,
    /// Mean.
    pub mean: Option<f64>,
    /// Population standard deviation.
    pub std: Option<f64>,
    /// 5th percentile (interpolated).
    pub p05: Option<f64>,
    /// 95th percentile (interpolated).
    pub p95: Option<f64>,
    /// Median (interpolated): a typical value (dashboards pre-fill their explain
    /// form with it).
    pub median: Option<f64>,
    /// A categorical feature: how many rows hold each category, in code order, then
    /// `unseen` ones and missing ones (the numbers above are then null: statistics of
    /// codes mean nothing). Exact counts: the weight dump is for admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<CategoryCount>>,
}

/// Background rows holding one category.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryCount {
    /// The category; `null` for missing values; the rows of categories the model
    /// does not list are counted under `unseen: true`.
    pub category: Option<String>,
    /// Whether this counts categories the model does not list.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unseen: bool,
    /// Rows.
    pub rows: usize,
}

/// Rows per category of a categorical column of codes (see [`CategoryCount`]).
fn category_counts(column: ndarray::ArrayView1<f64>, categories: &[String]) -> Vec<CategoryCount> {
    let n = categories.len();
    let mut rows = vec![0usize; n + 2];
    for &v in column {
        let bin = if v.is_nan() {
            n + 1
        } else if v >= 0.0 && v.fract() == 0.0 && v < n as f64 {
            v as usize
        } else {
            n
        };
        rows[bin] += 1;
    }
    let named = categories.iter().map(|c| (Some(c.clone()), false));
    let rest = [(None, true), (None, false)];
    named
        .chain(rest)
        .zip(rows)
        .map(|((category, unseen), rows)| CategoryCount {
            category,
            unseen,
            rows,
        })
        .collect()
}

/// Parameters of a linear or logistic model.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinearWeights {
    /// One intercept per output.
    pub intercepts: Vec<f64>,
    /// One entry per feature, in input order.
    pub coefficients: Vec<FeatureCoefficients>,
}

/// The weights of one feature.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeatureCoefficients {
    /// Feature name.
    pub feature: String,
    /// One weight per output, in output order.
    pub values: Vec<f64>,
}

/// The weight dump of a model version.
pub fn weights(model: &ModelVersion, page: TreePage) -> WeightsView {
    let built = model.built;
    let finite = |v: f64| v.is_finite().then_some(v);
    let background = built.reference.as_ref().map(|r| BackgroundStats {
        rows: r.rows(),
        features: built
            .feature_names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let mut sorted: Vec<f64> = r
                    .data
                    .column(j)
                    .iter()
                    .copied()
                    .filter(|v| v.is_finite())
                    .collect();
                sorted.sort_by(f64::total_cmp);
                let categories = built.model.raw_features().and_then(|raw| raw.categories(j));
                let numeric = categories.is_none();
                let q = |p| (numeric && !sorted.is_empty()).then(|| private_quantile(&sorted, p));
                let finite = |v: f64| finite(v).filter(|_| numeric);
                FeatureStat {
                    name: name.clone(),
                    mean: finite(r.stats.mean[j]),
                    std: finite(r.stats.std[j]),
                    p05: q(0.05),
                    p95: q(0.95),
                    median: q(0.5),
                    categories: categories.map(|c| category_counts(r.data.column(j), c)),
                }
            })
            .collect(),
    });
    let mlp = match &built.model {
        HostedModel::Mlp(m) => Some(mlp_weights::weights_view(m, Some(10))),
        HostedModel::Text(m) => Some(mlp_weights::weights_view(m.head(), Some(10))),
        HostedModel::Linear(_)
        | HostedModel::Trees(_)
        | HostedModel::Additive(_)
        | HostedModel::ExtremeTrees(_)
        | HostedModel::Normalized(_) => None,
    };
    let trees = match &built.model {
        HostedModel::Trees(m) => Some(tree_weights(m, page)),
        HostedModel::Normalized(m) => match m.inner() {
            HostedModel::Trees(inner) => Some(tree_weights(inner, page)),
            _ => None,
        },
        HostedModel::Linear(_)
        | HostedModel::Mlp(_)
        | HostedModel::Text(_)
        | HostedModel::Additive(_)
        | HostedModel::ExtremeTrees(_) => None,
    };
    let embeddings = match &built.model {
        HostedModel::Text(m) => Some(EmbeddingTable {
            vocabulary: m.vocabulary_size(),
            dim: m.embeddings().ncols(),
        }),
        HostedModel::Mlp(_)
        | HostedModel::Linear(_)
        | HostedModel::Trees(_)
        | HostedModel::Additive(_)
        | HostedModel::ExtremeTrees(_)
        | HostedModel::Normalized(_) => None,
    };
    let linear = match &built.model {
        HostedModel::Mlp(_)
        | HostedModel::Trees(_)
        | HostedModel::Text(_)
        | HostedModel::ExtremeTrees(_) => None,
        HostedModel::Linear(m) => Some(linear_weights(
            m.intercept(),
            m.coefficients(),
            &built.feature_names,
        )),
        HostedModel::Additive(m) => {
            let names: Vec<String> = (m.encoding().iter())
                .map(|c| format!("{}: {}", c.feature, c.steps.join(", ")))
                .collect();
            Some(linear_weights(m.intercept(), m.weights(), &names))
        }
        HostedModel::Normalized(m) => match m.inner() {
            HostedModel::Linear(inner) => {
                let width = inner.coefficients().ncols();
                let names: Vec<String> = (0..width).map(|j| format!("f{j}")).collect();
                Some(linear_weights(
                    inner.intercept(),
                    inner.coefficients(),
                    &names,
                ))
            }
            _ => None,
        },
    };
    let (mixing, encoding) = match &built.model {
        HostedModel::Normalized(m) => (Some(m.mixing().describe()), Some(m.encoding())),
        HostedModel::Additive(m) => (None, Some(m.encoding())),
        _ => (None, built.model.raw_features().map(|raw| raw.encoding())),
    };
    WeightsView {
        model: model.name.to_string(),
        version: model.version,
        kind: built.model.kind().to_string(),
        feature_names: built.feature_names.to_vec(),
        output_names: built.output_names.clone(),
        background,
        linear,
        mlp,
        mixing,
        preprocessing: encoding.filter(|e| !e.is_empty()).map(|e| {
            e.iter()
                .map(|c| PreprocessedColumn {
                    feature: c.feature.clone(),
                    steps: c.steps.clone(),
                })
                .collect()
        }),
        trees,
        embeddings,
    }
}

/// A linear head's intercepts and its weights (outputs × columns), one entry per
/// column named by `names`.
fn linear_weights(
    intercept: &ndarray::Array1<f64>,
    weights: &ndarray::Array2<f64>,
    names: &[String],
) -> LinearWeights {
    LinearWeights {
        intercepts: intercept.to_vec(),
        coefficients: (names.iter().enumerate())
            .map(|(j, name)| FeatureCoefficients {
                feature: name.clone(),
                values: weights.column(j).to_vec(),
            })
            .collect(),
    }
}

/// Which trees a weight dump includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreePage {
    /// Index of the first tree.
    pub offset: usize,
    /// Most trees to include.
    pub limit: usize,
}

impl Default for TreePage {
    fn default() -> Self {
        TreePage {
            offset: 0,
            limit: DEFAULT_TREE_PAGE,
        }
    }
}

/// Trees in a weight dump unless asked otherwise.
pub const DEFAULT_TREE_PAGE: usize = 10;
/// Most trees one weight dump may include.
pub const MAX_TREE_PAGE: usize = 100;

/// A tree ensemble's summary and one page of its trees.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TreeWeights {
    /// Trees, deepest leaf, leaves, features used, outputs, objective.
    #[schema(value_type = Object)]
    pub summary: trees::TreeSummary,
    /// Index of the first tree in `trees`.
    pub offset: usize,
    /// Total number of trees.
    pub total: usize,
    /// The trees of this page: per node the feature, threshold or categories,
    /// default direction, children, cover and gain, or the leaf value.
    #[schema(value_type = Vec<Object>)]
    pub trees: Vec<trees::Tree>,
}

fn tree_weights(model: &trees::TreeEnsemble, page: TreePage) -> TreeWeights {
    TreeWeights {
        summary: model.summary(),
        offset: page.offset,
        total: model.trees().len(),
        trees: model.trees_page(page.offset, page.limit).to_vec(),
    }
}
