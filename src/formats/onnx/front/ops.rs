//! The traced output of each operator in front of the model: how a node turns the
//! columns of its inputs into the columns of its output.

use std::collections::HashMap;

use super::steps::{Step, DOUBLE, FLOAT, STRING};
use super::{encoders, Column, Raw, Sym};
use crate::formats::onnx::graph::{Attr, Graph, Node};

pub(super) fn floats<'a>(node: &'a Node, name: &str) -> Option<&'a [f64]> {
    match node.attrs.get(name) {
        Some(Attr::Floats(v)) => Some(v),
        _ => None,
    }
}

pub(super) fn int(node: &Node, name: &str, default: i64) -> i64 {
    match node.attrs.get(name) {
        Some(Attr::Int(v)) => *v,
        _ => default,
    }
}

/// One value per column: a list of `width` values, or one for all.
fn per_column(node: &Node, name: &str, width: usize) -> Result<Vec<f32>, String> {
    let v = floats(node, name).ok_or_else(|| format!("attribute '{name}' is missing"))?;
    match v.len() {
        1 => Ok(vec![v[0] as f32; width]),
        n if n == width => Ok(v.iter().map(|&x| x as f32).collect()),
        n => Err(format!("'{name}' has {n} values for {width} columns")),
    }
}

/// The constant int64 tensor at input `k`.
fn const_ints<'a>(node: &Node, g: &'a Graph, k: usize) -> Result<&'a [i64], String> {
    let name = node
        .inputs
        .get(k)
        .ok_or_else(|| format!("input {k} is missing"))?;
    g.initializers
        .get(name)
        .map(|t| t.ints.as_slice())
        .ok_or_else(|| format!("input '{name}' is not a constant"))
}

/// ai.onnx.ml `FeatureVectorizer` (what skl2onnx writes to join a Pipeline's
/// several inputs): its numeric inputs side by side, cast to float. Each input's
/// width must be its `inputdimensions` entry (onnxruntime pads or cuts otherwise).
fn feature_vectorizer<'a>(
    node: &Node,
    data: &dyn Fn(usize) -> Result<&'a Sym, String>,
) -> Result<Sym, String> {
    let dims = match node.attrs.get("inputdimensions") {
        Some(Attr::Ints(v)) => v.as_slice(),
        _ => &[],
    };
    let mut cols = Vec::new();
    for k in 0..node.inputs.len() {
        let part = data(k)?;
        if part.elem == STRING {
            return Err(format!(
                "input {k} holds strings; FeatureVectorizer reads numbers"
            ));
        }
        if let Some(&d) = dims.get(k) {
            if usize::try_from(d).ok() != Some(part.cols.len()) {
                return Err(format!(
                    "input {k} has {} columns but inputdimensions says {d}",
                    part.cols.len()
                ));
            }
        }
        cols.extend(part.cols.iter().map(|c| Column {
            raw: c.raw,
            steps: c.steps.iter().cloned().chain([Step::Cast(FLOAT)]).collect(),
        }));
    }
    Ok(Sym { cols, elem: FLOAT })
}

