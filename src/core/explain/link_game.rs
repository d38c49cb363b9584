//! Every coalition's value at once for a linear model seen through a logistic or
//! softmax link: the table exact Shapley values enumerate, at a multiply-add and a
//! reciprocal per (coalition, background row) instead of a masked row each.
//!
//! Such a model's raw outputs are `z = x·W + c`, and its probability for output
//! `k` is `1 / (1 + Σ_t exp(u_t))`: one term `u = −z_k` for the logistic link, and
//! `u_t = z_l − z_k` for each other class `l` of the softmax. Each `u_t` is affine
//! in the row, so on a masked row `(x_S, b_{N∖S})` it is `u_t(b) + Σ_{g∈S} δ_bgt`,
//! with `δ_bgt` the move of player `g` against background row `b` (the sum over
//! its features `j` of `(x_j − b_j) ∂u_t/∂x_j`).
//!
//! Split the players into a low half `A` and a high half `B`. A coalition is
//! `S_A ∪ S_B`, and `exp(u_t) = E_t[S_A] · F_t[S_B]` with
//! `E_t[S_A] = exp(Σ_{g∈S_A} δ_bgt)` and `F_t[S_B] = exp(u_t(b) + Σ_{g∈S_B} δ_bgt)`.
//! So for each background row the `2^P` values take two tables of `2^{P/2}`
//! entries (each entry one multiplication from a smaller subset's, the `exp` of
//! each player's move computed once), then per coalition
//! `v(S) += w_b / (1 + Σ_t E_t[S_A] F_t[S_B])`, the innermost loop running over
//! `S_A` in [`reciprocal::accumulate`] (vectorised).
//!
//! A background row whose exponent sums could reach 700 in magnitude (its start
//! plus the sum of its moves' magnitudes, per half: where one table entry could
//! overflow to ∞ while another underflows to 0) takes the direct formula instead,
//! `exp` of each coalition's own sum. The numbers equal those of
//! the masked rows through [`crate::core::models::Model::predict`] up to rounding
//! (the tests hold them to 1e-13). A player whose moves are all zero multiplies by
//! exactly 1, so it changes no value, as the dummy axiom needs.

mod reciprocal;

use ndarray::Array2;

use super::game::Game;
use crate::core::models::{Link, OutputSpace};
use crate::core::CoreResult;

/// Exponent sums beyond this magnitude take the direct formula (module doc).
const MAX_EXPONENT: f64 = 700.0;

/// Whether [`all_values`] takes the tables' route for `game`'s model, output
/// link and space.
pub(crate) fn applies(model: &dyn crate::core::models::Model, space: OutputSpace) -> bool {
    space == OutputSpace::Probability
        && matches!(model.link(), Link::Logistic | Link::Softmax)
        && model
            .affine_input()
            .is_some_and(|affine| affine.outputs_are_affine())
}

/// `v(c)` for every coalition `c` of the game's players (bit `g` of `c`: player
/// `g` takes the row's value), by the module doc's tables; `None` when the model
/// is not a linear model with a logistic or softmax link explained in probability
/// space ([`applies`]).
pub(crate) fn all_values(game: &Game) -> Option<CoreResult<Vec<f64>>> {
    if !applies(game.model, game.space) {
        return None;
    }
    let terms = Terms::new(game)?;
    Some(enumerate(game, &terms))
}

/// The exponents `u_t` of the explained probability as affine functions of the
/// row: `u_t(row) = row · gradient[.., t] + offset[t]`.
struct Terms {
    /// (features, terms).
    gradient: Array2<f64>,
    /// (terms).
    offset: Vec<f64>,
}

impl Terms {
    fn new(game: &Game) -> Option<Self> {
        let (w, c) = game.model.affine_input()?.input_affine();
        let k = game.output;
        if k >= w.ncols() {
            return None;
        }
        let (gradient, offset) = match game.model.link() {
            Link::Logistic => (
                w.column(k).mapv(|v| -v).insert_axis(ndarray::Axis(1)),
                vec![-c[k]],
            ),
            Link::Softmax => {
                let others: Vec<usize> = (0..w.ncols()).filter(|&l| l != k).collect();
                let gradient = Array2::from_shape_fn((w.nrows(), others.len()), |(j, t)| {
                    w[[j, others[t]]] - w[[j, k]]
                });
                let offset = others.iter().map(|&l| c[l] - c[k]).collect();
                (gradient, offset)
            }
            _ => return None,
        };
        Some(Terms { gradient, offset })
    }

    fn count(&self) -> usize {
        self.offset.len()
    }
}

