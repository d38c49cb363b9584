//! The coalition game of a tree ensemble ([`Model::tree_ensemble`]) without masked
//! rows (issue 19).
//!
//! `v(S)` averages the model over the masked rows `(x_S, b_{N∖S})`, one per
//! background row `b`. At a split on a feature of a player in `S` every masked row
//! takes the explained row's direction; at any other split each goes the way its
//! background row goes. So one walk of a tree per coalition, carrying the set of
//! background rows at each node as a bitset, reaches the same leaves as the `n`
//! masked rows: a split on a player outside `S` parts the set into `set & left` and
//! `set & !left` (`left`: the background rows that go left there, computed once per
//! game), empty sets stop, and a leaf meets the rows of its set. Each split is
//! decided by [`Node::goes_left`](crate::core::models::trees::Node::goes_left), the
//! rule prediction uses, so missing values, categories and float32 comparisons are
//! those of the model.
//!
//! - In raw space (or with the identity link) `v(S)` is linear in the leaves: each
//!   tree adds `Σ_leaves value × |set|` (or the background weights of the set), and a
//!   tree's share depends on `S` only through the players its splits separate the
//!   background from the row on (at most [`MEMO_PLAYERS`] of them: a table of its
//!   shares over their subsets, filled as coalitions ask). Trees go one at a time
//!   through all the coalitions of a call, so each stays in cache.
//! - In probability space the link is not linear: each coalition's walks add the
//!   leaf values to one margin per background row, in boosting order from the base
//!   as [`Model::predict_raw`] sums them, and the link applies per row before the
//!   average: the same numbers as the masked rows bit for bit.
//!
//! Every coalition's value is a function of its own players alone (a table entry is
//! what the walk gives for every coalition with that key), so the game serves
//! [`Game::independent_values`] too. The per-node sets take (nodes × ⌈n / 64⌉) words;
//! past [`MAX_SET_BYTES`], or more than 2,048 background rows, the game keeps the
//! generic route.

use ndarray::Array2;

use super::game::Game;
use super::sampling::MAX_BATCH_VALUES;
use crate::core::models::{Link, Model, OutputSpace, TreeEnsemble};
use crate::core::CoreResult;

/// Most bytes the per-node sets of background rows of one game may take.
pub const MAX_SET_BYTES: usize = 64 << 20;
/// A tree whose splits separate at most this many players keeps a table of its
/// share per subset of them (2^this `f64`).
pub const MEMO_PLAYERS: usize = 12;
/// A leaf's child index.
const LEAF: u32 = u32::MAX;

/// `v(S)` for each coalition in `masks` (as [`Game::values`]) through the trees of
/// `ensemble`, the game's model; `None` when the route does not apply (too many
/// background rows, or sets beyond [`MAX_SET_BYTES`]) and the generic one must.
pub(super) fn values(
    game: &Game,
    ensemble: &TreeEnsemble,
    masks: &[bool],
) -> Option<CoreResult<Vec<f64>>> {
    let words = game
        .background
        .nrows()
        .div_ceil(64)
        .max(1)
        .next_power_of_two();
    match words {
        1 => play::<1>(game, ensemble, masks),
        2 => play::<2>(game, ensemble, masks),
        4 => play::<4>(game, ensemble, masks),
        8 => play::<8>(game, ensemble, masks),
        16 => play::<16>(game, ensemble, masks),
        32 => play::<32>(game, ensemble, masks),
        _ => None,
    }
}

/// [`values`] with sets of `W` words.
fn play<const W: usize>(
    game: &Game,
    ensemble: &TreeEnsemble,
    masks: &[bool],
) -> Option<CoreResult<Vec<f64>>> {
    let linear = game.space == OutputSpace::Raw || ensemble.link() == Link::Identity;
    let trees = ensemble
        .trees()
        .iter()
        .filter(|t| !linear || t.output == game.output);
    let nodes: usize = trees.map(|t| t.nodes.len()).sum();
    if nodes.saturating_mul(W * 8) > MAX_SET_BYTES {
        return None;
    }
    let walks = Walks::<W>::new(game, ensemble, linear);
    Some(if linear {
        walks.linear(game, ensemble.base()[game.output], masks)
    } else {
        walks.per_row(game, ensemble, masks)
    })
}

