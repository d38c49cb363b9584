//! LightGBM's text model, as `Booster.save_model` / `model_to_string` writes it.
//!
//! Facts of the format used here: a header of `key=value` lines, then one block per
//! tree starting `Tree=i`, up to `end of trees`. In a tree of L leaves, splits are
//! numbered 0..L−1 and a child index c < 0 names leaf −c−1. `decision_type` bits:
//! 1 categorical, 2 default left, bits 2–3 the missing type (0 None, 1 Zero, 2 NaN).
//! Numeric splits go left when `x <= threshold` (double). A categorical split's
//! threshold indexes `cat_boundaries`, which delimit 32-bit words of
//! `cat_threshold`: a bitset of the categories that go left. Trees of class k are
//! every `num_tree_per_iteration`-th tree starting at k.

use std::collections::HashMap;

use crate::core::models::trees::{
    EnsembleSpec, Missing, Node, Split, Tree, TreeEnsemble, TreeLimits,
};
use crate::core::models::{Link, RawFeatures, RawKind};
use crate::core::{CoreError, CoreResult};

/// Parse a LightGBM text model within the default [`TreeLimits`].
///
/// # Errors
/// As [`parse_with`].
pub fn parse(text: &str) -> CoreResult<TreeEnsemble> {
    parse_with(text, TreeLimits::default())
}

/// Parse a LightGBM text model whose trees keep within `limits`.
///
/// # Errors
/// [`CoreError::InvalidModel`] for a truncated or malformed file, unsupported
/// objectives, linear trees (`is_linear=1`), and anything
/// [`TreeEnsemble::with_limits`] rejects (a tree deeper than the limit).
pub fn parse_with(text: &str, limits: TreeLimits) -> CoreResult<TreeEnsemble> {
    let mut blocks = text.split("\nTree=");
    let header = kv(blocks.next().unwrap_or(""));
    if !header.contains_key("version") && !text.starts_with("tree") {
        return Err(invalid(
            "not a LightGBM text model (no 'tree' header)".into(),
        ));
    }
    let n_features = num::<usize>(&header, "max_feature_idx", "header")?
        .checked_add(1)
        .ok_or_else(|| invalid("'max_feature_idx' in the header is too large".into()))?;
    let per_iteration = num::<usize>(&header, "num_tree_per_iteration", "header")?;
    let num_class = num::<usize>(&header, "num_class", "header")?;
    let objective = get(&header, "objective", "header")?.to_string();
    let link = objective_link(&objective)?;
    let n_outputs = if link == Link::Softmax { num_class } else { 1 };
    if per_iteration != n_outputs {
        return Err(invalid(format!(
            "num_tree_per_iteration is {per_iteration} for {n_outputs} output(s)"
        )));
    }
    if !text.contains("end of trees") {
        return Err(invalid("the file is truncated: no 'end of trees'".into()));
    }
    let blocks: Vec<&str> = blocks.collect();
    if link == Link::Softmax && num_class < 2 {
        return Err(invalid(format!("{objective} needs num_class ≥ 2")));
    }
    if n_outputs > blocks.len().max(1) {
        return Err(invalid(format!(
            "num_class is {n_outputs} but the file has {} trees (each boosting round grows one \
             tree per class)",
            blocks.len()
        )));
    }
    let mut trees = Vec::with_capacity(blocks.len());
    for (t, block) in blocks.into_iter().enumerate() {
        let block = block.split("end of trees").next().unwrap_or("");
        let fields = kv(block);
        let tree = parse_tree(&fields, t % per_iteration, n_features)
            .map_err(|e| invalid(format!("tree {t}: {e}")))?;
        trees.push(tree);
    }
    let feature_names = header
        .get("feature_names")
        .map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>());
    let spec = EnsembleSpec {
        kind: "lightgbm",
        objective,
        link,
        n_features,
        base: vec![0.0; n_outputs],
        trees,
        feature_names,
        raw_features: pandas_categories(text, &header, n_features)?,
    };
    TreeEnsemble::with_limits(spec, limits)
}

