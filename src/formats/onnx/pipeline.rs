//! A deployed pipeline: raw features → column-local preprocessing ([`super::front`])
//! → one ONNX-ML model node, compiled into one tree ensemble over the raw features
//! ([`crate::core::models::trees::fold`]), a linear model over them (scalers and
//! casts fold into its weights) or a linear head additive over them
//! ([`crate::core::models::AdditiveModel`], behind imputers and encoders), so
//! explanations are per raw feature and exact for the whole pipeline. A Normalizer
//! right in front of the model mixes the raw features of a row: the model is then
//! read over its columns and hosted behind the preprocessing and the norm
//! ([`crate::core::models::RowNormalized`]), predict-only. So is a tree ensemble
//! behind an affine map (a PCA, [`super::mixing`]); a linear head behind one is
//! linear in the raw features and folds into a linear model over them.
//!
//! What follows the model node (ZipMap, the label's Cast, ArgMax) is not read: the
//! ensemble's raw scores and link are the model's.

use ndarray::{Array1, Array2};

use super::graph::{Attr, Graph, Node};
use super::ml::{self, MlModel};
use super::{front, invalid, mixing, network, Converted, OnnxModel};
use crate::core::models::affine_mix::{AffineMix, MixStep};
use crate::core::models::mlp::MlpParams;
use crate::core::models::trees::fold::fold;
use crate::core::models::trees::EnsembleSpec;
use crate::core::models::{AdditiveModel, Link, Mixing, Norm};
use crate::core::CoreResult;

/// The model `node` (found by [`ml::model_node`] for `target`) behind the
/// preprocessing in front of it, over the raw features (the graph's inputs).
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] (prefixed `onnx:`) from the front's
/// trace ([`front::trace`]), the model's reading ([`ml::model`]), or the fold.
pub(super) fn read(g: &Graph, node: &Node, target: &str) -> CoreResult<MlModel> {
    let input = node
        .inputs
        .first()
        .ok_or_else(|| invalid(format!("the {} node has no input", node.op)))?;
    if let Some(normalizer) = normalizer_before(g, input) {
        return normalized(g, node, target, normalizer);
    }
    if let Some((steps, start)) = mixing::before(g, input)? {
        return mixed(g, node, target, steps, &start);
    }
    let traced = front::trace(g, input)?;
    ml::model(g, node, target, traced.columns.len(), Some(traced))
}

/// A network (computing `target` from `start`) behind the column-local
/// preprocessing that computes `start` from the raw features (skl2onnx's
/// `Pipeline(StandardScaler, MLPClassifier)`, or a ColumnTransformer in front of
/// one). When every column is `a·x + c` of one numeric raw value (Scalers, Casts),
/// the first layer absorbs them as a linear model's weights do ([`fold_linear`]):
/// an MLP over the raw features, named by them, for every method. Otherwise
/// (imputers, encoded categories) the network is hosted behind the preprocessing
/// ([`Mixing::Columns`]): it predicts, and the model-agnostic methods explain it
/// over the raw features.
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] (prefixed `onnx:`) from the front's
/// trace ([`front::trace`]) or the network's conversion.
pub(super) fn network_behind(g: &Graph, target: &str, start: &str) -> CoreResult<OnnxModel> {
    let traced = front::trace(g, start)?;
    let mut layers = network::layers_from(g, target, start, traced.columns.len())?;
    if traced.affine.iter().all(Option::is_some) && !traced.raw.features.has_categories() {
        let first = &mut layers[0];
        let w = Array2::from_shape_fn((first.bias.len(), first.weights.len()), |(u, k)| {
            first.weights[k][u]
        });
        let b = Array1::from(first.bias.clone());
        let (folded, bias) = fold_linear("the network's first layer", &traced, &w, &b)?;
        first.weights = folded.t().rows().into_iter().map(|r| r.to_vec()).collect();
        first.bias = bias.to_vec();
        return Ok(OnnxModel::Network(Converted {
            params: MlpParams {
                layers,
                scaler: None,
                input_shape: None,
            },
            input: start.to_string(),
            output: target.to_string(),
            feature_names: Some(traced.raw.names),
        }));
    }
    Ok(OnnxModel::Ml(MlModel::Normalized {
        columns: traced.columns,
        raw: traced.raw,
        mixing: Mixing::Columns,
        inner: Box::new(MlModel::Network(MlpParams {
            layers,
            scaler: None,
            input_shape: None,
        })),
    }))
}

