//! The checks of one tree before it is compiled.

use super::{Split, Tree};
use crate::core::{CoreError, CoreResult};

/// Check one tree: indices in range, each node reached once from the root, finite
/// values. Returns its depth (splits from the root to the deepest leaf), found by
/// the same walk, on an explicit stack so no tree can overflow the thread's.
pub(super) fn validate_tree(
    tree: &Tree,
    t: usize,
    n_features: usize,
    n_outputs: usize,
) -> CoreResult<usize> {
    let bad = |what: String| CoreError::InvalidModel(format!("tree {t}: {what}"));
    if tree.nodes.is_empty() {
        return Err(bad("has no nodes".into()));
    }
    if tree.output >= n_outputs {
        return Err(bad(format!(
            "adds to output {} but the model has {n_outputs}",
            tree.output
        )));
    }
    let mut seen = vec![false; tree.nodes.len()];
    let mut deepest = 0;
    let mut stack = vec![(0usize, 0usize)];
    while let Some((i, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        if seen[i] {
            return Err(bad(format!(
                "node {i} is reached twice (a cycle or a shared child)"
            )));
        }
        seen[i] = true;
        let node = &tree.nodes[i];
        if !node.value.is_finite() || !node.cover.is_finite() || !node.gain.is_finite() {
            return Err(bad(format!("node {i} has a value that is not finite")));
        }
        if node.cover < 0.0 {
            return Err(bad(format!("node {i} has a negative cover")));
        }
        match (node.feature, &node.split, node.left, node.right) {
            (None, None, None, None) => {}
            (Some(f), Some(split), Some(l), Some(r)) => {
                if f >= n_features {
                    return Err(bad(format!(
                        "node {i} splits on feature {f} but the model has {n_features} features"
                    )));
                }
                for child in [l, r] {
                    if child >= tree.nodes.len() {
                        return Err(bad(format!(
                            "node {i} has child {child}, beyond its {} nodes",
                            tree.nodes.len()
                        )));
                    }
                    stack.push((child, depth + 1));
                }
                let nan = match split {
                    Split::LessOrEqual { threshold, .. } => threshold.is_nan(),
                    Split::LessOrEqualF32 { threshold } => threshold.is_nan(),
                    Split::InSetF32 { values } => {
                        values.iter().any(|v| v.is_nan()) || values.windows(2).any(|w| w[0] > w[1])
                    }
                    Split::LessThanF32 { .. } | Split::Categories { .. } => false,
                };
                if nan {
                    return Err(bad(format!(
                        "node {i} has a NaN threshold (or an unsorted set)"
                    )));
                }
            }
            _ => return Err(bad(format!("node {i} is neither a full split nor a leaf"))),
        }
    }
    Ok(deepest)
}
