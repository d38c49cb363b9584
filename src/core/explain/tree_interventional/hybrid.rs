//! One row's interventional TreeSHAP against a block of background rows at once: a
//! walk down each tree carrying the block as a bit set.
//!
//! For a row x and a background row r, the hybrids z = (x_S, r_S̄) that reach a leaf
//! are found by the walk of Lundberg et al. 2020 (Methods): at a split on feature j,
//! if j is already x's (in A) the walk follows x, if already r's (in B) it follows
//! r, and where x and r agree it follows both; where they part it goes both ways,
//! with j added to A on x's side and to B on r's side. The leaf's value then counts
//! for the coalitions S ⊇ A with S ∩ B = ∅ (see [`super`] for the weights).
//!
//! Background rows that take the same branches reach the same (leaf, A, B), so the
//! walk is done once per *set* of rows: a state is (node, A, B, rows), the rows a
//! u128 bit set (one block of 128 background rows), split at each node by the rows'
//! precomputed directions. A row's cost is the states its block visits, which grow
//! with the places where x and the block part, not with the tree's leaves; at a leaf
//! the whole set shares one weight, counted with a popcount. A and B are masks over
//! the path's distinct features in order of first appearance, the slot numbering
//! of [`Compiled::slots`], so a feature's status is one bit test.
//!
//! The walk's cost grows with the number of blocks, so it is taken only where it
//! pays ([`walks`]); the other trees read the background grouped per leaf
//! ([`super::groups`]). [`Hybrid`] holds both and explains rows tree after tree.

use std::mem::size_of;

use ndarray::ArrayView2;

use super::groups::{self, Groups, Pass};
use super::weights::Weights;
use crate::core::explain::tree_walk::{for_bits, Scratch};
use crate::core::models::trees::{Compiled, Cut, Node, TreeEnsemble};
use crate::core::models::Model;
use crate::core::{Cancel, CoreResult};

/// `slot` of a leaf's [`Hop`].
const LEAF: u8 = u8::MAX;

/// One node of a tree as the walk reads it.
#[derive(Debug, Clone, Copy)]
struct Hop {
    /// The split's comparison; a leaf's threshold is its value.
    cut: Cut,
    /// Children as indices in [`Hybrid::hops`], `[right, left]` so that the child a
    /// direction takes is `kids[goes_left as usize]`; a leaf's are the start of its
    /// slots in [`Compiled::slot_feature`] and its index in the leaf arrays.
    kids: [u32; 2],
    /// For a split: its index in the background direction sets (a block's sets are
    /// `Hybrid::splits` words from `block · splits`).
    split: u32,
    /// The bit of the split's feature among its path's distinct features, or [`LEAF`].
    slot: u8,
}

/// The trees laid out for the walk and the background rows' directions at every split.
#[derive(Debug)]
pub(super) struct Hybrid {
    /// Every tree's nodes, tree after tree, in each tree's own node order.
    hops: Vec<Hop>,
    /// Per tree: the index of its root in `hops`.
    roots: Vec<u32>,
    /// Number of splits in the model.
    splits: usize,
    /// Number of background rows.
    rows: usize,
    /// Per block of [`BLOCK`] background rows, per split: bit i set when row
    /// BLOCK · block + i goes left.
    left: Vec<Set>,
    /// Shapley weights by (|A|, |B|).
    weights: Weights,
    /// Per tree: whether it is walked (else its leaves' groups are read).
    walks: Vec<bool>,
    /// The background grouped under the leaves of the trees not walked.
    groups: Groups,
}

/// Per-thread stack of the walk: states still to visit as (hop, A, B, rows).
type Stack = Vec<(u32, u64, u64, Set)>;

/// Per-thread buffers of [`Hybrid::add`].
pub(super) struct Work {
    /// The walk's states.
    stack: Stack,
    /// The grouped trees' buffers.
    groups: groups::Work,
}

