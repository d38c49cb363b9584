//! Every coalition's value at once for a model whose raw outputs are additive over
//! its features, seen through a logistic or softmax link (a logistic regression,
//! binary or multinomial, also behind column-local preprocessing): the table exact
//! Shapley values enumerate, at a multiply-add and a reciprocal per (coalition,
//! background row) instead of a masked row each.
//!
//! Such a model's raw outputs are `z_k(x) = c_k + Σ_j t_kj(x_j)`
//! ([`AdditiveRaw`]), and its probability for output `k` is
//! `1 / (1 + Σ_t exp(u_t))`: one term `u = −z_k` for the logistic link, and
//! `u_t = z_l − z_k` for each other class `l` of the softmax. Each `u_t` is additive
//! over the features, so on a masked row `(x_S, b_{N∖S})` it is
//! `u_t(b) + Σ_{g∈S} δ_bgt`, with `δ_bgt` the move of player `g` against
//! background row `b` (the change of `u_t`'s terms of its features from `b_j` to
//! `x_j`).
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
//! `exp` of each coalition's own sum. The numbers equal those of the masked rows
//! through [`crate::core::models::Model::predict`] up to rounding (the tests hold
//! them to 1e-13). A player whose moves are all zero multiplies by exactly 1, so it
//! changes no value, as the dummy axiom needs.

mod reciprocal;

use super::game::Game;
use crate::core::models::{AdditiveRaw, Link, Model, OutputSpace};
use crate::core::CoreResult;

/// Exponent sums beyond this magnitude take the direct formula (module doc).
const MAX_EXPONENT: f64 = 700.0;

/// Whether [`all_values`] takes the tables' route for `model` in `space`.
pub(crate) fn applies(model: &dyn Model, space: OutputSpace) -> bool {
    space == OutputSpace::Probability
        && matches!(model.link(), Link::Logistic | Link::Softmax)
        && model.additive_raw().is_some()
}

/// `v(c)` for every coalition `c` of the game's players (bit `g` of `c`: player
/// `g` takes the row's value), by the module doc's tables; `None` when the model's
/// raw outputs are not additive over its features, or its link is neither logistic
/// nor softmax, or the space is raw ([`applies`]).
pub(crate) fn all_values(game: &Game) -> Option<CoreResult<Vec<f64>>> {
    if !applies(game.model, game.space) || game.output >= game.model.n_outputs() {
        return None;
    }
    let additive = game.model.additive_raw()?;
    // The outputs `l` of the terms `u_t = z_l − z_k`; `None`: `u = −z_k`.
    let others: Vec<Option<usize>> = match game.model.link() {
        Link::Softmax => (0..game.model.n_outputs())
            .filter(|&l| l != game.output)
            .map(Some)
            .collect(),
        _ => vec![None],
    };
    Some(enumerate(game, additive, &others))
}

/// `u_t` of a row from any per-output quantity `z` (raw outputs or their terms):
/// `z_l − z_k`, or `−z_k` for the logistic link.
fn exponent(z: impl Fn(usize) -> f64, other: Option<usize>, k: usize) -> f64 {
    other.map_or(0.0, &z) - z(k)
}

/// The tables' route over every background row (module doc), with the terms
/// `u_t` of `others`.
fn enumerate(
    game: &Game,
    additive: &dyn AdditiveRaw,
    others: &[Option<usize>],
) -> CoreResult<Vec<f64>> {
    let players = game.groups.len();
    let low = players / 2;
    let (size_a, size_b) = (1usize << low, 1usize << (players - low));
    let n_terms = others.len();
    let n_bg = game.background.nrows();
    let k = game.output;
    let raw = game.model.predict_raw(game.background);
    let terms_x = additive.terms(game.x);
    let mut values = vec![0.0; size_a * size_b];
    // Per term: player moves, then the exponentials of each half.
    let mut moves = vec![0.0; players * n_terms];
    let mut starts = vec![0.0; n_terms];
    let mut exp_a = vec![0.0; n_terms * size_a];
    let mut exp_b = vec![0.0; n_terms * size_b];
    let ones = vec![1.0; size_a];
    let mut partial = vec![0.0; if n_terms > 1 { size_a * size_b } else { 0 }];
    for (b, row) in game.background.rows().into_iter().enumerate() {
        game.stop.check()?;
        let weight = game.weights.map_or(1.0 / n_bg as f64, |w| w[b]);
        let terms_b = additive.terms(row);
        let mut bounded = true;
        for ((move_t, start), &other) in
            moves.chunks_exact_mut(players).zip(&mut starts).zip(others)
        {
            for (g, m) in move_t.iter_mut().enumerate() {
                *m = game
                    .groups
                    .members(g)
                    .iter()
                    .map(|&j| exponent(|o| terms_x[[o, j]] - terms_b[[o, j]], other, k))
                    .sum();
            }
            *start = exponent(|o| raw[[b, o]], other, k);
            // Every subset sum of a half is within its start plus its |moves|.
            let reach = |moves: &[f64]| moves.iter().map(|m| m.abs()).sum::<f64>();
            bounded &= reach(&move_t[..low]) < MAX_EXPONENT
                && start.abs() + reach(&move_t[low..]) < MAX_EXPONENT;
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