/// The Normalizer that computes `value` through shape-neutral nodes, if one does.
fn normalizer_before<'a>(g: &'a Graph, value: &str) -> Option<&'a Node> {
    let mut at = value.to_string();
    for _ in 0..=g.nodes.len() {
        let node = ml::producer(g, &at)?;
        if node.op == "Normalizer" {
            return Some(node);
        }
        if !ml::neutral(node) {
            return None;
        }
        at = node.inputs.first()?.clone();
    }
    None
}

/// The model `node` behind `normalizer` and the column-local preprocessing before
/// it: the model over the Normalizer's columns, which the raw features reach
/// through the traced preprocessing and the norm.
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] (prefixed `onnx:`) for a norm other
/// than L1, L2 and MAX, or as [`front::trace`] and [`ml::model`].
fn normalized(g: &Graph, node: &Node, target: &str, normalizer: &Node) -> CoreResult<MlModel> {
    let norm = match normalizer.attrs.get("norm") {
        None => Norm::Max,
        Some(Attr::Str(n)) if n == "MAX" => Norm::Max,
        Some(Attr::Str(n)) if n == "L1" => Norm::L1,
        Some(Attr::Str(n)) if n == "L2" => Norm::L2,
        Some(other) => {
            return Err(invalid(format!(
                "Normalizer with norm {other:?}; MAX, L1 and L2 are defined"
            )))
        }
    };
    let input = normalizer
        .inputs
        .first()
        .ok_or_else(|| invalid("the Normalizer node has no input"))?;
    let traced = front::trace(g, input)?;
    let inner = ml::model(g, node, target, traced.columns.len(), None)?;
    Ok(MlModel::Normalized {
        columns: traced.columns,
        raw: traced.raw,
        mixing: Mixing::Norm(norm),
        inner: Box::new(inner),
    })
}

/// The model `node` behind the affine map `steps` (reading `start`) and the
/// column-local preprocessing before it: a linear head is linear in the raw
/// features and folds into a linear (or additive) model over them; any other model
/// is read over the map's columns and hosted behind the preprocessing and the map.
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] (prefixed `onnx:`) when the map does
/// not fit the columns, or as [`front::trace`] and [`ml::model`].
fn mixed(
    g: &Graph,
    node: &Node,
    target: &str,
    steps: Vec<MixStep>,
    start: &str,
) -> CoreResult<MlModel> {
    let traced = front::trace(g, start)?;
    let mix = AffineMix::new(steps, traced.columns.len()).map_err(|e| invalid(e.to_string()))?;
    if node.op.starts_with("Linear") {
        return ml::linear_behind(g, node, target, &mix, traced);
    }
    let inner = ml::model(g, node, target, mix.width_out(), None)?;
    Ok(MlModel::Normalized {
        columns: traced.columns,
        raw: traced.raw,
        mixing: Mixing::Affine(mix),
        inner: Box::new(inner),
    })
}

/// Trees over the traced columns folded into trees over the raw features, named
/// by them.
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] (prefixed `onnx:`) naming the tree,
/// node and raw feature of a split that does not fold.
pub(super) fn fold_trees(spec: EnsembleSpec, traced: &front::Traced) -> CoreResult<EnsembleSpec> {
    fold(spec, &traced.columns, traced.raw.clone()).map_err(|e| invalid(e.to_string()))
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
/// feature whose column is not affine (callers send those to [`additive`]).
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

/// A linear head (`w`: outputs × columns, `b`, `link`) behind preprocessing that
/// is not affine in the raw values (an imputer, encoded categories): a model
/// additive over the raw features, each column computed as the graph computes it.
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] (prefixed `onnx:`) when the weights do
/// not match the traced columns, or as [`AdditiveModel::new`].
pub(super) fn additive(
    traced: front::Traced,
    w: Array2<f64>,
    b: Array1<f64>,
    link: Link,
) -> CoreResult<AdditiveModel> {
    AdditiveModel::new(traced.columns, traced.raw, w, b, link).map_err(|e| invalid(e.to_string()))
}
