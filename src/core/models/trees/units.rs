//! The leaves as path-dependent TreeSHAP visits them: single leaves, and sibling
//! leaf pairs merged into one record.
//!
//! Two leaves L and R under the same split P share every path feature but the one
//! P splits on, with the same zero and one fractions, so their contributions to
//! those features can be summed before the integral: with Π the product of the
//! shared factors and f_L, f_R the two leaves' factors for P's feature, the pair
//! adds `(o_s − z_s) ∫ Π/(factor s) · (v_L f_L + v_R f_R)` to each shared feature s
//! and `(v_L (o_L − z_L) + v_R (o_R − z_R)) ∫ Π` to P's feature: the products and
//! the per-feature sums of one leaf instead of two (in the spirit of Linear
//! TreeShap's merging of sibling summaries, Yu et al., NeurIPS 2022). In a 63-leaf
//! LightGBM tree about two leaves in three have a leaf sibling.
//!
//! A unit's slots are its *shared* path features (all of them for a single leaf); a
//! pair also has P's feature as one extra slot, stored last, whose path bits cover
//! only the splits above P, so the row's mask bit for it says whether the row
//! follows the path there before P.

use super::compiled::{Compiled, Quadrature, Step};

/// Most slots of a unit that keeps a table of inverses. The table holds m·⌈m/2⌉
/// values for m slots: 2 KB at 16 slots (deeper than common boosted trees reach), but
/// 16 KB at 64, which made a long-pathed leaf cost a hundred times its size in the file.
pub const INV_MAX_SLOTS: usize = 16;

/// One unit: where its slots, steps and inverse table lie, and its leaf values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Head {
    /// Value of the single leaf, or of the pair's left leaf.
    pub value: f64,
    /// Value of the pair's right leaf (0 for a single leaf).
    pub value_right: f64,
    /// Zero fractions of P's feature for the left and right leaf (pairs only).
    pub z_left: f64,
    /// See `z_left`.
    pub z_right: f64,
    /// Start of the unit's slots in [`Units::slots`].
    pub slot: u32,
    /// Start of the unit's 1/(z + u_p) table in [`Units::inv`] (units of at most
    /// [`INV_MAX_SLOTS`] slots).
    pub inv: u32,
    /// Start of the unit's steps in [`Units::steps`].
    pub step: u32,
    /// Node index of P (pairs only).
    pub node: u32,
    /// Number of steps.
    pub steps: u32,
    /// Number of slots: the path's distinct features (a pair's split feature included;
    /// paths past [`super::compiled::MAX_PATH_FEATURES`] are refused before use).
    pub m: u16,
    /// P's bit in the tree's decision word (pairs in trees of at most 64 splits).
    pub bit: u8,
    /// Whether this is a pair.
    pub pair: bool,
}

/// One slot of a unit: a distinct feature of its path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// Bits of the splits where the path goes left on the slot's feature.
    pub left: u64,
    /// Bits of all the path's splits on the feature (above P for a pair's last slot):
    /// the row follows the path on the slot when `decisions & care == left`.
    pub care: u64,
    /// The zero fraction (for a pair's last slot: unused; the head holds both leaves').
    pub z: f64,
    /// The feature index.
    pub feature: u32,
}

/// The unit layout of a whole ensemble, flat arrays indexed by ranges.
#[derive(Debug, Clone, Default)]
pub struct Units {
    /// Per tree: the range of its units.
    pub tree_units: Vec<(u32, u32)>,
    /// Per unit.
    pub head: Vec<Head>,
    /// All slots, unit after unit (shared ones, then P's for a pair).
    pub slots: Vec<Slot>,
    /// Path steps (all but P's for a pair), with slots in this layout's numbering.
    pub steps: Vec<Step>,
    /// Per unit of at most [`INV_MAX_SLOTS`] slots, slot-major over the shared slots:
    /// 1/(z_s + u_p) at each point of the rule for the unit's number of path features
    /// (none for longer units, whose explainers divide instead).
    pub inv: Vec<f64>,
}

impl Units {
    /// Build the units from the compiled leaves; `quad` are the rules by path length.
    pub fn new(c: &Compiled, quad: &[Quadrature]) -> Self {
        let mut u = Units::default();
        for t in 0..c.trees() {
            let first = u.head.len() as u32;
            let (a, b) = (c.tree_leaves[t].0 as usize, c.tree_leaves[t].1 as usize);
            let (s0, s1) = (c.tree_splits[t].0 as usize, c.tree_splits[t].1 as usize);
            let mut l = a;
            while l < b {
                if l + 1 < b && siblings(c, l, l + 1) {
                    let node = c.leaf_steps(l).last().map_or(0, |s| s.node);
                    // Only trees of at most 64 splits read the bit; searching larger
                    // trees' splits for every pair would cost leaves × splits.
                    let bit = if c.tree_bits[t] {
                        c.split_node[s0..s1]
                            .iter()
                            .position(|&n| n == node)
                            .unwrap_or(0)
                    } else {
                        64
                    };
                    u.push_pair(c, l, node, bit, quad);
                    l += 2;
                } else {
                    u.push_single(c, l, quad);
                    l += 1;
                }
            }
            u.tree_units.push((first, u.head.len() as u32));
        }
        u
    }

