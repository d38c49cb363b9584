//! ONNX feed-forward networks → MLP layers: the nodes that compute the output, in
//! graph order, consecutive affine nodes folded into one dense layer closed by the
//! activation after them (see the parent module for what converts).

use std::collections::HashMap;

use ndarray::{Array1, Array2};

use super::graph::{Attr, Graph, Node, Tensor};
use super::tensors::{constant, matrix, vector};
use super::{invalid, ml, single_input, slice_to, Converted};
use crate::core::models::mlp::{LayerParams, MlpParams};
use crate::core::CoreResult;

/// The network computing `target` off the graph's one input, as MLP layers.
pub(super) fn convert_graph(g: &Graph, target: String) -> CoreResult<Converted> {
    let (input, feature_dims) = single_input(g)?;
    let width = feature_dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d));
    let width = width.ok_or_else(|| invalid("input too large"))?;
    let layers = layers_from(g, &target, &input.name, width)?;
    Ok(Converted {
        params: MlpParams {
            layers,
            scaler: None,
            input_shape: (feature_dims.len() > 1).then_some(feature_dims),
        },
        input: input.name.clone(),
        output: target,
        feature_names: None,
    })
}

/// The value a network computing `target` starts from: the data input of the first
/// (in graph order) Gemm or MatMul that `target` depends on; `None` when there is
/// none.
pub(super) fn start_of(g: &Graph, target: &str) -> Option<String> {
    let needed = slice_to(g, target);
    g.nodes
        .iter()
        .zip(&needed)
        .find(|(n, &needed)| needed && matches!(n.op.as_str(), "Gemm" | "MatMul"))
        .and_then(|(n, _)| n.inputs.first().cloned())
}

/// The dense layers that compute `target` from the value `start` (`width` wide):
/// the nodes `target` depends on that `start` does not, in graph order.
pub(super) fn layers_from(
    g: &Graph,
    target: &str,
    start: &str,
    width: usize,
) -> CoreResult<Vec<LayerParams>> {
    let needed = slice_to(g, target);
    let before = slice_to(g, start);
    let mut net = Builder::new(width, start.to_string());
    for (node, _) in g
        .nodes
        .iter()
        .zip(needed.iter().zip(&before))
        .filter(|(_, (&needed, &before))| needed && !before)
    {
        net.apply(node, &g.initializers)?;
    }
    if net.current != target {
        return Err(invalid(format!(
            "output '{target}' is not computed from '{start}' by a chain of supported nodes"
        )));
    }
    let mut layers = net.layers;
    if let Some(pending) = net.pending {
        layers.push(pending.into_layer("identity"));
    }
    if layers.is_empty() {
        return Err(invalid("the graph has no dense layer"));
    }
    Ok(layers)
}

/// An affine map x ↦ x W + b accumulated since the last activation.
#[derive(Debug, Clone)]
struct Affine {
    w: Array2<f64>,
    b: Array1<f64>,
}

/// Widest value an activation may follow without a weight matrix before it (the
/// identity layer then built is MAX_IDENTITY² values).
const MAX_IDENTITY: usize = 2048;

impl Affine {
    fn identity(n: usize) -> CoreResult<Self> {
        if n > MAX_IDENTITY {
            return Err(invalid(format!(
                "an activation or bias on {n} raw inputs; at most {MAX_IDENTITY} are supported"
            )));
        }
        Ok(Affine {
            w: Array2::eye(n),
            b: Array1::zeros(n),
        })
    }

    fn into_layer(self, activation: &str) -> LayerParams {
        LayerParams {
            weights: self.w.rows().into_iter().map(|r| r.to_vec()).collect(),
            bias: self.b.to_vec(),
            activation: activation.to_string(),
            negative_slope: None,
        }
    }
}

struct Builder {
    /// Width of the current value.
    width: usize,
    /// Name of the value the network has computed so far.
    current: String,
    pending: Option<Affine>,
    layers: Vec<LayerParams>,
    /// The value 1 − p after a one-unit sigmoid p, waiting for skl2onnx's
    /// Concat(1 − p, p) of a binary classifier.
    complement: Option<String>,
}

impl Builder {
    fn new(width: usize, input: String) -> Self {
        Builder {
            width,
            current: input,
            pending: None,
            layers: Vec::new(),
            complement: None,
        }
    }

    /// Whether the current value is the output of a one-unit sigmoid layer.
    fn after_one_sigmoid(&self) -> bool {
        self.pending.is_none()
            && self
                .layers
                .last()
                .is_some_and(|l| l.activation == "sigmoid" && l.bias.len() == 1)
    }

