//! A deployed pipeline: raw features → column-local preprocessing ([`super::front`])
//! → one ONNX-ML model node, compiled into one tree ensemble over the raw features
//! ([`crate::core::models::trees::fold`]), so explanations are per raw feature and
//! exact for the whole pipeline.
//!
//! What follows the model node (ZipMap, the label's Cast, ArgMax) is not read: the
//! ensemble's raw scores and link are the model's.

use ndarray::{Array1, Array2};

use super::front;
use super::graph::{Graph, Node};
use super::invalid;
use crate::core::models::trees::fold::fold;
use crate::core::models::trees::EnsembleSpec;
use crate::core::CoreResult;

/// The ONNX-ML operators that end a pipeline as tree ensembles.
const TREE_OPS: [&str; 3] = [
    "TreeEnsembleRegressor",
    "TreeEnsembleClassifier",
    "TreeEnsemble",
];

/// The ONNX-ML linear models.
const LINEAR_OPS: [&str; 2] = ["LinearRegressor", "LinearClassifier"];

/// The graph's model node: its one tree ensemble or linear model; `None` for a
/// graph without one (a network).
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] when the graph holds more than one.
pub(super) fn model_node(g: &Graph) -> CoreResult<Option<&Node>> {
    let mut models = g
        .nodes
        .iter()
        .filter(|n| TREE_OPS.contains(&n.op.as_str()) || LINEAR_OPS.contains(&n.op.as_str()));
    let first = models.next();
    if let Some(second) = models.next() {
        return Err(invalid(format!(
            "the graph holds several models ({} and {}); one is read",
            first.map_or("", |n| n.op.as_str()),
            second.op
        )));
    }
    Ok(first)
}

/// The tree ensemble `model` (a node of `g`) over the raw features, its input's
/// preprocessing folded in; `ensemble` reads the node into trees over its input's
/// columns.
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] (prefixed `onnx:`) from the front's
/// trace, the node's reading, or the fold (naming the tree, node and raw feature);
/// a linear model behind preprocessing other than casts and moves of columns.
pub(super) fn fold_graph(
    g: &Graph,
    model: &Node,
    ensemble: impl FnOnce(&Node, usize) -> CoreResult<EnsembleSpec>,
) -> CoreResult<EnsembleSpec> {
    let input = model
        .inputs
        .first()
        .ok_or_else(|| invalid(format!("the {} node has no input", model.op)))?;
    let traced = front::trace(g, input)?;
    let spec = ensemble(model, traced.columns.len())?;
    fold(spec, &traced.columns, traced.raw).map_err(|e| invalid(e.to_string()))
}

/// A linear model's weights over its input's columns (`w`: outputs × columns,
/// `b`: per output) folded into weights over the raw features, when every column
/// is `a·x + c` of one numeric raw value `x` (casts and Scalers): the weight of raw
/// feature r is Σ w_j·a_j over its columns, the intercept gains Σ w_j·c_j. The
/// result equals the pipeline's scores up to float32 rounding (onnxruntime scales
/// and sums in float32).
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] naming the model's operator and the raw
/// feature whose column is not affine (an Imputer's NaN, a one-hot or label code
/// of a category): such a pipeline is no linear model of its raw features.
pub(super) fn fold_linear(
    op: &str,
    traced: &front::Traced,
    w: &Array2<f64>,
    b: &Array1<f64>,
) -> CoreResult<(Array2<f64>, Array1<f64>)> {
    if w.ncols() != traced.columns.len() {
        return Err(invalid(format!(
            "{op} has weights for {} columns; its input has {}",
            w.ncols(),
            traced.columns.len()
        )));
    }
    let mut folded = Array2::zeros((w.nrows(), traced.raw.names.len()));
    let mut intercept = b.clone();
    for (j, (column, form)) in traced.columns.iter().zip(&traced.affine).enumerate() {
        let Some((a, c)) = form else {
            return Err(invalid(format!(
                "{op} behind preprocessing of '{}' that is not a Scaler or Cast: only \
                 those fold into a linear model's weights (imputed NaN and encoded \
                 categories make it no linear model of its raw features)",
                traced.raw.names[column.raw]
            )));
        };
        for k in 0..w.nrows() {
            folded[[k, column.raw]] += w[[k, j]] * a;
            intercept[k] += w[[k, j]] * c;
        }
    }
    Ok((folded, intercept))
}
