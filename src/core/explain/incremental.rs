//! The coalition game of a model with an affine first step ([`AffineInput`]:
//! linear, logistic, MLP), without multiplying every masked row by `W`.
//!
//! The head sees only `z(m) = m·W + c` of a masked row `m_b = (x_S, b_{N∖S})`, and
//! that differs from the background row's own `z(b)` by the features taken from
//! `x`: with `Δ_bj = x_j − b_j`,
//! `z(m_b) = z(b) + Σ_{j∈S} Δ_bj W_j = z(x) − Σ_{j∉S} Δ_bj W_j`.
//! Each coalition's block of `z` (one row per background row) starts from one of
//! four bases and then moves the features where it differs from that base
//! (`+Δ_bj W_j` for a feature taken from `x`, `−Δ_bj W_j` for one given back):
//! - the background, `z(b)` (base coalition ∅): `|S|` moves;
//! - the row, `z(x)` (base N): `F − |S|` moves;
//! - the previous coalition `P`: `|S Δ P|` moves, one along a permutation;
//! - the previous coalition's complement, `z(x) + z(b) − z_P(b)` (base N ∖ P), for
//!   one pass over the block plus `F − |S Δ P|` moves: none for the second
//!   coalition of a KernelSHAP pair.
//!
//! Features whose row of `W` is all zeros never move `z` and are left out. The
//! cheapest base is taken, so KernelSHAP's coalitions (mostly very small or
//! very large, in complementary pairs) cost about `min(|S|, F − |S|) / 2` moves
//! each instead of `F` row products, and a permutation's prefixes one. A
//! coalition's moves are applied together as one small matrix product,
//! `z += D W_m` (`D`: background rows × moved features, the signed deltas; `W_m`
//! their rows of `W`), by matrixmultiply, whose kernels use the CPU's vector
//! instructions (AVX2/FMA where present) chosen at run time; for a map of width
//! one (linear and logistic models) as one vector update per move. Blocks go to
//! [`AffineInput::predict_raw_from_affine`] in batches of at most
//! [`AFFINE_BATCH_VALUES`] values, small enough to stay in cache. The numbers
//! equal those of [`Model::predict`] on the masked rows up to floating-point
//! rounding (the same sums in another order; the tests hold them to 1e-12).
//! Exact Shapley values use only the first two bases, which depend on the
//! coalition alone, so that a feature the model ignores gets exactly 0.
//!
//! The sampling estimators take an MLP through [`single`] instead: the same bases
//! and moves, in float32 vector lanes of background rows, the whole network in one
//! kernel ([`super::game::Game::sampled_values`]).

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};

use super::game::Game;
use crate::core::models::{AffineInput, OutputSpace};
use crate::core::CoreResult;

/// The most values of `z` (masked rows × map width) sent to one head call: 256 KiB
/// of `f64`, which with the head's own intermediate values stays in a core's L2.
pub const AFFINE_BATCH_VALUES: usize = 1 << 15;

