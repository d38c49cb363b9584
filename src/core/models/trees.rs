//! Tree ensembles (gradient-boosted trees from XGBoost, LightGBM and CatBoost,
//! ONNX-ML tree ensembles).
//!
//! A [`TreeEnsemble`] is built from an [`EnsembleSpec`] (what a file parser in
//! `formats` produces), validated once, and compiled at the same time into the
//! leaf-path layout of [`compiled`] that the TreeSHAP explainers read. Raw output k
//! of a row is `base[k]` plus the leaf values of every tree whose `output` is k.

pub mod budget;
pub mod compiled;
pub mod distinct;
pub mod flat;
pub mod fold;
mod node;
pub mod oblivious;
pub mod units;
mod validate;

use validate::validate_tree;

use ndarray::{Array2, ArrayView2};
use serde::Serialize;

use super::{Link, Model, RawFeatures};
use crate::core::{CoreError, CoreResult};
pub use compiled::Compiled;
pub use distinct::DistinctSplits;
pub use flat::Flat;
pub use node::{Cut, CutRule, Missing, Node, Split, Tree};

/// Default of [`TreeLimits::max_depth`]: well above what boosting libraries grow
/// (XGBoost's default `max_depth` is 6, LightGBM's 31 leaves reach depth 30 at most),
/// low enough that a leaf's stored path stays small.
pub const DEFAULT_MAX_TREE_DEPTH: usize = 256;

/// Bounds a tree model must keep to be compiled, checked before the compiled layout
/// is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeLimits {
    /// Most splits from the root to any leaf. The layout TreeSHAP reads keeps every
    /// leaf's whole path, so its memory is at most (number of leaves) × this, linear
    /// in the model's size; a "caterpillar" tree of d splits, each with a leaf on one
    /// side, would otherwise need memory quadratic in d.
    pub max_depth: usize,
    /// Most bytes the compiled layout may take ([`budget::LayoutSize::bytes`]), and
    /// the grouped background of interventional TreeSHAP too (`--max-model-memory-mb`).
    pub max_memory_bytes: usize,
}

impl Default for TreeLimits {
    fn default() -> Self {
        TreeLimits {
            max_depth: DEFAULT_MAX_TREE_DEPTH,
            max_memory_bytes: budget::DEFAULT_MAX_MODEL_MEMORY_MB * budget::MIB,
        }
    }
}

/// What a parser hands over: an unvalidated ensemble.
#[derive(Debug, Clone)]
pub struct EnsembleSpec {
    /// `"xgboost"`, `"lightgbm"`, `"catboost"` or `"onnx"`: the kind users registered.
    pub kind: &'static str,
    /// The objective's name as the library wrote it, e.g. `"binary:logistic"`.
    pub objective: String,
    /// How raw margins become predictions.
    pub link: Link,
    /// Number of input columns the model reads.
    pub n_features: usize,
    /// Margin added to each output before any tree (XGBoost's base_score through
    /// the link's inverse; zeros for LightGBM, which folds it into the first tree).
    pub base: Vec<f64>,
    /// The trees, in boosting order.
    pub trees: Vec<Tree>,
    /// Feature names when the file stores them.
    pub feature_names: Option<Vec<String>>,
    /// The raw features when some are categorical (their splits read category codes,
    /// see [`super::raw`]); `None` when every feature is a number.
    pub raw_features: Option<RawFeatures>,
}

/// A validated, compiled tree ensemble.
#[derive(Debug)]
pub struct TreeEnsemble {
    /// The validated description (boxed: the registry's enum of models stays small).
    spec: Box<EnsembleSpec>,
    /// The leaf-path layout for TreeSHAP, built once here.
    compiled: Box<Compiled>,
    /// The node layout batch prediction walks, built once here.
    flat: Box<Flat>,
    /// The cover-weighted expected raw output of each output, computed once here.
    expected: Vec<f64>,
    /// Which distinct split each node makes, for the coalition game, built once here.
    distinct: DistinctSplits,
    /// The limits it was built within; interventional TreeSHAP keeps to their memory
    /// budget when it groups a background.
    limits: TreeLimits,
    /// Path-dependent TreeSHAP tables of the oblivious trees, built on first use.
    oblivious: std::sync::OnceLock<oblivious::Oblivious>,
}

/// Counts that describe an ensemble, for `/weights`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreeSummary {
    /// Number of trees.
    pub trees: usize,
    /// Depth of the deepest leaf over all trees.
    pub max_depth: usize,
    /// Total number of leaves.
    pub leaves: usize,
    /// Features that at least one split reads, ascending.
    pub features_used: Vec<usize>,
    /// Number of raw outputs (classes for a multiclass model).
    pub outputs: usize,
    /// The objective's name.
    pub objective: String,
}

