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
//! multiply-adds (d up to 233 features for 12 players). And since the transform is
//! linear, the weights of several parts (the enumerated coalitions, the folds) are
//! added by coalition first, each fold's system then being one transform.

use super::Surrogate;

/// Most players for which [`Masses`] are used: its vectors hold 2^P values.
pub(super) const MAX_PLAYERS: usize = 16;

/// The weights `w` and weighted targets `w t` of some coalitions, summed by
/// coalition (index: the coalition's bits, player `i` at bit `i`).
#[derive(Debug, Clone)]
pub(super) struct Masses {
    w: Vec<f64>,
    y: Vec<f64>,
}

impl Masses {
    /// The masses of `rows` of (coalition, weight `w`, target `t`), `players` wide
    /// (at most [`MAX_PLAYERS`]).
    pub fn of<'a>(players: usize, rows: impl Iterator<Item = (&'a [bool], f64, f64)>) -> Self {
        debug_assert!(players <= MAX_PLAYERS);
        let mut masses = Masses {
            w: vec![0.0; 1 << players],
            y: vec![0.0; 1 << players],
        };
        for (z, weight, target) in rows {
            let m = (z.iter().enumerate()).fold(0, |m, (i, &on)| m | usize::from(on) << i);
            masses.w[m] += weight;
            masses.y[m] += weight * target;
        }
        masses
    }

    /// `Σ c · part` over `parts` of (c, part), all of one width.
    pub fn sum<'a>(parts: impl Iterator<Item = (f64, &'a Masses)>) -> Self {
        let mut total: Option<Masses> = None;
        for (c, part) in parts {
            let total = total.get_or_insert_with(|| Masses {
                w: vec![0.0; part.w.len()],
                y: vec![0.0; part.y.len()],
            });
            for (t, &x) in total.w.iter_mut().zip(&part.w) {
                *t += c * x;
            }
            for (t, &x) in total.y.iter_mut().zip(&part.y) {
                *t += c * x;
            }
        }
        total.expect("at least one part")
    }

    /// The normal equations `Σ w f fᵀ` and `Σ w t f` of `surrogate` over these
    /// masses: the Gram matrix's lower triangle (diagonal included; the entries
    /// above are left as they are, the factorisation reads none of them) into `a`,
    /// `d × d` row-major for the surrogate's width `d`, and the right-hand side
    /// into `b`.
    pub fn normal(self, surrogate: &Surrogate, a: &mut [f64], b: &mut [f64]) {
        let (w, y) = (walsh(self.w), walsh(self.y));
        let sets = surrogate.sets();
        let d = sets.len();
        for (k, (row, &set)) in a.chunks_exact_mut(d).zip(&sets).enumerate() {
            for (entry, &other) in row[..=k].iter_mut().zip(&sets) {
                *entry = w[set ^ other];
            }
        }
        for (b, &set) in b.iter_mut().zip(&sets) {
            *b = y[set];
        }
    }
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

    /// Five players, every triple.
    fn surrogate() -> Surrogate {
        let players = 5;
        let mut triples = Vec::new();
        for a in 0..players {
            for b in a + 1..players {
                for c in b + 1..players {
                    triples.push([a, b, c]);
                }
            }
        }
        Surrogate { players, triples }
    }

    /// A coalition, its weight and its target.
    type Row<'a> = (&'a [bool], f64, f64);

    /// [`Masses::normal`] of the sum of `parts` (coefficient, rows), both
    /// triangles filled from the lower.
    fn normal(s: &Surrogate, parts: &[(f64, Vec<Row>)]) -> (Vec<f64>, Vec<f64>) {
        let d = s.width();
        let masses: Vec<(f64, Masses)> = (parts.iter())
            .map(|(c, rows)| (*c, Masses::of(s.players, rows.iter().copied())))
            .collect();
        let (mut a, mut b) = (vec![f64::NAN; d * d], vec![0.0; d]);
        Masses::sum(masses.iter().map(|(c, m)| (*c, m))).normal(s, &mut a, &mut b);
        for k in 0..d {
            for l in k + 1..d {
                a[k * d + l] = a[l * d + k];
            }
        }
        (a, b)
    }

    fn assert_close(got: &[f64], want: impl IntoIterator<Item = f64>, what: &str) {
        let want: Vec<f64> = want.into_iter().collect();
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-9, "{what}: {a} vs {b}");
        }
    }

    #[test]
    fn the_transform_equals_the_matrix_product() {
        // 40 coalitions with uneven weights and targets, in two parts whose
        // coefficients differ: one transform of their sum is the sum of the
        // parts' matrix products.
        let s = surrogate();
        let coalitions: Vec<Vec<bool>> = (0..40)
            .map(|i: usize| (0..5).map(|j| (i * 7 + j * 3) % 5 < 2 + i % 2).collect())
            .collect();
        let rows: Vec<Row> = (coalitions.iter().enumerate())
            .map(|(i, z)| (z.as_slice(), 0.5 + i as f64 / 7.0, (i as f64).sin()))
            .collect();
        let (first, second) = rows.split_at(17);
        let (a, b) = normal(&s, &[(1.0, first.to_vec()), (2.5, second.to_vec())]);
        let (g1, r1) = super::super::accumulate(&s, first.iter().copied(), false);
        let (g2, r2) = super::super::accumulate(&s, second.iter().copied(), false);
        assert_close(&a, (&g1 + &(&g2 * 2.5)).iter().copied(), "gram");
        assert_close(&b, (&r1 + &(&r2 * 2.5)).iter().copied(), "rhs");
    }

    #[test]
    fn a_pairs_two_sides_are_its_odd_part_and_its_constant() {
        // The dense route takes a pair (z, z̄) of weight w once, by its odd
        // features, with weight 2w and target (t − t̄)/2, and adds 2w and
        // w (t + t̄) to the constant's entries; both sides of each pair as masses
        // give the same equations.
        let s = surrogate();
        let sides: Vec<(Vec<bool>, Vec<bool>)> = (0..12)
            .map(|i: usize| {
                let z: Vec<bool> = (0..5).map(|j| (i * 5 + j * 7).is_multiple_of(3)).collect();
                let complement = z.iter().map(|&on| !on).collect();
                (z, complement)
            })
            .collect();
        let pair = |i: usize| {
            (
                0.3 + i as f64 / 5.0,
                (i as f64).cos(),
                (i as f64 * 0.7).sin(),
            )
        };
        let both: Vec<Row> = (sides.iter().enumerate())
            .flat_map(|(i, (z, zbar))| {
                let (w, t, tbar) = pair(i);
                [(z.as_slice(), w, t), (zbar.as_slice(), w, tbar)]
            })
            .collect();
        let (a, b) = normal(&s, &[(1.0, both)]);
        let odd: Vec<Row> = (sides.iter().enumerate())
            .map(|(i, (z, _))| {
                let (w, t, tbar) = pair(i);
                (z.as_slice(), 2.0 * w, (t - tbar) / 2.0)
            })
            .collect();
        let (mut gram, mut rhs) = super::super::accumulate(&s, odd.into_iter(), true);
        for i in 0..sides.len() {
            let (w, t, tbar) = pair(i);
            gram[[0, 0]] += 2.0 * w;
            rhs[0] += w * (t + tbar);
        }
        assert_close(&a, gram.iter().copied(), "gram");
        assert_close(&b, rhs.iter().copied(), "rhs");
    }
}
