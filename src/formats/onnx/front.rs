//! ONNX-ML preprocessing in front of a model, traced column by column from the
//! graph's inputs (the raw features) to the model node's input (the derived
//! columns), so [`crate::core::models::trees::fold`] can compile it into the model.
//!
//! Raw features: one per graph input, named by it, in graph order (an input of
//! width n > 1 gives n, named `input_j`). A float, double or int64 input is numeric;
//! a string input (width 1) is categorical, its categories those of the
//! OneHotEncoders and LabelEncoders that read it (their union, first seen first).
//! A missing category (null) is read as a category no encoder lists.
//!
//! Each derived column is one raw feature through a chain of per-value [`Step`]s:
//! Scaler, Imputer (of NaN), Binarizer, Cast, OneHotEncoder (one column per
//! category), LabelEncoder; the shape-only Identity, Flatten, Reshape to
//! (batch, width), Concat on the last axis, and ArrayFeatureExtractor or Gather
//! (axis 1) with constant indices move columns. What is refused, naming the node:
//! Normalizer (each row divided by its norm mixes raw features, so it is not
//! column-local), an Imputer of a value other than NaN, an encoder over a
//! numeric input (its map is not
//! monotone), any other operator, and graphs whose values are never computed
//! (dangling inputs, cycles).
//!
//! A OneHotEncoder with `zeros` = 0 (scikit-learn's default `handle_unknown="error"`)
//! makes onnxruntime fail on a category it does not list: its raw feature is marked
//! [`RawFeatures::refuses_unseen`], so requests holding such a category are refused
//! rather than explained; on a column that is no longer the raw string it is refused.

mod encoders;
mod steps;

use std::collections::HashMap;
use std::sync::Arc;

use steps::{Step, Val, DOUBLE, FLOAT, INT64, STRING};

use super::graph::{Attr, Graph, Node};
use super::{invalid, slice_to};
use crate::core::models::trees::fold::{Derived, RawInputs, ValueMap};
use crate::core::models::{RawFeatures, RawKind};
use crate::core::CoreResult;

/// Most columns a value in front of the model may have.
const MAX_COLUMNS: usize = 65_536;

/// Most values the columns of categorical features may tabulate (one per category
/// per column: about 2000 one-hot columns of 2000 categories).
const MAX_TABLE_VALUES: usize = 1 << 22;

/// One derived column, symbolically: a raw feature and the steps after it.
#[derive(Debug, Clone)]
struct Column {
    raw: usize,
    steps: Vec<Step>,
}

/// A traced value: its columns and its tensor element type.
#[derive(Debug, Clone)]
struct Sym {
    cols: Vec<Column>,
    elem: u64,
}

/// A raw feature while tracing.
struct Raw {
    name: String,
    elem: u64,
    /// Categories of a string input, first seen first.
    categories: Vec<Arc<str>>,
    /// Whether an encoder of it refuses unseen categories (`zeros` = 0).
    strict: bool,
}

/// What a trace finds.
#[derive(Debug)]
pub(super) struct Traced {
    /// The raw features.
    pub(super) raw: RawInputs,
    /// The columns of the traced value, each from one raw feature.
    pub(super) columns: Vec<Derived>,
    /// Per column, `(a, c)` when it is `a·x + c` of its numeric raw value `x` up to
    /// float32 rounding (casts and scalers only); what a linear model can fold.
    pub(super) affine: Vec<Option<(f64, f64)>>,
}

/// A column's affine form, when it has one.
fn affine(numeric: &[bool], col: &Column) -> Option<(f64, f64)> {
    if !numeric[col.raw] {
        return None;
    }
    col.steps
        .iter()
        .try_fold((1.0, 0.0), |(a, c), step| match step {
            Step::Cast(FLOAT | DOUBLE) => Some((a, c)),
            Step::Scale { offset, scale, .. } => {
                let (o, s) = (f64::from(*offset), f64::from(*scale));
                Some((a * s, (c - o) * s))
            }
            _ => None,
        })
}

