//! Memory a tree model makes the server hold, estimated from the parsed trees
//! before anything is allocated (issue 15: memory linear in the model's size).
//!
//! The compiled layout ([`super::compiled`], [`super::units`]) keeps every leaf's
//! path: per leaf its steps (one per split above it) and slots (one per distinct
//! feature on the path), twice (leaf records and units), and for paths of at most
//! [`INV_MAX_SLOTS`] slots a table of inverses. [`LayoutSize::of`] counts them in
//! one walk of each tree; [`LayoutSize::bytes`] is an upper bound on the lengths
//! the layout reaches (every leaf counted as a unit of its own, though sibling
//! pairs share one). The node layout prediction walks ([`super::flat`]) is counted
//! with it: a record and a value per node, a header per tree.

use std::mem::size_of;

use super::compiled::Step;
use super::flat::{FlatNode, FlatTree};
use super::units::{Head, Slot, INV_MAX_SLOTS};
use super::{Cut, Tree};

/// Default of `--max-model-memory-mb`, in MiB.
pub const DEFAULT_MAX_MODEL_MEMORY_MB: usize = 1024;

/// Bytes in a MiB, as the flag counts them.
pub const MIB: usize = 1 << 20;

/// Counts of what the compiled layout of an ensemble holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayoutSize {
    /// Trees.
    pub trees: usize,
    /// Splits, over all trees.
    pub splits: usize,
    /// Leaves, over all trees.
    pub leaves: usize,
    /// Path steps, summed over leaves (a leaf's depth).
    pub steps: usize,
    /// Slots, summed over leaves (a leaf's distinct path features).
    pub slots: usize,
    /// Entries of the tables of inverses, summed over leaves.
    pub inv: usize,
}

impl LayoutSize {
    /// Count the layout of validated trees (indices in range, no cycles) reading
    /// `n_features` features: one depth-first walk per tree on an explicit stack,
    /// keeping the count of each feature on the current path.
    pub fn of(trees: &[Tree], n_features: usize) -> Self {
        let mut size = LayoutSize {
            trees: trees.len(),
            ..LayoutSize::default()
        };
        let mut on_path = vec![0u32; n_features];
        let mut path: Vec<usize> = Vec::new();
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for tree in trees {
            let mut distinct = 0usize;
            stack.push((0, 0));
            while let Some((i, depth)) = stack.pop() {
                while path.len() > depth {
                    let f = path.pop().expect("longer than depth");
                    on_path[f] -= 1;
                    distinct -= usize::from(on_path[f] == 0);
                }
                let node = &tree.nodes[i];
                match (node.feature, node.left, node.right) {
                    (Some(f), Some(l), Some(r)) => {
                        size.splits += 1;
                        distinct += usize::from(on_path[f] == 0);
                        on_path[f] += 1;
                        path.push(f);
                        stack.push((r, depth + 1));
                        stack.push((l, depth + 1));
                    }
                    _ => {
                        size.leaves += 1;
                        size.steps += depth;
                        size.slots += distinct;
                        if distinct <= INV_MAX_SLOTS {
                            size.inv += distinct * distinct.div_ceil(2);
                        }
                    }
                }
            }
            while let Some(f) = path.pop() {
                on_path[f] -= 1;
            }
        }
        size
    }

    /// Bytes of the layout's arrays at these counts.
    pub fn bytes(&self) -> usize {
        let per_tree = 4 * size_of::<(u32, u32)>() + 2 * size_of::<usize>();
        let per_split = size_of::<u32>() + size_of::<Cut>();
        // Leaf records: value, two range starts; units: a head per leaf at most.
        let per_leaf = size_of::<f64>() + 2 * size_of::<u32>() + size_of::<Head>();
        // Compiled: feature, z, left and care masks; units: one Slot.
        let per_slot =
            size_of::<u32>() + size_of::<f64>() + 2 * size_of::<u64>() + size_of::<Slot>();
        // The prediction layout: every node (splits and leaves) once.
        let per_node = size_of::<FlatNode>() + size_of::<f64>();
        // The leaf arrays' range starts open with one extra entry each.
        2 * size_of::<u32>()
            + self.trees * size_of::<FlatTree>()
            + (self.splits + self.leaves) * per_node
            + self.trees * per_tree
            + self.splits * per_split
            + self.leaves * per_leaf
            + self.steps * 2 * size_of::<Step>()
            + self.slots * per_slot
            + self.inv * size_of::<f64>()
    }
}

/// `bytes` in MiB with one decimal, for messages.
pub fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

/// Bytes the arrays of a built model's layouts hold (their lengths, not
/// capacities): what [`LayoutSize::bytes`] bounds.
pub fn model_layout_bytes(model: &super::TreeEnsemble) -> usize {
    layout_bytes(model.compiled()) + model.flat().bytes()
}

/// Bytes the arrays of a built TreeSHAP layout hold (their lengths, not capacities).
pub fn layout_bytes(c: &super::Compiled) -> usize {
    fn b<T>(v: &[T]) -> usize {
        std::mem::size_of_val(v)
    }
    let u = &c.units;
    b(&c.tree_leaves)
        + b(&c.tree_output)
        + b(&c.leaf_value)
        + b(&c.slot_start)
        + b(&c.step_start)
        + b(&c.slot_feature)
        + b(&c.slot_z)
        + b(&c.steps)
        + b(&c.tree_splits)
        + b(&c.tree_bits)
        + b(&c.split_node)
        + b(&c.cuts)
        + b(&c.slot_left)
        + b(&c.slot_care)
        + b(&u.tree_units)
        + b(&u.head)
        + b(&u.slots)
        + b(&u.steps)
        + b(&u.inv)
}