/// Whether each tree of `c` is walked for `rows` background rows. The walk's cost
/// grows with the blocks of [`BLOCK`] rows, the groups' with the leaves and their
/// groups (at most 2^slots each, whatever the rows). Measured on 500-tree boosters
/// of depth 6 and 63 leaves (at most 64 splits, whose rows' path masks are one
/// word each), the groups, read tree after tree, were as fast as the walk at 100
/// background rows (0.9–1.1×) and twice as fast from 256; on a forest of depth 8
/// (up to 255 splits, whose masks are read step by step) the walk was 2–3× the
/// groups at 100 rows, even at 256 and 384, and slower from 512. So trees of
/// more than 64 splits are walked up to [`WALK_BLOCKS_DEEP`] blocks, the others
/// never.
fn walks(c: &Compiled, rows: usize) -> Vec<bool> {
    let blocks = rows.div_ceil(BLOCK);
    (c.tree_bits.iter())
        .map(|&bits| !bits && blocks <= WALK_BLOCKS_DEEP)
        .collect()
}

/// Number of splits of the trees `walks` marks.
fn walked_splits(c: &Compiled, walks: &[bool]) -> usize {
    (c.tree_splits.iter().zip(walks))
        .filter(|(_, &w)| w)
        .map(|(&(a, b), _)| (b - a) as usize)
        .sum()
}

/// Most blocks of background rows for which trees of more than 64 splits are walked.
const WALK_BLOCKS_DEEP: usize = 3;

/// A block of background rows, bit i for its row i.
type Set = u128;

/// Rows in a block.
const BLOCK: usize = Set::BITS as usize;

impl Hybrid {
    /// Lay out `model`'s trees and record the directions of the rows of `background`
    /// (already checked for width) at every split, checking `cancel` before each tree.
    ///
    /// # Errors
    /// [`crate::core::CoreError::Cancelled`] once `cancel` is tripped.
    pub(super) fn new(
        model: &TreeEnsemble,
        background: ArrayView2<f64>,
        cancel: &Cancel,
    ) -> CoreResult<Self> {
        let c = model.compiled();
        let rows = background.nrows();
        let walks = walks(c, rows);
        let mut hops = Vec::new();
        let mut roots = Vec::new();
        let mut splits = 0u32;
        for (t, tree) in model.trees().iter().enumerate() {
            let base = hops.len() as u32;
            roots.push(base);
            // The first leaf (in the compiled order: depth first, left first) under
            // each node: its path passes the node, so its slots name the node's slot.
            // Nodes the root does not reach keep u32::MAX and become unread leaves.
            let mut first = vec![u32::MAX; tree.nodes.len()];
            let mut leaf = c.tree_leaves[t].0;
            let mut stack = vec![0usize];
            while let Some(i) = stack.pop() {
                first[i] = leaf;
                match (tree.nodes[i].left, tree.nodes[i].right) {
                    (Some(l), Some(r)) => stack.extend([r, l]),
                    _ => leaf += 1,
                }
            }
            for (i, node) in tree.nodes.iter().enumerate() {
                let hop = match (node.left, node.right) {
                    _ if first[i] == u32::MAX => Hop {
                        cut: Cut::of(node),
                        kids: [0, 0],
                        split: 0,
                        slot: LEAF,
                    },
                    (Some(l), Some(r)) => {
                        let (features, _) = c.slots(first[i] as usize);
                        let feature = node.feature.unwrap_or(0) as u32;
                        let slot = features.iter().position(|&f| f == feature);
                        splits += u32::from(walks[t]);
                        Hop {
                            cut: Cut::of(node),
                            kids: [base + r as u32, base + l as u32],
                            split: splits.saturating_sub(1),
                            slot: slot.unwrap_or(0) as u8,
                        }
                    }
                    _ => Hop {
                        cut: Cut {
                            threshold: c.leaf_value[first[i] as usize],
                            ..Cut::of(node)
                        },
                        kids: [c.slot_start[first[i] as usize], first[i]],
                        split: 0,
                        slot: LEAF,
                    },
                };
                hops.push(hop);
            }
        }
        let splits = splits as usize;
        let mut left = vec![0 as Set; rows.div_ceil(BLOCK) * splits];
        for (t, tree) in model.trees().iter().enumerate().filter(|&(t, _)| walks[t]) {
            cancel.check()?;
            let tree_hops = &hops[roots[t] as usize..][..tree.nodes.len()];
            for (r, row) in background.rows().into_iter().enumerate() {
                let block = &mut left[r / BLOCK * splits..][..splits];
                for (h, node) in tree_hops.iter().zip(&tree.nodes) {
                    if h.slot == LEAF {
                        continue;
                    }
                    let x = row[h.cut.feature as usize];
                    if h.cut.goes_left(x, node) {
                        block[h.split as usize] |= 1 << (r % BLOCK);
                    }
                }
            }
        }
        let grouped: Vec<bool> = walks.iter().map(|w| !w).collect();
        Ok(Hybrid {
            hops,
            roots,
            splits,
            rows,
            left,
            weights: Weights::new(c.max_slots),
            groups: Groups::new(model, background, &grouped, cancel)?,
            walks,
        })
    }

