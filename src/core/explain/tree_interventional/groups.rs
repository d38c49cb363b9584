//! The background rows of interventional TreeSHAP grouped per leaf, and the
//! per-row pass over the groups (see [`super`] for the game): the kernel for large
//! backgrounds, whose cost per row follows the leaves and their groups (at most
//! 2^slots per leaf) rather than the number of background rows.
//!
//! Per leaf, background rows that follow the same path features form one group
//! (a bit mask over the leaf's slots); per slot, a bit set over the groups says
//! which follow it. A row that leaves the path on slots B can only reach the leaf
//! in a hybrid with a group that follows every slot of B: the intersection of B's
//! sets, usually empty after a word or two of AND.

use std::mem::{size_of, size_of_val};

use ndarray::ArrayView2;
use ndarray::Axis;

use super::weights::Weights;
use crate::core::explain::tree_walk::{for_bits, Scratch};
use crate::core::models::trees::{Compiled, TreeEnsemble};
use crate::core::{Cancel, CoreResult};

/// Background rows grouped, per leaf, by the mask of path features they follow.
#[derive(Debug)]
pub(super) struct Groups {
    /// Per leaf: start of its groups in `mask`/`members_start`; one extra end entry.
    pub(super) leaf_start: Vec<u32>,
    /// Per group: bit s set when the rows follow the leaf's path on slot s.
    mask: Vec<u64>,
    /// Per group: number of rows in it.
    count: Vec<f64>,
    /// Per group: start of its rows in `members`; one extra end entry.
    members_start: Vec<u32>,
    /// Background row indices, group after group.
    members: Vec<u32>,
    /// Per leaf: start of its follow sets in `follow`; one extra end entry.
    follow_start: Vec<u32>,
    /// Per leaf, slot-major: a bit set over the leaf's groups (⌈groups/64⌉ words per
    /// slot), bit g set when group g follows the path on the slot. A row reaches the
    /// leaf in a hybrid with group g only if g follows every slot the row leaves,
    /// so the candidates are the intersection of those slots' sets.
    follow: Vec<u64>,
    /// Most words of one leaf's sets.
    max_words: usize,
}

impl Groups {
    /// Group the rows of `background` under the leaves of the trees `grouped` marks
    /// (the other trees' leaves get no groups), checking `cancel` before each tree.
    ///
    /// # Errors
    /// [`crate::core::CoreError::Cancelled`] once `cancel` is tripped.
    pub(super) fn new(
        model: &TreeEnsemble,
        background: ArrayView2<f64>,
        grouped: &[bool],
        cancel: &Cancel,
    ) -> CoreResult<Self> {
        let c = model.compiled();
        let rows: Vec<Vec<f64>> = background.axis_iter(Axis(0)).map(|r| r.to_vec()).collect();
        let mut g = Groups {
            leaf_start: vec![0],
            mask: Vec::new(),
            count: Vec::new(),
            members_start: vec![0],
            members: Vec::new(),
            follow_start: vec![0],
            follow: Vec::new(),
            max_words: 0,
        };
        let mut scratch = Scratch::new(c);
        // Bits that hold a row index, for sorting (mask, row) packed in one word.
        let row_bits = usize::BITS - rows.len().saturating_sub(1).leading_zeros();
        let mut masks = Vec::new();
        let mut order: Vec<(u64, u32)> = Vec::with_capacity(rows.len());
        let mut packed: Vec<u64> = Vec::with_capacity(rows.len());
        // Per tree: masks[leaf - first][row].
        for (t, &keep) in grouped.iter().enumerate() {
            cancel.check()?;
            let (a, b) = (c.tree_leaves[t].0 as usize, c.tree_leaves[t].1 as usize);
            if !keep {
                for _ in a..b {
                    g.leaf_start.push(g.mask.len() as u32);
                    g.follow_start.push(g.follow.len() as u32);
                }
                continue;
            }
            masks.clear();
            masks.resize((b - a) * rows.len(), 0u64);
            for (r, row) in rows.iter().enumerate() {
                scratch.decide(model, t, row);
                for l in a..b {
                    masks[(l - a) * rows.len() + r] = scratch.path_mask(c, l);
                }
            }
            for l in a..b {
                let leaf_masks = &masks[(l - a) * rows.len()..][..rows.len()];
                let slots = c.slot_start[l + 1] - c.slot_start[l];
                order.clear();
                if slots + row_bits <= 64 {
                    packed.clear();
                    packed.extend(
                        leaf_masks
                            .iter()
                            .enumerate()
                            .map(|(r, &m)| m << row_bits | r as u64),
                    );
                    packed.sort_unstable();
                    let low = (1u64 << row_bits) - 1;
                    order.extend(packed.iter().map(|&p| (p >> row_bits, (p & low) as u32)));
                } else {
                    order.extend(leaf_masks.iter().enumerate().map(|(r, &m)| (m, r as u32)));
                    order.sort_unstable();
                }
                let first = g.mask.len();
                for (i, &(m, r)) in order.iter().enumerate() {
                    if i == 0 || order[i - 1].0 != m {
                        if i > 0 {
                            g.members_start.push(g.members.len() as u32);
                        }
                        g.mask.push(m);
                    }
                    g.members.push(r);
                }
                g.members_start.push(g.members.len() as u32);
                g.leaf_start.push(g.mask.len() as u32);
                let groups = g.mask.len() - first;
                for k in first..g.mask.len() {
                    let size = g.members_start[k + 1] - g.members_start[k];
                    g.count.push(f64::from(size));
                }
                let words = groups.div_ceil(64);
                g.max_words = g.max_words.max(words);
                let m = c.slot_start[l + 1] - c.slot_start[l];
                for s in 0..m {
                    let base = g.follow.len();
                    g.follow.resize(base + words, 0);
                    for (k, &mask) in g.mask[first..].iter().enumerate() {
                        if mask >> s & 1 == 1 {
                            g.follow[base + k / 64] |= 1u64 << (k % 64);
                        }
                    }
                }
                g.follow_start.push(g.follow.len() as u32);
            }
        }
        Ok(g)
    }