/// `v(S)` for each coalition in `masks` (as [`Game::values`]).
///
/// With `reuse` false only the two bases that depend on the coalition alone (the
/// background and the row) are used ([`Game::independent_values`]).
pub(crate) fn values(
    game: &Game,
    affine: &dyn AffineInput,
    masks: &[bool],
    reuse: bool,
) -> CoreResult<Vec<f64>> {
    let players = game.groups.len().max(1);
    let total = masks.len() / players;
    let map = Map::new(game, affine);
    let block = map.n_bg * map.units;
    let per_batch = (AFFINE_BATCH_VALUES / block.max(1)).clamp(1, total.max(1));
    let mut buffer = vec![0.0; per_batch * block];
    let mut carry = vec![0.0; block];
    let width = game.x.len();
    let (mut current, mut previous) = (vec![false; width], vec![false; width]);
    let mut moves: Vec<(usize, f64)> = Vec::with_capacity(width);
    let mut scratch = Scratch::default();
    let mut values = Vec::with_capacity(total);
    for (batch, chunk) in masks.chunks(per_batch * players).enumerate() {
        game.stop.check()?;
        let coalitions = chunk.len() / players;
        for (k, mask) in chunk.chunks(players).enumerate() {
            features_taken(game, mask, &map.active, &mut current);
            let has_previous = reuse && (k > 0 || batch > 0);
            let base = choose(&current, &previous, has_previous);
            moves_from(base, &current, &previous, &mut moves);
            let at = k * block;
            let (done, rest) = buffer.split_at_mut(at);
            // The block before, or the last one of the last batch.
            let prev = if k > 0 {
                &done[at - block..]
            } else {
                &carry[..]
            };
            map.fill(&mut rest[..block], base, prev, &moves, &mut scratch);
            std::mem::swap(&mut current, &mut previous);
        }
        let last = (coalitions - 1) * block;
        carry.copy_from_slice(&buffer[last..last + block]);
        // The head may overwrite the blocks: the next batch starts from `carry`.
        let z = ArrayViewMut2::from_shape(
            (coalitions * map.n_bg, map.units),
            &mut buffer[..coalitions * block],
        )
        .expect("the buffer holds whole rows");
        let mut out = affine.predict_raw_from_affine(z);
        if game.space == OutputSpace::Probability {
            game.model.link().apply(&mut out);
        }
        game.averages(out, map.n_bg, &mut values);
    }
    Ok(values)
}

/// Where a coalition's block of `z` starts (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    /// `z(b)`: no feature from the row.
    Background,
    /// `z(x)`: every feature from the row.
    Row,
    /// The previous coalition's block.
    Previous,
    /// The previous coalition's complement, `z(x) + z(b) − z_P(b)`.
    Complement,
}

/// The base that needs the fewest moves for coalition `current` after `previous`.
fn choose(current: &[bool], previous: &[bool], has_previous: bool) -> Base {
    let width = current.len();
    let size = current.iter().filter(|&&on| on).count();
    let mut best = (size, Base::Background);
    if width - size < best.0 {
        best = (width - size, Base::Row);
    }
    if has_previous {
        let changed = current.iter().zip(previous).filter(|(a, b)| a != b).count();
        if changed < best.0 {
            best = (changed, Base::Previous);
        }
        if 1 + width - changed < best.0 {
            best = (1 + width - changed, Base::Complement);
        }
    }
    best.1
}

/// The features coalition `mask` (one bool per player) takes from the row, into
/// `current`: its players' members that have a weight. A feature with no weight
/// never moves `z`: leaving it out changes no number and makes it invisible to
/// [`choose`].
fn features_taken(game: &Game, mask: &[bool], active: &[bool], current: &mut [bool]) {
    current.fill(false);
    for (g, _) in mask.iter().enumerate().filter(|(_, &on)| on) {
        for &j in game.groups.members(g) {
            current[j] = active[j];
        }
    }
}

/// The moves from `base` to coalition `current` (`previous`: the coalition before)
/// into `moves`: each feature where they differ, `+1` taken from the row, `−1` given
/// back to the background.
fn moves_from<T: From<i8>>(
    base: Base,
    current: &[bool],
    previous: &[bool],
    moves: &mut Vec<(usize, T)>,
) {
    moves.clear();
    for (j, (&on, &was)) in current.iter().zip(previous).enumerate() {
        let in_base = match base {
            Base::Background => false,
            Base::Row => true,
            Base::Previous => was,
            Base::Complement => !was,
        };
        if on != in_base {
            moves.push((j, T::from(if on { 1 } else { -1 })));
        }
    }
}

/// What one row's game needs to build blocks of `z`.
struct Map {
    /// Width of the map.
    units: usize,
    /// Background rows per coalition.
    n_bg: usize,
    /// `W`, (features, units), row-major.
    w: Vec<f64>,
    /// Whether feature `j`'s row of `W` has a non-zero weight.
    active: Vec<bool>,
    /// `Δ_bj = x_j − b_j` by feature: (features, background rows), row-major.
    deltas_by_feature: Vec<f64>,
    /// `z(b)` for each background row, (background rows, units).
    start_background: Vec<f64>,
    /// `z(x)`, (units).
    start_row: Vec<f64>,
}

