//! The opset-5 `TreeEnsemble`: interior nodes in `nodes_*` arrays, leaves in
//! `leaf_*` arrays, each tree walked from its entry in `tree_roots`, sets of
//! `BRANCH_MEMBER` nodes in `membership_values` (delimited by NaN, in node order).

use super::{
    aggregate_of, index, post_of, split_of, split_values, Attrs, Forest, Mode, ProtoTree, MAX_NODES,
};
use crate::core::models::trees::Node;
use crate::core::CoreResult;
use crate::formats::onnx::{graph, invalid};

const OP: &str = "TreeEnsemble";

/// Read a `TreeEnsemble` node.
pub(super) fn read(node: &graph::Node) -> CoreResult<Forest> {
    let a = Attrs { node };
    let features = a
        .ints("nodes_featureids")
        .ok_or_else(|| a.missing("nodes_featureids"))?;
    let n = features.len();
    let modes = a.ints_n("nodes_modes", n)?;
    let trues = a.ints_n("nodes_truenodeids", n)?;
    let falses = a.ints_n("nodes_falsenodeids", n)?;
    let true_leaf = a.ints_n("nodes_trueleafs", n)?;
    let false_leaf = a.ints_n("nodes_falseleafs", n)?;
    let splits = a
        .floats("nodes_splits")
        .ok_or_else(|| a.missing("nodes_splits"))?;
    a.check_len("nodes_splits", splits.len(), n)?;
    let tracks = a.flags("nodes_missing_value_tracks_true", n)?;
    let targets = a
        .ints("leaf_targetids")
        .ok_or_else(|| a.missing("leaf_targetids"))?;
    let weights = a
        .floats("leaf_weights")
        .ok_or_else(|| a.missing("leaf_weights"))?;
    if weights.len() != targets.len() {
        return Err(invalid(format!(
            "{OP}: 'leaf_weights' has {} entries but 'leaf_targetids' has {}",
            weights.len(),
            targets.len()
        )));
    }
    let roots = a
        .ints("tree_roots")
        .ok_or_else(|| a.missing("tree_roots"))?;
    let n_targets = a.int("n_targets").ok_or_else(|| a.missing("n_targets"))?;
    let n_targets = index(OP, "n_targets", 0, n_targets)?;
    let modes = modes
        .iter()
        .enumerate()
        .map(|(i, &m)| mode_of(i, m))
        .collect::<CoreResult<Vec<Mode>>>()?;
    let sets = member_sets(&a, &modes)?;
    let children = Children {
        ids: [trues, falses],
        leaf: [true_leaf, false_leaf],
        n,
    };
    let roots = count_nodes(roots, &children)?;
    let mut trees = Vec::with_capacity(roots.len());
    for root in roots {
        let mut tree = ProtoTree::default();
        tree.nodes.push(Node::leaf(0.0, 1.0));
        tree.weights.push(Vec::new());
        let mut stack = vec![(root, 0usize)];
        while let Some((i, pos)) = stack.pop() {
            let values = match &sets[i] {
                Some(set) => set.clone(),
                None => split_values(OP, &format!("node {i}"), modes[i], &splits[i..=i])?,
            };
            let (split, default_left, swap) = split_of(modes[i], values, tracks[i]);
            let mut child = |id: i64, leaf: bool, side: &str| -> CoreResult<usize> {
                let at = tree.nodes.len();
                tree.nodes.push(Node::leaf(0.0, 1.0));
                tree.weights.push(Vec::new());
                if leaf {
                    let j = leaf_index(id, targets.len(), i, side)?;
                    let k = index(OP, "leaf_targetids", j, targets[j])?;
                    if k >= n_targets {
                        return Err(invalid(format!(
                            "{OP}: leaf {j} adds to target {k} but n_targets is {n_targets}"
                        )));
                    }
                    tree.weights[at].push((k, weights[j]));
                } else {
                    let c = node_index(id, n, &format!("the {side} child of node {i}"))?;
                    stack.push((c, at));
                }
                Ok(at)
            };
            let yes = child(trues[i], true_leaf[i] != 0, "true")?;
            let no = child(falses[i], false_leaf[i] != 0, "false")?;
            let node = &mut tree.nodes[pos];
            node.feature = Some(index(OP, "nodes_featureids", i, features[i])?);
            node.split = Some(split);
            node.default_left = default_left;
            (node.left, node.right) = if swap {
                (Some(no), Some(yes))
            } else {
                (Some(yes), Some(no))
            };
        }
        trees.push(tree);
    }
    let aggregate = match a.int("aggregate_function").unwrap_or(1) {
        0 => "AVERAGE",
        1 => "SUM",
        2 => "MIN",
        3 => "MAX",
        other => return Err(invalid(format!("{OP}: unknown aggregate_function {other}"))),
    };
    let post = match a.int("post_transform").unwrap_or(0) {
        0 => "NONE",
        1 => "SOFTMAX",
        2 => "LOGISTIC",
        3 => "SOFTMAX_ZERO",
        4 => "PROBIT",
        other => return Err(invalid(format!("{OP}: unknown post_transform {other}"))),
    };
    Ok(Forest {
        trees,
        n_targets,
        base: Vec::new(),
        aggregate: aggregate_of(OP, aggregate)?,
        post: post_of(OP, post)?,
        classes: None,
    })
}

