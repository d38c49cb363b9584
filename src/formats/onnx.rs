//! ONNX feed-forward networks → [`MlpParams`] (kind `"onnx"` converts to `"mlp"`),
//! and ONNX-ML tree ensembles and linear models on the float input → tree ensembles
//! (kind `"onnx"`; MIN/MAX ones predict-only) and linear or logistic models ([`read`],
//! `ml`, `trees`); behind column-local preprocessing (`pipeline`), the same over
//! the raw features (a linear head behind imputers or encoders: additive over them).
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
//! batch dimension are fixed, or the network's first layer reads a value computed
//! by column-local preprocessing (`pipeline`: a scikit-learn MLP behind a
//! StandardScaler or a ColumnTransformer). Weights are read as f64 (float tensors
//! widen exactly).

mod front;
mod graph;
mod mixing;
mod ml;
mod network;
mod pipeline;
mod tensors;
mod trees;

use graph::{read_graph_of_model, Graph, ValueInfo};
pub use ml::MlModel;

use super::protobuf;
use crate::core::models::mlp::MlpParams;
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
    /// The raw features' names (the graph's inputs) when preprocessing in front of
    /// the network was folded into its first layer; `None` for a bare network.
    pub feature_names: Option<Vec<String>>,
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
/// output off the float input (`ml`), else a network ([`convert`]).
///
/// # Errors
/// As [`convert`]; for an ONNX-ML model, [`CoreError::InvalidModel`] naming the
/// operator and what is wrong with it (see `trees`).
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
    let bare = match network::convert_graph(&g, target.clone()) {
        Ok(converted) => return Ok(OnnxModel::Network(converted)),
        Err(e) => e,
    };
    // Not a network on the graph's one input: one behind preprocessing, if its
    // first layer reads a value that is no graph input.
    match network::start_of(&g, &target) {
        Some(start) if !g.inputs.iter().any(|i| i.name == start) => {
            pipeline::network_behind(&g, &target, &start)
        }
        _ => Err(bare),
    }
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
    network::convert_graph(&g, target)
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