/// One node as the walk reads it.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// Index of the left child among the game's steps; [`LEAF`] for a leaf.
    left: u32,
    /// Index of the right child.
    right: u32,
    /// The player whose feature the split reads.
    player: u32,
    /// Whether the explained row goes left.
    x_left: bool,
    /// A leaf's raw output (0 for a split).
    value: f64,
}

/// One tree of the game.
#[derive(Debug)]
struct Head {
    /// Index of its root among the steps.
    root: usize,
    /// The raw output it adds to.
    output: usize,
    /// The players on which some split sends some background row the other way
    /// from the explained row: the only ones its share depends on.
    players: Vec<usize>,
}

/// The trees of one game, with the background rows' directions at every split.
struct Walks<const W: usize> {
    /// The trees played, in boosting order.
    heads: Vec<Head>,
    /// All their nodes.
    steps: Vec<Step>,
    /// Per step: the background rows that go left (bit `b % 64` of word `b / 64`).
    left: Vec<[u64; W]>,
    /// Every background row.
    full: [u64; W],
    /// The background's weights, when it has them.
    weights: Option<Vec<f64>>,
}

impl<const W: usize> Walks<W> {
    /// The trees of `ensemble` that the game reads (those of its output when
    /// `linear`, all otherwise), each split decided for the row and every
    /// background row.
    fn new(game: &Game, ensemble: &TreeEnsemble, linear: bool) -> Self {
        let n = game.background.nrows();
        let mut player_of = vec![0u32; ensemble.n_features()];
        for g in 0..game.groups.len() {
            for &j in game.groups.members(g) {
                player_of[j] = g as u32;
            }
        }
        // Feature-major, so that a split reads one contiguous column.
        let columns = game.background.t().as_standard_layout().into_owned();
        let mut full = [0u64; W];
        for b in 0..n {
            full[b / 64] |= 1 << (b % 64);
        }
        let mut walks = Walks {
            heads: Vec::new(),
            steps: Vec::new(),
            left: Vec::new(),
            full,
            weights: game.weights.map(|w| w.to_vec()),
        };
        for tree in ensemble.trees() {
            if linear && tree.output != game.output {
                continue;
            }
            let start = walks.steps.len();
            let mut players = Vec::new();
            for node in &tree.nodes {
                let (Some(f), Some(l), Some(r)) = (node.feature, node.left, node.right) else {
                    walks.steps.push(Step {
                        left: LEAF,
                        right: LEAF,
                        player: 0,
                        x_left: false,
                        value: node.value,
                    });
                    walks.left.push([0; W]);
                    continue;
                };
                let x_left = node.goes_left(game.x[f]);
                let mut left = [0u64; W];
                let column = columns.row(f);
                let column = column.as_slice().unwrap_or_default();
                for (word, chunk) in left.iter_mut().zip(column.chunks(64)) {
                    for (i, &v) in chunk.iter().enumerate() {
                        *word |= u64::from(node.goes_left(v)) << i;
                    }
                }
                let player = player_of[f];
                let alike = if x_left { full } else { [0; W] };
                if left != alike && !players.contains(&(player as usize)) {
                    players.push(player as usize);
                }
                walks.steps.push(Step {
                    left: (start + l) as u32,
                    right: (start + r) as u32,
                    player,
                    x_left,
                    value: 0.0,
                });
                walks.left.push(left);
            }
            walks.heads.push(Head {
                root: start,
                output: tree.output,
                players,
            });
        }
        walks
    }

    /// `v(S)` when it is linear in the leaves: `base` plus each tree's share.
    fn linear(&self, game: &Game, base: f64, masks: &[bool]) -> CoreResult<Vec<f64>> {
        let players = game.groups.len().max(1);
        let mut sums = vec![0.0; masks.len() / players];
        let mut table: Vec<f64> = Vec::new();
        for head in &self.heads {
            game.stop.check()?;
            let share = |coalition: &[bool]| {
                let mut sum = 0.0;
                self.walk(head.root, coalition, &mut |value, set| {
                    sum += value * self.mass(set);
                });
                sum
            };
            let coalitions = sums.iter_mut().zip(masks.chunks_exact(players));
            if head.players.len() > MEMO_PLAYERS {
                coalitions.for_each(|(sum, coalition)| *sum += share(coalition));
                continue;
            }
            table.clear();
            table.resize(1 << head.players.len(), f64::NAN);
            for (sum, coalition) in coalitions {
                let key = head
                    .players
                    .iter()
                    .enumerate()
                    .fold(0, |key, (i, &p)| key | usize::from(coalition[p]) << i);
                if table[key].is_nan() {
                    table[key] = share(coalition);
                }
                *sum += table[key];
            }
        }
        let scale = match self.weights {
            Some(_) => 1.0,
            None => 1.0 / game.background.nrows() as f64,
        };
        Ok(sums.iter().map(|s| base + s * scale).collect())
    }