    /// Upper bound on the bytes [`Groups::new`] holds at its peak for `rows` rows of
    /// `n_features` features: per leaf every row's index, and at most min(rows,
    /// 2^slots) groups with their masks, counts, ranges and follow sets; while one
    /// tree is grouped, a mask per (leaf, row) of it; the rows copied, sort buffers.
    /// One pass over the leaves' slot counts, before anything is allocated.
    pub(super) fn estimate(
        c: &Compiled,
        rows: usize,
        n_features: usize,
        grouped: &[bool],
    ) -> usize {
        let mut total = 0usize;
        let leaves = (0..c.trees()).filter(|&t| grouped[t]).flat_map(|t| {
            let (a, b) = c.tree_leaves[t];
            a as usize..b as usize
        });
        for l in leaves {
            let m = (c.slot_start[l + 1] - c.slot_start[l]) as usize;
            let groups = if m >= 32 { rows } else { rows.min(1 << m) };
            let per_group = 2 * size_of::<u64>() + size_of::<u32>();
            let follow = m * groups.div_ceil(64) * size_of::<u64>();
            total = total.saturating_add(rows * 4 + groups * per_group + follow + 3 * 4);
        }
        let widest = (c.tree_leaves.iter().zip(grouped))
            .filter(|(_, &g)| g)
            .map(|(&(a, b), _)| (b - a) as usize)
            .max()
            .unwrap_or(0);
        // The rows as vectors, and the sort buffers of (mask, row) pairs and packed words.
        let copies = rows
            * (n_features * size_of::<f64>()
                + size_of::<Vec<f64>>()
                + size_of::<(u64, u32)>()
                + size_of::<u64>());
        if !grouped.contains(&true) {
            return 0;
        }
        total.saturating_add(widest.saturating_mul(rows * size_of::<u64>()) + copies + 8)
    }

    /// Bytes the grouping holds (lengths of its arrays).
    pub(super) fn bytes(&self) -> usize {
        size_of_val(&self.leaf_start[..])
            + size_of_val(&self.mask[..])
            + size_of_val(&self.count[..])
            + size_of_val(&self.members_start[..])
            + size_of_val(&self.members[..])
            + size_of_val(&self.follow_start[..])
            + size_of_val(&self.follow[..])
    }

    /// Most words of one leaf's candidate set (the length `add_tree`'s `cand` needs).
    pub(super) fn max_words(&self) -> usize {
        self.max_words
    }

