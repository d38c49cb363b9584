//! XGBoost's JSON model document, as `Booster.save_model("m.json")` writes it
//! (XGBoost 1.x to 3.x, `gbtree` booster).
//!
//! Facts of the format used here: numbers in `learner_model_param` are strings;
//! `base_score` is a number, a string, or a bracketed list string such as
//! `"[6.28E-1]"` (one value per class in 3.x multiclass models); it is in prediction
//! space and becomes a margin through the objective's inverse link. A node is a leaf
//! when `left_children` is −1, and its value is then `split_conditions`; tree i adds
//! to class `tree_info[i]`. Categorical nodes (`split_type` 1) list, through
//! `categories_nodes/segments/sizes`, the categories that go right.

use serde_json::Value;

use super::json::{array, field, invalid, numbers, text};

use crate::core::models::trees::{EnsembleSpec, Node, Split, Tree, TreeEnsemble, TreeLimits};
use crate::core::models::{Link, Model, RawFeatures, RawKind};
use crate::core::{CoreError, CoreResult};

/// Parse an XGBoost JSON model within the default [`TreeLimits`].
///
/// # Errors
/// As [`parse_with`].
pub fn parse(bytes: &[u8]) -> CoreResult<TreeEnsemble> {
    parse_with(bytes, TreeLimits::default())
}

/// Parse an XGBoost JSON model whose trees keep within `limits`.
///
/// # Errors
/// [`CoreError::InvalidModel`] for malformed JSON, missing or mistyped fields,
/// unsupported boosters (`gblinear`, `dart`) or objectives, multi-target trees, and
/// anything [`TreeEnsemble::with_limits`] rejects (a tree deeper than the limit).
pub fn parse_with(bytes: &[u8], limits: TreeLimits) -> CoreResult<TreeEnsemble> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("not an XGBoost JSON model: {e}")))?;
    let learner = field(&doc, "learner", "document")?;
    let params = field(learner, "learner_model_param", "learner")?;
    let n_features = count(
        field(params, "num_feature", "learner_model_param")?,
        "num_feature",
    )?;
    let num_class = match params.get("num_class") {
        Some(v) => count(v, "num_class")?,
        None => 0,
    };
    if let Some(v) = params.get("num_target") {
        if count(v, "num_target")? > 1 {
            return Err(invalid("multi-target models are not supported".into()));
        }
    }
    let objective = text(
        field(field(learner, "objective", "learner")?, "name", "objective")?,
        "objective name",
    )?
    .to_string();
    let (link, to_margin) = objective_link(&objective)?;
    let n_outputs = if link == Link::Softmax {
        if num_class < 2 {
            return Err(invalid(format!("{objective} needs num_class ≥ 2")));
        }
        num_class
    } else {
        1
    };

    let booster = field(learner, "gradient_booster", "learner")?;
    let name = text(field(booster, "name", "gradient_booster")?, "booster name")?;
    if name != "gbtree" {
        return Err(invalid(format!(
            "booster '{name}' is not supported; only gbtree (dart and gblinear are not)"
        )));
    }
    let model = field(booster, "model", "gradient_booster")?;
    let trees_json = array(field(model, "trees", "model")?, "trees")?;
    let tree_info = array(field(model, "tree_info", "model")?, "tree_info")?;
    if tree_info.len() != trees_json.len() {
        return Err(invalid(format!(
            "tree_info has {} entries for {} trees",
            tree_info.len(),
            trees_json.len()
        )));
    }
    if n_outputs > trees_json.len().max(1) {
        return Err(invalid(format!(
            "num_class is {n_outputs} but the file has {} trees (each boosting round grows one \
             tree per class)",
            trees_json.len()
        )));
    }
    let base = base_margins(params, n_outputs, to_margin)?;
    let mut trees = Vec::with_capacity(trees_json.len());
    for (t, (tree, info)) in trees_json.iter().zip(tree_info).enumerate() {
        let output = count(info, "tree_info")?;
        trees.push(parse_tree(tree, output).map_err(|e| match e {
            CoreError::InvalidModel(m) => invalid(format!("tree {t}: {m}")),
            other => other,
        })?);
    }
    let feature_names = match learner.get("feature_names") {
        Some(Value::Array(names)) if !names.is_empty() => Some(
            names
                .iter()
                .map(|n| text(n, "feature name").map(str::to_string))
                .collect::<CoreResult<Vec<_>>>()?,
        ),
        _ => None,
    };
    let spec = EnsembleSpec {
        kind: "xgboost",
        objective,
        link,
        n_features,
        base,
        trees,
        feature_names,
        raw_features: string_categories(model, n_features)?,
    };
    let ensemble = TreeEnsemble::with_limits(spec, limits)?;
    debug_assert_eq!(ensemble.n_outputs(), n_outputs);
    Ok(ensemble)
}

