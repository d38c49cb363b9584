//! The surrogate's normal equations read off a Walsh–Hadamard transform, for games
//! of at most [`MAX_PLAYERS`] players.
//!
//! Every feature of the surrogate is a Walsh function `χ_C(z) = Π_{i∈C} s_i` of a
//! set `C` of players (∅ for the constant, `{i}`, or a triple), and the product of
//! two is the Walsh function of their symmetric difference: `χ_A χ_B = χ_{A△B}`,
//! since `s_i² = 1`. So the Gram matrix `Σ_z w(z) f(z) f(z)ᵀ` has entry
//! `W(A △ B)` with `W(C) = Σ_z w(z) χ_C(z)`, and the right-hand side `Σ_z w(z) t(z)
//! f(z)` has `Y(C)`, the same sum of `w t`. Both are, for every `C` at once, the
//! Walsh–Hadamard transform of the weights (and weighted targets) laid out by
//! coalition: `P 2^P` additions instead of a matrix product of `n × d²`
//! multiply-adds (d up to 233 features for 12 players).

use ndarray::{Array1, Array2};

use super::Surrogate;

/// Most players for which [`accumulate`] is used: its vectors hold 2^P values.
pub(super) const MAX_PLAYERS: usize = 16;

/// `(Σ w f fᵀ, Σ w f t)` over `rows` of (coalition, weight `w`, target `t`), `f` the
/// coalition's surrogate features, with the constant's row and column zeroed when
/// `odd` (as [`super::accumulate`], for at most [`MAX_PLAYERS`] players).
pub(super) fn accumulate<'a>(
    surrogate: &Surrogate,
    rows: impl Iterator<Item = (&'a [bool], f64, f64)>,
    odd: bool,
) -> (Array2<f64>, Array1<f64>) {
    let p = surrogate.players;
    debug_assert!(p <= MAX_PLAYERS);
    let mut w = vec![0.0; 1 << p];
    let mut y = vec![0.0; 1 << p];
    for (z, weight, target) in rows {
        let m = (z.iter().enumerate()).fold(0, |m, (i, &on)| m | usize::from(on) << i);
        w[m] += weight;
        y[m] += weight * target;
    }
    let (w, y) = (walsh(w), walsh(y));
    let sets = surrogate.sets();
    let d = sets.len();
    let skip = |k: usize| odd && k == 0;
    let gram = Array2::from_shape_fn((d, d), |(k, l)| {
        if skip(k) || skip(l) {
            0.0
        } else {
            w[sets[k] ^ sets[l]]
        }
    });
    let rhs = Array1::from_shape_fn(d, |k| if skip(k) { 0.0 } else { y[sets[k]] });
    (gram, rhs)
}

/// `W(C) = Σ_m v[m] χ_C(m)` for every set `C` (bits of the index), where `χ_C(m) =
/// Π_{i∈C} (1 if bit i of m is set, else −1)`: the Walsh–Hadamard transform
/// `Σ_m v[m] (−1)^{|C ∧ m|}`, times `(−1)^{|C|}`.
fn walsh(mut v: Vec<f64>) -> Vec<f64> {
    let mut h = 1;
    while h < v.len() {
        for block in v.chunks_exact_mut(2 * h) {
            let (a, b) = block.split_at_mut(h);
            for (x, y) in a.iter_mut().zip(b) {
                (*x, *y) = (*x + *y, *x - *y);
            }
        }
        h *= 2;
    }
    for (c, x) in v.iter_mut().enumerate() {
        if c.count_ones() % 2 == 1 {
            *x = -*x;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transform_equals_the_matrix_product() {
        // Five players, every triple; 40 coalitions with uneven weights and targets.
        let players = 5;
        let mut triples = Vec::new();
        for a in 0..players {
            for b in a + 1..players {
                for c in b + 1..players {
                    triples.push([a, b, c]);
                }
            }
        }
        let surrogate = Surrogate { players, triples };
        let coalitions: Vec<Vec<bool>> = (0..40)
            .map(|i: usize| {
                (0..players)
                    .map(|j| (i * 7 + j * 3) % 5 < 2 + i % 2)
                    .collect()
            })
            .collect();
        let rows = || {
            coalitions
                .iter()
                .enumerate()
                .map(|(i, z)| (z.as_slice(), 0.5 + i as f64 / 7.0, (i as f64).sin()))
        };
        for odd in [false, true] {
            let (gram, rhs) = accumulate(&surrogate, rows(), odd);
            let (want_gram, want_rhs) = super::super::accumulate(&surrogate, rows(), odd);
            for (a, b) in gram.iter().zip(&want_gram) {
                assert!((a - b).abs() < 1e-9, "gram {a} vs {b} (odd: {odd})");
            }
            for (a, b) in rhs.iter().zip(&want_rhs) {
                assert!((a - b).abs() < 1e-9, "rhs {a} vs {b} (odd: {odd})");
            }
        }
    }
}