    /// `v(S)` through the link: one margin per background row and output, summed
    /// from the base in boosting order, the link applied per row, then averaged.
    fn per_row(
        &self,
        game: &Game,
        ensemble: &TreeEnsemble,
        masks: &[bool],
    ) -> CoreResult<Vec<f64>> {
        let players = game.groups.len().max(1);
        let n = game.background.nrows();
        let base = ensemble.base();
        let outputs = base.len();
        let total = masks.len() / players;
        let per_batch = (MAX_BATCH_VALUES / (n * outputs).max(1)).clamp(1, total.max(1));
        let mut values = Vec::with_capacity(total);
        for chunk in masks.chunks(per_batch * players) {
            game.stop.check()?;
            let coalitions = chunk.len() / players;
            let mut out = Array2::from_shape_fn((coalitions * n, outputs), |(_, k)| base[k]);
            let Some(slots) = out.as_slice_mut() else {
                unreachable!("a new array is in standard layout")
            };
            for (block, coalition) in slots
                .chunks_exact_mut(n * outputs)
                .zip(chunk.chunks_exact(players))
            {
                for head in &self.heads {
                    self.walk(head.root, coalition, &mut |value, set| {
                        for b in rows(set) {
                            block[b * outputs + head.output] += value;
                        }
                    });
                }
            }
            if game.space == OutputSpace::Probability {
                ensemble.link().apply(&mut out);
            }
            game.averages(out, n, &mut values);
        }
        Ok(values)
    }

    /// The background rows of `set`, counted or weighted.
    #[inline]
    fn mass(&self, set: &[u64; W]) -> f64 {
        match &self.weights {
            None => set.iter().map(|w| w.count_ones()).sum::<u32>() as f64,
            Some(weights) => rows(set).map(|b| weights[b]).sum(),
        }
    }

    /// Call `leaf(value, set)` for each leaf the masked rows of `coalition` reach
    /// from `root`, with the set of background rows whose masked row reaches it.
    #[inline]
    fn walk(&self, root: usize, coalition: &[bool], leaf: &mut impl FnMut(f64, &[u64; W])) {
        self.descend(root, self.full, coalition, leaf);
    }

    /// [`Walks::walk`] from node `at` with the (non-empty) set `set`.
    fn descend(
        &self,
        mut at: usize,
        mut set: [u64; W],
        coalition: &[bool],
        leaf: &mut impl FnMut(f64, &[u64; W]),
    ) {
        loop {
            let step = self.steps[at];
            if step.left == LEAF {
                leaf(step.value, &set);
                return;
            }
            let (l, r) = (step.left as usize, step.right as usize);
            if coalition[step.player as usize] {
                at = if step.x_left { l } else { r };
                continue;
            }
            let goes = &self.left[at];
            let (mut left, mut right) = ([0u64; W], [0u64; W]);
            let (mut any_left, mut any_right) = (0, 0);
            for w in 0..W {
                left[w] = set[w] & goes[w];
                right[w] = set[w] & !goes[w];
                any_left |= left[w];
                any_right |= right[w];
            }
            match (any_left != 0, any_right != 0) {
                (true, true) => {
                    self.descend(l, left, coalition, leaf);
                    (at, set) = (r, right);
                }
                (true, false) => (at, set) = (l, left),
                _ => (at, set) = (r, right),
            }
        }
    }
}

/// The indices of the background rows in `set`, ascending.
fn rows<const W: usize>(set: &[u64; W]) -> impl Iterator<Item = usize> + '_ {
    set.iter().enumerate().flat_map(|(w, &word)| {
        let mut bits = word;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                w * 64 + b
            })
        })
    })
}

#[cfg(test)]
mod tests;
