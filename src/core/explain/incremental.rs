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
//! each instead of `F` row products, and a permutation's prefixes one. Moves are
//! applied to each row of the block at once, eight columns at a time, so the
//! partial sums stay in registers. Blocks go to
//! [`AffineInput::predict_raw_from_affine`] in batches of at most
//! [`AFFINE_BATCH_VALUES`] values, small enough to stay in cache. The numbers
//! equal those of [`Model::predict`] on the masked rows up to floating-point
//! rounding (the same sums in another order; the tests hold them to 1e-12).
//! Exact Shapley values use only the first two bases, which depend on the
//! coalition alone, so that a feature the model ignores gets exactly 0.

use ndarray::ArrayView2;

use super::game::Game;
use super::sampling::Deadline;
use crate::core::models::{AffineInput, OutputSpace};
use crate::core::CoreResult;

/// The most values of `z` (masked rows × map width) sent to one head call: 256 KiB
/// of `f64`, which with the head's own intermediate values stays in a core's L2.
pub const AFFINE_BATCH_VALUES: usize = 1 << 15;

/// Columns of `z` updated together; a multiple of the SIMD width.
const LANES: usize = 8;

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
        Deadline::check(game.deadline)?;
        let coalitions = chunk.len() / players;
        for (k, mask) in chunk.chunks(players).enumerate() {
            current.fill(false);
            for (g, _) in mask.iter().enumerate().filter(|(_, &on)| on) {
                for &j in game.groups.members(g) {
                    // A feature with no weight never moves `z`: leaving it out
                    // changes no number and makes it invisible to `choose`.
                    current[j] = map.active[j];
                }
            }
            let has_previous = reuse && (k > 0 || batch > 0);
            let base = choose(&current, &previous, has_previous);
            moves.clear();
            for (j, (&on, &was)) in current.iter().zip(&previous).enumerate() {
                let in_base = match base {
                    Base::Background => false,
                    Base::Row => true,
                    Base::Previous => was,
                    Base::Complement => !was,
                };
                if on != in_base {
                    moves.push((j, if on { 1.0 } else { -1.0 }));
                }
            }
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
        let z = ArrayView2::from_shape(
            (coalitions * map.n_bg, map.units),
            &buffer[..coalitions * block],
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

/// What one row's game needs to build blocks of `z`.
struct Map {
    /// Width of the map.
    units: usize,
    /// Background rows per coalition.
    n_bg: usize,
    /// Features.
    width: usize,
    /// `W`, (features, units rounded up to [`LANES`]), zero-padded, row-major.
    w: Vec<f64>,
    /// Whether feature `j`'s row of `W` has a non-zero weight.
    active: Vec<bool>,
    /// `Δ_bj = x_j − b_j`, (background rows, features), row-major.
    deltas: Vec<f64>,
    /// `Δ` transposed, (features, background rows), for maps of width 1.
    deltas_by_feature: Vec<f64>,
    /// `z(b)` for each background row, (background rows, units).
    start_background: Vec<f64>,
    /// `z(x)`, (units).
    start_row: Vec<f64>,
}

impl Map {
    fn new(game: &Game, affine: &dyn AffineInput) -> Self {
        let (w, c) = affine.input_affine();
        let (n_bg, width, units) = (game.background.nrows(), game.x.len(), w.ncols());
        let padded = units.div_ceil(LANES) * LANES;
        let mut w_padded = vec![0.0; width * padded];
        for (row, w) in w_padded.chunks_exact_mut(padded).zip(w.rows()) {
            for (p, &v) in row.iter_mut().zip(&w) {
                *p = v;
            }
        }
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
            width,
            w: w_padded,
            deltas: deltas.iter().copied().collect(),
            deltas_by_feature: deltas.t().iter().copied().collect(),
            start_background: start_background.iter().copied().collect(),
            start_row: (game.x.dot(&w) + &c).to_vec(),
        }
    }

    /// Build a coalition's block of `z` into `out`: start from `base` (`prev` is
    /// the previous coalition's block) and apply `moves` (feature, ±1):
    /// `z_b += sign · Δ_bj W_j`. One pass over the block; each row's partial sums
    /// stay in registers, [`LANES`] columns at a time.
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
                let w = sign * self.w[j * LANES];
                let deltas = &self.deltas_by_feature[j * self.n_bg..(j + 1) * self.n_bg];
                for (z, &d) in out.iter_mut().zip(deltas) {
                    *z += d * w;
                }
            }
            return;
        }
        // The moved features' weights, lane by lane: (lane, move, LANES).
        let padded = self.w.len() / self.width;
        let m = moves.len();
        scratch.w.clear();
        for lane in 0..padded / LANES {
            for &(j, _) in moves {
                let start = j * padded + lane * LANES;
                scratch.w.extend_from_slice(&self.w[start..start + LANES]);
            }
        }
        scratch.d.resize(m, 0.0);
        for (b, (row, deltas)) in out
            .chunks_exact_mut(units)
            .zip(self.deltas.chunks_exact(self.width))
            .enumerate()
        {
            for (d, &(j, sign)) in scratch.d.iter_mut().zip(moves) {
                *d = sign * deltas[j];
            }
            // Whole lanes by fixed-size copies (no memcpy calls), then the rest.
            let (whole, rest) = row.split_at_mut(units / LANES * LANES);
            for (lane, z) in whole.chunks_exact_mut(LANES).enumerate() {
                let z: &mut [f64; LANES] = z.try_into().expect("whole lanes");
                *z = self.lane(base, prev, b, lane, LANES, scratch);
            }
            if !rest.is_empty() {
                let acc = self.lane(base, prev, b, units / LANES, rest.len(), scratch);
                rest.iter_mut().zip(&acc).for_each(|(v, &a)| *v = a);
            }
        }
    }

    /// Columns `lane · LANES ..` (`n` of them, the rest 0) of background row `b`'s
    /// block: the base plus the moves whose weights and deltas are in `scratch`.
    #[inline(always)]
    fn lane(
        &self,
        base: Base,
        prev: &[f64],
        b: usize,
        lane: usize,
        n: usize,
        scratch: &Scratch,
    ) -> [f64; LANES] {
        let mut acc = [0.0; LANES];
        for (l, a) in acc.iter_mut().enumerate().take(n) {
            *a = self.base_value(base, prev, b, lane * LANES + l);
        }
        let m = scratch.d.len();
        let w = &scratch.w[lane * m * LANES..(lane + 1) * m * LANES];
        for (&d, w) in scratch.d.iter().zip(w.chunks_exact(LANES)) {
            let w: &[f64; LANES] = w.try_into().expect("whole lanes");
            for (a, &w) in acc.iter_mut().zip(w) {
                *a += d * w;
            }
        }
        acc
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
    /// The moved features' weights, lane by lane.
    w: Vec<f64>,
    /// One background row's signed deltas of the moved features.
    d: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::explain::sampling::FeatureGroups;
    use crate::core::explain::tests_support::Opaque;
    use crate::core::models::mlp::tests::{layer, pseudo_random};
    use crate::core::models::mlp::{MlpParams, ScalerParams};
    use crate::core::models::{LinearModel, Model};
    use ndarray::{array, Array1, Array2};

    /// Coalitions that reach every start of the affine path: random subsets of
    /// every size, complements of the previous coalition, and one-player changes
    /// as along a permutation; `count` of them, more than one batch holds.
    fn walk(players: usize, count: usize) -> Vec<bool> {
        let mut state = 12345u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let mut masks: Vec<bool> = Vec::with_capacity(count * players);
        let mut mask = vec![false; players];
        for c in 0..count {
            if c % 10 == 0 {
                let size = next() % (players + 1);
                mask = (0..players).map(|_| next() % players < size).collect();
            } else if c % 10 == 5 {
                mask.iter_mut().for_each(|on| *on = !*on);
            } else {
                let g = next() % players;
                mask[g] = !mask[g];
            }
            masks.extend(&mask);
        }
        masks
    }

    fn assert_paths_agree(
        model: &dyn Model,
        space: OutputSpace,
        output: usize,
        groups: &FeatureGroups,
    ) {
        let f = model.n_features();
        let bg = Array2::from_shape_fn((30, f), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 3.0 - 1.5);
        let x = Array1::from_shape_fn(f, |j| (j as f64 * 0.37).sin() * 2.0);
        let game = Game {
            model,
            background: bg.view(),
            x: x.view(),
            groups,
            output,
            space,
            deadline: None,
        };
        let opaque = Opaque(model);
        let generic = Game {
            model: &opaque,
            ..game
        };
        let masks = walk(groups.len(), 700);
        let b = generic.values(&masks).unwrap();
        for a in [game.values(&masks), game.independent_values(&masks)] {
            let a = a.unwrap();
            assert_eq!(a.len(), 700);
            for (i, (a, b)) in a.iter().zip(&b).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                    "coalition {i}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn the_affine_path_equals_the_generic_one() {
        let singles = FeatureGroups::singletons(12);
        let w = Array2::from_shape_vec((3, 12), pseudo_random(3, 12, 9).concat()).unwrap();
        let linear = LinearModel::regression(w.clone(), array![0.1, -0.2, 0.3]).unwrap();
        assert_paths_agree(&linear, OutputSpace::Raw, 2, &singles);
        let softmax = LinearModel::logistic(w.clone(), array![0.1, -0.2, 0.3]).unwrap();
        assert_paths_agree(&softmax, OutputSpace::Probability, 1, &singles);
        let binary =
            LinearModel::logistic(w.slice(ndarray::s![..1, ..]).to_owned(), array![0.5]).unwrap();
        assert_paths_agree(&binary, OutputSpace::Probability, 0, &singles);
        for (hidden, head, outputs) in [
            ("relu", "softmax", 3),
            ("tanh", "identity", 1),
            ("leaky_relu", "sigmoid", 1),
        ] {
            let net = MlpParams {
                layers: vec![
                    layer(
                        pseudo_random(12, 8, 1),
                        pseudo_random(1, 8, 2).remove(0),
                        hidden,
                    ),
                    layer(
                        pseudo_random(8, 5, 3),
                        pseudo_random(1, 5, 4).remove(0),
                        "relu",
                    ),
                    layer(
                        pseudo_random(5, outputs, 5),
                        pseudo_random(1, outputs, 6).remove(0),
                        head,
                    ),
                ],
                scaler: Some(ScalerParams {
                    mean: (0..12).map(|j| j as f64 / 10.0).collect(),
                    scale: (0..12).map(|j| 0.5 + j as f64 / 6.0).collect(),
                }),
                input_shape: None,
            }
            .validate()
            .unwrap();
            let space = if net.link().has_probability() {
                OutputSpace::Probability
            } else {
                OutputSpace::Raw
            };
            assert_paths_agree(&net, space, outputs - 1, &singles);
            let groups = FeatureGroups::new(
                vec![vec![0, 5], vec![1, 2, 3], vec![4], vec![6, 7, 8, 9, 10, 11]],
                12,
            )
            .unwrap();
            assert_paths_agree(&net, space, 0, &groups);
        }
    }

    #[test]
    fn a_feature_without_weights_gets_exactly_zero() {
        // Feature 3 has no weight into the first layer: the dummy axiom, exactly.
        let mut first = pseudo_random(8, 6, 1);
        first[3] = vec![0.0; 6];
        let net = MlpParams {
            layers: vec![
                layer(first, pseudo_random(1, 6, 2).remove(0), "tanh"),
                layer(pseudo_random(6, 1, 3), vec![0.1], "sigmoid"),
            ],
            scaler: None,
            input_shape: None,
        }
        .validate()
        .unwrap();
        let data = Array2::from_shape_fn((20, 8), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
        let reference = crate::core::stats::Reference::new(&net, data);
        let x = Array2::from_shape_fn((2, 8), |(i, j)| (i + j) as f64 / 4.0 - 1.0);
        let options = crate::core::explain::sampling::SamplingParams {
            output_space: OutputSpace::Probability,
            ..Default::default()
        }
        .check(&net)
        .unwrap();
        let got = crate::core::explain::exact_shapley::explain(
            &net,
            &reference,
            x.view(),
            &[0, 0],
            &options,
        )
        .unwrap();
        for e in &got {
            assert_eq!(e.attributions[3], 0.0);
            assert!(e.attributions.iter().any(|&a| a.abs() > 1e-3));
        }
    }
}
