//! What both tree explainers do for each row and tree: check the request, decide
//! the row's direction at every split, and read off which path features of a
//! leaf (or sibling pair, [`crate::core::models::trees::units`]) the row follows.

use ndarray::ArrayView2;

use crate::core::models::trees::compiled::{Quadrature, MAX_PATH_FEATURES};
use crate::core::models::trees::units::{Head, Slot, Units};
use crate::core::models::trees::{Compiled, TreeEnsemble};
use crate::core::models::{check_rows, Model};
use crate::core::{CoreError, CoreResult};

/// Validate rows, outputs and path lengths, shared by the tree explainers.
pub(crate) fn check_request(
    model: &TreeEnsemble,
    x: ArrayView2<f64>,
    outputs: &[usize],
) -> CoreResult<()> {
    check_rows(x, model.n_features(), true)?;
    if outputs.len() != x.nrows() {
        return Err(CoreError::InvalidArgument(format!(
            "{} output indices for {} rows",
            outputs.len(),
            x.nrows()
        )));
    }
    if let Some(&k) = outputs.iter().find(|&&k| k >= model.n_outputs()) {
        return Err(CoreError::InvalidArgument(format!(
            "output {k} out of range: the model has {} output(s)",
            model.n_outputs()
        )));
    }
    if model.compiled().max_slots > MAX_PATH_FEATURES {
        return Err(CoreError::MethodNotSupported {
            method: format!(
                "TreeSHAP on paths with more than {MAX_PATH_FEATURES} distinct features"
            ),
            kind: model.kind(),
        });
    }
    Ok(())
}

/// Indices of the trees that add to output `k`.
pub(crate) fn trees_of(c: &Compiled, k: usize) -> impl Iterator<Item = usize> + '_ {
    (0..c.trees()).filter(move |&t| c.tree_output[t] == k)
}

/// Per-thread buffers: split decisions of the current tree, one fractions of a leaf.
pub(crate) struct Scratch {
    /// Whether the row goes left at each node of the current tree (trees with more
    /// than 64 splits only).
    left: Vec<bool>,
    /// Bit b set when the row goes left at split b (trees with at most 64 splits).
    bits: u64,
    /// Whether the current tree uses `bits`.
    use_bits: bool,
    /// o ∈ {0, 1} for each slot of the current leaf.
    pub(super) one: Vec<f64>,
    /// Π (z + o·u) at each quadrature point.
    pub(super) prod: Vec<f64>,
}

impl Scratch {
    pub(crate) fn new(c: &Compiled) -> Self {
        Scratch {
            left: vec![false; c.max_nodes],
            bits: 0,
            use_bits: false,
            one: vec![0.0; c.max_slots],
            prod: vec![0.0; c.max_slots.div_ceil(2).max(1)],
        }
    }

    /// Record the row's direction at every split of tree `t`.
    #[inline(always)]
    pub(crate) fn decide(&mut self, model: &TreeEnsemble, t: usize, row: &[f64]) {
        let c = model.compiled();
        let nodes = &model.trees()[t].nodes;
        let (a, b) = (c.tree_splits[t].0 as usize, c.tree_splits[t].1 as usize);
        let splits = c.split_node[a..b].iter().zip(&c.cuts[a..b]);
        self.use_bits = c.tree_bits[t];
        if self.use_bits {
            let mut bits = 0u64;
            for (bit, (&n, cut)) in splits.enumerate() {
                let left = cut.goes_left(row[cut.feature as usize], &nodes[n as usize]);
                bits |= u64::from(left) << bit;
            }
            self.bits = bits;
        } else {
            for (&n, cut) in splits {
                self.left[n as usize] =
                    cut.goes_left(row[cut.feature as usize], &nodes[n as usize]);
            }
        }
    }

    /// Record, for every split of tree `t`, the direction `left(node)` gives, as if
    /// a row had gone that way (the oblivious-tree tables enumerate decisions so).
    pub(crate) fn assume(&mut self, c: &Compiled, t: usize, left: impl Fn(usize) -> bool) {
        let (a, b) = (c.tree_splits[t].0 as usize, c.tree_splits[t].1 as usize);
        self.use_bits = c.tree_bits[t];
        self.bits = 0;
        for (bit, &n) in c.split_node[a..b].iter().enumerate() {
            let l = left(n as usize);
            if self.use_bits {
                self.bits |= u64::from(l) << bit;
            } else {
                self.left[n as usize] = l;
            }
        }
    }

    /// Bit s set when the row follows leaf `l`'s path on its slot s.
    #[inline(always)]
    pub(crate) fn path_mask(&self, c: &Compiled, l: usize) -> u64 {
        let (a, b) = (c.slot_start[l] as usize, c.slot_start[l + 1] as usize);
        if self.use_bits {
            let d = self.bits;
            let mut mask = 0u64;
            for (s, (&left, &care)) in c.slot_left[a..b].iter().zip(&c.slot_care[a..b]).enumerate()
            {
                mask |= u64::from(d & care == left) << s;
            }
            mask
        } else {
            let mut mask = if b == a {
                0
            } else {
                u64::MAX >> (64 - (b - a))
            };
            for s in c.leaf_steps(l) {
                if self.left[s.node as usize] != s.left {
                    mask &= !(1u64 << s.slot);
                }
            }
            mask
        }
    }

    /// Bit s set when the row follows the unit `h`'s path on its slot s (for a pair's
    /// last slot: on the splits above the pair's split).
    #[inline(always)]
    pub(super) fn unit_mask(&self, units: &Units, h: &Head, slots: &[Slot]) -> u64 {
        if self.use_bits {
            let d = self.bits;
            let mut mask = 0u64;
            for (s, slot) in slots.iter().enumerate() {
                mask |= u64::from(d & slot.care == slot.left) << s;
            }
            mask
        } else {
            let mut mask = if slots.is_empty() {
                0
            } else {
                u64::MAX >> (64 - slots.len())
            };
            for s in units.steps_of(h) {
                if self.left[s.node as usize] != s.left {
                    mask &= !(1u64 << s.slot);
                }
            }
            mask
        }
    }

    /// Whether the row goes left at a pair's split.
    #[inline]
    pub(super) fn goes_left(&self, head: &Head) -> bool {
        if self.use_bits {
            self.bits >> head.bit & 1 == 1
        } else {
            self.left[head.node as usize]
        }
    }

    /// Fill `one` for leaf `l` and return its slots (features, zero fractions).
    #[inline]
    pub(super) fn follow<'c>(&mut self, c: &'c Compiled, l: usize) -> (&'c [u32], &'c [f64]) {
        let (features, z) = c.slots(l);
        let mask = self.path_mask(c, l);
        for (s, o) in self.one[..features.len()].iter_mut().enumerate() {
            *o = (mask >> s & 1) as f64;
        }
        (features, z)
    }

    /// Π_j (z_j + o_j u_p) at each point of `q`.
    #[inline]
    pub(super) fn products(&mut self, q: &Quadrature, z: &[f64]) {
        for (p, &u) in q.u.iter().enumerate() {
            let mut prod = 1.0;
            for (&zj, &oj) in z.iter().zip(&self.one) {
                prod *= zj + oj * u;
            }
            self.prod[p] = prod;
        }
    }
}

/// Call `f(s)` for each set bit s of `bits`, lowest first.
#[inline]
pub(crate) fn for_bits(mut bits: u64, mut f: impl FnMut(usize)) {
    while bits != 0 {
        f(bits.trailing_zeros() as usize);
        bits &= bits - 1;
    }
}
