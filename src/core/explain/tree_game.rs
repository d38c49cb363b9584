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
//! - In probability space the link is not linear: each coalition needs one margin
//!   per background row, and the link applies per row before the average. The
//!   masked rows of one background row `b` reach, in one tree, a leaf that depends
//!   only on the players whose splits part `b` from the explained row on the paths
//!   those rows can take: two or three players on average for a depth-6 XGBoost
//!   model, none for a fifth of the pairs. So per background row the game keeps a
//!   table of the leaf per subset of those players (summed over the trees that
//!   depend on the same ones), built by the first call on a game and kept in its
//!   [`Memo`] for the later ones ([`tables`]), and a coalition's margins are a
//!   lookup per table, eight coalitions at a time where the CPU has AVX-512. Where
//!   the tables would pass [`MAX_TABLE_BYTES`], each margin starts from a
//!   reference instead, the background row's own prediction (for coalitions
//!   holding at most half the players the trees separate) or the explained row's
//!   (for the others), and each tree's walk follows only the rows that leave their reference path (a masked
//!   row leaves its background row's own path only at a separating split of a
//!   player in `S`, and the explained row's path only at one of a player outside
//!   it), adding the difference of the leaf they reach from their reference leaf;
//!   subtrees where no row can leave are not walked. Both are equal to the masked
//!   rows' values up to rounding (the margins are summed in another order), and a
//!   coalition's sums depend on the players that decide a leaf alone, so a player
//!   no split separates still changes no value. Past 64 players (no coalition
//!   masks) each tree is walked with every row, the leaf values added to the
//!   margins in boosting order from the base, as [`Model::predict_raw`] sums them.
//!
//! Every coalition's value is a function of its own players alone (a table entry is
//! what the walk gives for every coalition with that key), so the game serves
//! [`Game::independent_values`] too. The walks take two sets of ⌈n / 64⌉ words (rounded
//! up to a power of two) and a few numbers per node; past [`MAX_WALK_BYTES`], or more
//! than 2,048 background rows, the game keeps the generic route.

use std::cell::OnceCell;

use ndarray::Array2;

use super::game::Game;
use super::sampling::MAX_BATCH_VALUES;
use crate::core::models::{Link, Model, OutputSpace, TreeEnsemble};

mod tables;
mod walks;

use crate::core::CoreResult;
use tables::Tables;
use walks::{rows, Walks};

/// Most bytes the walks of one game may take ([`walks::bytes`]).
pub const MAX_WALK_BYTES: usize = 64 << 20;
/// A tree whose splits separate at most this many players keeps a table of its
/// share per subset of them (2^this `f64`).
pub const MEMO_PLAYERS: usize = 12;
/// Most bytes the tables of the probability-space route may take for one game
/// ([`tables`]); past it the game walks the trees for every coalition.
pub const MAX_TABLE_BYTES: usize = 64 << 20;
/// `v(S)` for each coalition in `masks` (as [`Game::values`]) through the trees of
/// `ensemble`, the game's model; `None` when the route does not apply (too many
/// background rows, or walks beyond [`MAX_WALK_BYTES`]) and the generic one must.
/// A game in probability space keeps its tables in [`Game::memo`] for its later
/// calls (a `tolerance`'s further rounds).
pub(super) fn values(
    game: &Game,
    ensemble: &TreeEnsemble,
    masks: &[bool],
) -> Option<CoreResult<Vec<f64>>> {
    if !linear(game, ensemble) {
        if let Some(tables) = game.memo.tables(game, ensemble) {
            return Some(per_row::<1>(game, ensemble, masks, Margins::Tables(tables)));
        }
    }
    values_within(game, ensemble, masks, MAX_TABLE_BYTES, Some(&game.memo))
}

/// Whether the game's values are linear in the leaves (raw space, or the identity
/// link): one share per tree, no margins per background row.
fn linear(game: &Game, ensemble: &TreeEnsemble) -> bool {
    game.space == OutputSpace::Raw || ensemble.link() == Link::Identity
}

/// What the tree route keeps between calls on one game: its tables in
/// probability space, with what they were built for.
#[derive(Default)]
pub(crate) struct Memo {
    kept: OnceCell<(Key, Tables)>,
}

/// What a game's tables depend on: its row, background, players and model (the
/// addresses of the data a game borrows, which cannot change while it lives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    x: (usize, usize),
    background: (usize, usize, usize),
    groups: usize,
    ensemble: usize,
}

impl Key {
    fn of(game: &Game, ensemble: &TreeEnsemble) -> Self {
        let (n, f) = game.background.dim();
        Key {
            x: (game.x.as_ptr() as usize, game.x.len()),
            background: (game.background.as_ptr() as usize, n, f),
            groups: std::ptr::from_ref(game.groups) as usize,
            ensemble: std::ptr::from_ref(ensemble) as usize,
        }
    }
}

