//! CatBoost's JSON model document, as `model.save_model(path, format="json",
//! pool=pool)` writes it (CatBoost 1.x, symmetric trees).
//!
//! Facts of the format used here, checked against CatBoost's own predictions and
//! `ShapValues` (tests/fixtures/gen_catboost.py):
//! - `oblivious_trees[t].splits` holds one split per depth; a row's bit for split i
//!   is 1 when its condition holds (a float feature's `x > border`, compared in
//!   float32; a one-hot feature's category hash equal to `value`), and its leaf is
//!   Σ bitᵢ·2ⁱ. `leaf_values` holds `dim` values per leaf, leaf-major; `leaf_weights`
//!   one training weight per leaf.
//! - NaN at a float split: `nan_value_treatment` `AsFalse` (nan_mode Min) and `AsIs`
//!   (no NaN in training) give bit 0, `AsTrue` (Max) bit 1.
//! - Raw output k = scale · Σ leaf values + bias\[k\] (`scale_and_bias`).
//! - Category hashes are 32-bit: unsigned in `features_info.cat_features_hash` (only
//!   when the pool was passed to `save_model`), signed in the splits.
//! - CatBoost's `ShapValues` treat an oblivious tree as the binary tree whose root
//!   tests the last split and whose leaves lie in leaf-index order; the expansion here
//!   is that tree, with covers the sums of the leaf weights below.
//!
//! Categorical features are raw features ([`crate::core::models::raw`]): rows carry
//! a category's code, and an unseen or missing category goes to bit 0 ("not equal")
//! as in CatBoost. Splits on CTRs (`OnlineCtr`, what CatBoost uses for features with
//! more categories than `one_hot_max_size`) are refused, naming the feature.

mod features;
mod objective;

use std::collections::BTreeSet;

use serde_json::Value;

use super::json::{array, field, invalid, numbers, text};

use crate::core::models::trees::budget::{self, LayoutSize};
use crate::core::models::trees::units::INV_MAX_SLOTS;
use crate::core::models::trees::{EnsembleSpec, Node, Tree, TreeEnsemble, TreeLimits};
use crate::core::models::Link;
use crate::core::{CoreError, CoreResult};
use features::Features;
use objective::{class_names, loss_function, loss_link, scale_and_bias};

/// The deepest oblivious tree CatBoost grows (its `depth` is at most 16); a deeper
/// one would expand into more than 2¹⁶ leaves per tree.
pub const MAX_DEPTH: usize = 16;

/// A CatBoost model read from its JSON document.
#[derive(Debug)]
pub struct CatBoostModel {
    /// The trees, expanded into binary trees over the raw features.
    pub ensemble: TreeEnsemble,
    /// Output names from the document's class labels (the positive class of a
    /// binary model, every class of a multiclass one); `None` for regression or
    /// when the document has none.
    pub output_names: Option<Vec<String>>,
}

/// Parse a CatBoost JSON document within the default [`TreeLimits`].
///
/// # Errors
/// As [`parse_document`].
pub fn parse(bytes: &[u8]) -> CoreResult<CatBoostModel> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("not a CatBoost JSON model: {e}")))?;
    parse_document(&doc, TreeLimits::default())
}

