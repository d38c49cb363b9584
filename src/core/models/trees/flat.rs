//! The layout batch prediction walks, built once when a model is loaded (issue 19).
//!
//! Each tree's nodes lie breadth-first in one flat array of 16-byte records
//! (threshold, feature, and a word holding the left child's index, the comparison
//! and the default direction); a split's right child sits just after its left one,
//! so a step is `next = left + goes_right`. A leaf keeps a NaN threshold and its own
//! index minus one as "left child": every comparison with NaN fails and the default
//! direction is right, so a row that reached a leaf stays there. That lets a group
//! of rows walk a tree for exactly its depth with no test for having arrived, their
//! loads independent so the processor overlaps their latency (several rows per tree
//! walk, as treelite and lleaves do). Leaf values lie in a parallel array, read once
//! per row and tree.
//!
//! The comparisons are those of [`super::Node::goes_left`] case for case; a
//! categorical split keeps the index of its original node in its threshold and asks
//! that node, so category sets behave exactly as before. A row's outputs start at the
//! base and add the trees' leaf values in boosting order, the same f64 sums as the
//! node-by-node walk.

use super::node::LIGHTGBM_ZERO;
use super::{Missing, Node, Split, Tree};

/// Bits of [`FlatNode::meta`] that hold the left child's index within its tree.
const CHILD_BITS: u32 = 28;
/// Mask of the child index.
const CHILD_MASK: u32 = (1 << CHILD_BITS) - 1;
/// Most nodes one tree may have in this layout.
pub const MAX_TREE_NODES: usize = 1 << CHILD_BITS;

/// Comparison codes (bits 28..31 of [`FlatNode::meta`]), as [`super::CutRule`].
const LESS_F32: u32 = 0;
const LESS_EQUAL: u32 = 1;
const LESS_EQUAL_ZERO_MISSING: u32 = 2;
const LESS_EQUAL_NAN_AS_ZERO: u32 = 3;
const CATEGORIES: u32 = 4;

/// Rows one group walks a tree with, their node loads in flight together.
const GROUP: usize = 8;
/// Rows a task takes: every tree is walked by all of them before the next tree, so
/// a tree's nodes stay in the nearest cache while they are read.
pub const CHUNK_ROWS: usize = 64;

/// One node of the prediction layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatNode {
    /// The split value (an XGBoost float32 widened exactly); NaN for a leaf; the
    /// original node's index for a categorical split.
    pub threshold: f64,
    /// Feature index the split reads (0 for a leaf, read and ignored).
    pub feature: u32,
    /// Bits 0..28: the left child's index in the tree (the right child follows it);
    /// bits 28..31: the comparison; bit 31: NaN (or LightGBM's zero) goes left.
    pub meta: u32,
}

/// Where one tree lies in the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlatTree {
    /// Index of its root in [`Flat::nodes`].
    pub start: usize,
    /// Number of its nodes.
    pub len: u32,
    /// Splits from the root to its deepest leaf: the steps a group takes.
    pub depth: u32,
    /// The raw output it adds to.
    pub output: u32,
}

/// The prediction layout of an ensemble.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flat {
    /// Per tree, in boosting order.
    pub trees: Vec<FlatTree>,
    /// All nodes, tree after tree, each tree breadth-first.
    pub nodes: Vec<FlatNode>,
    /// Per node: the leaf's value (0 for a split).
    pub values: Vec<f64>,
}

impl Flat {
    /// Lay out validated trees, each with fewer than [`MAX_TREE_NODES`] nodes.
    pub fn new(trees: &[Tree]) -> Self {
        let nodes: usize = trees.iter().map(|t| t.nodes.len()).sum();
        let mut flat = Flat {
            trees: Vec::with_capacity(trees.len()),
            nodes: Vec::with_capacity(nodes),
            values: Vec::with_capacity(nodes),
        };
        let leaf_rule = dominant_rule(trees);
        // Per breadth-first position: (original node, its depth).
        let mut order: Vec<(usize, u32)> = Vec::new();
        for tree in trees {
            debug_assert!(tree.nodes.len() < MAX_TREE_NODES);
            order.clear();
            order.push((0, 0));
            let mut depth = 0;
            let mut at = 0;
            while at < order.len() {
                let (i, d) = order[at];
                depth = depth.max(d);
                if let (Some(l), Some(r)) = (tree.nodes[i].left, tree.nodes[i].right) {
                    order.push((l, d + 1));
                    order.push((r, d + 1));
                }
                at += 1;
            }
            let start = flat.nodes.len();
            // The left child of the k-th split (breadth-first) is at 1 + 2k.
            let mut splits = 0u32;
            for (pos, &(i, _)) in order.iter().enumerate() {
                let node = &tree.nodes[i];
                if node.is_leaf() {
                    let own = (pos as u32).wrapping_sub(1) & CHILD_MASK;
                    flat.nodes.push(FlatNode {
                        threshold: f64::NAN,
                        feature: 0,
                        meta: own | leaf_rule << CHILD_BITS,
                    });
                    flat.values.push(node.value);
                } else {
                    flat.nodes.push(split_node(node, i, 1 + 2 * splits));
                    flat.values.push(0.0);
                    splits += 1;
                }
            }
            flat.trees.push(FlatTree {
                start,
                len: order.len() as u32,
                depth,
                output: tree.output as u32,
            });
        }
        flat
    }

