//! `TreeEnsembleRegressor` and `TreeEnsembleClassifier` (ai.onnx.ml opsets 1–3):
//! parallel `nodes_*` arrays keyed by (tree id, node id), each tree rooted at its
//! first node, and leaf weights (`target_*` or `class_*`) by the same keys.

use std::collections::HashMap;

use super::{
    aggregate_of, index, post_of, split_of, split_values, targets_of, Attrs, Forest, Mode,
    ProtoTree,
};
use crate::core::models::trees::Node;
use crate::core::CoreResult;
use crate::formats::onnx::{graph, invalid};

/// `TreeEnsembleRegressor` / `TreeEnsembleClassifier`: nodes keyed by (tree id,
/// node id), each tree rooted at its first node, leaf weights by the same keys.
pub(super) fn read(node: &graph::Node) -> CoreResult<Forest> {
    let op = node.op.as_str();
    let a = Attrs { node };
    let modes = a
        .strings("nodes_modes")
        .ok_or_else(|| a.missing("nodes_modes"))?;
    let n = modes.len();
    let tree_ids = a.ints_n("nodes_treeids", n)?;
    let node_ids = a.ints_n("nodes_nodeids", n)?;
    let features = a.ints_n("nodes_featureids", n)?;
    let trues = a.ints_n("nodes_truenodeids", n)?;
    let falses = a.ints_n("nodes_falsenodeids", n)?;
    let values = a
        .floats_or_tensor("nodes_values")
        .ok_or_else(|| a.missing("nodes_values"))?;
    a.check_len("nodes_values", values.len(), n)?;
    let tracks = a.flags("nodes_missing_value_tracks_true", n)?;
    // (tree id, node id) → (tree, position in it).
    let mut trees: Vec<ProtoTree> = Vec::new();
    let mut tree_of: HashMap<i64, usize> = HashMap::new();
    let mut at: HashMap<(i64, i64), (usize, usize)> = HashMap::with_capacity(n);
    for i in 0..n {
        let t = *tree_of.entry(tree_ids[i]).or_insert_with(|| {
            trees.push(ProtoTree::default());
            trees.len() - 1
        });
        let pos = trees[t].nodes.len();
        if at.insert((tree_ids[i], node_ids[i]), (t, pos)).is_some() {
            return Err(invalid(format!(
                "{op}: node id {} appears twice in tree {}",
                node_ids[i], tree_ids[i]
            )));
        }
        trees[t].nodes.push(Node::leaf(0.0, 1.0));
        trees[t].weights.push(Vec::new());
    }
    for i in 0..n {
        let (t, pos) = at[&(tree_ids[i], node_ids[i])];
        let mode = match modes[i].as_str() {
            "LEAF" => continue,
            "BRANCH_LEQ" => Mode::Leq,
            "BRANCH_LT" => Mode::Lt,
            "BRANCH_GTE" => Mode::Gte,
            "BRANCH_GT" => Mode::Gt,
            "BRANCH_EQ" => Mode::Eq,
            "BRANCH_NEQ" => Mode::Neq,
            other => {
                return Err(invalid(format!(
                    "{op}: node {} of tree {} has unknown mode '{other}'",
                    node_ids[i], tree_ids[i]
                )))
            }
        };
        let child = |id: i64, side: &str| {
            at.get(&(tree_ids[i], id))
                .filter(|c| c.0 == t)
                .map(|c| c.1)
                .ok_or_else(|| {
                    invalid(format!(
                        "{op}: node {} of tree {} has {side} child {id}, not a node of that tree",
                        node_ids[i], tree_ids[i]
                    ))
                })
        };
        let (yes, no) = (child(trues[i], "true")?, child(falses[i], "false")?);
        let where_ = format!("node {} of tree {}", node_ids[i], tree_ids[i]);
        let set = split_values(op, &where_, mode, &values[i..=i])?;
        let (split, default_left, swap) = split_of(mode, set, tracks[i]);
        let node = &mut trees[t].nodes[pos];
        node.feature = Some(index(op, "nodes_featureids", i, features[i])?);
        node.split = Some(split);
        node.default_left = default_left;
        (node.left, node.right) = if swap {
            (Some(no), Some(yes))
        } else {
            (Some(yes), Some(no))
        };
    }
    let classifier = op == "TreeEnsembleClassifier";
    let prefix = if classifier { "class" } else { "target" };
    let w_trees = a.ints(&format!("{prefix}_treeids")).unwrap_or_default();
    let m = w_trees.len();
    let w_nodes = a.ints_n(&format!("{prefix}_nodeids"), m)?;
    let w_ids = a.ints_n(&format!("{prefix}_ids"), m)?;
    let w = a
        .floats_or_tensor(&format!("{prefix}_weights"))
        .ok_or_else(|| a.missing(&format!("{prefix}_weights")))?;
    a.check_len(&format!("{prefix}_weights"), w.len(), m)?;
    for j in 0..m {
        let (t, pos) = *at.get(&(w_trees[j], w_nodes[j])).ok_or_else(|| {
            invalid(format!(
                "{op}: {prefix} weight {j} names node {} of tree {}, which does not exist",
                w_nodes[j], w_trees[j]
            ))
        })?;
        if !trees[t].nodes[pos].is_leaf() {
            return Err(invalid(format!(
                "{op}: {prefix} weight {j} is on node {} of tree {}, which is not a leaf",
                w_nodes[j], w_trees[j]
            )));
        }
        let k = index(op, &format!("{prefix}_ids"), j, w_ids[j])?;
        trees[t].weights[pos].push((k, w[j]));
    }
    let (n_targets, classes) = if classifier {
        let ints = a.ints("classlabels_int64s").map_or(0, <[i64]>::len);
        let strings = a.strings("classlabels_strings").map_or(0, <[String]>::len);
        let k = ints.max(strings);
        (k, Some(k))
    } else {
        let n = a.int("n_targets").unwrap_or(1);
        (index(op, "n_targets", 0, n)?, None)
    };
    let ids_max = trees.iter().flat_map(targets_of).max().map_or(0, |k| k + 1);
    if ids_max > n_targets {
        return Err(invalid(format!(
            "{op}: {prefix}_ids go up to {} but the model has {n_targets} {}",
            ids_max - 1,
            if classifier { "classes" } else { "targets" }
        )));
    }
    Ok(Forest {
        trees,
        n_targets,
        base: a
            .floats_or_tensor("base_values")
            .unwrap_or_default()
            .to_vec(),
        aggregate: aggregate_of(op, a.string("aggregate_function").unwrap_or("SUM"))?,
        post: post_of(op, a.string("post_transform").unwrap_or("NONE"))?,
        classes,
    })
}
