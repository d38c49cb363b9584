//! Per node: the rule code a split is laid out with, and the comparison a walk
//! makes for rules that defer to their [`Node`].

use super::{
    FlatNode, Missing, Node, Split, Tree, CATEGORIES, CHILD_BITS, LESS_EQUAL, LESS_EQUAL_F32,
    LESS_EQUAL_NAN_AS_ZERO, LESS_EQUAL_ZERO_MISSING, LESS_F32, LIGHTGBM_ZERO, NUMERIC_RULES,
};

/// The one float32 comparison of a model whose splits all compare in float32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum F32Rule {
    /// [`Split::LessThanF32`].
    Less,
    /// [`Split::LessOrEqualF32`].
    LessEqual,
}

/// The float32 threshold kept in the low half of a float32 split's threshold.
#[inline(always)]
pub(super) fn threshold_f32(node: &FlatNode) -> f32 {
    f32::from_bits(node.threshold.to_bits() as u32)
}

/// Whether value `x` goes left at `node`: [`Node::goes_left`] case for case.
#[inline(always)]
pub(super) fn goes_left(node: &FlatNode, x: f64, original: &[Node]) -> bool {
    let default_left = node.meta >> 31 != 0;
    match (node.meta >> CHILD_BITS) & 7 {
        LESS_F32 => ((x as f32) < threshold_f32(node)) | (x.is_nan() & default_left),
        LESS_EQUAL_F32 => ((x as f32) <= threshold_f32(node)) | (x.is_nan() & default_left),
        LESS_EQUAL => (x <= node.threshold) | (x.is_nan() & default_left),
        LESS_EQUAL_ZERO_MISSING => {
            if x.is_nan() || x.abs() <= LIGHTGBM_ZERO {
                default_left
            } else {
                x <= node.threshold
            }
        }
        LESS_EQUAL_NAN_AS_ZERO => (if x.is_nan() { 0.0 } else { x }) <= node.threshold,
        _ => categories_go_left(x, &original[node.threshold as usize]),
    }
}

/// A categorical split asks its node, out of line so the numeric cases stay small.
#[cold]
#[inline(never)]
fn categories_go_left(x: f64, node: &Node) -> bool {
    node.goes_left(x)
}

/// The record of split `node` (index `i` in its tree) whose left child is at `left`.
pub(super) fn split_node(node: &Node, i: usize, left: u32) -> FlatNode {
    let (threshold, rule) = match &node.split {
        Some(Split::LessThanF32 { threshold }) => {
            (f64::from_bits(u64::from(threshold.to_bits())), LESS_F32)
        }
        Some(Split::LessOrEqualF32 { threshold }) => (
            f64::from_bits(u64::from(threshold.to_bits())),
            LESS_EQUAL_F32,
        ),
        Some(Split::LessOrEqual { threshold, missing }) => (*threshold, rule_of(*missing)),
        Some(Split::Categories { .. } | Split::InSetF32 { .. }) | None => (i as f64, CATEGORIES),
    };
    FlatNode {
        threshold,
        feature: node.feature.unwrap_or(0) as u32,
        meta: left | rule << CHILD_BITS | u32::from(node.default_left) << 31,
    }
}

/// The code of a LightGBM split's missing-value rule.
pub(super) fn rule_of(missing: Missing) -> u32 {
    match missing {
        Missing::NanDefault => LESS_EQUAL,
        Missing::ZeroDefault => LESS_EQUAL_ZERO_MISSING,
        Missing::NanAsZero => LESS_EQUAL_NAN_AS_ZERO,
    }
}

/// The numeric comparison most splits use, given to leaves too, so the branch on
/// the comparison is the same at every step of a model that uses one rule (a
/// leaf's NaN threshold sends every row right under any numeric rule); and the
/// float32 rule every split uses, if they all use one.
pub(super) fn dominant_rule(trees: &[Tree]) -> (u32, Option<F32Rule>) {
    let mut counts = [0usize; NUMERIC_RULES];
    for split in trees
        .iter()
        .flat_map(|t| &t.nodes)
        .filter_map(|n| n.split.as_ref())
    {
        match split {
            Split::LessThanF32 { .. } => counts[LESS_F32 as usize] += 1,
            Split::LessOrEqualF32 { .. } => counts[LESS_EQUAL_F32 as usize] += 1,
            Split::LessOrEqual { missing, .. } => counts[rule_of(*missing) as usize] += 1,
            Split::Categories { .. } | Split::InSetF32 { .. } => {}
        }
    }
    let splits = trees
        .iter()
        .flat_map(|t| &t.nodes)
        .filter(|n| !n.is_leaf())
        .count();
    let rule = (0..NUMERIC_RULES as u32)
        .filter(|&r| r != CATEGORIES)
        .max_by_key(|&r| (counts[r as usize], std::cmp::Reverse(r)))
        .unwrap_or(LESS_F32);
    let all_f32 = if counts[LESS_F32 as usize] == splits {
        Some(F32Rule::Less)
    } else if counts[LESS_EQUAL_F32 as usize] == splits {
        Some(F32Rule::LessEqual)
    } else {
        None
    };
    (rule, all_f32)
}