/// The raw features and the derived columns `target` holds.
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] (prefixed `onnx:`) naming the node or
/// input for everything the module doc lists as refused.
pub(super) fn trace(g: &Graph, target: &str) -> CoreResult<Traced> {
    let mut raws = Vec::new();
    let mut values: HashMap<&str, Sym> = HashMap::new();
    for input in g
        .inputs
        .iter()
        .filter(|i| !g.initializers.contains_key(&i.name))
    {
        let width = input
            .dims
            .iter()
            .skip(1)
            .map(|d| d.and_then(|n| usize::try_from(n).ok()))
            .try_fold(1usize, |a, d| d.and_then(|d| a.checked_mul(d)))
            .filter(|&w| (1..=MAX_COLUMNS).contains(&w) && input.dims.len() >= 2)
            .ok_or_else(|| {
                invalid(format!(
                    "input '{}' needs a fixed width after the batch dimension (at most {MAX_COLUMNS})",
                    input.name
                ))
            })?;
        if !matches!(input.elem_type, FLOAT | DOUBLE | INT64 | STRING) {
            return Err(invalid(format!(
                "input '{}' has element type {}; float, double, int64 and string inputs are read",
                input.name, input.elem_type
            )));
        }
        if input.elem_type == STRING && width != 1 {
            return Err(invalid(format!(
                "string input '{}' has {width} columns; one column per string input is read",
                input.name
            )));
        }
        let mut cols = Vec::with_capacity(width);
        for j in 0..width {
            cols.push(Column {
                raw: raws.len(),
                steps: if input.elem_type == STRING {
                    Vec::new()
                } else {
                    vec![Step::Cast(input.elem_type)]
                },
            });
            raws.push(Raw {
                name: if width == 1 {
                    input.name.clone()
                } else {
                    format!("{}_{j}", input.name)
                },
                elem: input.elem_type,
                categories: Vec::new(),
                strict: false,
            });
        }
        let sym = Sym {
            cols,
            elem: input.elem_type,
        };
        values.insert(input.name.as_str(), sym);
    }
    let needed = slice_to(g, target);
    let mut pending: Vec<usize> = (0..g.nodes.len()).filter(|&i| needed[i]).collect();
    while !values.contains_key(target) {
        let ready = pending.iter().position(|&i| {
            g.nodes[i].inputs.iter().all(|n| {
                n.is_empty() || values.contains_key(n.as_str()) || g.initializers.contains_key(n)
            })
        });
        let Some(k) = ready else {
            return Err(stalled(g, &pending, &values, target));
        };
        let i = pending.remove(k);
        let node = &g.nodes[i];
        let out = apply(node, g, &values, &mut raws)
            .map_err(|e| invalid(format!("node {i} ({}): {e}", node.op)))?;
        if out.cols.len() > MAX_COLUMNS {
            return Err(invalid(format!(
                "node {i} ({}) makes {} columns, beyond {MAX_COLUMNS}",
                node.op,
                out.cols.len()
            )));
        }
        let name = node
            .outputs
            .first()
            .ok_or_else(|| invalid(format!("node {i} has no output")))?;
        values.insert(name.as_str(), out);
    }
    let model_input = &values[target];
    if model_input.elem == STRING {
        return Err(invalid(format!(
            "the model's input '{target}' holds strings"
        )));
    }
    finish(raws, &model_input.cols)
}

/// Why no node could run: the first one waiting names what it waits for.
fn stalled(
    g: &Graph,
    pending: &[usize],
    values: &HashMap<&str, Sym>,
    target: &str,
) -> crate::core::CoreError {
    for &i in pending {
        let node = &g.nodes[i];
        if let Some(missing) = node.inputs.iter().find(|n| {
            !n.is_empty() && !values.contains_key(n.as_str()) && !g.initializers.contains_key(*n)
        }) {
            return invalid(format!(
                "node {i} ({}) reads '{missing}', which no input, constant or earlier node \
                 provides (a dangling input or a cycle)",
                node.op
            ));
        }
    }
    invalid(format!("no node computes '{target}'"))
}

