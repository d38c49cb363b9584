//! ONNX-ML models read directly off the graph's float input: tree ensembles
//! ([`super::trees`]) and `LinearRegressor` / `LinearClassifier`.
//!
//! The converted output is found from the graph's target output (see
//! [`super::convert`]) walking back through the shape-neutral `Identity`, `Cast`
//! (to float or double) and `Reshape`, and, after a softmax `LinearClassifier`,
//! skl2onnx's L1 `Normalizer` (the identity on a softmax). A classifier's label
//! output and its ZipMap are not followed. The model node's data input must be the
//! graph's input, through the same shape-neutral nodes.

use ndarray::{Array1, Array2};

use super::front::Traced;
use super::graph::{Attr, Graph, Node};
use super::{invalid, pipeline, trees};
use crate::core::models::affine_mix::AffineMix;
use crate::core::models::extreme::ExtremeLeaves;
use crate::core::models::mlp::MlpParams;
use crate::core::models::trees::fold::{Derived, RawInputs};
use crate::core::models::trees::EnsembleSpec;
use crate::core::models::{AdditiveModel, LinearModel, Link, Mixing};
use crate::core::CoreResult;

/// The ONNX-ML operators this module converts.
pub(super) const MODELS: [&str; 5] = [
    "TreeEnsembleRegressor",
    "TreeEnsembleClassifier",
    "TreeEnsemble",
    "LinearRegressor",
    "LinearClassifier",
];

/// A model read from an ONNX-ML node.
#[derive(Debug)]
pub enum MlModel {
    /// A tree ensemble, not yet validated, and its output names.
    Trees {
        /// The ensemble (kind `"onnx"`, features `f0`, `f1`, …).
        spec: EnsembleSpec,
        /// `class_k` for a classifier's classes, `positive` for a binary one with
        /// one output, `output` / `output_k` for a regressor.
        output_names: Vec<String>,
        /// For `aggregate_function` MIN or MAX: which leaf weight is kept and which
        /// leaves hold one (the ensemble is then predict-only, not a sum).
        extreme: Option<ExtremeLeaves>,
    },
    /// A linear or logistic model; behind preprocessing that folds into its
    /// weights, over the raw features, named (the graph's inputs).
    Linear(LinearModel, Option<Vec<String>>),
    /// A linear or logistic model behind preprocessing that is no affine map of
    /// the raw features (imputing, encoding categories): additive over them.
    Additive(AdditiveModel),
    /// A model behind a step that mixes the columns of a row (a Normalizer, or an
    /// affine map such as a PCA in front of trees) and the column-local
    /// preprocessing before it, over the raw features: it predicts (hosted as
    /// [`crate::core::models::RowNormalized`]).
    Normalized {
        /// The columns the mixing step reads, each from one raw feature.
        columns: Vec<Derived>,
        /// The raw features (the graph's inputs).
        raw: RawInputs,
        /// The Normalizer's norm, or the affine map.
        mixing: Mixing,
        /// The model after the mixing step, over its columns (`f0`, `f1`, …).
        inner: Box<MlModel>,
    },
    /// A network (as MLP layers) reading the columns of the preprocessing in front
    /// of it: only as the inner model of [`MlModel::Normalized`].
    Network(MlpParams),
}

/// The node that computes `value`, if one does.
pub(super) fn producer<'a>(g: &'a Graph, value: &str) -> Option<&'a Node> {
    g.nodes
        .iter()
        .find(|n| n.outputs.iter().any(|o| o == value))
}

/// Whether `node` only reshapes or casts to float (its value is its input's).
pub(super) fn neutral(node: &Node) -> bool {
    match node.op.as_str() {
        "Identity" | "Reshape" => true,
        "Cast" => matches!(node.attrs.get("to"), Some(Attr::Int(1 | 11))),
        _ => false,
    }
}

