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
//! [`Game::independent_values`] too. The walks take two sets of ⌈n / 64⌉ words (rounded
//! up to a power of two) and a few numbers per node; past [`MAX_WALK_BYTES`], or more
//! than 2,048 background rows, the game keeps the generic route.

use ndarray::Array2;

use super::game::Game;
use super::sampling::MAX_BATCH_VALUES;
use crate::core::models::{Link, Model, OutputSpace, TreeEnsemble};

mod walks;

use crate::core::CoreResult;
use walks::{rows, Walks};

/// Most bytes the walks of one game may take ([`walks::bytes`]).
pub const MAX_WALK_BYTES: usize = 64 << 20;
/// A tree whose splits separate at most this many players keeps a table of its
/// share per subset of them (2^this `f64`).
pub const MEMO_PLAYERS: usize = 12;
/// `v(S)` for each coalition in `masks` (as [`Game::values`]) through the trees of
/// `ensemble`, the game's model; `None` when the route does not apply (too many
/// background rows, or walks beyond [`MAX_WALK_BYTES`]) and the generic one must.
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
    let distinct = ensemble.distinct_splits().first.len();
    if walks::bytes::<W>(nodes, distinct) > MAX_WALK_BYTES {
        return None;
    }
    let walks = Walks::<W>::new(game, ensemble, linear);
    Some(if linear {
        walks.linear(game, ensemble.base()[game.output], masks)
    } else {
        walks.per_row(game, ensemble, masks)
    })
}

impl<const W: usize> Walks<W> {
    /// `v(S)` when it is linear in the leaves: `base` plus each tree's share.
    fn linear(&self, game: &Game, base: f64, masks: &[bool]) -> CoreResult<Vec<f64>> {
        let players = game.groups.len().max(1);
        let mut sums = vec![0.0; masks.len() / players];
        // One bit a player, for the walks' cuts (unused past 64 players).
        let bits: Vec<u64> = masks
            .chunks_exact(players)
            .map(|c| c.iter().rev().fold(0, |m, &on| m << 1 | u64::from(on)))
            .collect();
        let mut table: Vec<f64> = Vec::new();
        for head in &self.heads {
            game.stop.check()?;
            let coalitions = sums.iter_mut().zip(masks.chunks_exact(players)).zip(&bits);
            if head.players.len() > MEMO_PLAYERS {
                for ((sum, coalition), &mask) in coalitions {
                    *sum += self.share(head.root, coalition, mask);
                }
                continue;
            }
            table.clear();
            table.resize(1 << head.players.len(), f64::NAN);
            for ((sum, coalition), &mask) in coalitions {
                let key = head
                    .players
                    .iter()
                    .enumerate()
                    .fold(0, |key, (i, &p)| key | usize::from(coalition[p]) << i);
                if table[key].is_nan() {
                    table[key] = self.share(head.root, coalition, mask);
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
}

#[cfg(test)]
mod tests;