/// The categories of features trained from pandas `category` columns: the
/// `pandas_categorical:` line LightGBM writes after the trees, one list per such
/// column in column order (code = index, the codes the trees' categorical splits
/// list), given to the features whose `feature_infos` entry is a list of codes
/// (a numeric feature's is `[min:max]`, or `none` when unused), so that rows may
/// name them. `None` when the line is `null` or absent, when a list holds
/// something other than strings (numeric categories stay their codes), or when
/// the lists and the categorical features do not pair up.
fn pandas_categories(
    text: &str,
    header: &HashMap<&str, &str>,
    n_features: usize,
) -> CoreResult<Option<RawFeatures>> {
    let Some(line) = text
        .lines()
        .find_map(|l| l.strip_prefix("pandas_categorical:"))
    else {
        return Ok(None);
    };
    let lists: Option<Vec<Vec<serde_json::Value>>> = serde_json::from_str(line.trim())
        .map_err(|e| invalid(format!("pandas_categorical is not a list of lists: {e}")))?;
    let Some(lists) = lists.filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let infos: Vec<&str> = header
        .get("feature_infos")
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default();
    let categorical: Vec<usize> = (0..infos.len())
        .filter(|&j| !infos[j].starts_with('[') && infos[j] != "none")
        .collect();
    if infos.len() != n_features || categorical.len() != lists.len() {
        return Ok(None);
    }
    let mut kinds = vec![RawKind::Numeric; n_features];
    for (j, list) in categorical.into_iter().zip(lists) {
        let Some(categories) = list
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Some(s),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()
        else {
            return Ok(None);
        };
        kinds[j] = RawKind::Categorical { categories };
    }
    RawFeatures::new(kinds).map(Some)
}

/// The link of a supported objective line (e.g. `binary sigmoid:1`).
fn objective_link(line: &str) -> CoreResult<Link> {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or("");
    let sigmoid = words
        .find_map(|w| w.strip_prefix("sigmoid:"))
        .map(|s| s.parse::<f64>().unwrap_or(f64::NAN));
    if sigmoid.is_some_and(|s| s != 1.0) {
        return Err(invalid(format!(
            "objective '{line}': only sigmoid:1 is supported"
        )));
    }
    Ok(match name {
        "regression" | "regression_l2" | "regression_l1" | "huber" | "fair" | "quantile"
        | "mape" => Link::Identity,
        "binary" | "cross_entropy" => Link::Logistic,
        "multiclass" | "softmax" => Link::Softmax,
        "poisson" | "gamma" | "tweedie" => Link::Exp,
        _ => return Err(invalid(format!("objective '{line}' is not supported"))),
    })
}