/// Raw features and value maps from the traced columns.
fn finish(raws: Vec<Raw>, cols: &[Column]) -> CoreResult<Traced> {
    let mut kinds = Vec::with_capacity(raws.len());
    for raw in &raws {
        kinds.push(match raw.elem {
            STRING if raw.categories.is_empty() => {
                return Err(invalid(format!(
                    "string input '{}' is read by no OneHotEncoder or LabelEncoder",
                    raw.name
                )))
            }
            STRING => RawKind::Categorical {
                categories: raw.categories.iter().map(|c| c.to_string()).collect(),
            },
            _ => RawKind::Numeric,
        });
    }
    let mut derived = Vec::with_capacity(cols.len());
    let mut table_values = 0usize;
    for col in cols {
        let raw = &raws[col.raw];
        let steps = col.steps.clone();
        let map = if raw.elem == STRING {
            // One value per category per column: K one-hot columns of a feature of K
            // categories take K² values.
            table_values += raw.categories.len() + 1;
            if table_values > MAX_TABLE_VALUES {
                return Err(invalid(format!(
                    "the columns computed from '{}' and the string inputs before it need more \
                     than {MAX_TABLE_VALUES} category values (one per category per column)",
                    raw.name
                )));
            }
            let mut codes: Vec<f64> = raw
                .categories
                .iter()
                .map(|c| steps::number(&steps::run(&steps, Val::Str(Some(c.clone())))))
                .collect();
            let unseen = steps::number(&steps::run(&steps, Val::Str(None)));
            codes.push(unseen);
            ValueMap::Table {
                codes,
                missing: unseen,
            }
        } else if let Some(s) = steps.iter().find(|s| !s.monotone()) {
            return Err(invalid(format!(
                "{} over the numeric input '{}': encoders read string inputs here",
                if matches!(s, Step::OneHot(_)) {
                    "OneHotEncoder"
                } else {
                    "LabelEncoder"
                },
                raw.name
            )));
        } else {
            ValueMap::Monotone(Box::new(move |x| {
                steps::number(&steps::run(&steps, Val::Num(x)))
            }))
        };
        derived.push(Derived { raw: col.raw, map });
    }
    let mut features = RawFeatures::new(kinds)?;
    for (j, raw) in raws.iter().enumerate() {
        if raw.strict {
            features = features.refusing_unseen(j);
        }
    }
    let raws_numeric: Vec<bool> = raws.iter().map(|r| r.elem != STRING).collect();
    let names = raws.into_iter().map(|r| r.name).collect();
    Ok(Traced {
        raw: RawInputs { names, features },
        columns: derived,
        affine: cols.iter().map(|c| affine(&raws_numeric, c)).collect(),
    })
}

fn floats<'a>(node: &'a Node, name: &str) -> Option<&'a [f64]> {
    match node.attrs.get(name) {
        Some(Attr::Floats(v)) => Some(v),
        _ => None,
    }
}

fn int(node: &Node, name: &str, default: i64) -> i64 {
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

/// The traced output of one node.
fn apply(
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
        "Normalizer" => Err(
            "Normalizer divides each row by its norm, which mixes raw features: \
                             it is not column-local and cannot be folded into the model"
                .into(),
        ),
        other => Err(format!(
            "unsupported operator '{other}' (or input type) in front of the model; supported: \
             Scaler, Imputer, Binarizer, OneHotEncoder, LabelEncoder, Cast, Concat, Reshape, \
             Identity, Flatten, ArrayFeatureExtractor, Gather"
        )),
    }
}

#[cfg(test)]
mod tests;
