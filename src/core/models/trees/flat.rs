//! The layout batch prediction walks, built once when a model is loaded (issue 19).
//!
//! Each tree's nodes lie breadth-first in one flat array of 16-byte records
//! (threshold, feature, and a word holding the left child's index, the comparison
//! and the default direction); a split's right child sits just after its left one,
//! so a step is `next = left + goes_right`. A leaf keeps a NaN threshold and its own
//! index minus one as "left child": every comparison with NaN fails and the default
//! direction is right, so a row that reached a leaf stays there. That lets a group
//! of 8 rows walk a tree level by level with no test per row for having arrived,
//! their loads independent so the processor overlaps their latency (several rows
//! per tree walk, as treelite and lleaves do), until a level where no row moved
//! (LightGBM's unbalanced trees are twice as deep as most rows go). Leaf values lie
//! in a parallel array, read once per row and tree.
//!
//! The comparisons are those of [`super::Node::goes_left`] case for case; a
//! categorical split keeps the index of its original node in its threshold and asks
//! that node, so category sets behave exactly as before. A model whose splits all
//! compare in float32 with one rule (XGBoost's `<`, or ONNX-ML's `<=`) walks rows
//! converted to float32 once per block, as XGBoost and onnxruntime compare them, and
//! keeps the branch on the comparison out of the loop. A row's outputs start at the base and add the trees' leaf
//! values in boosting order, the same f64 sums as the node-by-node walk.

use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;

use super::node::LIGHTGBM_ZERO;
use super::{Missing, Node, Split, Tree};

mod rules;

use rules::{dominant_rule, goes_left, split_node, threshold_f32, F32Rule};

/// Bits of [`FlatNode::meta`] that hold the left child's index within its tree.
const CHILD_BITS: u32 = 28;
/// Mask of the child index.
const CHILD_MASK: u32 = (1 << CHILD_BITS) - 1;
/// Most nodes one tree may have in this layout.
pub const MAX_TREE_NODES: usize = 1 << CHILD_BITS;

/// A leaf's threshold: NaN as a float64, and its low half NaN as a float32 too (the
/// half a float32 split keeps its threshold in).
const LEAF_THRESHOLD: u64 = 0x7FF8_0000_7FC0_0000;

/// Comparison codes (bits 28..31 of [`FlatNode::meta`]), as [`super::CutRule`].
const LESS_F32: u32 = 0;
const LESS_EQUAL: u32 = 1;
const LESS_EQUAL_ZERO_MISSING: u32 = 2;
const LESS_EQUAL_NAN_AS_ZERO: u32 = 3;
const CATEGORIES: u32 = 4;
const LESS_EQUAL_F32: u32 = 5;
/// Number of numeric comparison codes (all but [`CATEGORIES`]).
const NUMERIC_RULES: usize = 6;

/// Rows one group walks a tree with, their node loads in flight together.
const GROUP: usize = 8;
/// Rows a task takes: every tree is walked by all of them before the next tree, so
/// a tree's nodes stay in the nearest cache while they are read.
pub const CHUNK_ROWS: usize = 64;

/// One node of the prediction layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatNode {
    /// The split value (for a float32 split, its bits in the low half); NaN for a
    /// leaf (`LEAF_THRESHOLD`); the original node's index for a categorical split.
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
    /// Index of its root in the nodes of its [`Flat`].
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
    trees: Vec<FlatTree>,
    /// All nodes, tree after tree, each tree breadth-first. Private, and built only
    /// by [`Flat::new`] from validated trees: the walk relies on its indices.
    nodes: Vec<FlatNode>,
    /// Per node: the leaf's value (0 for a split).
    values: Vec<f64>,
    /// Whether every split compares in float32 by one rule (`<` or `<=`), so rows
    /// may be walked as float32.
    all_f32: Option<F32Rule>,
    /// One more than the largest feature a node reads (at least 1): the fewest
    /// values a row must have.
    min_stride: usize,
}

