//! ONNX-ML tree ensembles whose `aggregate_function` is `MIN` or `MAX`: raw output
//! k is its base value plus the smallest (largest) leaf weight for k among the
//! leaves a row reaches, as onnxruntime computes it. A leaf that writes no weight
//! for k takes no part, and an output no reached leaf writes is its base value.
//!
//! Such a model predicts like any other, so the model-agnostic explainers (which
//! only call predict) answer for it; the tree explainers (TreeSHAP) and everything
//! else that reads the ensemble's structure assume its leaves add up, so the
//! model is its own family ([`super::HostedModel::ExtremeTrees`]) and those
//! methods are refused naming MIN/MAX.

use ndarray::{Array2, ArrayView2, Axis};

use super::{Link, Model, RawFeatures, TreeEnsemble};
use crate::core::{CoreError, CoreResult};

/// Which leaf weight a MIN/MAX ensemble keeps, and which leaves hold one.
#[derive(Debug, Clone)]
pub struct ExtremeLeaves {
    /// `true` for MAX, `false` for MIN.
    pub max: bool,
    /// Per tree of the ensemble, per node: whether the node is a leaf that writes
    /// a weight for the tree's output (the node's value is then that weight, the
    /// extreme of them when it writes several).
    pub scored: Vec<Vec<bool>>,
}

/// A validated tree ensemble aggregated by MIN or MAX.
#[derive(Debug)]
pub struct ExtremeTrees {
    /// The trees, validated; their leaf values are the weights, not addends.
    ensemble: TreeEnsemble,
    /// Which leaf weight is kept, and which leaves hold one.
    leaves: ExtremeLeaves,
}

impl ExtremeTrees {
    /// `ensemble`'s trees, aggregated as `leaves` says.
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] when `leaves.scored` does not have one flag per
    /// node of every tree.
    pub fn new(ensemble: TreeEnsemble, leaves: ExtremeLeaves) -> CoreResult<Self> {
        let trees = ensemble.trees();
        if leaves.scored.len() != trees.len()
            || trees
                .iter()
                .zip(&leaves.scored)
                .any(|(t, s)| t.nodes.len() != s.len())
        {
            return Err(CoreError::InvalidModel(
                "the MIN/MAX leaf flags do not match the trees".into(),
            ));
        }
        Ok(Self { ensemble, leaves })
    }

    /// The aggregate's name, `"MIN"` or `"MAX"`.
    pub fn aggregate(&self) -> &'static str {
        if self.leaves.max {
            "MAX"
        } else {
            "MIN"
        }
    }

    /// Why `method`, one that reads the ensemble's structure or needs its leaves to
    /// add up (TreeSHAP, linear SHAP, gradients, occlusion), does not apply.
    pub fn refusal(&self, method: &str) -> CoreError {
        let which = if self.leaves.max {
            "largest"
        } else {
            "smallest"
        };
        CoreError::InvalidArgument(format!(
            "{method} does not apply to this tree ensemble: its aggregate_function is {} (each \
             output is the {which} leaf weight reached, not a sum of leaves, which TreeSHAP \
             and the other structural methods need); it predicts, and the model-agnostic \
             methods (kernel_shap, the default; permutation_shap, exact_shapley, lime, \
             anchors) explain it",
            self.aggregate()
        ))
    }

    /// The validated trees (leaf values are weights, not addends).
    pub fn ensemble(&self) -> &TreeEnsemble {
        &self.ensemble
    }

    /// The kind users registered, `"onnx"`.
    pub fn kind(&self) -> &'static str {
        self.ensemble.kind()
    }

    /// The raw features when some are categorical.
    pub fn raw_features(&self) -> Option<&RawFeatures> {
        self.ensemble.raw_features()
    }

    fn margins(&self, row: &[f64], out: &mut [f64]) {
        let mut best: Vec<Option<f64>> = vec![None; out.len()];
        for (tree, scored) in self.ensemble.trees().iter().zip(&self.leaves.scored) {
            let mut at = 0;
            let mut node = &tree.nodes[0];
            while let (Some(f), Some(l), Some(r)) = (node.feature, node.left, node.right) {
                at = if node.goes_left(row[f]) { l } else { r };
                node = &tree.nodes[at];
            }
            if !scored[at] {
                continue;
            }
            let b = &mut best[tree.output];
            *b = Some(match *b {
                None => node.value,
                Some(v) if self.leaves.max => v.max(node.value),
                Some(v) => v.min(node.value),
            });
        }
        for ((o, b), base) in out.iter_mut().zip(best).zip(self.ensemble.base()) {
            *o = base + b.unwrap_or(0.0);
        }
    }
}

impl Model for ExtremeTrees {
    fn n_features(&self) -> usize {
        self.ensemble.n_features()
    }

    fn n_outputs(&self) -> usize {
        self.ensemble.n_outputs()
    }

    fn link(&self) -> Link {
        self.ensemble.link()
    }

    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((x.nrows(), self.n_outputs()));
        let mut row = Vec::with_capacity(x.ncols());
        for (r, mut o) in x.axis_iter(Axis(0)).zip(out.axis_iter_mut(Axis(0))) {
            row.clear();
            row.extend(r.iter().copied());
            self.margins(
                &row,
                o.as_slice_mut()
                    .expect("rows of a new array are contiguous"),
            );
        }
        out
    }

    fn categories(&self) -> Option<&RawFeatures> {
        self.ensemble.raw_features()
    }
}
