//! The distinct splits of an ensemble, found once when a model is loaded.
//!
//! Boosting libraries bin each feature before they grow trees (XGBoost's `hist`,
//! LightGBM's 255 bins), so the same split recurs across trees: the 500-tree
//! XGBoost model of issue 19 has 25,852 splits but 4,638 distinct ones. The
//! coalition game of the tree route (`core::explain`'s `tree_game`) decides each
//! background row at each distinct split once instead of at every node.

use std::collections::HashMap;

use super::{Split, Tree};

/// Which distinct split each node makes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DistinctSplits {
    /// Per tree, per node (the tree's own order): the index of its split among the
    /// distinct ones; `u32::MAX` for a leaf.
    pub of_node: Vec<Vec<u32>>,
    /// Per distinct split: (tree, node) of the first node that makes it, whose
    /// [`super::Node::goes_left`] decides it.
    pub first: Vec<(u32, u32)>,
}

/// What makes two splits the same: the feature, where missing values go, and the
/// comparison with its exact bits.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    /// [`Split::LessThanF32`].
    LessF32(u32),
    /// [`Split::LessOrEqualF32`].
    LessEqualF32(u32),
    /// [`Split::LessOrEqual`] and its missing-value rule.
    LessEqual(u64, u8),
    /// [`Split::InSetF32`].
    InSet(Vec<u32>),
    /// [`Split::Categories`].
    Categories(Vec<u32>, bool),
}

impl Key {
    /// The key of a split.
    fn of(split: &Split) -> Self {
        match split {
            Split::LessThanF32 { threshold } => Key::LessF32(threshold.to_bits()),
            Split::LessOrEqualF32 { threshold } => Key::LessEqualF32(threshold.to_bits()),
            Split::LessOrEqual { threshold, missing } => {
                Key::LessEqual(threshold.to_bits(), *missing as u8)
            }
            Split::InSetF32 { values } => Key::InSet(values.iter().map(|v| v.to_bits()).collect()),
            Split::Categories {
                categories,
                listed_go_left,
            } => Key::Categories(categories.clone(), *listed_go_left),
        }
    }
}

impl DistinctSplits {
    /// Index the splits of `trees`.
    pub fn new(trees: &[Tree]) -> Self {
        let mut seen: HashMap<(usize, bool, Key), u32> = HashMap::new();
        let mut out = DistinctSplits::default();
        for (t, tree) in trees.iter().enumerate() {
            let ids = tree
                .nodes
                .iter()
                .enumerate()
                .map(|(i, node)| match (node.feature, &node.split) {
                    (Some(f), Some(split)) => {
                        let key = (f, node.default_left, Key::of(split));
                        let next = out.first.len() as u32;
                        let id = *seen.entry(key).or_insert(next);
                        if id == next {
                            out.first.push((t as u32, i as u32));
                        }
                        id
                    }
                    _ => u32::MAX,
                })
                .collect();
            out.of_node.push(ids);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Missing, Node};
    use super::*;

    fn split(feature: usize, split: Split, default_left: bool) -> Node {
        Node {
            feature: Some(feature),
            split: Some(split),
            default_left,
            left: Some(1),
            right: Some(2),
            cover: 1.0,
            value: 0.0,
            gain: 0.0,
        }
    }

    #[test]
    fn splits_are_the_same_only_with_feature_rule_threshold_and_default() {
        let le = |t: f64, m| Split::LessOrEqual {
            threshold: t,
            missing: m,
        };
        let nodes = [
            split(0, le(0.5, Missing::NanDefault), true),
            split(0, le(0.5, Missing::NanDefault), true),
            split(1, le(0.5, Missing::NanDefault), true),
            split(0, le(0.5, Missing::NanDefault), false),
            split(0, le(0.5, Missing::ZeroDefault), true),
            split(0, le(0.25, Missing::NanDefault), true),
            split(0, Split::LessThanF32 { threshold: 0.5 }, true),
            split(0, Split::LessOrEqualF32 { threshold: 0.5 }, true),
        ];
        let trees: Vec<Tree> = nodes
            .iter()
            .map(|n| Tree {
                nodes: vec![n.clone(), Node::leaf(1.0, 1.0), Node::leaf(2.0, 1.0)],
                output: 0,
            })
            .collect();
        let d = DistinctSplits::new(&trees);
        let ids: Vec<u32> = d.of_node.iter().map(|t| t[0]).collect();
        assert_eq!(ids, vec![0, 0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(d.of_node[0][1], u32::MAX);
        assert_eq!(d.first[0], (0, 0));
        assert_eq!(d.first[6], (7, 0));
    }
}
