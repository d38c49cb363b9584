//! ONNX feed-forward networks → [`MlpParams`] (kind `"onnx"` converts to `"mlp"`),
//! and ONNX-ML tree ensembles and linear models on the float input → tree ensembles
//! (kind `"onnx"`) and linear or logistic models ([`read`], [`ml`], [`trees`]).
//!
//! Why a hand-written reader: the networks explaind hosts need a dozen fields of
//! five ONNX messages (ModelProto.graph; GraphProto node, initializer, input,
//! output; NodeProto input, output, op_type, attribute; TensorProto dims, data_type,
//! float/double/raw data; AttributeProto name, f, i). A protobuf code generator or
//! an ONNX runtime would bring a build step or a native library into a static
//! sidecar for that; [`super::protobuf`] reads the wire format in 150 lines.
//!
//! What converts: the nodes that compute the chosen output, in graph order, each one
//! of Gemm, MatMul and Add with a constant (initializer) operand, the activations
//! Relu, Sigmoid, Tanh and Softmax (last axis), and the shape-neutral Flatten,
//! Identity, Cast (to float or double) and Reshape to (batch, width). Consecutive affine nodes fold into one
//! dense layer, closed by the activation after them. The output is the graph's
//! first float tensor output; for a classifier written by skl2onnx, the tensor that
//! feeds its ZipMap or is named `probabilities`, so the label path (ArgMax,
//! ArrayFeatureExtractor, …) is ignored; a binary classifier's `[1 − p, p]`
//! (Sub from 1 and Concat after a one-unit Sigmoid) becomes a two-class softmax on
//! `[0, z]`, which is the same function. Anything else on the path is refused
//! naming the operator. The input must be one tensor whose dimensions after the
//! batch dimension are fixed. Weights are read as f64 (float tensors widen exactly).

use std::collections::HashMap;

use ndarray::{Array1, Array2};

mod front;
mod graph;
mod ml;
mod pipeline;
mod tensors;
mod trees;

use graph::{read_graph_of_model, Attr, Graph, Node, Tensor, ValueInfo};
pub use ml::MlModel;
use tensors::{constant, matrix, vector};

use super::protobuf;
use crate::core::models::mlp::{LayerParams, MlpParams};
use crate::core::{CoreError, CoreResult};

/// A network read from ONNX, ready to validate as an MLP.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The layers, as kind `"mlp"` takes them.
    pub params: MlpParams,
    /// The graph input's name.
    pub input: String,
    /// The graph output converted.
    pub output: String,
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::InvalidModel(format!("onnx: {}", message.into()))
}

fn wire(e: protobuf::WireError) -> CoreError {
    invalid(format!("malformed protobuf: {}", e.0))
}

/// What an ONNX file converts to.
#[derive(Debug)]
pub enum OnnxModel {
    /// A feed-forward network, as MLP layers.
    Network(Converted),
    /// An ONNX-ML tree ensemble or linear model on the float input.
    Ml(MlModel),
}

/// Read an ONNX model: an ONNX-ML tree ensemble or linear model computing the
/// output off the float input ([`ml`]), else a network ([`convert`]).
///
/// # Errors
/// As [`convert`]; for an ONNX-ML model, [`CoreError::InvalidModel`] naming the
/// operator and what is wrong with it (see [`trees`]).
pub fn read(buf: &[u8]) -> CoreResult<OnnxModel> {
    let g = read_graph_of_model(buf)?;
    let target = target_output(&g)?;
    if let Some(node) = ml::model_node(&g, &target) {
        // A model reading the graph's one input unchanged; else a pipeline.
        let bare = single_input(&g).is_ok_and(|(input, _)| ml::reads_input(&g, node, &input.name));
        if !bare {
            return pipeline::read(&g, node, &target).map(OnnxModel::Ml);
        }
        let (input, feature_dims) = single_input(&g)?;
        if input.elem_type != 1 || feature_dims.len() != 1 {
            return Err(invalid(format!(
                "the {} node needs a float input of shape (batch, features); input '{}' \
                 has element type {} and {} feature dimension(s)",
                node.op,
                input.name,
                input.elem_type,
                feature_dims.len()
            )));
        }
        let model = ml::convert(&g, node, &target, &input.name, feature_dims[0])?;
        return Ok(OnnxModel::Ml(model));
    }
    convert_graph(&g, target).map(OnnxModel::Network)
}