impl Flat {
    /// Lay out validated trees (children in range, every node reached once from
    /// the root), each with fewer than [`MAX_TREE_NODES`] nodes.
    pub(super) fn new(trees: &[Tree]) -> Self {
        let nodes: usize = trees.iter().map(|t| t.nodes.len()).sum();
        let mut flat = Flat {
            trees: Vec::with_capacity(trees.len()),
            nodes: Vec::with_capacity(nodes),
            values: Vec::with_capacity(nodes),
            all_f32: None,
            min_stride: 1,
        };
        let (leaf_rule, all_f32) = dominant_rule(trees);
        flat.all_f32 = all_f32;
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
                        threshold: f64::from_bits(LEAF_THRESHOLD),
                        feature: 0,
                        meta: own | leaf_rule << CHILD_BITS,
                    });
                    flat.values.push(node.value);
                } else {
                    flat.min_stride = flat.min_stride.max(node.feature.unwrap_or(0) + 1);
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

    /// Raw outputs of the rows of `x`: blocks of [`CHUNK_ROWS`] rows in parallel, each walking every tree in boosting order
    /// from `base`, so every row gets the same f64 sums as the node-by-node walk.
    /// `trees` are the trees the layout was built from: categorical splits ask them.
    ///
    /// # Panics
    /// When `x` has fewer columns than the features the trees read, or `base` is
    /// empty.
    pub fn predict(&self, trees: &[Tree], base: &[f64], x: ArrayView2<f64>) -> Array2<f64> {
        let n_out = base.len();
        let stride = x.ncols();
        let mut out = Array2::from_shape_fn((x.nrows(), n_out), |(_, k)| base[k]);
        let contiguous = x.as_slice();
        let Some(slots) = out.as_slice_mut() else {
            unreachable!("a new array is in standard layout")
        };
        let chunk = CHUNK_ROWS;
        slots
            .par_chunks_mut(chunk * n_out)
            .enumerate()
            .for_each(|(c, out)| {
                let first = c * chunk;
                let n = out.len() / n_out;
                let block = Block {
                    trees,
                    stride,
                    n_out,
                    rows: n,
                };
                let copy: Vec<f64>;
                let rows = match contiguous {
                    Some(all) => &all[first * stride..(first + n) * stride],
                    None => {
                        copy = x.slice(s![first..first + n, ..]).iter().copied().collect();
                        &copy
                    }
                };
                let narrow = || rows.iter().map(|&v| v as f32).collect::<Vec<f32>>();
                match self.all_f32 {
                    Some(F32Rule::Less) => self.add_trees::<AsF32>(&block, &narrow(), out),
                    Some(F32Rule::LessEqual) => {
                        self.add_trees::<AsF32LessEqual>(&block, &narrow(), out);
                    }
                    None => self.add_trees::<AnyRule>(&block, rows, out),
                }
            });
        out
    }

    /// Add every tree's leaf value to `out` for the block's rows (`rows` holds
    /// `block.rows` rows of `block.stride` values).
    fn add_trees<D: Decide>(&self, block: &Block, rows: &[D::Value], out: &mut [f64]) {
        let (stride, n_out) = (block.stride, block.n_out);
        assert!(stride >= self.min_stride && rows.len() == block.rows * stride);
        for (t, head) in self.trees.iter().enumerate() {
            let walk = Walk {
                nodes: &self.nodes[head.start..head.start + head.len as usize],
                values: &self.values[head.start..head.start + head.len as usize],
                original: &block.trees[t].nodes,
                depth: head.depth,
            };
            let k = head.output as usize;
            let mut r = 0;
            while r + GROUP <= block.rows {
                let leaves = walk.group::<D, GROUP>(&rows[r * stride..], stride);
                for (g, v) in leaves.iter().enumerate() {
                    out[(r + g) * n_out + k] += v;
                }
                r += GROUP;
            }
            while r < block.rows {
                let [v] = walk.group::<D, 1>(&rows[r * stride..], stride);
                out[r * n_out + k] += v;
                r += 1;
            }
        }
    }
}

/// What one task predicts: its rows' shape and the original trees.
struct Block<'a> {
    trees: &'a [Tree],
    stride: usize,
    n_out: usize,
    rows: usize,
}

/// One tree as a group walks it.
struct Walk<'a> {
    nodes: &'a [FlatNode],
    values: &'a [f64],
    original: &'a [Node],
    depth: u32,
}

impl Walk<'_> {
    /// Leaf values of the `G` rows at the start of `rows` (`stride` values a row, at
    /// least [`Flat::min_stride`]).
    #[inline(always)]
    fn group<D: Decide, const G: usize>(&self, rows: &[D::Value], stride: usize) -> [f64; G] {
        let rows = &rows[..G * stride];
        let mut at = [0u32; G];
        for _ in 0..self.depth {
            // A split always moves a row to a later node, a leaf keeps it: when no
            // row of the group moved, all have reached their leaves.
            let mut moved = 0;
            for (g, a) in at.iter_mut().enumerate() {
                debug_assert!((*a as usize) < self.nodes.len());
                // SAFETY: `*a` is a node of this tree: it starts at the root, and a
                // step goes to a child (validated trees laid out breadth-first by
                // `Flat::new`, children in range) or stays on a leaf.
                let node = unsafe { self.nodes.get_unchecked(*a as usize) };
                let at_x = g * stride + node.feature as usize;
                debug_assert!(at_x < rows.len());
                // SAFETY: g < G and every feature of the layout is below
                // `min_stride` <= `stride` (asserted in `add_trees`), so the index is
                // within the G rows of `rows`.
                let x = unsafe { *rows.get_unchecked(at_x) };
                let right = !D::goes_left(node, x, self.original);
                let next = ((node.meta & CHILD_MASK) + u32::from(right)) & CHILD_MASK;
                moved |= next ^ *a;
                *a = next;
            }
            if moved == 0 {
                break;
            }
        }
        at.map(|a| self.values[a as usize])
    }
}

/// How a walk reads a row's values and decides a step.
trait Decide {
    /// A row value as the walk reads it.
    type Value: Copy;
    /// Whether `x` goes left at `node`.
    fn goes_left(node: &FlatNode, x: Self::Value, original: &[Node]) -> bool;
}

/// Any model: float64 rows, the comparison read from each node.
struct AnyRule;

impl Decide for AnyRule {
    type Value = f64;
    #[inline(always)]
    fn goes_left(node: &FlatNode, x: f64, original: &[Node]) -> bool {
        goes_left(node, x, original)
    }
}

/// A model of float32 splits only: rows already converted to float32.
struct AsF32;

impl Decide for AsF32 {
    type Value = f32;
    #[inline(always)]
    fn goes_left(node: &FlatNode, x: f32, _: &[Node]) -> bool {
        (x < threshold_f32(node)) | (x.is_nan() & (node.meta >> 31 != 0))
    }
}

/// A model of float32 `<=` splits only (ONNX-ML's `BRANCH_LEQ`): rows already
/// converted to float32.
struct AsF32LessEqual;

impl Decide for AsF32LessEqual {
    type Value = f32;
    #[inline(always)]
    fn goes_left(node: &FlatNode, x: f32, _: &[Node]) -> bool {
        (x <= threshold_f32(node)) | (x.is_nan() & (node.meta >> 31 != 0))
    }
}