    fn apply(&mut self, node: &Node, inits: &HashMap<String, Tensor>) -> CoreResult<()> {
        let op = node.op.as_str();
        let first = node.inputs.first().map(String::as_str).unwrap_or("");
        let out = node
            .outputs
            .first()
            .ok_or_else(|| invalid(format!("a {op} node has no output")))?;
        let data_input = |name: &str| name == self.current;
        match op {
            "Identity" | "Flatten" if data_input(first) => {}
            "Cast" if data_input(first) => match node.attrs.get("to") {
                Some(Attr::Int(1 | 11)) => {}
                _ => return Err(invalid("Cast to a type other than float or double")),
            },
            "Reshape" if data_input(first) => {
                // Only the (batch, width) no-op skl2onnx puts before a regressor's output.
                let shape = &constant(node, 1, inits)?.ints;
                let width = i64::try_from(self.width).unwrap_or(-1);
                if !matches!(shape.as_slice(), [-1 | 0, w] if *w == width || *w == -1) {
                    return Err(invalid(format!(
                        "Reshape to {shape:?}: only reshapes to (batch, {width}) are supported"
                    )));
                }
            }
            "Gemm" if data_input(first) => self.gemm(node, inits)?,
            "MatMul" if data_input(first) => {
                let w = matrix(constant(node, 1, inits)?, op)?;
                self.compose(w, None)?;
            }
            "Add" => {
                let other = match node.inputs.as_slice() {
                    [a, b] if data_input(a) => b,
                    [a, b] if data_input(b) => a,
                    _ => return Err(invalid("Add needs the network's value and a constant")),
                };
                let t = inits
                    .get(other)
                    .ok_or_else(|| invalid(format!("Add operand '{other}' is not a constant")))?;
                let b = vector(t, self.width, "Add")?;
                let mut pending = match self.pending.take() {
                    Some(p) => p,
                    None => Affine::identity(self.width)?,
                };
                pending.b += &b;
                self.pending = Some(pending);
            }
            // skl2onnx's binary classifier: [1 − σ(z), σ(z)] is softmax([0, z]).
            "Sub"
                if self.after_one_sigmoid()
                    && node.inputs.get(1).is_some_and(|b| data_input(b))
                    && inits.get(first).is_some_and(|t| t.data == [1.0]) =>
            {
                self.complement = Some(out.clone());
                return Ok(());
            }
            "Concat"
                if self.complement.as_deref() == Some(first)
                    && node.inputs.get(1).is_some_and(|b| data_input(b))
                    && node.inputs.len() == 2
                    && matches!(node.attrs.get("axis"), Some(Attr::Int(1 | -1))) =>
            {
                let last = self.layers.last_mut().expect("after_one_sigmoid held");
                for row in &mut last.weights {
                    row.insert(0, 0.0);
                }
                last.bias.insert(0, 0.0);
                last.activation = "softmax".into();
                self.width = 2;
                self.complement = None;
            }
            "Relu" | "Sigmoid" | "Tanh" | "Softmax" if data_input(first) => {
                if op == "Softmax" {
                    match node.attrs.get("axis") {
                        None | Some(Attr::Int(-1 | 1)) => {}
                        _ => return Err(invalid("Softmax over an axis other than the last")),
                    }
                }
                let pending = match self.pending.take() {
                    Some(p) => p,
                    None => Affine::identity(self.width)?,
                };
                self.width = pending.w.ncols();
                self.layers.push(pending.into_layer(&op.to_lowercase()));
            }
            other => {
                return Err(invalid(format!(
                    "unsupported operator '{other}' (or an operand that is not the network's \
                     value). explaind reads feed-forward networks (Gemm, MatMul, Add, Relu, \
                     Sigmoid, Tanh, Softmax, Flatten, Identity, Cast, Reshape) and the ONNX-ML \
                     models {}, each behind column-local preprocessing as skl2onnx writes it",
                    ml::MODELS.join(", ")
                )))
            }
        }
        self.current = out.clone();
        Ok(())
    }

    fn gemm(&mut self, node: &Node, inits: &HashMap<String, Tensor>) -> CoreResult<()> {
        let attr = |name: &str, default: f64| match node.attrs.get(name) {
            Some(Attr::Float(v)) => v.to_owned(),
            Some(Attr::Int(v)) => *v as f64,
            _ => default,
        };
        if attr("transA", 0.0) != 0.0 {
            return Err(invalid("Gemm with transA is not supported"));
        }
        let mut w = matrix(constant(node, 1, inits)?, "Gemm")?;
        if attr("transB", 0.0) != 0.0 {
            w = w.t().to_owned();
        }
        w *= attr("alpha", 1.0);
        let b = match node.inputs.get(2).filter(|n| !n.is_empty()) {
            Some(_) => {
                Some(vector(constant(node, 2, inits)?, w.ncols(), "Gemm")? * attr("beta", 1.0))
            }
            None => None,
        };
        self.compose(w, b)
    }

    /// pending ← pending followed by x ↦ x W + b.
    fn compose(&mut self, w: Array2<f64>, b: Option<Array1<f64>>) -> CoreResult<()> {
        if w.nrows() != self.width {
            return Err(invalid(format!(
                "a weight matrix takes {} inputs but the value before it has {}",
                w.nrows(),
                self.width
            )));
        }
        let b = b.unwrap_or_else(|| Array1::zeros(w.ncols()));
        let next = match self.pending.take() {
            None => Affine { w, b },
            Some(p) => Affine {
                b: p.b.dot(&w) + b,
                w: p.w.dot(&w),
            },
        };
        self.width = next.w.ncols();
        self.pending = Some(next);
        Ok(())
    }
}
