//! The ONNX messages [`super::convert`] needs, read from protobuf: ModelProto.graph;
//! GraphProto node, initializer, input, output; NodeProto input, output, op_type,
//! attribute; AttributeProto name, f, i, s, t, floats, ints, strings; TensorProto
//! dims, data_type, float, int32 (uint8 and int32 tensors), double, int64 and raw
//! data, name; ValueInfoProto name and tensor type. Unknown fields are skipped, as
//! protobuf readers do. Lists can be no longer than the bytes that hold them, so the
//! upload's size limit bounds every attribute array.

use std::collections::HashMap;

use super::{invalid, wire};
use crate::core::CoreResult;
use crate::formats::protobuf::{self, packed_f32, packed_f64, packed_varints, Reader, Value};

/// One NodeProto: an operator, its inputs, outputs and attributes.
#[derive(Debug, Default)]
pub(crate) struct Node {
    pub(super) inputs: Vec<String>,
    pub(super) outputs: Vec<String>,
    pub(super) op: String,
    pub(super) attrs: HashMap<String, Attr>,
}

#[derive(Debug, Clone)]
pub(super) enum Attr {
    Float(f64),
    Int(i64),
    /// A string (bytes that are not UTF-8 read lossily).
    Str(String),
    /// A list of floats, widened.
    Floats(Vec<f64>),
    Ints(Vec<i64>),
    Strings(Vec<String>),
    Tensor(Tensor),
    Other,
}

#[derive(Debug, Default)]
pub(super) struct ValueInfo {
    pub(super) name: String,
    /// TensorProto element type; 0 when not a tensor (sequences, maps).
    pub(super) elem_type: u64,
    /// Dimensions; `None` for a symbolic or absent one.
    pub(super) dims: Vec<Option<u64>>,
}

#[derive(Debug, Default, Clone)]
pub(super) struct Tensor {
    pub(super) dims: Vec<u64>,
    /// Float and double values, widened.
    pub(super) data: Vec<f64>,
    /// int64 values (shapes), and uint8 and int32 ones (tree node modes).
    pub(super) ints: Vec<i64>,
}

#[derive(Debug, Default)]
pub(super) struct Graph {
    pub(super) nodes: Vec<Node>,
    pub(super) initializers: HashMap<String, Tensor>,
    pub(super) inputs: Vec<ValueInfo>,
    pub(super) outputs: Vec<ValueInfo>,
}

fn bytes<'a>(v: Value<'a>, what: &str) -> CoreResult<&'a [u8]> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(invalid(format!("{what} has the wrong wire type"))),
    }
}

pub(super) fn read_graph_of_model(buf: &[u8]) -> CoreResult<Graph> {
    let mut r = Reader::new(buf);
    let mut graph = None;
    while let Some((field, v)) = r.next_field().map_err(wire)? {
        if field == 7 {
            graph = Some(read_graph(bytes(v, "ModelProto.graph")?)?);
        }
    }
    graph.ok_or_else(|| invalid("no graph in the model (is this an ONNX file?)"))
}

fn read_graph(buf: &[u8]) -> CoreResult<Graph> {
    let mut g = Graph::default();
    let mut r = Reader::new(buf);
    while let Some((field, v)) = r.next_field().map_err(wire)? {
        match field {
            1 => g.nodes.push(read_node(bytes(v, "node")?)?),
            5 => {
                let (name, t) = read_tensor(bytes(v, "initializer")?)?;
                g.initializers.insert(name, t);
            }
            11 => g.inputs.push(read_value_info(bytes(v, "input")?)?),
            12 => g.outputs.push(read_value_info(bytes(v, "output")?)?),
            _ => {}
        }
    }
    Ok(g)
}

fn read_node(buf: &[u8]) -> CoreResult<Node> {
    let mut n = Node::default();
    let mut r = Reader::new(buf);
    while let Some((field, v)) = r.next_field().map_err(wire)? {
        match field {
            1 => n.inputs.push(protobuf::string(v).map_err(wire)?),
            2 => n.outputs.push(protobuf::string(v).map_err(wire)?),
            4 => n.op = protobuf::string(v).map_err(wire)?,
            5 => {
                let (name, a) = read_attr(bytes(v, "attribute")?)?;
                n.attrs.insert(name, a);
            }
            _ => {}
        }
    }
    Ok(n)
}