/// The ONNX-ML model node that computes `target`, if one does.
pub(super) fn model_node<'a>(g: &'a Graph, target: &str) -> Option<&'a Node> {
    let mut value = target.to_string();
    let mut normalized = false;
    for _ in 0..=g.nodes.len() {
        let node = producer(g, &value)?;
        let l1 = matches!(node.attrs.get("norm"), Some(Attr::Str(n)) if n == "L1");
        if neutral(node) || (node.op == "Normalizer" && l1) {
            normalized |= node.op == "Normalizer";
            value = node.inputs.first()?.clone();
        } else if MODELS.contains(&node.op.as_str()) {
            let softmax =
                matches!(node.attrs.get("post_transform"), Some(Attr::Str(p)) if p == "SOFTMAX");
            return (!normalized || (node.op == "LinearClassifier" && softmax)).then_some(node);
        } else {
            return None;
        }
    }
    None
}

/// Convert `node` (found by [`model_node`] for `target`) reading input `input` of
/// `n_features` float columns.
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] naming the operator when its data input
/// is not the graph's input, when `target` is a classifier's label, or as
/// [`trees::ensemble`] and the linear checks below.
pub(super) fn convert(
    g: &Graph,
    node: &Node,
    target: &str,
    input: &str,
    n_features: usize,
) -> CoreResult<MlModel> {
    if !reads_input(g, node, input) {
        return Err(invalid(format!(
            "the {} node reads '{}', not the graph input '{input}' through shape-neutral \
             nodes only",
            node.op,
            node.inputs.first().map_or("", String::as_str)
        )));
    }
    model(g, node, target, n_features, None)
}

/// Whether `node`'s data input is the graph input `input` through shape-neutral
/// nodes only (a bare model; else a pipeline, [`super::pipeline`]).
pub(super) fn reads_input(g: &Graph, node: &Node, input: &str) -> bool {
    let mut value = node.inputs.first().cloned().unwrap_or_default();
    for _ in 0..=g.nodes.len() {
        if value == input {
            return true;
        }
        match producer(g, &value).filter(|n| neutral(n)) {
            Some(n) => value = n.inputs.first().cloned().unwrap_or_default(),
            None => return false,
        }
    }
    false
}

/// The model `node` over its input's `n_features` columns; with `front`, the
/// preprocessing that computes those columns from the raw features is folded in
/// ([`super::pipeline`]) and the model reads the raw features.
pub(super) fn model(
    g: &Graph,
    node: &Node,
    target: &str,
    n_features: usize,
    front: Option<Traced>,
) -> CoreResult<MlModel> {
    let op = node.op.as_str();
    let classifier = op.ends_with("Classifier");
    check_scores(g, node, target)?;
    if op.starts_with("Linear") {
        return linear(node, n_features, front, None);
    }
    let (spec, extreme) = trees::ensemble(node, n_features)?;
    let n_out = spec.base.len();
    let output_names = match (classifier, n_out) {
        (true, 1) => vec!["positive".to_string()],
        (true, _) => (0..n_out).map(|k| format!("class_{k}")).collect(),
        (false, 1) => vec!["output".to_string()],
        (false, _) => (0..n_out).map(|k| format!("output_{k}")).collect(),
    };
    let spec = match front {
        Some(front) => pipeline::fold_trees(spec, &front)?,
        None => EnsembleSpec {
            feature_names: Some((0..n_features).map(|j| format!("f{j}")).collect()),
            ..spec
        },
    };
    Ok(MlModel::Trees {
        spec,
        output_names,
        extreme,
    })
}

/// A linear head (`node`) behind an affine map `mix` of the columns `front`
/// computes from the raw features: the map folds into its weights (`w` over the
/// map's columns is `w Aᵀ` over the front's, the intercept gains `w c`), and the
/// result folds into the raw features as [`model`] folds a linear head.
///
/// # Errors
/// As [`model`] for a linear node over `mix`'s columns.
pub(super) fn linear_behind(
    g: &Graph,
    node: &Node,
    target: &str,
    mix: &AffineMix,
    front: Traced,
) -> CoreResult<MlModel> {
    check_scores(g, node, target)?;
    linear(node, mix.width_out(), Some(front), Some(mix))
}

/// Refuse a classifier whose label, not its scores, is the graph's output.
fn check_scores(g: &Graph, node: &Node, target: &str) -> CoreResult<()> {
    let op = node.op.as_str();
    if op.ends_with("Classifier") && node.outputs.first().is_some_and(|o| reaches(g, o, target)) {
        return Err(invalid(format!(
            "the graph's output is the {op}'s label; explaind explains its scores"
        )));
    }
    Ok(())
}

