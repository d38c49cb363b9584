//! CatBoost's own feature importance, `PredictionValuesChange` (what
//! `get_feature_importance()` returns by default for non-ranking losses), which
//! CatBoost's JSON document does not store: computed from the trees as CatBoost
//! defines it (CatBoost documentation, "Feature importance", PredictionValuesChange).
//!
//! For every oblivious tree and every split in it, the leaves pair up by the split's
//! bit (leaf i with leaf i XOR 2^b); a pair with training weights c₁, c₂ (both
//! non-zero) and values v₁, v₂ adds `c₁(v₁ − a)² + c₂(v₂ − a)²`, with
//! `a = (c₁v₁ + c₂v₂)/(c₁ + c₂)`, to the split's feature, summed over outputs. The
//! totals are given in percent of their sum. A common scale of the leaf values
//! cancels there, so the expanded trees' values (CatBoost's × `scale`) serve.
//!
//! It reads the expansion `crate::formats` makes of an oblivious tree (a complete
//! tree in heap order whose level l tests split depth−1−l, leaf n − (2^depth − 1)
//! being CatBoost's leaf index, the leaf covers its weights); for trees of any other
//! shape there is no answer.

use crate::core::models::trees::Tree;
use crate::core::models::{Model, TreeEnsemble};

/// PredictionValuesChange per feature, in percent (summing to 100, or all zero when
/// no split changes a prediction); `None` when a tree is not an expanded oblivious
/// tree.
pub fn prediction_values_change(model: &TreeEnsemble) -> Option<Vec<f64>> {
    let mut effect = vec![0.0; model.n_features()];
    for tree in model.trees() {
        add_tree(tree, &mut effect)?;
    }
    let total: f64 = effect.iter().sum();
    if total > 0.0 {
        effect.iter_mut().for_each(|e| *e *= 100.0 / total);
    }
    Some(effect)
}

/// Add one expanded oblivious tree's effects; `None` when it is not one.
fn add_tree(tree: &Tree, effect: &mut [f64]) -> Option<()> {
    let nodes = &tree.nodes;
    // A complete tree of depth d has 2^(d+1) − 1 nodes.
    let levels = (nodes.len() + 1).checked_ilog2()? as usize;
    if nodes.len() + 1 != 1 << levels {
        return None;
    }
    let depth = levels - 1;
    let inner = (1usize << depth) - 1;
    for (n, node) in nodes.iter().enumerate() {
        let level = (n + 1).ilog2() as usize;
        let first = &nodes[(1 << level) - 1];
        let heap = n >= inner || (node.left == Some(2 * n + 1) && node.right == Some(2 * n + 2));
        if !heap || node.is_leaf() != (n >= inner) || node.feature != first.feature {
            return None;
        }
    }
    let leaves = &nodes[inner..];
    for level in 0..depth {
        let feature = nodes[(1 << level) - 1].feature?;
        let bit = 1 << (depth - 1 - level);
        for i in (0..leaves.len()).filter(|i| i & bit == 0) {
            let (one, two) = (&leaves[i], &leaves[i | bit]);
            let (c1, c2) = (one.cover, two.cover);
            if c1 == 0.0 || c2 == 0.0 {
                continue;
            }
            let a = (c1 * one.value + c2 * two.value) / (c1 + c2);
            *effect.get_mut(feature)? +=
                c1 * (one.value - a).powi(2) + c2 * (two.value - a).powi(2);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::models::trees::{EnsembleSpec, Missing, Node, Split};
    use crate::core::models::Link;

    fn split(feature: usize, left: usize) -> Node {
        Node {
            feature: Some(feature),
            split: Some(Split::LessOrEqual {
                threshold: 0.5,
                missing: Missing::NanDefault,
            }),
            left: Some(left),
            right: Some(left + 1),
            ..Node::leaf(0.0, 0.0)
        }
    }

    fn model(trees: Vec<Vec<Node>>) -> TreeEnsemble {
        TreeEnsemble::new(EnsembleSpec {
            kind: "catboost",
            objective: "RMSE".into(),
            link: Link::Identity,
            n_features: 2,
            base: vec![0.0],
            trees: trees
                .into_iter()
                .map(|nodes| Tree { nodes, output: 0 })
                .collect(),
            feature_names: None,
            raw_features: None,
        })
        .unwrap()
    }

    #[test]
    fn hand_computed_effects_in_percent() {
        // Depth 2: level 0 on feature 1, level 1 on feature 0. Leaves (value, weight):
        // (0, 1), (2, 1), (4, 2), (4, 0). Feature 0 pairs leaves 0–1: a = 1, effect
        // 1 + 1 = 2; leaves 2–3 have a zero weight. Feature 1 pairs 0–2: a = 8/3,
        // effect (8/3)² + 2(4/3)² = 32/3; 1–3 skipped. Total 38/3.
        let leaves = [(0.0, 1.0), (2.0, 1.0), (4.0, 2.0), (4.0, 0.0)];
        let mut nodes = vec![split(1, 1), split(0, 3), split(0, 5)];
        nodes.extend(leaves.iter().map(|&(v, c)| Node::leaf(v, c)));
        let got = prediction_values_change(&model(vec![nodes])).unwrap();
        let total = 38.0 / 3.0;
        assert!((got[0] - 100.0 * 2.0 / total).abs() < 1e-12, "{got:?}");
        assert!(
            (got[1] - 100.0 * (32.0 / 3.0) / total).abs() < 1e-12,
            "{got:?}"
        );
    }

    #[test]
    fn a_tree_that_is_not_oblivious_has_no_answer() {
        let mut nodes = vec![split(1, 1), split(0, 3), split(1, 5)];
        nodes.extend((0..4).map(|v| Node::leaf(f64::from(v), 1.0)));
        assert!(prediction_values_change(&model(vec![nodes])).is_none());
    }
}
