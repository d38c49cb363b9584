//! An affine map right in front of the model node ([`AffineMix`]): `Sub`, `Add`,
//! `Mul` and `Div` by constants and `MatMul` by a constant matrix, as skl2onnx
//! writes scikit-learn's `PCA` (whitened or not) and `TruncatedSVD`. Found by
//! walking back from the model's input through these nodes and the shape-neutral
//! ones; what computes the map's own input is the column-local front
//! ([`super::front`]).
//!
//! A constant operand is an initializer, or `Sqrt` or `Reciprocal` of one (skl2onnx
//! takes the root of the explained variance in the graph), computed in float32.

use ndarray::Array2;

use super::graph::{Graph, Node};
use super::invalid;
use super::ml::{neutral, producer};
use crate::core::models::affine_mix::MixStep;
use crate::core::CoreResult;

/// The steps of the affine map that computes `value` (in order), and the value
/// the map reads; `None` when no such step computes it.
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] (prefixed `onnx:`) for a `MatMul`
/// whose right operand is no constant matrix.
pub(super) fn before(g: &Graph, value: &str) -> CoreResult<Option<(Vec<MixStep>, String)>> {
    let mut at = value.to_string();
    let mut steps = Vec::new();
    for _ in 0..=g.nodes.len() {
        let Some(node) = producer(g, &at) else { break };
        if neutral(node) {
            at = first(node)?;
            continue;
        }
        let Some((step, data)) = step(g, node)? else {
            break;
        };
        steps.push(step);
        at = data;
    }
    if steps.is_empty() {
        return Ok(None);
    }
    steps.reverse();
    Ok(Some((steps, at)))
}

/// The node's first input.
fn first(node: &Node) -> CoreResult<String> {
    (node.inputs.first().cloned()).ok_or_else(|| invalid(format!("{} has no input", node.op)))
}

/// `node` as a step of the map and the value it reads, when it is one.
fn step(g: &Graph, node: &Node) -> CoreResult<Option<(MixStep, String)>> {
    let [a, b] = node.inputs.as_slice() else {
        return Ok(None);
    };
    let op = node.op.as_str();
    if op == "MatMul" {
        let Some((dims, values)) = constant(g, b) else {
            return Err(invalid(format!(
                "MatMul in front of the model multiplies by '{b}', which is no constant matrix"
            )));
        };
        let [rows, cols] = dims.as_slice() else {
            return Err(invalid(format!(
                "MatMul in front of the model multiplies by '{b}' of dims {dims:?}; a matrix is read"
            )));
        };
        let m = Array2::from_shape_vec((*rows, *cols), values)
            .map_err(|e| invalid(format!("MatMul '{b}': {e}")))?;
        return Ok(Some((MixStep::MatMul(m), a.clone())));
    }
    // x − c and x / c; c + x and c · x either way round.
    let (data, values) = match (constant(g, a), constant(g, b)) {
        (None, Some((_, v))) => (a, v),
        (Some((_, v)), None) if matches!(op, "Add" | "Mul") => (b, v),
        _ => return Ok(None),
    };
    let step = match op {
        "Sub" => MixStep::Sub(values),
        "Add" => MixStep::Add(values),
        "Mul" => MixStep::Mul(values),
        "Div" => MixStep::Div(values),
        _ => return Ok(None),
    };
    Ok(Some((step, data.clone())))
}

/// The dims and values of `name` when it is a constant: an initializer, or `Sqrt`
/// or `Reciprocal` of one (at most [`MAX_DEPTH`] deep), in float32.
fn constant(g: &Graph, name: &str) -> Option<(Vec<usize>, Vec<f64>)> {
    constant_at(g, name, 0)
}

/// Most nodes between a constant operand and its initializer.
const MAX_DEPTH: usize = 8;

fn constant_at(g: &Graph, name: &str, depth: usize) -> Option<(Vec<usize>, Vec<f64>)> {
    if depth > MAX_DEPTH {
        return None;
    }
    if let Some(t) = g.initializers.get(name) {
        let dims = t
            .dims
            .iter()
            .map(|&d| usize::try_from(d).ok())
            .collect::<Option<_>>()?;
        return Some((dims, t.data.clone()));
    }
    let node = producer(g, name)?;
    let f: fn(f32) -> f32 = match node.op.as_str() {
        "Sqrt" => f32::sqrt,
        "Reciprocal" => f32::recip,
        _ => return None,
    };
    let (dims, values) = constant_at(g, node.inputs.first()?, depth + 1)?;
    Some((
        dims,
        values.iter().map(|&v| f64::from(f(v as f32))).collect(),
    ))
}