/// Read a CatBoost JSON document whose expanded trees keep within `limits`.
///
/// # Errors
/// [`CoreError::InvalidModel`] naming the field for missing or mistyped fields, leaf
/// arrays whose length is not 2^depth (times the number of outputs), an unknown
/// `split_type`, a CTR split (naming its feature and `one_hot_max_size`), an
/// unsupported loss function, trees deeper than [`MAX_DEPTH`], and anything
/// [`TreeEnsemble::with_limits`] rejects (the layout beyond the memory limit).
pub fn parse_document(doc: &Value, limits: TreeLimits) -> CoreResult<CatBoostModel> {
    if !doc.is_object() {
        return Err(invalid("a CatBoost JSON model is an object".into()));
    }
    let Some(trees_json) = doc.get("oblivious_trees") else {
        return Err(invalid(
            "the document has no 'oblivious_trees': only symmetric trees are supported \
             (grow_policy SymmetricTree, CatBoost's default)"
                .into(),
        ));
    };
    let trees_json = array(trees_json, "oblivious_trees")?;
    let mut features = Features::read(field(doc, "features_info", "document")?)?;
    if features.n_features == 0 {
        return Err(invalid("features_info lists no features".into()));
    }
    let loss = loss_function(doc)?;
    let link = loss_link(&loss)?;
    let (scale, bias) = scale_and_bias(doc)?;
    let n_outputs = bias.len();
    match (link, n_outputs) {
        (Link::Softmax, k) if k < 2 => {
            return Err(invalid(format!(
                "{loss} needs one bias per class in scale_and_bias, found {k}"
            )))
        }
        (Link::Softmax, _) | (_, 1) => {}
        (_, k) => {
            return Err(invalid(format!(
                "{loss} has one output but scale_and_bias holds {k} biases"
            )))
        }
    }
    let ctrs = doc
        .get("features_info")
        .and_then(|i| i.get("ctrs"))
        .and_then(Value::as_array);
    let mut tested = vec![BTreeSet::new(); features.cat_count()];
    let mut size = LayoutSize::default();
    for (t, tree) in trees_json.iter().enumerate() {
        let at = |e: CoreError| match e {
            CoreError::InvalidModel(m) => invalid(format!("tree {t}: {m}")),
            other => other,
        };
        let splits = check_tree(tree, n_outputs).map_err(at)?;
        let mut columns = BTreeSet::new();
        for split in splits {
            let split_type =
                field(split, "split_type", "split").and_then(|v| text(v, "split_type"));
            match split_type.map_err(at)? {
                "FloatFeature" => {
                    columns.insert(features.float_split(split).map_err(at)?.0);
                }
                "OneHotFeature" => {
                    let (cat, hash) = features.one_hot_of(split).map_err(at)?;
                    tested[cat].insert(hash);
                    columns.insert(features.cat_column(cat));
                }
                "OnlineCtr" => return Err(ctr_refusal(t, split, ctrs, &features)),
                other => {
                    return Err(invalid(format!(
                        "tree {t}: unknown split_type '{other}' (FloatFeature and \
                         OneHotFeature are supported)"
                    )))
                }
            }
        }
        add_to_size(&mut size, splits.len(), columns.len(), n_outputs);
    }
    if size.bytes() > limits.max_memory_bytes {
        return Err(invalid(format!(
            "the model's TreeSHAP layout would take about {}, beyond the limit of {} \
             (--max-model-memory-mb, EXPLAIND_MAX_MODEL_MEMORY_MB): its {} oblivious trees \
             expand into {} leaves",
            budget::mib(size.bytes()),
            budget::mib(limits.max_memory_bytes),
            trees_json.len(),
            size.leaves
        )));
    }
    features.settle_categories(&tested)?;
    let mut trees = Vec::with_capacity(size.trees);
    for (t, tree) in trees_json.iter().enumerate() {
        expand(tree, &features, scale, n_outputs, &mut trees).map_err(|e| match e {
            CoreError::InvalidModel(m) => invalid(format!("tree {t}: {m}")),
            other => other,
        })?;
    }
    let output_names = class_names(doc, link, n_outputs);
    let spec = EnsembleSpec {
        kind: "catboost",
        objective: loss,
        link,
        n_features: features.n_features,
        base: bias,
        trees,
        feature_names: features.names.take(),
        raw_features: features.raw.take(),
    };
    Ok(CatBoostModel {
        ensemble: TreeEnsemble::with_limits(spec, limits)?,
        output_names,
    })
}

/// Check a tree's shape: its splits (at most [`MAX_DEPTH`]), 2^depth × outputs leaf
/// values and 2^depth leaf weights, all finite, weights not negative.
fn check_tree(tree: &Value, n_outputs: usize) -> CoreResult<&Vec<Value>> {
    let splits = match tree.get("splits") {
        Some(s) => array(s, "splits")?,
        None => return Err(invalid("has no 'splits'".into())),
    };
    if splits.len() > MAX_DEPTH {
        return Err(invalid(format!(
            "is {} splits deep, beyond CatBoost's maximum depth of {MAX_DEPTH}",
            splits.len()
        )));
    }
    let leaves = 1usize << splits.len();
    let values = numbers(tree, "leaf_values")?;
    let weights = numbers(tree, "leaf_weights")?;
    if values.len() != leaves * n_outputs {
        return Err(invalid(format!(
            "leaf_values has {} values; depth {} with {n_outputs} output(s) needs 2^{} × \
             {n_outputs} = {}",
            values.len(),
            splits.len(),
            splits.len(),
            leaves * n_outputs
        )));
    }
    if weights.len() != leaves {
        return Err(invalid(format!(
            "leaf_weights has {} values; depth {} needs 2^{} = {leaves}",
            weights.len(),
            splits.len(),
            splits.len()
        )));
    }
    if weights.iter().any(|&w| w < 0.0) {
        return Err(invalid("leaf_weights holds a negative weight".into()));
    }
    Ok(splits)
}