/// The traced output of one node.
pub(super) fn apply(
    node: &Node,
    g: &Graph,
    values: &HashMap<&str, Sym>,
    raws: &mut [Raw],
) -> Result<Sym, String> {
    let data = |k: usize| -> Result<&Sym, String> {
        let name = node
            .inputs
            .get(k)
            .ok_or_else(|| format!("input {k} is missing"))?;
        values
            .get(name.as_str())
            .ok_or_else(|| format!("'{name}' is a constant, not a column"))
    };
    let op = node.op.as_str();
    if op == "Concat" {
        if !matches!(node.attrs.get("axis"), Some(Attr::Int(1 | -1))) {
            return Err("Concat along an axis other than the last".into());
        }
        let parts = (0..node.inputs.len())
            .map(data)
            .collect::<Result<Vec<_>, _>>()?;
        let elem = parts.first().map_or(FLOAT, |p| p.elem);
        if parts.iter().any(|p| p.elem != elem) {
            return Err("Concat of tensors of different element types".into());
        }
        let cols = parts.iter().flat_map(|p| p.cols.iter().cloned()).collect();
        return Ok(Sym { cols, elem });
    }
    if op == "FeatureVectorizer" {
        return feature_vectorizer(node, &data);
    }
    let x = data(0)?;
    let width = x.cols.len();
    let numeric = x.elem != STRING;
    let map = |step: &dyn Fn(usize) -> Step, elem: u64| Sym {
        cols: x
            .cols
            .iter()
            .enumerate()
            .map(|(j, c)| Column {
                raw: c.raw,
                steps: c.steps.iter().cloned().chain([step(j)]).collect(),
            })
            .collect(),
        elem,
    };
    match op {
        "Identity" | "Flatten" => Ok(x.clone()),
        "Reshape" => {
            let shape = const_ints(node, g, 1)?;
            let w = i64::try_from(width).unwrap_or(-1);
            if matches!(shape, [-1 | 0, v] if *v == w || *v == -1) {
                Ok(x.clone())
            } else {
                Err(format!(
                    "a reshape to {shape:?}; only (batch, {width}) is read"
                ))
            }
        }
        "Cast" => match int(node, "to", 0) {
            to @ (1 | 7 | 11) if numeric => Ok(map(&|_| Step::Cast(to as u64), to as u64)),
            8 if !numeric => Ok(x.clone()),
            to => Err(format!("a cast from element type {} to {to}", x.elem)),
        },
        "ArrayFeatureExtractor" | "Gather" => {
            if op == "Gather" && int(node, "axis", 0) != 1 {
                return Err("Gather along an axis other than 1 (the columns)".into());
            }
            let w = i64::try_from(width).map_err(|_| "too wide")?;
            let cols = const_ints(node, g, 1)?
                .iter()
                .map(|&i| {
                    let j = if i < 0 { i + w } else { i };
                    usize::try_from(j)
                        .ok()
                        .and_then(|j| x.cols.get(j).cloned())
                        .ok_or_else(|| format!("index {i} is out of range for {width} columns"))
                })
                .collect::<Result<_, _>>()?;
            Ok(Sym { cols, elem: x.elem })
        }
        "Scaler" if numeric => {
            let (offset, scale) = (
                per_column(node, "offset", width)?,
                per_column(node, "scale", width)?,
            );
            let double = x.elem == DOUBLE;
            Ok(map(
                &|j| Step::Scale {
                    offset: offset[j],
                    scale: scale[j],
                    double,
                },
                FLOAT,
            ))
        }
        "Imputer" if x.elem == FLOAT => {
            let replaced = match node.attrs.get("replaced_value_float") {
                Some(Attr::Float(v)) => *v,
                _ => 0.0,
            };
            if !replaced.is_nan() {
                return Err(format!(
                    "an Imputer of {replaced}; only NaN is imputed here"
                ));
            }
            let value = per_column(node, "imputed_value_floats", width)?;
            Ok(map(&|j| Step::Impute(value[j]), FLOAT))
        }
        "Binarizer" if numeric => {
            let t = match node.attrs.get("threshold") {
                Some(Attr::Float(v)) => *v as f32,
                _ => 0.0,
            };
            Ok(map(&|_| Step::Binarize(t), x.elem))
        }
        "OneHotEncoder" => encoders::one_hot(node, x, raws),
        "LabelEncoder" => encoders::label_encoder(node, x, raws),
        "Normalizer" => Err(format!(
            "Normalizer (norm {}) divides each row by its norm, which mixes the raw features \
             of a row, so no later step is a function of one raw feature: a Normalizer is read \
             only right in front of the model (through shape-only nodes), which is then \
             explained by the model-agnostic methods; move it there or leave it out",
            match node.attrs.get("norm") {
                Some(Attr::Str(n)) => n.as_str(),
                _ => "MAX",
            }
        )),
        other => Err(format!(
            "unsupported operator '{other}' (or input type) in front of the model; supported: \
             Scaler, Imputer, Binarizer, OneHotEncoder, LabelEncoder, Cast, Concat, \
             FeatureVectorizer, Reshape, Identity, Flatten, ArrayFeatureExtractor, Gather"
        )),
    }
}