/// The tables' route over every background row (module doc).
fn enumerate(game: &Game, terms: &Terms) -> CoreResult<Vec<f64>> {
    let players = game.groups.len();
    let low = players / 2;
    let (size_a, size_b) = (1usize << low, 1usize << (players - low));
    let n_terms = terms.count();
    let n_bg = game.background.nrows();
    let mut values = vec![0.0; size_a * size_b];
    // Per term: player moves, then the exponent sums and exponentials of each half.
    let mut moves = vec![0.0; players * n_terms];
    let mut starts = vec![0.0; n_terms];
    let mut exp_a = vec![0.0; n_terms * size_a];
    let mut exp_b = vec![0.0; n_terms * size_b];
    let ones = vec![1.0; size_a];
    let mut partial = vec![0.0; if n_terms > 1 { size_a * size_b } else { 0 }];
    for (b, row) in game.background.rows().into_iter().enumerate() {
        game.stop.check()?;
        let weight = game.weights.map_or(1.0 / n_bg as f64, |w| w[b]);
        let mut bounded = true;
        for (t, move_t) in moves.chunks_exact_mut(players).enumerate() {
            let gradient = terms.gradient.column(t);
            for (g, m) in move_t.iter_mut().enumerate() {
                *m = game
                    .groups
                    .members(g)
                    .iter()
                    .map(|&j| (game.x[j] - row[j]) * gradient[j])
                    .sum();
            }
            starts[t] = row.dot(&gradient) + terms.offset[t];
            // Every subset sum of a half is within its start plus its |moves|.
            let reach = |moves: &[f64]| moves.iter().map(|m| m.abs()).sum::<f64>();
            bounded &= reach(&move_t[..low]) < MAX_EXPONENT
                && starts[t].abs() + reach(&move_t[low..]) < MAX_EXPONENT;
        }
        if !bounded {
            direct(&mut values, &moves, &starts, low, weight);
            continue;
        }
        for (t, move_t) in moves.chunks_exact(players).enumerate() {
            subset_products(&mut exp_a[t * size_a..][..size_a], 1.0, &move_t[..low]);
            subset_products(
                &mut exp_b[t * size_b..][..size_b],
                starts[t].exp(),
                &move_t[low..],
            );
        }
        // 1 + every term but the last, then the last inside the reciprocal.
        let last = n_terms - 1;
        let base = if last == 0 {
            reciprocal::Base::Row(&ones)
        } else {
            partial.fill(1.0);
            for t in 0..last {
                let e = &exp_a[t * size_a..][..size_a];
                for (row, &f) in partial
                    .chunks_exact_mut(size_a)
                    .zip(&exp_b[t * size_b..][..size_b])
                {
                    for (p, &e) in row.iter_mut().zip(e) {
                        *p += e * f;
                    }
                }
            }
            reciprocal::Base::Table(&partial)
        };
        reciprocal::accumulate(
            &mut values,
            base,
            &exp_a[last * size_a..][..size_a],
            &exp_b[last * size_b..][..size_b],
            weight,
        );
    }
    Ok(values)
}

/// `out[c] = start + Σ_{g ∈ c} moves[g]` for every subset `c` of the moves.
fn subset_sums(out: &mut [f64], start: f64, moves: &[f64]) {
    out[0] = start;
    for (g, &m) in moves.iter().enumerate() {
        // The subsets whose highest member is g: those below it, plus m.
        let (below, above) = out.split_at_mut(1 << g);
        for (o, &b) in above[..1 << g].iter_mut().zip(below.iter()) {
            *o = b + m;
        }
    }
}

/// `out[c] = start · Π_{g ∈ c} exp(moves[g])` for every subset `c` of the moves.
fn subset_products(out: &mut [f64], start: f64, moves: &[f64]) {
    out[0] = start;
    for (g, m) in moves.iter().enumerate() {
        // The subsets whose highest member is g: those below it, times exp(m).
        let (below, above) = out.split_at_mut(1 << g);
        let factor = m.exp();
        for (o, &b) in above[..1 << g].iter_mut().zip(below.iter()) {
            *o = b * factor;
        }
    }
}

/// One background row's share by the direct formula: `exp` of each coalition's
/// own exponent sums (for rows whose sums may be too large for the tables), from
/// each term's player `moves` and `starts`, the low half being `low` players.
fn direct(values: &mut [f64], moves: &[f64], starts: &[f64], low: usize, weight: f64) {
    let players = moves.len() / starts.len();
    let (size_a, size_b) = (1usize << low, 1usize << (players - low));
    let mut sums_a = vec![0.0; size_a];
    let mut sums_b = vec![0.0; size_b];
    let mut y = vec![1.0; values.len()];
    for (move_t, &start) in moves.chunks_exact(players).zip(starts) {
        subset_sums(&mut sums_a, 0.0, &move_t[..low]);
        subset_sums(&mut sums_b, start, &move_t[low..]);
        for (run, &b) in y.chunks_exact_mut(size_a).zip(&sums_b) {
            for (y, &a) in run.iter_mut().zip(&sums_a) {
                *y += (a + b).exp();
            }
        }
    }
    for (v, y) in values.iter_mut().zip(&y) {
        *v += weight / y;
    }
}

#[cfg(test)]
mod tests;