/// One tree block. Errors are plain messages; the caller names the tree.
fn parse_tree(f: &HashMap<&str, &str>, output: usize, n_features: usize) -> Result<Tree, String> {
    if f.get("is_linear").is_some_and(|v| v.trim() != "0") {
        return Err("linear trees (is_linear=1) are not supported".into());
    }
    let leaves = one::<usize>(f, "num_leaves")?;
    if leaves == 0 {
        return Err("num_leaves is 0".into());
    }
    let leaf_value = list::<f64>(f, "leaf_value", leaves)?;
    if leaves == 1 {
        // A stump may leave leaf_count empty; its cover then does not matter.
        let cover = optional_list::<f64>(f, "leaf_count", usize::MAX)?
            .and_then(|c| c.first().copied())
            .unwrap_or(0.0);
        return Ok(Tree {
            nodes: vec![Node::leaf(leaf_value[0], cover)],
            output,
        });
    }
    let splits = leaves - 1;
    let feature = list::<i64>(f, "split_feature", splits)?;
    let gain = list::<f64>(f, "split_gain", splits)?;
    let threshold = list::<f64>(f, "threshold", splits)?;
    let decision = list::<u8>(f, "decision_type", splits)?;
    let left = list::<i64>(f, "left_child", splits)?;
    let right = list::<i64>(f, "right_child", splits)?;
    let internal_count = list::<f64>(f, "internal_count", splits)?;
    let leaf_count = list::<f64>(f, "leaf_count", leaves)?;
    let num_cat = one::<usize>(f, "num_cat").unwrap_or(0);
    let (bounds, words) = if num_cat > 0 {
        let n_bounds = num_cat.checked_add(1).ok_or("'num_cat' is too large")?;
        (
            list::<usize>(f, "cat_boundaries", n_bounds)?,
            list::<u32>(f, "cat_threshold", usize::MAX)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    // Node index of a child: splits keep theirs, leaf j becomes splits + j.
    let node_of = |c: i64, i: usize| -> Result<usize, String> {
        let idx = if c >= 0 {
            usize::try_from(c).ok().filter(|&c| c < splits)
        } else {
            usize::try_from(-(c + 1))
                .ok()
                .filter(|&l| l < leaves)
                .map(|l| splits + l)
        };
        idx.ok_or(format!("split {i} has child {c}, out of range"))
    };
    let mut nodes = Vec::with_capacity(splits + leaves);
    // LightGBM gives each categorical split a bitset of its own; splits sharing one
    // would each expand it, memory of splits × bitset length.
    let mut bitset_used = vec![false; num_cat];
    for i in 0..splits {
        let d = decision[i];
        let default_left = d & 2 != 0;
        let split = if d & 1 != 0 {
            let cat = threshold[i];
            let k = (cat >= 0.0 && cat.fract() == 0.0)
                .then_some(cat as usize)
                .filter(|&k| k < num_cat)
                .ok_or(format!("categorical split {i} names bitset {cat}"))?;
            if std::mem::replace(&mut bitset_used[k], true) {
                return Err(format!(
                    "categorical split {i} reuses bitset {k} of an earlier split"
                ));
            }
            let (a, b) = (bounds[k], bounds[k + 1]);
            if a > b || b > words.len() {
                return Err(format!("categorical split {i} has a bitset out of range"));
            }
            let categories = words[a..b]
                .iter()
                .enumerate()
                .flat_map(|(w, &bits)| {
                    (0..32u32)
                        .filter(move |b| bits >> b & 1 == 1)
                        .map(move |b| w as u32 * 32 + b)
                })
                .collect();
            Split::Categories {
                categories,
                listed_go_left: true,
            }
        } else {
            let missing = match (d >> 2) & 3 {
                0 => Missing::NanAsZero,
                1 => Missing::ZeroDefault,
                2 => Missing::NanDefault,
                other => return Err(format!("split {i} has missing type {other}")),
            };
            Split::LessOrEqual {
                threshold: threshold[i],
                missing,
            }
        };
        let feat = usize::try_from(feature[i])
            .ok()
            .filter(|&j| j < n_features)
            .ok_or(format!(
                "split {i} reads feature {}, beyond {n_features}",
                feature[i]
            ))?;
        nodes.push(Node {
            feature: Some(feat),
            split: Some(split),
            // LightGBM sends NaN right at categorical splits, whatever the default bit.
            default_left: default_left && d & 1 == 0,
            left: Some(node_of(left[i], i)?),
            right: Some(node_of(right[i], i)?),
            cover: internal_count[i],
            value: 0.0,
            gain: gain[i],
        });
    }
    for j in 0..leaves {
        nodes.push(Node::leaf(leaf_value[j], leaf_count[j]));
    }
    Ok(Tree { nodes, output })
}

/// `key=value` lines of a block; other lines are ignored.
fn kv(block: &str) -> HashMap<&str, &str> {
    block
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

fn invalid(message: String) -> CoreError {
    CoreError::InvalidModel(message)
}

fn get<'a>(f: &HashMap<&str, &'a str>, key: &str, within: &str) -> CoreResult<&'a str> {
    f.get(key)
        .copied()
        .ok_or_else(|| invalid(format!("{within} has no '{key}'")))
}

fn num<T: std::str::FromStr>(f: &HashMap<&str, &str>, key: &str, within: &str) -> CoreResult<T> {
    get(f, key, within)?
        .parse()
        .map_err(|_| invalid(format!("'{key}' in the {within} is not a valid number")))
}

fn one<T: std::str::FromStr>(f: &HashMap<&str, &str>, key: &str) -> Result<T, String> {
    f.get(key)
        .ok_or(format!("'{key}' is missing"))?
        .parse()
        .map_err(|_| format!("'{key}' is not a valid number"))
}

/// A space-separated list of exactly `len` values (any length when `len` is usize::MAX).
fn list<T: std::str::FromStr>(
    f: &HashMap<&str, &str>,
    key: &str,
    len: usize,
) -> Result<Vec<T>, String> {
    optional_list(f, key, len)?.ok_or(format!("'{key}' is missing"))
}

fn optional_list<T: std::str::FromStr>(
    f: &HashMap<&str, &str>,
    key: &str,
    len: usize,
) -> Result<Option<Vec<T>>, String> {
    let Some(text) = f.get(key) else {
        return Ok(None);
    };
    let values = text
        .split_whitespace()
        .map(|w| w.parse::<T>())
        .collect::<Result<Vec<T>, _>>()
        .map_err(|_| format!("'{key}' holds a value that is not a valid number"))?;
    if len != usize::MAX && values.len() != len {
        return Err(format!(
            "'{key}' has {} values, expected {len}",
            values.len()
        ));
    }
    Ok(Some(values))
}