/// The child arrays, true branch first.
struct Children<'a> {
    ids: [&'a [i64]; 2],
    leaf: [&'a [i64]; 2],
    n: usize,
}

/// The roots as indices, after a walk of every tree that only counts: a tree that
/// reaches an interior node twice (a loop, or a node shared within the tree) or a
/// child out of range is refused, and so are more than [`MAX_NODES`] nodes in all
/// (trees may share nodes, so a small file can describe a huge ensemble), before
/// anything is allocated for them.
fn count_nodes(roots: &[i64], c: &Children<'_>) -> CoreResult<Vec<usize>> {
    // Per interior node: 1 + the tree that last reached it (0: none yet).
    let mut stamp = vec![0usize; c.n];
    let mut total = 0usize;
    let mut out = Vec::with_capacity(roots.len().min(c.n));
    let mut stack = Vec::new();
    for (t, &root) in roots.iter().enumerate() {
        let root = node_index(root, c.n, &format!("tree_roots[{t}]"))?;
        out.push(root);
        stack.push(root);
        total += 1;
        while let Some(i) = stack.pop() {
            if stamp[i] == t + 1 {
                return Err(invalid(format!(
                    "{OP}: tree {t} reaches node {i} twice (a loop or a shared node)"
                )));
            }
            stamp[i] = t + 1;
            total += 2;
            if total > MAX_NODES {
                return Err(invalid(format!(
                    "{OP}: more than {MAX_NODES} nodes once every tree is laid out \
                     (trees may share nodes; each is counted where it is used)"
                )));
            }
            for side in 0..2 {
                if c.leaf[side][i] == 0 {
                    let what = format!("the {} child of node {i}", ["true", "false"][side]);
                    stack.push(node_index(c.ids[side][i], c.n, &what)?);
                }
            }
        }
    }
    Ok(out)
}

fn mode_of(i: usize, m: i64) -> CoreResult<Mode> {
    Ok(match m {
        0 => Mode::Leq,
        1 => Mode::Lt,
        2 => Mode::Gte,
        3 => Mode::Gt,
        4 => Mode::Eq,
        5 => Mode::Neq,
        6 => Mode::Member,
        other => return Err(invalid(format!("{OP}: node {i} has unknown mode {other}"))),
    })
}

fn node_index(id: i64, n: usize, what: &str) -> CoreResult<usize> {
    usize::try_from(id)
        .ok()
        .filter(|&i| i < n)
        .ok_or_else(|| invalid(format!("{OP}: {what} is node {id}, beyond the {n} nodes")))
}

fn leaf_index(id: i64, n: usize, node: usize, side: &str) -> CoreResult<usize> {
    usize::try_from(id).ok().filter(|&j| j < n).ok_or_else(|| {
        invalid(format!(
            "{OP}: the {side} branch of node {node} is leaf {id}, beyond the {n} leaves"
        ))
    })
}

/// The set of each `BRANCH_MEMBER` node (`None` for other nodes), from
/// `membership_values` cut at its NaNs.
fn member_sets(a: &Attrs<'_>, modes: &[Mode]) -> CoreResult<Vec<Option<Vec<f32>>>> {
    let members = modes.iter().filter(|&&m| m == Mode::Member).count();
    let mut sets: Vec<Option<Vec<f32>>> = vec![None; modes.len()];
    if members == 0 {
        return Ok(sets);
    }
    let values = a
        .floats("membership_values")
        .ok_or_else(|| a.missing("membership_values"))?;
    let mut groups = values.split(|v| v.is_nan());
    for (i, _) in modes.iter().enumerate().filter(|(_, &m)| m == Mode::Member) {
        let group = groups.next().filter(|g| !g.is_empty()).ok_or_else(|| {
            invalid(format!(
                "{OP}: membership_values has fewer non-empty sets than the {members} \
                 BRANCH_MEMBER nodes (none left for node {i})"
            ))
        })?;
        sets[i] = Some(split_values(OP, &format!("node {i}"), Mode::Member, group)?);
    }
    Ok(sets)
}
