//! The leaves of one tree that the masked rows of each background row can reach,
//! for the tables of the probability-space route ([`super::super::tables`]).

use super::{and, any, Walks, LEAF};

/// A leaf the masked rows `(x_S, b_{N∖S})` of one background row `b` reach, and
/// the coalitions `S` whose masked row does.
#[derive(Debug, Clone, Copy)]
pub(in super::super) struct Reached {
    /// The players whose splits on the way send `x` and `b` different ways, one bit
    /// each: only they decide whether a coalition's masked row comes here.
    pub decided: u64,
    /// Those of them the coalition must hold (the others it must not).
    pub inside: u64,
    /// The leaf's value.
    pub value: f64,
}

impl<const W: usize> Walks<W> {
    /// Push into `reached`, as `(b, leaf)` for every background row `b`, each leaf of the tree
    /// at `root` that a masked row of `b` reaches for some coalition
    /// ([`Walks::masks`] must hold). Each coalition's masked row reaches exactly
    /// one of them: a split whose direction `x` and `b` share sends it there; one
    /// they part on sends it `x`'s way when its player is in the coalition, `b`'s
    /// otherwise, the same way at every split of that player on the path. The
    /// rows that share the players decided on the way walk together as a set.
    pub fn reached(&self, root: usize, reached: &mut Vec<(u32, Reached)>) {
        debug_assert!(self.masks);
        self.reach_from(root, self.full, 0, 0, reached);
    }

    /// [`Walks::reached`] from node `at` with the non-empty set `set` of
    /// background rows, the players of `decided` decided on their way (those of
    /// `inside` in the coalition).
    fn reach_from(
        &self,
        mut at: usize,
        mut set: [u64; W],
        decided: u64,
        inside: u64,
        reached: &mut Vec<(u32, Reached)>,
    ) {
        loop {
            let step = &self.steps[at];
            if step.left == LEAF {
                let value = step.x_value;
                let leaf = Reached {
                    decided,
                    inside,
                    value,
                };
                // Counted first, so that the pushes need not grow the vector.
                reached.reserve(set.iter().map(|w| w.count_ones() as usize).sum());
                for (w, &word) in set.iter().enumerate() {
                    let mut bits = word;
                    while bits != 0 {
                        reached.push(((w * 64) as u32 + bits.trailing_zeros(), leaf));
                        bits &= bits - 1;
                    }
                }
                return;
            }
            let (l, r) = (step.left as usize, step.right as usize);
            let (x_way, b_way) = match step.x_left {
                true => (l, r),
                false => (r, l),
            };
            if !step.separates {
                at = x_way;
                continue;
            }
            // The rows that go `x`'s way on their own values, and the others.
            let (same, parted) = (
                and(&set, &self.left[at], !step.x_left),
                and(&set, &self.left[at], step.x_left),
            );
            if !any(&parted) {
                at = x_way;
                continue;
            }
            let player = 1u64 << step.player;
            if decided & player != 0 {
                if inside & player != 0 {
                    at = x_way;
                } else {
                    if any(&same) {
                        self.reach_from(x_way, same, decided, inside, reached);
                    }
                    (at, set) = (b_way, parted);
                }
                continue;
            }
            if any(&same) {
                self.reach_from(x_way, same, decided, inside, reached);
            }
            let (decided, with) = (decided | player, inside | player);
            self.reach_from(x_way, parted, decided, with, reached);
            self.reach_from(b_way, parted, decided, inside, reached);
            return;
        }
    }
}
