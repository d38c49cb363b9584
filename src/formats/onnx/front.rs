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
//! (batch, width), Concat on the last axis, FeatureVectorizer (numeric inputs side
//! by side, as float), and ArrayFeatureExtractor or Gather
//! (axis 1) with constant indices move columns. What is refused, naming the node:
//! a Normalizer before other preprocessing (each row divided by its norm mixes raw
//! features, so it is not column-local; one right in front of the model is read by
//! [`super::pipeline`]), an Imputer of a value other than NaN, an encoder over a
//! numeric input (its map is not
//! monotone), any other operator, and graphs whose values are never computed
//! (dangling inputs, cycles).
//!
//! A OneHotEncoder with `zeros` = 0 (scikit-learn's default `handle_unknown="error"`)
//! makes onnxruntime fail on a category it does not list: its raw feature is marked
//! [`RawFeatures::refuses_unseen`], so requests holding such a category are refused
//! rather than explained; on a column that is no longer the raw string it is refused.

mod encoders;
mod ops;
mod steps;

use std::collections::HashMap;
use std::sync::Arc;

use steps::{Step, Val, DOUBLE, FLOAT, INT64, STRING};

use super::graph::Graph;
use super::{invalid, slice_to};
use crate::core::models::raw::EncodedColumn;
use crate::core::models::trees::fold::{Derived, RawInputs, ValueMap};
use crate::core::models::{RawFeatures, RawKind};
use crate::core::CoreResult;

/// Most columns a value in front of the model may have.
const MAX_COLUMNS: usize = 65_536;

/// Most values the columns of categorical features may tabulate (one per category
/// per column: about 2000 one-hot columns of 2000 categories).
const MAX_TABLE_VALUES: usize = 1 << 22;
/// The category skl2onnx writes for the missing values (None, NaN) a
/// scikit-learn encoder learned as a category: `str(float("nan"))`.
const MISSING_CATEGORY: &str = "nan";

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
        let out = ops::apply(node, g, &values, &mut raws)
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
                    "string input '{}' is read by no OneHotEncoder or LabelEncoder (a column \
                     the pipeline drops?): export with initial_types for the columns it reads",
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
    let mut encoding = Vec::with_capacity(cols.len());
    let mut table_values = 0usize;
    for col in cols {
        let raw = &raws[col.raw];
        let steps = col.steps.clone();
        encoding.push(EncodedColumn {
            feature: raw.name.clone(),
            steps: steps.iter().map(Step::describe).collect(),
        });
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
            // scikit-learn's encoders learn a missing value (None, NaN) as a category
            // of its own, which skl2onnx lists as the string "nan": a missing value
            // is that category, as scikit-learn predicts it; without one it is unseen.
            let missing = raw
                .categories
                .iter()
                .position(|c| &**c == MISSING_CATEGORY)
                .map_or(unseen, |at| codes[at]);
            ValueMap::Table { codes, missing }
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
    let mut features = RawFeatures::new(kinds)?.with_encoding(encoding);
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

#[cfg(test)]
mod tests;