impl Memo {
    /// The tables kept for this game, if any (none when the memo came with another
    /// game's fields).
    fn tables(&self, game: &Game, ensemble: &TreeEnsemble) -> Option<&Tables> {
        let (key, tables) = self.kept.get()?;
        (*key == Key::of(game, ensemble)).then_some(tables)
    }

    /// Keep `tables` for this game, or give them back when the memo holds some
    /// already.
    fn keep(
        &self,
        game: &Game,
        ensemble: &TreeEnsemble,
        tables: Tables,
    ) -> Result<&Tables, Tables> {
        match self.kept.set((Key::of(game, ensemble), tables)) {
            Ok(()) => {
                let Some((_, kept)) = self.kept.get() else {
                    unreachable!("the cell was just set")
                };
                Ok(kept)
            }
            Err((_, tables)) => Err(tables),
        }
    }

    /// Whether tables are kept.
    #[cfg(test)]
    fn holds(&self) -> bool {
        self.kept.get().is_some()
    }
}

/// [`values`] with at most `table_bytes` of tables, kept in `memo` when given.
fn values_within(
    game: &Game,
    ensemble: &TreeEnsemble,
    masks: &[bool],
    table_bytes: usize,
    memo: Option<&Memo>,
) -> Option<CoreResult<Vec<f64>>> {
    let words = game
        .background
        .nrows()
        .div_ceil(64)
        .max(1)
        .next_power_of_two();
    match words {
        1 => play::<1>(game, ensemble, masks, table_bytes, memo),
        2 => play::<2>(game, ensemble, masks, table_bytes, memo),
        4 => play::<4>(game, ensemble, masks, table_bytes, memo),
        8 => play::<8>(game, ensemble, masks, table_bytes, memo),
        16 => play::<16>(game, ensemble, masks, table_bytes, memo),
        32 => play::<32>(game, ensemble, masks, table_bytes, memo),
        _ => None,
    }
}

/// [`values_within`] with sets of `W` words.
fn play<const W: usize>(
    game: &Game,
    ensemble: &TreeEnsemble,
    masks: &[bool],
    table_bytes: usize,
    memo: Option<&Memo>,
) -> Option<CoreResult<Vec<f64>>> {
    let linear = linear(game, ensemble);
    let trees = ensemble
        .trees()
        .iter()
        .filter(|t| !linear || t.output == game.output);
    let nodes: usize = trees.map(|t| t.nodes.len()).sum();
    let distinct = ensemble.distinct_splits().first.len();
    if walks::bytes::<W>(nodes, distinct) > MAX_WALK_BYTES {
        return None;
    }
    let mut walks = Walks::<W>::new(game, ensemble, linear);
    if linear {
        walks.summarise_trees();
        return Some(walks.linear(game, ensemble.base()[game.output], masks));
    }
    let n = game.background.nrows();
    let tables = match walks.masks {
        true => match Tables::of(&walks, n, ensemble.base(), table_bytes, game.stop) {
            Ok(tables) => tables,
            Err(stopped) => return Some(Err(stopped)),
        },
        false => None,
    };
    let Some(tables) = tables else {
        walks.summarise_trees();
        return Some(per_row(game, ensemble, masks, Margins::Walked(&walks)));
    };
    let kept = match memo {
        Some(memo) => memo.keep(game, ensemble, tables),
        None => Err(tables),
    };
    Some(match kept {
        Ok(tables) => per_row::<W>(game, ensemble, masks, Margins::Tables(tables)),
        Err(tables) => per_row::<W>(game, ensemble, masks, Margins::Tables(&tables)),
    })
}