    /// Add tree `t`'s raw contributions to row `row`'s attributions into `out`:
    /// `out[j]` for feature j, or with `per_background` = Some(F), `out[r · F + j]`
    /// for background row r.
    #[inline(always)]
    pub(super) fn add_tree(
        &self,
        pass: &Pass,
        t: usize,
        row: &[f64],
        work: &mut Work,
        out: &mut [f64],
    ) {
        let Pass {
            model,
            weights: w,
            per_background,
        } = *pass;
        let c = model.compiled();
        let Work { scratch, cand } = work;
        scratch.decide(model, t, row);
        let (a, b) = c.tree_leaves[t];
        for l in a as usize..b as usize {
            let (features, _) = c.slots(l);
            let m = features.len();
            let (g0, g1) = (self.leaf_start[l] as usize, self.leaf_start[l + 1] as usize);
            if m == 0 || g0 == g1 {
                continue;
            }
            let full = u64::MAX >> (64 - m);
            let x_mask = scratch.path_mask(c, l);
            // B: the slots x leaves, which a group must all follow.
            let miss = full & !x_mask;
            let words = (g1 - g0).div_ceil(64);
            let follow = &self.follow[self.follow_start[l] as usize..][..m * words];
            if words == 1 {
                // Up to 64 groups (the usual case): one word, no buffer.
                cand[0] = u64::MAX >> (64 - (g1 - g0));
                for_bits(miss, |s| cand[0] &= follow[s]);
                if cand[0] == 0 {
                    continue;
                }
            } else if !candidates(follow, g1 - g0, miss, &mut cand[..words]) {
                continue;
            }
            let v = c.leaf_value[l];
            let nb = miss.count_ones() as usize;
            let mut neg_total = 0.0;
            for (word, &bits) in cand[..words].iter().enumerate() {
                let mut bits = bits;
                while bits != 0 {
                    let g = g0 + word * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    // A: the slots only x follows.
                    let only_x = x_mask & !self.mask[g];
                    if only_x == 0 && nb == 0 {
                        continue;
                    }
                    let na = only_x.count_ones() as usize;
                    let (pos, neg) = (v * w.pos(na, nb), -v * w.pos(nb, na));
                    match per_background {
                        None => {
                            let n = self.count[g];
                            neg_total += neg * n;
                            for_bits(only_x, |s| out[features[s] as usize] += pos * n);
                        }
                        Some(f) => {
                            let (r0, r1) = (self.members_start[g], self.members_start[g + 1]);
                            for &r in &self.members[r0 as usize..r1 as usize] {
                                let at = r as usize * f;
                                for_bits(only_x, |s| out[at + features[s] as usize] += pos);
                                for_bits(miss, |s| out[at + features[s] as usize] += neg);
                            }
                        }
                    }
                }
            }
            if neg_total != 0.0 {
                for_bits(miss, |s| out[features[s] as usize] += neg_total);
            }
        }
    }
}

/// What every call of [`Groups::add_tree`] for a row shares.
pub(super) struct Pass<'a> {
    /// The model.
    pub(super) model: &'a TreeEnsemble,
    /// Shapley weights by (|A|, |B|).
    pub(super) weights: &'a Weights,
    /// Some(F) for sums per background row.
    pub(super) per_background: Option<usize>,
}

/// Per-thread buffers of [`Groups::add_tree`].
pub(super) struct Work {
    /// The row's decisions in the current tree.
    pub(super) scratch: Scratch,
    /// Candidate groups of the current leaf, [`Groups::max_words`] words.
    pub(super) cand: Vec<u64>,
}

/// Fill `cand` (⌈groups/64⌉ words) with the groups of a leaf (of `groups` groups,
/// follow sets `follow`) that follow every slot in `miss`; false when there are none.
#[inline(always)]
fn candidates(follow: &[u64], groups: usize, miss: u64, cand: &mut [u64]) -> bool {
    let words = cand.len();
    cand.fill(u64::MAX);
    if !groups.is_multiple_of(64) {
        cand[words - 1] = u64::MAX >> (64 - groups % 64);
    }
    let mut rest = miss;
    while rest != 0 {
        let s = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        let mut any = 0;
        for (c, f) in cand.iter_mut().zip(&follow[s * words..(s + 1) * words]) {
            *c &= f;
            any |= *c;
        }
        if any == 0 {
            return false;
        }
    }
    true
}