/// Add the layout of one oblivious tree of `depth` splits on `distinct` features,
/// expanded once per output, to `size` (every leaf's path holds all the splits).
fn add_to_size(size: &mut LayoutSize, depth: usize, distinct: usize, n_outputs: usize) {
    let leaves = (1usize << depth).saturating_mul(n_outputs);
    size.trees = size.trees.saturating_add(n_outputs);
    size.leaves = size.leaves.saturating_add(leaves);
    size.splits = size.splits.saturating_add(leaves - n_outputs);
    size.steps = size.steps.saturating_add(leaves.saturating_mul(depth));
    size.slots = size.slots.saturating_add(leaves.saturating_mul(distinct));
    if distinct <= INV_MAX_SLOTS {
        let inv = distinct * distinct.div_ceil(2);
        size.inv = size.inv.saturating_add(leaves.saturating_mul(inv));
    }
}

/// Expand one checked oblivious tree into one binary tree per output: a complete
/// tree in heap order (node n's children 2n+1 and 2n+2) whose level d tests split
/// depth−1−d, so leaf n − (2^depth − 1) is CatBoost's leaf index.
fn expand(
    tree: &Value,
    features: &Features,
    scale: f64,
    n_outputs: usize,
    out: &mut Vec<Tree>,
) -> CoreResult<()> {
    let splits = array(&tree["splits"], "splits")?;
    let depth = splits.len();
    let mut cuts = Vec::with_capacity(depth);
    for split in splits {
        cuts.push(match split["split_type"].as_str() {
            Some("FloatFeature") => features.float_split(split)?,
            _ => {
                let (cat, hash) = features.one_hot_of(split)?;
                let (column, rule) = features.one_hot_split(cat, hash)?;
                (column, rule, true)
            }
        });
    }
    let values = numbers(tree, "leaf_values")?;
    let weights = numbers(tree, "leaf_weights")?;
    let inner = (1usize << depth) - 1;
    let mut cover = vec![0.0; 2 * inner + 1];
    cover[inner..].copy_from_slice(&weights);
    for n in (0..inner).rev() {
        cover[n] = cover[2 * n + 1] + cover[2 * n + 2];
    }
    for k in 0..n_outputs {
        let mut nodes = Vec::with_capacity(cover.len());
        for (n, &c) in cover.iter().enumerate() {
            if n >= inner {
                let value = scale * values[(n - inner) * n_outputs + k];
                nodes.push(Node::leaf(value, c));
                continue;
            }
            let level = (n + 1).ilog2() as usize;
            let (column, split, nan_left) = cuts[depth - 1 - level].clone();
            nodes.push(Node {
                feature: Some(column),
                split: Some(split),
                default_left: nan_left,
                left: Some(2 * n + 1),
                right: Some(2 * n + 2),
                cover: c,
                value: 0.0,
                gain: 0.0,
            });
        }
        out.push(Tree { nodes, output: k });
    }
    Ok(())
}

/// The refusal of a CTR split, naming the categorical features it combines (found
/// through the `ctrs` entry with the split's border, else all the document's CTRs).
fn ctr_refusal(t: usize, split: &Value, ctrs: Option<&Vec<Value>>, f: &Features) -> CoreError {
    let border = split.get("border").and_then(Value::as_f64);
    let target = split.get("ctr_target_border_idx").and_then(Value::as_u64);
    let ctrs = ctrs.map(Vec::as_slice).unwrap_or_default();
    let matches = |c: &&Value| {
        let borders = c.get("borders").and_then(Value::as_array);
        borders.is_some_and(|b| b.iter().any(|b| b.as_f64() == border))
            && c.get("target_border_idx").and_then(Value::as_u64) == target
    };
    let mut names: Vec<String> = match ctrs.iter().find(matches) {
        Some(ctr) => f.ctr_feature_names(ctr),
        None => ctrs.iter().flat_map(|c| f.ctr_feature_names(c)).collect(),
    };
    names.dedup();
    let which = if names.is_empty() {
        "a categorical feature".to_string()
    } else {
        format!("categorical feature {}", names.join(" and "))
    };
    invalid(format!(
        "tree {t} splits on a CTR (target statistic) of {which} (split_type OnlineCtr), which \
         cannot be explained exactly; retrain with one_hot_max_size at least the number of \
         categories of that feature, so that CatBoost one-hot encodes it"
    ))
}