fn read_attr(buf: &[u8]) -> CoreResult<(String, Attr)> {
    let (mut name, mut attr) = (String::new(), Attr::Other);
    let (mut floats, mut ints, mut strings) = (Vec::new(), Vec::new(), Vec::new());
    let mut r = Reader::new(buf);
    while let Some((field, v)) = r.next_field().map_err(wire)? {
        match (field, v) {
            (1, v) => name = protobuf::string(v).map_err(wire)?,
            (2, Value::Fixed32(bits)) => attr = Attr::Float(f64::from(f32::from_bits(bits))),
            (3, Value::Varint(i)) => attr = Attr::Int(i as i64),
            (4, Value::Bytes(b)) => attr = Attr::Str(String::from_utf8_lossy(b).into_owned()),
            (5, Value::Bytes(b)) => attr = Attr::Tensor(read_tensor(b)?.1),
            (7, Value::Fixed32(bits)) => floats.push(f64::from(f32::from_bits(bits))),
            (7, Value::Bytes(b)) => floats.extend(packed_f32(b).map_err(wire)?),
            (8, Value::Varint(i)) => ints.push(i as i64),
            (8, Value::Bytes(b)) => {
                ints.extend(
                    packed_varints(b)
                        .map_err(wire)?
                        .into_iter()
                        .map(|i| i as i64),
                );
            }
            (9, Value::Bytes(b)) => strings.push(String::from_utf8_lossy(b).into_owned()),
            _ => {}
        }
    }
    if !floats.is_empty() {
        attr = Attr::Floats(floats);
    } else if !ints.is_empty() {
        attr = Attr::Ints(ints);
    } else if !strings.is_empty() {
        attr = Attr::Strings(strings);
    }
    Ok((name, attr))
}

fn read_tensor(buf: &[u8]) -> CoreResult<(String, Tensor)> {
    let (mut name, mut t, mut data_type) = (String::new(), Tensor::default(), 0);
    let (mut raw, mut values): (Option<&[u8]>, Vec<f64>) = (None, Vec::new());
    let mut r = Reader::new(buf);
    while let Some((field, v)) = r.next_field().map_err(wire)? {
        match (field, v) {
            (1, Value::Varint(d)) => t.dims.push(d),
            (1, Value::Bytes(b)) => t.dims.extend(packed_varints(b).map_err(wire)?),
            (2, Value::Varint(d)) => data_type = d,
            (4, Value::Fixed32(bits)) => values.push(f64::from(f32::from_bits(bits))),
            (4, Value::Bytes(b)) => values.extend(packed_f32(b).map_err(wire)?),
            (5, Value::Varint(i)) => t.ints.push(i64::from(i as i32)),
            (5, Value::Bytes(b)) => {
                let int32 = packed_varints(b).map_err(wire)?;
                t.ints
                    .extend(int32.into_iter().map(|i| i64::from(i as i32)));
            }
            (7, Value::Varint(i)) => t.ints.push(i as i64),
            (7, Value::Bytes(b)) => {
                t.ints.extend(
                    packed_varints(b)
                        .map_err(wire)?
                        .into_iter()
                        .map(|i| i as i64),
                );
            }
            (8, v) => name = protobuf::string(v).map_err(wire)?,
            (9, Value::Bytes(b)) => raw = Some(b),
            (10, Value::Fixed64(bits)) => values.push(f64::from_bits(bits)),
            (10, Value::Bytes(b)) => values.extend(packed_f64(b).map_err(wire)?),
            (13 | 14, _) => return Err(invalid(format!("tensor '{name}' uses external data"))),
            _ => {}
        }
    }
    t.data = match (data_type, raw) {
        (1, Some(b)) => packed_f32(b).map_err(wire)?,
        (11, Some(b)) => packed_f64(b).map_err(wire)?,
        (1 | 11, None) => values,
        (7, Some(b)) if b.len() % 8 == 0 => {
            t.ints = b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("eight bytes")))
                .collect();
            Vec::new()
        }
        (2, Some(b)) => {
            t.ints = b.iter().map(|&u| i64::from(u)).collect();
            Vec::new()
        }
        (6, Some(b)) if b.len() % 4 == 0 => {
            t.ints = b
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes(c.try_into().expect("four bytes"))))
                .collect();
            Vec::new()
        }
        // Other integer tensors are not weights.
        _ => Vec::new(),
    };
    Ok((name, t))
}

fn read_value_info(buf: &[u8]) -> CoreResult<ValueInfo> {
    let mut info = ValueInfo::default();
    let mut r = Reader::new(buf);
    while let Some((field, v)) = r.next_field().map_err(wire)? {
        match field {
            1 => info.name = protobuf::string(v).map_err(wire)?,
            2 => {
                // TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1).
                let mut tr = Reader::new(bytes(v, "type")?);
                while let Some((f, tv)) = tr.next_field().map_err(wire)? {
                    if f == 1 {
                        read_tensor_type(bytes(tv, "tensor_type")?, &mut info)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

fn read_tensor_type(buf: &[u8], info: &mut ValueInfo) -> CoreResult<()> {
    let mut r = Reader::new(buf);
    while let Some((field, v)) = r.next_field().map_err(wire)? {
        match (field, v) {
            (1, Value::Varint(e)) => info.elem_type = e,
            (2, Value::Bytes(shape)) => {
                let mut sr = Reader::new(shape);
                while let Some((f, dv)) = sr.next_field().map_err(wire)? {
                    if f != 1 {
                        continue;
                    }
                    let mut dr = Reader::new(bytes(dv, "dim")?);
                    let mut dim = None;
                    while let Some((df, d)) = dr.next_field().map_err(wire)? {
                        if let (1, Value::Varint(n)) = (df, d) {
                            dim = Some(n);
                        }
                    }
                    info.dims.push(dim);
                }
            }
            _ => {}
        }
    }
    Ok(())
}