    /// Bytes its arrays hold.
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val(&self.trees[..])
            + std::mem::size_of_val(&self.nodes[..])
            + std::mem::size_of_val(&self.values[..])
    }

    /// Add every tree's leaf value to `out` for `rows` (row-major, `stride` values a
    /// row, at least the model's features; `out` row-major with `n_out` values a row,
    /// already holding the base). `trees` are the trees the layout was built from:
    /// categorical splits ask their nodes.
    pub fn add_trees(
        &self,
        trees: &[Tree],
        rows: &[f64],
        stride: usize,
        n_out: usize,
        out: &mut [f64],
    ) {
        let n_rows = out.len() / n_out;
        let n_features = stride;
        for (t, head) in self.trees.iter().enumerate() {
            let walk = Walk {
                nodes: &self.nodes[head.start..head.start + head.len as usize],
                values: &self.values[head.start..head.start + head.len as usize],
                original: &trees[t].nodes,
                depth: head.depth,
            };
            let k = head.output as usize;
            let mut r = 0;
            while r + GROUP <= n_rows {
                let leaves = walk.group::<GROUP>(&rows[r * n_features..], n_features);
                for (g, v) in leaves.iter().enumerate() {
                    out[(r + g) * n_out + k] += v;
                }
                r += GROUP;
            }
            while r < n_rows {
                let [v] = walk.group::<1>(&rows[r * n_features..], n_features);
                out[r * n_out + k] += v;
                r += 1;
            }
        }
    }
}

/// One tree as a group walks it.
struct Walk<'a> {
    nodes: &'a [FlatNode],
    values: &'a [f64],
    original: &'a [Node],
    depth: u32,
}

impl Walk<'_> {
    /// Leaf values of the `G` rows at the start of `rows`.
    #[inline(always)]
    fn group<const G: usize>(&self, rows: &[f64], n_features: usize) -> [f64; G] {
        let mut at = [0u32; G];
        for _ in 0..self.depth {
            for (g, a) in at.iter_mut().enumerate() {
                let node = &self.nodes[*a as usize];
                let x = rows[g * n_features + node.feature as usize];
                let right = !goes_left(node, x, self.original);
                *a = ((node.meta & CHILD_MASK) + u32::from(right)) & CHILD_MASK;
            }
        }
        at.map(|a| self.values[a as usize])
    }
}

/// Whether value `x` goes left at `node`: [`Node::goes_left`] case for case.
#[inline(always)]
fn goes_left(node: &FlatNode, x: f64, original: &[Node]) -> bool {
    let default_left = node.meta >> 31 != 0;
    match (node.meta >> CHILD_BITS) & 7 {
        LESS_F32 => ((x as f32) < node.threshold as f32) | (x.is_nan() & default_left),
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
fn split_node(node: &Node, i: usize, left: u32) -> FlatNode {
    let (threshold, rule) = match &node.split {
        Some(Split::LessThanF32 { threshold }) => (f64::from(*threshold), LESS_F32),
        Some(Split::LessOrEqual { threshold, missing }) => (*threshold, rule_of(*missing)),
        Some(Split::Categories { .. }) | None => (i as f64, CATEGORIES),
    };
    FlatNode {
        threshold,
        feature: node.feature.unwrap_or(0) as u32,
        meta: left | rule << CHILD_BITS | u32::from(node.default_left) << 31,
    }
}

/// The code of a LightGBM split's missing-value rule.
fn rule_of(missing: Missing) -> u32 {
    match missing {
        Missing::NanDefault => LESS_EQUAL,
        Missing::ZeroDefault => LESS_EQUAL_ZERO_MISSING,
        Missing::NanAsZero => LESS_EQUAL_NAN_AS_ZERO,
    }
}

/// The numeric comparison most splits use, given to leaves too, so the branch on
/// the comparison is the same at every step of a model that uses one rule. (A
/// leaf's NaN threshold sends every row right under any numeric rule.)
fn dominant_rule(trees: &[Tree]) -> u32 {
    let mut counts = [0usize; 4];
    for split in trees
        .iter()
        .flat_map(|t| &t.nodes)
        .filter_map(|n| n.split.as_ref())
    {
        match split {
            Split::LessThanF32 { .. } => counts[LESS_F32 as usize] += 1,
            Split::LessOrEqual { missing, .. } => counts[rule_of(*missing) as usize] += 1,
            Split::Categories { .. } => {}
        }
    }
    (0..4u32)
        .max_by_key(|&r| (counts[r as usize], std::cmp::Reverse(r)))
        .unwrap_or(LESS_F32)
}