/// The model's own split statistics for one feature, for `/global`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitImportance {
    /// Feature index.
    pub feature: usize,
    /// Number of splits on the feature ("weight" in XGBoost, "split" in LightGBM).
    pub splits: usize,
    /// Sum of the loss reductions of those splits ("total_gain"; LightGBM's "gain").
    pub total_gain: f64,
    /// total_gain / splits, 0 without splits (XGBoost's "gain").
    pub mean_gain: f64,
}

impl TreeEnsemble {
    /// Validate `spec` within the default [`TreeLimits`] and compile it.
    ///
    /// # Errors
    /// As [`TreeEnsemble::with_limits`].
    pub fn new(spec: EnsembleSpec) -> CoreResult<Self> {
        Self::with_limits(spec, TreeLimits::default())
    }

    /// Validate `spec` and compile it; every tree is checked against `limits`
    /// before anything is compiled.
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] naming the tree and node when a child index is out
    /// of range, nodes form a cycle or are shared, a split reads a feature beyond
    /// `n_features`, a tree writes an output that does not exist, or a value is not
    /// finite; naming the tree, its depth and the limit when a tree is deeper than
    /// `limits.max_depth`; naming the estimated size, the limit and the flag when the
    /// compiled layout would take more than `limits.max_memory_bytes`.
    pub fn with_limits(spec: EnsembleSpec, limits: TreeLimits) -> CoreResult<Self> {
        if spec.n_features == 0 {
            return Err(CoreError::InvalidModel(
                "the model reads no features".into(),
            ));
        }
        if spec.base.is_empty() || spec.base.iter().any(|b| !b.is_finite()) {
            return Err(CoreError::InvalidModel(
                "base score must be one finite value per output".into(),
            ));
        }
        if spec.link == Link::Softmax && spec.base.len() < 2 {
            return Err(CoreError::InvalidModel(
                "a softmax model needs at least two outputs".into(),
            ));
        }
        if let Some(raw) = &spec.raw_features {
            if raw.len() != spec.n_features {
                return Err(CoreError::InvalidModel(format!(
                    "the model reads {} features but describes {} raw features",
                    spec.n_features,
                    raw.len()
                )));
            }
        }
        if let Some(names) = &spec.feature_names {
            if names.len() != spec.n_features {
                return Err(CoreError::InvalidModel(format!(
                    "{} feature names for {} features",
                    names.len(),
                    spec.n_features
                )));
            }
        }
        for (t, tree) in spec.trees.iter().enumerate() {
            if tree.nodes.len() >= flat::MAX_TREE_NODES {
                return Err(CoreError::InvalidModel(format!(
                    "tree {t} has {} nodes, beyond the {} one tree may have",
                    tree.nodes.len(),
                    flat::MAX_TREE_NODES - 1
                )));
            }
            let depth = validate_tree(tree, t, spec.n_features, spec.base.len())?;
            if depth > limits.max_depth {
                return Err(CoreError::InvalidModel(format!(
                    "tree {t} is {depth} splits deep, beyond the limit of {} \
                     (--max-tree-depth, EXPLAIND_MAX_TREE_DEPTH): TreeSHAP stores every \
                     leaf's path, so memory grows with leaves × depth",
                    limits.max_depth
                )));
            }
        }
        let size = budget::LayoutSize::of(&spec.trees, spec.n_features);
        if size.bytes() > limits.max_memory_bytes {
            return Err(CoreError::InvalidModel(format!(
                "the model's TreeSHAP layout (with the nodes prediction walks) would take \
                 about {}, beyond the limit of {} (--max-model-memory-mb, \
                 EXPLAIND_MAX_MODEL_MEMORY_MB): it stores the paths of all {} leaves, {} path \
                 steps in all",
                budget::mib(size.bytes()),
                budget::mib(limits.max_memory_bytes),
                size.leaves,
                size.steps
            )));
        }
        let compiled = Box::new(Compiled::new(&spec.trees));
        let flat = Box::new(Flat::new(&spec.trees));
        let expected = compiled.expected_outputs(&spec.base);
        let distinct = DistinctSplits::new(&spec.trees);
        Ok(TreeEnsemble {
            distinct,
            spec: Box::new(spec),
            compiled,
            flat,
            expected,
            limits,
            oblivious: std::sync::OnceLock::new(),
        })
    }

    /// `"xgboost"`, `"lightgbm"`, `"catboost"` or `"onnx"`.
    pub fn kind(&self) -> &'static str {
        self.spec.kind
    }

    /// Whether the nodes carry training covers (what path-dependent TreeSHAP weighs
    /// branches by): false for kind `"onnx"`, whose files hold none (skl2onnx writes
    /// `nodes_hitrates` of 1.0).
    pub fn has_covers(&self) -> bool {
        self.spec.kind != "onnx"
    }

    /// The objective's name as stored in the file.
    pub fn objective(&self) -> &str {
        &self.spec.objective
    }

    /// Feature names, when the file carries them.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.spec.feature_names.as_deref()
    }

    /// The raw features when some are categorical.
    pub fn raw_features(&self) -> Option<&RawFeatures> {
        self.spec.raw_features.as_ref()
    }

    /// The margin each output starts from, before any tree.
    pub fn base(&self) -> &[f64] {
        &self.spec.base
    }

    /// All trees in boosting order.
    pub fn trees(&self) -> &[Tree] {
        &self.spec.trees
    }

    /// Up to `limit` trees starting at tree index `offset` (empty past the end).
    pub fn trees_page(&self, offset: usize, limit: usize) -> &[Tree] {
        let trees = &self.spec.trees;
        let start = offset.min(trees.len());
        let end = start.saturating_add(limit).min(trees.len());
        &trees[start..end]
    }

    /// The cover-weighted expected raw output of each output: what path-dependent
    /// attributions start from (shap's `expected_value`).
    pub fn expected(&self) -> &[f64] {
        &self.expected
    }

    /// The limits the model was built within.
    pub fn limits(&self) -> TreeLimits {
        self.limits
    }

    /// The compiled leaf-path layout the TreeSHAP explainers use.
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// The oblivious trees' TreeSHAP tables, built by `build` on the first call
    /// that `build` completes (a build that fails, e.g. cancelled, keeps nothing).
    ///
    /// # Errors
    /// What `build` reports.
    pub fn oblivious(
        &self,
        build: impl FnOnce() -> CoreResult<oblivious::Oblivious>,
    ) -> CoreResult<&oblivious::Oblivious> {
        if let Some(tables) = self.oblivious.get() {
            return Ok(tables);
        }
        let built = build()?;
        Ok(self.oblivious.get_or_init(|| built))
    }

    /// The oblivious trees' TreeSHAP tables, if built.
    pub fn oblivious_built(&self) -> Option<&oblivious::Oblivious> {
        self.oblivious.get()
    }

    /// The node layout batch prediction walks.
    pub fn flat(&self) -> &Flat {
        &self.flat
    }

    /// Which distinct split each node makes.
    pub fn distinct_splits(&self) -> &DistinctSplits {
        &self.distinct
    }

    /// Counts for `/weights`.
    pub fn summary(&self) -> TreeSummary {
        let trees = &self.spec.trees;
        let mut used = vec![false; self.spec.n_features];
        for node in trees.iter().flat_map(|t| &t.nodes) {
            if let Some(f) = node.feature {
                used[f] = true;
            }
        }
        TreeSummary {
            trees: trees.len(),
            max_depth: trees.iter().map(Tree::depth).max().unwrap_or(0),
            leaves: trees.iter().map(Tree::leaves).sum(),
            features_used: (0..used.len()).filter(|&f| used[f]).collect(),
            outputs: self.spec.base.len(),
            objective: self.spec.objective.clone(),
        }
    }

    /// Split count and gain per feature, one entry per feature in feature order.
    pub fn split_importance(&self) -> Vec<SplitImportance> {
        let mut out: Vec<SplitImportance> = (0..self.spec.n_features)
            .map(|feature| SplitImportance {
                feature,
                splits: 0,
                total_gain: 0.0,
                mean_gain: 0.0,
            })
            .collect();
        for node in self.spec.trees.iter().flat_map(|t| &t.nodes) {
            if let Some(f) = node.feature {
                out[f].splits += 1;
                out[f].total_gain += node.gain;
            }
        }
        for entry in &mut out {
            if entry.splits > 0 {
                entry.mean_gain = entry.total_gain / entry.splits as f64;
            }
        }
        out
    }

    /// Raw output `k` for one row given as a slice.
    pub fn margin_of(&self, row: &[f64], k: usize) -> f64 {
        let mut sum = self.spec.base[k];
        for tree in self.spec.trees.iter().filter(|t| t.output == k) {
            sum += tree.leaf_of(row).value;
        }
        sum
    }
}

impl Model for TreeEnsemble {
    fn n_features(&self) -> usize {
        self.spec.n_features
    }

    fn n_outputs(&self) -> usize {
        self.spec.base.len()
    }

    fn link(&self) -> Link {
        self.spec.link
    }

    /// The [`Flat`] layout's walk: per row the same sums as
    /// [`TreeEnsemble::margin_of`].
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        assert!(
            x.ncols() >= self.spec.n_features,
            "{} columns for a model of {} features",
            x.ncols(),
            self.spec.n_features
        );
        self.flat.predict(&self.spec.trees, &self.spec.base, x)
    }

    fn tree_ensemble(&self) -> Option<&TreeEnsemble> {
        Some(self)
    }

    fn categories(&self) -> Option<&RawFeatures> {
        self.spec.raw_features.as_ref()
    }
}