    /// (splits of the trees walked, leaves of the trees grouped) for `rows`
    /// background rows of `model`: what the rows are kept at.
    pub(super) fn kept_at(model: &TreeEnsemble, rows: usize) -> (usize, usize) {
        let c = model.compiled();
        let walks = walks(c, rows);
        let leaves = (c.tree_leaves.iter().zip(&walks))
            .filter(|(_, &w)| !w)
            .map(|(&(a, b), _)| (b - a) as usize)
            .sum();
        (walked_splits(c, &walks), leaves)
    }

    /// Per tree: whether it is walked.
    #[cfg(test)]
    pub(super) fn walks(&self) -> &[bool] {
        &self.walks
    }

    /// Per-thread buffers for [`Hybrid::add`].
    pub(super) fn work(&self, c: &Compiled) -> Work {
        Work {
            stack: Stack::new(),
            groups: groups::Work {
                scratch: Scratch::new(c),
                cand: vec![0; self.groups.max_words()],
            },
        }
    }

    /// Bytes [`Hybrid::new`] would hold for `rows` background rows of `model`.
    pub(super) fn estimate(model: &TreeEnsemble, rows: usize) -> usize {
        let c = model.compiled();
        let walks = walks(c, rows);
        let nodes: usize = model.trees().iter().map(|t| t.nodes.len()).sum();
        let side = c.max_slots + 1;
        let grouped: Vec<bool> = walks.iter().map(|w| !w).collect();
        (nodes * size_of::<Hop>())
            .saturating_add(rows.div_ceil(BLOCK) * walked_splits(c, &walks) * size_of::<Set>())
            .saturating_add(2 * side * side * 8 + c.trees() * 5)
            .saturating_add(Groups::estimate(c, rows, model.n_features(), &grouped))
    }

    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        std::mem::size_of_val(&self.hops[..])
            + std::mem::size_of_val(&self.roots[..])
            + std::mem::size_of_val(&self.left[..])
            + std::mem::size_of_val(&self.walks[..])
            + self.weights.bytes()
            + self.groups.bytes()
    }

    /// Whether this layout was built for `model` (same trees, nodes and splits).
    pub(super) fn fits(&self, model: &TreeEnsemble) -> bool {
        let nodes: usize = model.trees().iter().map(|t| t.nodes.len()).sum();
        let c = model.compiled();
        self.roots.len() == model.trees().len()
            && self.hops.len() == nodes
            && self.splits == walked_splits(c, &self.walks)
            && self.groups.leaf_start.len() == c.leaf_value.len() + 1
    }

    /// Number of background rows.
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// Add the raw contributions of every tree to the attributions of the rows
    /// `rows` (explained for the outputs `outputs`) into `outs`, one per row: `[j]`
    /// for feature j, or with `per_background` = Some(F), `[r · F + j]` for
    /// background row r. Sums over the background rows (the caller divides by their
    /// number). Tree after tree, each for all the rows, so a tree's nodes are read
    /// from cache for all but the first.
    /// Checks `cancel` before each tree.
    ///
    /// # Errors
    /// [`crate::core::CoreError::Cancelled`] once `cancel` is tripped.
    #[inline(always)]
    pub(super) fn add(
        &self,
        model: &TreeEnsemble,
        job: Rows,
        work: &mut Work,
        cancel: &Cancel,
    ) -> CoreResult<()> {
        let c = model.compiled();
        for (t, tree) in model.trees().iter().enumerate() {
            cancel.check()?;
            let root = self.roots[t];
            let nodes = &tree.nodes;
            for ((row, &k), out) in job.rows.iter().zip(job.outputs).zip(job.outs.iter_mut()) {
                if c.tree_output[t] != k {
                    continue;
                }
                if !self.walks[t] {
                    let pass = Pass {
                        model,
                        weights: &self.weights,
                        per_background: job.per_background,
                    };
                    self.groups.add_tree(&pass, t, row, &mut work.groups, out);
                    continue;
                }
                for block in 0..self.rows.div_ceil(BLOCK) {
                    let walk = Walk {
                        c,
                        nodes,
                        root,
                        row,
                        block,
                        per_background: job.per_background,
                    };
                    self.walk(&walk, &mut work.stack, out);
                }
            }
        }
        Ok(())
    }

    /// Walk one tree for one row and one block of background rows.
    #[inline(always)]
    fn walk(&self, w: &Walk, stack: &mut Stack, out: &mut [f64]) {
        let n = (self.rows - w.block * BLOCK).min(BLOCK);
        let left = &self.left[w.block * self.splits..][..self.splits];
        stack.push((w.root, 0, 0, Set::MAX >> (BLOCK - n)));
        while let Some((mut at, a, b, mut set)) = stack.pop() {
            // Follow one branch in place and push the others.
            loop {
                let h = &self.hops[at as usize];
                if h.slot == LEAF {
                    if a | b != 0 {
                        self.emit(h, (a, b), set, w, out);
                    }
                    break;
                }
                let bit = 1u64 << h.slot;
                let goes = left[h.split as usize];
                if b & bit != 0 {
                    // The feature is r's: each row goes its own way.
                    if set & !goes != 0 {
                        stack.push((h.kids[0], a, b, set & !goes));
                    }
                    set &= goes;
                    at = h.kids[1];
                } else {
                    let node = &w.nodes[(at - w.root) as usize];
                    let x_left = h.cut.goes_left(w.row[h.cut.feature as usize], node);
                    let x_kid = h.kids[x_left as usize];
                    if a & bit == 0 {
                        // Rows that part from x here branch: j to A on x's side,
                        // to B on theirs.
                        let with_x = if x_left { goes } else { !goes };
                        let parted = set & !with_x;
                        if parted != 0 {
                            stack.push((h.kids[!x_left as usize], a, b | bit, parted));
                            stack.push((x_kid, a | bit, b, parted));
                        }
                        set &= with_x;
                    }
                    at = x_kid;
                }
                if set == 0 {
                    break;
                }
            }
        }
    }

    /// Add the share of leaf `h`, reached with the x-side and background-side slot
    /// masks `(a, b)`, for the background rows `set` of the walk's block.
    #[inline(always)]
    fn emit(&self, h: &Hop, (a, b): (u64, u64), set: Set, w: &Walk, out: &mut [f64]) {
        let features = &w.c.slot_feature[h.kids[0] as usize..];
        let (na, nb) = (a.count_ones() as usize, b.count_ones() as usize);
        let v = h.cut.threshold;
        let (pos, neg) = (v * self.weights.pos(na, nb), -v * self.weights.pos(nb, na));
        match w.per_background {
            None => {
                let n = f64::from(set.count_ones());
                for_bits(a, |s| out[features[s] as usize] += pos * n);
                for_bits(b, |s| out[features[s] as usize] += neg * n);
            }
            Some(f) => {
                let mut set = set;
                while set != 0 {
                    let at = (w.block * BLOCK + set.trailing_zeros() as usize) * f;
                    set &= set - 1;
                    for_bits(a, |s| out[at + features[s] as usize] += pos);
                    for_bits(b, |s| out[at + features[s] as usize] += neg);
                }
            }
        }
    }
}

/// Rows to explain and where their attributions go, for [`Hybrid::add`].
pub(super) struct Rows<'a> {
    /// The rows, NaN for missing.
    pub(super) rows: &'a [Vec<f64>],
    /// The output each row is explained for.
    pub(super) outputs: &'a [usize],
    /// Per row: its sums, F per background row with `per_background` = Some(F).
    pub(super) outs: &'a mut [Vec<f64>],
    /// Some(F) for sums per background row.
    pub(super) per_background: Option<usize>,
}

/// One walk: a tree, a row, a block of background rows.
struct Walk<'a> {
    c: &'a Compiled,
    /// The tree's nodes (categorical splits ask them).
    nodes: &'a [Node],
    /// Index of the tree's root in [`Hybrid::hops`]: node i of the tree is hop root + i.
    root: u32,
    row: &'a [f64],
    block: usize,
    per_background: Option<usize>,
}