/// Maps a base_score in prediction space to a margin.
type ToMargin = fn(f64) -> f64;

/// The link of a supported objective and its inverse, from base_score to a margin.
fn objective_link(objective: &str) -> CoreResult<(Link, ToMargin)> {
    fn identity(p: f64) -> f64 {
        p
    }
    fn logit(p: f64) -> f64 {
        (p / (1.0 - p)).ln()
    }
    Ok(match objective {
        "reg:squarederror" | "reg:linear" | "reg:pseudohubererror" | "reg:absoluteerror" => {
            (Link::Identity, identity)
        }
        "reg:logistic" | "binary:logistic" => (Link::Logistic, logit),
        "count:poisson" | "reg:gamma" | "reg:tweedie" => (Link::Exp, f64::ln),
        // Softmax's base score is already a margin (its inverse link is the identity).
        "multi:softprob" | "multi:softmax" => (Link::Softmax, identity),
        other => return Err(invalid(format!("objective '{other}' is not supported"))),
    })
}

/// base_score in any stored form, one margin per output.
fn base_margins(params: &Value, n_outputs: usize, to_margin: ToMargin) -> CoreResult<Vec<f64>> {
    let values: Vec<f64> = match params.get("base_score") {
        None => vec![0.5],
        Some(Value::Number(n)) => vec![n.as_f64().unwrap_or(f64::NAN)],
        Some(Value::String(s)) => {
            let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
            inner
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse::<f64>()
                        .map_err(|_| invalid(format!("base_score '{s}' is not a number or list")))
                })
                .collect::<CoreResult<_>>()?
        }
        Some(_) => return Err(invalid("base_score must be a number or a string".into())),
    };
    let values = match values.len() {
        1 => vec![values[0]; n_outputs],
        n if n == n_outputs => values,
        n => {
            return Err(invalid(format!(
                "base_score has {n} values for {n_outputs} output(s)"
            )))
        }
    };
    let margins: Vec<f64> = values.into_iter().map(to_margin).collect();
    if margins.iter().any(|m| !m.is_finite()) {
        return Err(invalid(
            "base_score is outside the objective's range (its margin is not finite)".into(),
        ));
    }
    Ok(margins)
}

/// One tree object.
fn parse_tree(tree: &Value, output: usize) -> CoreResult<Tree> {
    if let Some(param) = tree.get("tree_param") {
        if let Some(size) = param.get("size_leaf_vector") {
            if count(size, "size_leaf_vector")? > 1 {
                return Err(invalid(
                    "vector leaves (multi-target) are not supported".into(),
                ));
            }
        }
    }
    let left = ints(tree, "left_children")?;
    let right = ints(tree, "right_children")?;
    let n = left.len();
    let feature = ints(tree, "split_indices")?;
    let cond = numbers(tree, "split_conditions")?;
    let default_left = ints(tree, "default_left")?;
    let cover = numbers(tree, "sum_hessian")?;
    let gain = numbers(tree, "loss_changes")?;
    let split_type = match tree.get("split_type") {
        Some(_) => ints(tree, "split_type")?,
        None => vec![0; n],
    };
    for (name, len) in [
        ("right_children", right.len()),
        ("split_indices", feature.len()),
        ("split_conditions", cond.len()),
        ("default_left", default_left.len()),
        ("sum_hessian", cover.len()),
        ("loss_changes", gain.len()),
        ("split_type", split_type.len()),
    ] {
        if len != n {
            return Err(invalid(format!("{name} has {len} entries for {n} nodes")));
        }
    }
    let categories = categories(tree, n)?;
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        // Values are float32 in XGBoost; rounding through f32 restores them exactly.
        let value = f64::from(cond[i] as f32);
        if left[i] == -1 {
            nodes.push(Node::leaf(value, cover[i]));
            continue;
        }
        let child = |c: i64, side: &str| {
            usize::try_from(c)
                .ok()
                .filter(|&c| c < n)
                .ok_or_else(|| invalid(format!("node {i} has {side} child {c}, not a node index")))
        };
        let f = usize::try_from(feature[i])
            .map_err(|_| invalid(format!("node {i} has feature index {}", feature[i])))?;
        let split = if split_type[i] == 1 {
            Split::Categories {
                categories: categories[i]
                    .clone()
                    .ok_or_else(|| invalid(format!("categorical node {i} has no category list")))?,
                listed_go_left: false,
            }
        } else {
            Split::LessThanF32 {
                threshold: cond[i] as f32,
            }
        };
        nodes.push(Node {
            feature: Some(f),
            split: Some(split),
            default_left: default_left[i] != 0,
            left: Some(child(left[i], "left")?),
            right: Some(child(right[i], "right")?),
            cover: cover[i],
            value: 0.0,
            gain: gain[i],
        });
    }
    Ok(Tree { nodes, output })
}

