//! The walks of the probability-space route (module doc of [`super::super`]):
//! each tree walked with only the background rows whose masked row leaves a
//! reference path.

use super::{any, or, part, rows, Walks, LEAF};

impl<const W: usize> Walks<W> {
    /// The leaf value each background row reaches in the tree at `root` on its own
    /// values, into `own` (one per row).
    pub fn own_leaves(&self, root: usize, own: &mut [f64]) {
        self.walk(root, &self.nobody, &mut |value, set| {
            for b in rows(set) {
                own[b] = value;
            }
        });
    }

    /// The leaf value the explained row reaches in the tree at `root`.
    pub fn row_leaf(&self, root: usize) -> f64 {
        debug_assert!(self.summarised);
        self.steps[root].x_value
    }

    /// Call `leaf(value, set)` for each leaf of the tree at `root` that masked rows
    /// of `coalition` (one bit a player in `mask`; [`Walks::masks`] must hold)
    /// reach on another path than a reference one, with the set of background rows
    /// whose masked row does: the background row's own path when `from_row` is
    /// false, the explained row's when it is true. Every other masked row ends at
    /// its reference leaf, so a tree adds its reference leaf plus what these
    /// leaves differ by; subtrees where no row can leave its reference path are
    /// not walked (module doc of [`super`]).
    pub fn diverted(
        &self,
        root: usize,
        coalition: &[bool],
        mask: u64,
        from_row: bool,
        leaf: &mut impl FnMut(f64, &[u64; W]),
    ) {
        debug_assert!(self.masks && self.summarised);
        let none = [0u64; W];
        match from_row {
            false => {
                if self.steps[root].below & mask != 0 {
                    self.off_own_paths(root, none, coalition, mask, leaf);
                }
            }
            true => self.off_row_path(root, self.full, none, coalition, mask, leaf),
        }
    }

    /// [`Walks::diverted`] from the background rows' own paths, from node `at`,
    /// with `off` the rows a split of the coalition sent the row's way instead of
    /// their own. The rows still on their own path here are those that reach the
    /// node on their own values ([`Walks::reach`]): a walk only passes a split of
    /// the coalition on the row's side, where no row that left its path above can
    /// have its own path.
    fn off_own_paths(
        &self,
        mut at: usize,
        mut off: [u64; W],
        coalition: &[bool],
        mask: u64,
        leaf: &mut impl FnMut(f64, &[u64; W]),
    ) {
        // Whether rows on their own path may still leave it below `at`.
        let may_leave = |at: usize| self.steps[at].below & mask != 0 && any(&self.reach[at]);
        loop {
            let step = &self.steps[at];
            if step.left == LEAF {
                if any(&off) {
                    leaf(step.x_value, &off);
                }
                return;
            }
            let (l, r) = (step.left as usize, step.right as usize);
            if step.separates && coalition[step.player as usize] {
                // Every masked row goes the row's way; those whose own value
                // goes the other way leave their path here.
                let (to_l, to_r) = part(&self.reach[at], &self.left[at]);
                let (leave, next) = if step.x_left { (to_r, l) } else { (to_l, r) };
                (at, off) = (next, or(&off, &leave));
                continue;
            }
            let (off_l, off_r) = part(&off, &self.left[at]);
            let go_l = any(&off_l) || may_leave(l);
            let go_r = any(&off_r) || may_leave(r);
            match (go_l, go_r) {
                (true, true) => {
                    self.off_own_paths(l, off_l, coalition, mask, leaf);
                    (at, off) = (r, off_r);
                }
                (true, false) => (at, off) = (l, off_l),
                (false, true) => (at, off) = (r, off_r),
                (false, false) => return,
            }
        }
    }

    /// [`Walks::diverted`] from the explained row's path, from node `at`: `on`
    /// holds the rows still on it, `off` those a split outside the coalition sent
    /// their own way instead.
    fn off_row_path(
        &self,
        mut at: usize,
        mut on: [u64; W],
        mut off: [u64; W],
        coalition: &[bool],
        mask: u64,
        leaf: &mut impl FnMut(f64, &[u64; W]),
    ) {
        loop {
            let step = &self.steps[at];
            if step.below & !mask == 0 {
                // Every separating split below is the coalition's: the rows on the
                // row's path stay on it.
                on = [0; W];
            }
            if !any(&off) && !any(&on) {
                return;
            }
            if step.left == LEAF {
                if any(&off) {
                    leaf(step.x_value, &off);
                }
                return;
            }
            let (l, r) = (step.left as usize, step.right as usize);
            let next = if step.x_left { l } else { r };
            if step.separates && coalition[step.player as usize] {
                at = next;
                continue;
            }
            // Each masked row goes its background row's way: those on the row's
            // path that go the other way leave it.
            let (on_l, on_r) = part(&on, &self.left[at]);
            let (off_l, off_r) = part(&off, &self.left[at]);
            let ((on_x, off_x), other) = match step.x_left {
                true => ((on_l, off_l), or(&on_r, &off_r)),
                false => ((on_r, off_r), or(&on_l, &off_l)),
            };
            let other_child = if step.x_left { r } else { l };
            match (any(&on_x) || any(&off_x), any(&other)) {
                (true, true) => {
                    self.off_row_path(other_child, [0; W], other, coalition, mask, leaf);
                    (at, on, off) = (next, on_x, off_x);
                }
                (true, false) => (at, on, off) = (next, on_x, off_x),
                _ => (at, on, off) = (other_child, [0; W], other),
            }
        }
    }
}