/// Read an ONNX model and convert its network to MLP layers.
///
/// # Errors
/// [`CoreError::InvalidModel`] (prefixed `onnx:`) for bytes that are not a readable
/// ONNX model, an operator outside the supported set (named), a non-constant
/// weight, shapes that do not chain, or an input with dynamic feature dimensions.
pub fn convert(buf: &[u8]) -> CoreResult<Converted> {
    let g = read_graph_of_model(buf)?;
    let target = target_output(&g)?;
    convert_graph(&g, target)
}

/// The graph's one (non-initializer) input and its dimensions after the batch one.
fn single_input(g: &Graph) -> CoreResult<(&ValueInfo, Vec<usize>)> {
    let input = g
        .inputs
        .iter()
        .filter(|i| !g.initializers.contains_key(&i.name))
        .collect::<Vec<_>>();
    let [input] = input.as_slice() else {
        return Err(invalid(format!(
            "the graph needs exactly one (non-initializer) input, it has {}",
            input.len()
        )));
    };
    let feature_dims: Vec<usize> = input
        .dims
        .iter()
        .skip(1)
        .map(|d| d.filter(|&n| n > 0).and_then(|n| usize::try_from(n).ok()))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            invalid(format!(
                "input '{}' has a dynamic feature dimension; only the batch dimension may be dynamic",
                input.name
            ))
        })?;
    if feature_dims.is_empty() {
        return Err(invalid(format!(
            "input '{}' has no feature dimension",
            input.name
        )));
    }
    Ok((input, feature_dims))
}

fn convert_graph(g: &Graph, target: String) -> CoreResult<Converted> {
    let (input, feature_dims) = single_input(g)?;
    let width = feature_dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d));
    let width = width.ok_or_else(|| invalid("input too large"))?;
    let needed = slice_to(g, &target);
    let mut net = Builder::new(width, input.name.clone());
    for node in g
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| needed[*i])
        .map(|(_, n)| n)
    {
        net.apply(node, &g.initializers)?;
    }
    if net.current != target {
        return Err(invalid(format!(
            "output '{target}' is not computed from input '{}' by a chain of supported nodes",
            input.name
        )));
    }
    let mut layers = net.layers;
    if let Some(pending) = net.pending {
        layers.push(pending.into_layer("identity"));
    }
    if layers.is_empty() {
        return Err(invalid("the graph has no dense layer"));
    }
    Ok(Converted {
        params: MlpParams {
            layers,
            scaler: None,
            input_shape: (feature_dims.len() > 1).then_some(feature_dims),
        },
        input: input.name.clone(),
        output: target,
    })
}

/// The output to convert: the tensor feeding a ZipMap, else an output named
/// `probabilities`, else the first float or double tensor output.
fn target_output(g: &Graph) -> CoreResult<String> {
    if let Some(zip) = g.nodes.iter().find(|n| n.op == "ZipMap") {
        if let Some(i) = zip.inputs.first() {
            return Ok(i.clone());
        }
    }
    let floats: Vec<&ValueInfo> = g
        .outputs
        .iter()
        .filter(|o| matches!(o.elem_type, 1 | 11))
        .collect();
    floats
        .iter()
        .find(|o| o.name == "probabilities")
        .or(floats.first())
        .map(|o| o.name.clone())
        .ok_or_else(|| invalid("the graph has no float tensor output"))
}

/// Which nodes the value `target` depends on.
fn slice_to(g: &Graph, target: &str) -> Vec<bool> {
    let mut needed = vec![false; g.nodes.len()];
    let mut wanted: Vec<&str> = vec![target];
    while let Some(name) = wanted.pop() {
        for (i, node) in g.nodes.iter().enumerate() {
            if !needed[i] && node.outputs.iter().any(|o| o == name) {
                needed[i] = true;
                wanted.extend(node.inputs.iter().map(String::as_str));
            }
        }
    }
    needed
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
            "Sub" if self.after_one_sigmoid()
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
                    "unsupported operator '{other}' (or an operand that is not the network's value); \
                     supported: Gemm, MatMul, Add, Relu, Sigmoid, Tanh, Softmax, Flatten, Identity, Cast, Reshape"
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