    /// Slots of the unit `h`.
    #[inline]
    pub fn slots_of(&self, h: &Head) -> &[Slot] {
        &self.slots[h.slot as usize..][..h.m as usize]
    }

    /// Steps of the unit `h`.
    #[inline]
    pub fn steps_of(&self, h: &Head) -> &[Step] {
        &self.steps[h.step as usize..][..h.steps as usize]
    }

    /// Append leaf `l` as a unit of its own.
    fn push_single(&mut self, c: &Compiled, l: usize, quad: &[Quadrature]) {
        let (a, b) = (c.slot_start[l] as usize, c.slot_start[l + 1] as usize);
        let order: Vec<usize> = (a..b).collect();
        let mut head = self.head_for(c.leaf_value[l], 0.0);
        self.push_slots(c, &order, 0, b - a, quad);
        head.m = (b - a) as u16;
        head.steps = c.leaf_steps(l).len() as u32;
        self.steps.extend_from_slice(c.leaf_steps(l));
        self.head.push(head);
    }

    /// Append sibling leaves `l` (left) and `l + 1` (right) of split `node`
    /// (decision bit `bit`) as one unit.
    fn push_pair(&mut self, c: &Compiled, l: usize, node: u32, bit: usize, quad: &[Quadrature]) {
        let (a, b) = (c.slot_start[l] as usize, c.slot_start[l + 1] as usize);
        let steps = c.leaf_steps(l);
        let own = steps.last().map_or(0, |s| s.slot as usize);
        // P's slot goes last; the others keep their order.
        let mut order: Vec<usize> = (a..b).filter(|&s| s != a + own).collect();
        order.push(a + own);
        let p_bit = if bit < 64 { 1u64 << bit } else { 0 };
        let mut head = self.head_for(c.leaf_value[l], c.leaf_value[l + 1]);
        head.z_left = c.slot_z[a + own];
        head.z_right = c.slot_z[c.slot_start[l + 1] as usize + own];
        head.node = node;
        head.bit = bit.min(63) as u8;
        head.pair = true;
        head.m = (b - a) as u16;
        head.steps = (steps.len() - 1) as u32;
        self.push_slots(c, &order, p_bit, b - a - 1, quad);
        // Renumber the steps' slots as `order` does: P's moves last, later ones shift down.
        let last = order.len() - 1;
        for s in &steps[..steps.len() - 1] {
            let slot = match (s.slot as usize).cmp(&own) {
                std::cmp::Ordering::Less => s.slot as usize,
                std::cmp::Ordering::Equal => last,
                std::cmp::Ordering::Greater => s.slot as usize - 1,
            };
            self.steps.push(Step {
                slot: slot as u16,
                ..*s
            });
        }
        self.head.push(head);
    }

    /// A head whose ranges start at the current ends of the arrays.
    fn head_for(&self, value: f64, value_right: f64) -> Head {
        Head {
            value,
            value_right,
            z_left: 0.0,
            z_right: 0.0,
            slot: self.slots.len() as u32,
            inv: self.inv.len() as u32,
            step: self.steps.len() as u32,
            node: 0,
            steps: 0,
            m: 0,
            bit: 0,
            pair: false,
        }
    }

    /// Append the slots `order` (indices into the compiled slot arrays) without the
    /// path bits in `drop`, and the inverse table of the first `shared` of them.
    fn push_slots(
        &mut self,
        c: &Compiled,
        order: &[usize],
        drop: u64,
        shared: usize,
        quad: &[Quadrature],
    ) {
        for &s in order {
            self.slots.push(Slot {
                left: c.slot_left[s] & !drop,
                care: c.slot_care[s] & !drop,
                z: c.slot_z[s],
                feature: c.slot_feature[s],
            });
        }
        if let Some(q) = quad
            .get(order.len())
            .filter(|_| order.len() <= INV_MAX_SLOTS)
        {
            for &s in &order[..shared] {
                let z = c.slot_z[s];
                self.inv.extend(q.u.iter().map(|u| 1.0 / (z + u)));
            }
        }
    }
}

/// Whether leaves `l` and `m` (consecutive in depth-first order) are the left and
/// right child of one split.
fn siblings(c: &Compiled, l: usize, m: usize) -> bool {
    let (p, q) = (c.leaf_steps(l), c.leaf_steps(m));
    match (p.split_last(), q.split_last()) {
        (Some((a, pa)), Some((b, pb))) => {
            a.node == b.node && a.left && !b.left && pa.len() == pb.len() && pa == pb
        }
        _ => false,
    }
}