/// Category lists by node index, from the four flat `categories*` arrays.
fn categories(tree: &Value, n: usize) -> CoreResult<Vec<Option<Vec<u32>>>> {
    let mut out = vec![None; n];
    if tree.get("categories_nodes").is_none() {
        return Ok(out);
    }
    let nodes = ints(tree, "categories_nodes")?;
    let segments = ints(tree, "categories_segments")?;
    let sizes = ints(tree, "categories_sizes")?;
    let all = ints(tree, "categories")?;
    if segments.len() != nodes.len() || sizes.len() != nodes.len() {
        return Err(invalid(
            "categories_nodes, categories_segments and categories_sizes differ in length".into(),
        ));
    }
    // XGBoost's segments partition `categories`; overlapping ones would copy one long
    // list into every node that names it, memory of nodes × list length.
    let listed = sizes
        .iter()
        .try_fold(0u64, |sum, &z| sum.checked_add(u64::try_from(z).ok()?));
    if listed.is_none_or(|sum| sum > all.len() as u64) {
        return Err(invalid(format!(
            "categories_sizes list more categories than the {} in 'categories' (segments overlap)",
            all.len()
        )));
    }
    for ((&node, &start), &size) in nodes.iter().zip(&segments).zip(&sizes) {
        let range = usize::try_from(start)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(s, z)| Some(s..s.checked_add(z)?))
            .filter(|r| r.end <= all.len());
        let (Some(range), Some(slot)) = (range, usize::try_from(node).ok().filter(|&i| i < n))
        else {
            return Err(invalid(format!(
                "category segment of node {node} is out of range"
            )));
        };
        let mut cats = all[range]
            .iter()
            .map(|&c| u32::try_from(c).map_err(|_| invalid(format!("category {c} is negative"))))
            .collect::<CoreResult<Vec<u32>>>()?;
        cats.sort_unstable();
        out[slot] = Some(cats);
    }
    Ok(out)
}

/// A non-negative integer stored as a number or a numeric string.
fn count(v: &Value, what: &str) -> CoreResult<usize> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| invalid(format!("'{what}' must be a non-negative integer")))
}

/// An array of integers (booleans count as 0/1, as older files store default_left).
fn ints(tree: &Value, key: &str) -> CoreResult<Vec<i64>> {
    array(field(tree, key, "tree")?, key)?
        .iter()
        .map(|v| match v {
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Number(n) => n.as_i64(),
            _ => None,
        })
        .map(|v| v.ok_or_else(|| invalid(format!("'{key}' must hold integers"))))
        .collect()
}

/// The categories of features trained from string (pandas `category`) columns,
/// as XGBoost 3 keeps them with the model (`cats.enc`: per feature, UTF-8 bytes cut
/// by `offsets`; code = index, the codes the trees' categorical splits list), so
/// that rows may name them. `None` when no feature has string categories (numeric
/// categories, kept as their codes, are left as numbers).
fn string_categories(model: &Value, n_features: usize) -> CoreResult<Option<RawFeatures>> {
    let Some(Value::Array(enc)) = model.get("cats").and_then(|c| c.get("enc")) else {
        return Ok(None);
    };
    if enc.len() != n_features {
        return Ok(None);
    }
    let mut kinds = vec![RawKind::Numeric; n_features];
    let mut any = false;
    for (j, feature) in enc.iter().enumerate() {
        let (Some(Value::Array(offsets)), Some(Value::Array(bytes))) =
            (feature.get("offsets"), feature.get("values"))
        else {
            continue;
        };
        if offsets.len() < 2 {
            continue;
        }
        let offsets: Vec<usize> = offsets
            .iter()
            .map(|o| count(o, "cats offset"))
            .collect::<CoreResult<_>>()?;
        let bytes: Vec<u8> = bytes
            .iter()
            .map(|b| {
                b.as_u64()
                    .and_then(|b| u8::try_from(b).ok())
                    .ok_or_else(|| invalid(format!("cats of feature {j}: not a byte: {b}")))
            })
            .collect::<CoreResult<_>>()?;
        let categories = offsets
            .windows(2)
            .map(|w| {
                bytes
                    .get(w[0]..w[1])
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .map(str::to_string)
                    .ok_or_else(|| invalid(format!("cats of feature {j}: bad offsets or UTF-8")))
            })
            .collect::<CoreResult<Vec<_>>>()?;
        kinds[j] = RawKind::Categorical { categories };
        any = true;
    }
    if !any {
        return Ok(None);
    }
    RawFeatures::new(kinds).map(Some)
}