/// Whether `value` flows to `target` through shape-neutral nodes.
fn reaches(g: &Graph, value: &str, target: &str) -> bool {
    let mut at = target.to_string();
    for _ in 0..=g.nodes.len() {
        if at == value {
            return true;
        }
        match producer(g, &at).filter(|n| neutral(n)) {
            Some(n) => at = n.inputs.first().cloned().unwrap_or_default(),
            None => return false,
        }
    }
    false
}

/// `LinearRegressor` (post_transform NONE) → linear; `LinearClassifier` →
/// logistic: two rows that negate each other with LOGISTIC (skl2onnx's binary
/// model: the second row is the positive class) or K ≥ 3 rows with SOFTMAX.
/// Behind preprocessing, the weights fold into a linear model of the raw features
/// when every column is affine in its raw value, else the model is additive over
/// them ([`pipeline::additive`]). With `mix`, the node reads an affine map of the
/// front's columns, folded into its weights first ([`linear_behind`]).
fn linear(
    node: &Node,
    n_features: usize,
    front: Option<Traced>,
    mix: Option<&AffineMix>,
) -> CoreResult<MlModel> {
    let op = node.op.as_str();
    let floats = |name: &str| match node.attrs.get(name) {
        Some(Attr::Floats(v)) => v.clone(),
        _ => Vec::new(),
    };
    let post = match node.attrs.get("post_transform") {
        Some(Attr::Str(s)) => s.as_str(),
        _ => "NONE",
    };
    let coefficients = floats("coefficients");
    if coefficients.is_empty() || coefficients.len() % n_features != 0 {
        return Err(invalid(format!(
            "{op}: {} coefficients do not fill rows of {n_features} features",
            coefficients.len()
        )));
    }
    let rows = coefficients.len() / n_features;
    let mut intercepts = floats("intercepts");
    if intercepts.is_empty() {
        intercepts = vec![0.0; rows];
    }
    if intercepts.len() != rows {
        return Err(invalid(format!(
            "{op}: {} intercepts for {rows} coefficient rows",
            intercepts.len()
        )));
    }
    let w = Array2::from_shape_vec((rows, n_features), coefficients)
        .map_err(|e| invalid(format!("{op}: {e}")))?;
    let b = Array1::from(intercepts);
    let (w, b, link) = head(op, post, w, b)?;
    let (w, b) = match mix {
        None => (w, b),
        Some(mix) => {
            let (a, c) = mix.affine();
            (w.dot(&a.t()), &b + &w.dot(&c))
        }
    };
    let (w, b, names) = match front {
        None => (w, b, None),
        Some(front) if front.affine.iter().all(Option::is_some) => {
            let (w, b) = pipeline::fold_linear(op, &front, &w, &b)?;
            (w, b, Some(front.raw.names))
        }
        Some(front) => return pipeline::additive(front, w, b, link).map(MlModel::Additive),
    };
    let model = match link {
        Link::Identity => LinearModel::regression(w, b),
        _ => LinearModel::logistic(w, b),
    }?;
    Ok(MlModel::Linear(model, names))
}

/// The rows and link of a linear node's scores (the positive class's row alone
/// for a binary classifier).
fn head(
    op: &str,
    post: &str,
    w: Array2<f64>,
    b: Array1<f64>,
) -> CoreResult<(Array2<f64>, Array1<f64>, Link)> {
    let rows = w.nrows();
    match (op, post, rows) {
        ("LinearRegressor", "NONE", _) => Ok((w, b, Link::Identity)),
        ("LinearClassifier", "LOGISTIC", 2)
            if w.row(0).iter().zip(w.row(1)).all(|(a, c)| *a == -c) && b[0] == -b[1] =>
        {
            Ok((
                w.slice(ndarray::s![1..2, ..]).to_owned(),
                b.slice(ndarray::s![1..2]).to_owned(),
                Link::Logistic,
            ))
        }
        ("LinearClassifier", "SOFTMAX", k) if k >= 3 => Ok((w, b, Link::Softmax)),
        _ => Err(invalid(format!(
            "{op} with post_transform {post} and {rows} coefficient row(s): supported are \
             LinearRegressor (NONE), a binary LinearClassifier as skl2onnx writes it (two \
             opposite rows, LOGISTIC) and a multinomial one (SOFTMAX)"
        ))),
    }
}