/// Where [`per_row`] takes each coalition's margins from.
enum Margins<'a, const W: usize> {
    /// The tables of [`tables`].
    Tables(&'a Tables),
    /// The walks (summarised): from reference paths with at most 64 players, from
    /// the base in boosting order past them.
    Walked(&'a Walks<W>),
}

/// `v(S)` through the link: one margin per background row and output, from the
/// tables ([`tables`]), or else from a reference margin plus what each tree's
/// diverted rows add (module doc), the link applied per row, then averaged.
fn per_row<const W: usize>(
    game: &Game,
    ensemble: &TreeEnsemble,
    masks: &[bool],
    route: Margins<'_, W>,
) -> CoreResult<Vec<f64>> {
    let players = game.groups.len().max(1);
    let n = game.background.nrows();
    let base = ensemble.base();
    let outputs = base.len();
    let total = masks.len() / players;
    let per_batch = (MAX_BATCH_VALUES / (n * outputs).max(1)).clamp(1, total.max(1));
    let references = match route {
        Margins::Walked(walks) if walks.masks => Some(References::of(walks, n, base)),
        _ => None,
    };
    let (mut bits, mut margins, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    let mut values = Vec::with_capacity(total);
    for chunk in masks.chunks(per_batch * players) {
        game.stop.check()?;
        let coalitions = chunk.len() / players;
        let mut out = Array2::<f64>::zeros((coalitions * n, outputs));
        let Some(slots) = out.as_slice_mut() else {
            unreachable!("a new array is in standard layout")
        };
        match route {
            Margins::Tables(tables) => {
                bits.clear();
                bits.extend(chunk.chunks_exact(players).map(coalition_bits));
                margins.resize(coalitions * n * outputs, 0.0);
                tables.margins(&bits, &mut margins, &mut keys);
                // Margin-major to the masked rows' order (coalition, row, output).
                for (m, row) in margins.chunks_exact(coalitions).enumerate() {
                    for (c, &margin) in row.iter().enumerate() {
                        slots[c * n * outputs + m] = margin;
                    }
                }
            }
            Margins::Walked(walks) => {
                let blocks = slots.chunks_exact_mut(n * outputs);
                for (block, coalition) in blocks.zip(chunk.chunks_exact(players)) {
                    match &references {
                        Some(r) => r.margins(walks, coalition, block),
                        None => walks.margins_in_boosting_order(base, coalition, block),
                    }
                }
            }
        }
        if game.space == OutputSpace::Probability {
            ensemble.link().apply(&mut out);
        }
        game.averages(out, n, &mut values);
    }
    Ok(values)
}

impl<const W: usize> Walks<W> {
    /// `v(S)` when it is linear in the leaves: `base` plus each tree's share.
    fn linear(&self, game: &Game, base: f64, masks: &[bool]) -> CoreResult<Vec<f64>> {
        let players = game.groups.len().max(1);
        let mut sums = vec![0.0; masks.len() / players];
        let bits: Vec<u64> = masks.chunks_exact(players).map(coalition_bits).collect();
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

    /// The margins of `coalition`'s masked rows into `block` (background rows ×
    /// outputs): each tree walked with every row, its leaf values added in
    /// boosting order from `base`.
    fn margins_in_boosting_order(&self, base: &[f64], coalition: &[bool], block: &mut [f64]) {
        let outputs = base.len();
        for row in block.chunks_exact_mut(outputs) {
            row.copy_from_slice(base);
        }
        for head in &self.heads {
            self.walk(head.root, coalition, &mut |value, set| {
                for b in rows(set) {
                    block[b * outputs + head.output] += value;
                }
            });
        }
    }
}

/// `coalition` one bit a player (player `i` at bit `i`), for the walks' cuts
/// (meaningless past 64 players, where [`Walks::masks`] is false).
fn coalition_bits(coalition: &[bool]) -> u64 {
    coalition
        .iter()
        .rev()
        .fold(0, |m, &on| m << 1 | u64::from(on))
}

/// The reference margins of the module doc and each tree's reference leaves.
struct References {
    /// Background rows.
    n: usize,
    /// Per tree, the leaf each background row reaches on its own values (trees ×
    /// rows).
    own: Vec<f64>,
    /// Per background row and output, its own prediction's margin.
    background: Vec<f64>,
    /// Per output, the explained row's margin.
    row: Vec<f64>,
    /// The players some tree separates, one bit each.
    separated: u64,
}

impl References {
    /// The references of the trees in `walks` (at most 64 players) for `n`
    /// background rows and the model's `base`.
    fn of<const W: usize>(walks: &Walks<W>, n: usize, base: &[f64]) -> Self {
        let outputs = base.len();
        let mut own = vec![0.0; walks.heads.len() * n];
        let mut background: Vec<f64> = base.iter().cycle().take(n * outputs).copied().collect();
        let mut row = base.to_vec();
        let mut separated = 0u64;
        for (head, own) in walks.heads.iter().zip(own.chunks_exact_mut(n.max(1))) {
            walks.own_leaves(head.root, own);
            for (b, &value) in own.iter().enumerate() {
                background[b * outputs + head.output] += value;
            }
            row[head.output] += walks.row_leaf(head.root);
            separated |= head.players.iter().fold(0, |m, &p| m | 1u64 << p);
        }
        References {
            n,
            own,
            background,
            row,
            separated,
        }
    }

    /// The margins of `coalition`'s masked rows into `block` (background rows ×
    /// outputs).
    fn margins<const W: usize>(&self, walks: &Walks<W>, coalition: &[bool], block: &mut [f64]) {
        let outputs = self.row.len();
        let mask = coalition_bits(coalition);
        let inside = (mask & self.separated).count_ones();
        let from_row = 2 * inside > self.separated.count_ones();
        if from_row {
            for margins in block.chunks_exact_mut(outputs) {
                margins.copy_from_slice(&self.row);
            }
        } else {
            block.copy_from_slice(&self.background);
        }
        for (head, own) in walks.heads.iter().zip(self.own.chunks_exact(self.n.max(1))) {
            let row_leaf = walks.row_leaf(head.root);
            walks.diverted(head.root, coalition, mask, from_row, &mut |value, set| {
                for b in rows(set) {
                    let reference = if from_row { row_leaf } else { own[b] };
                    block[b * outputs + head.output] += value - reference;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests;