impl Map {
    fn new(game: &Game, affine: &dyn AffineInput) -> Self {
        let (w, c) = affine.input_affine();
        let (n_bg, units) = (game.background.nrows(), w.ncols());
        let start_background = game.background.dot(&w) + &c;
        let deltas = &game.x - &game.background;
        Map {
            active: w
                .rows()
                .into_iter()
                .map(|r| r.iter().any(|&v| v != 0.0))
                .collect(),
            units,
            n_bg,
            w: w.iter().copied().collect(),
            deltas_by_feature: deltas.t().iter().copied().collect(),
            start_background: start_background.iter().copied().collect(),
            start_row: (game.x.dot(&w) + &c).to_vec(),
        }
    }

    /// Build a coalition's block of `z` into `out`: start from `base` (`prev` is
    /// the previous coalition's block) and apply `moves` (feature, ±1):
    /// `z_b += sign · Δ_bj W_j` (module doc).
    fn fill(
        &self,
        out: &mut [f64],
        base: Base,
        prev: &[f64],
        moves: &[(usize, f64)],
        scratch: &mut Scratch,
    ) {
        let units = self.units;
        if units == 1 {
            for (b, z) in out.iter_mut().enumerate() {
                *z = self.base_value(base, prev, b, 0);
            }
            for &(j, sign) in moves {
                let w = sign * self.w[j];
                let deltas = &self.deltas_by_feature[j * self.n_bg..(j + 1) * self.n_bg];
                for (z, &d) in out.iter_mut().zip(deltas) {
                    *z += d * w;
                }
            }
            return;
        }
        // The base, then every move at once as one small matrix product,
        // `z += D_m W_m` (D_m: the moved features' signed deltas, background rows ×
        // moves), through matrixmultiply's vectorised kernels.
        match base {
            Base::Background => out.copy_from_slice(&self.start_background),
            Base::Previous => out.copy_from_slice(prev),
            Base::Row => {
                for row in out.chunks_exact_mut(units) {
                    row.copy_from_slice(&self.start_row);
                }
            }
            Base::Complement => {
                for ((out, prev), start) in out
                    .chunks_exact_mut(units)
                    .zip(prev.chunks_exact(units))
                    .zip(self.start_background.chunks_exact(units))
                {
                    for (((o, &p), &s), &r) in
                        out.iter_mut().zip(prev).zip(start).zip(&self.start_row)
                    {
                        *o = r + s - p;
                    }
                }
            }
        }
        let m = moves.len();
        if m == 0 {
            return;
        }
        // D_m built move by move from each feature's contiguous deltas, and read
        // transposed: (moves × background rows) laid out, (rows × moves) seen.
        scratch.d.clear();
        for &(j, sign) in moves {
            let deltas = &self.deltas_by_feature[j * self.n_bg..(j + 1) * self.n_bg];
            scratch.d.extend(deltas.iter().map(|&d| sign * d));
        }
        scratch.w.clear();
        for &(j, _) in moves {
            scratch
                .w
                .extend_from_slice(&self.w[j * units..(j + 1) * units]);
        }
        let d = ArrayView2::from_shape((m, self.n_bg), &scratch.d[..]).expect("moves × rows");
        let d = d.t();
        let w = ArrayView2::from_shape((m, units), &scratch.w[..]).expect("moves × units");
        let mut z = ArrayViewMut2::from_shape((self.n_bg, units), out).expect("a block");
        general_mat_mul(1.0, &d, &w, 1.0, &mut z);
    }

    /// Column `u` of background row `b`'s block at `base`.
    #[inline(always)]
    fn base_value(&self, base: Base, prev: &[f64], b: usize, u: usize) -> f64 {
        let at = b * self.units + u;
        match base {
            Base::Background => self.start_background[at],
            Base::Row => self.start_row[u],
            Base::Previous => prev[at],
            Base::Complement => self.start_row[u] + self.start_background[at] - prev[at],
        }
    }
}

/// Buffers reused from one coalition to the next.
#[derive(Default)]
struct Scratch {
    /// The moved features' rows of `W`, (moves, units).
    w: Vec<f64>,
    /// Their signed deltas, (background rows, moves).
    d: Vec<f64>,
}

mod lanes;
pub(super) mod single;
#[cfg(test)]
mod tests;
