//! Regression-adjusted KernelSHAP (Witter, Musco et al. 2025, "Regression-adjusted
//! Monte Carlo estimators for Shapley values and probabilistic values"): a surrogate
//! game whose Shapley values are known in closed form is fitted to the sampled
//! coalitions, and KernelSHAP estimates only what the surrogate misses.
//!
//! # Why third order
//! With paired sampling KernelSHAP sees only the odd part of the game,
//! `(v(z) − v(z̄)) / 2` with `z̄` the complement of `z`: the even part has Shapley
//! values 0 and cancels in each pair. An additive or a 2-additive surrogate
//! (Pelegrina et al. 2023) is therefore fitted exactly by KernelSHAP's paired
//! regression already, and adjusting by it changes nothing; KernelSHAP's error comes
//! from the odd interactions of order 3, 5, …. The surrogate here is the odd Walsh
//! expansion to order three, in `s_i = 2 z_i − 1`:
//! `g(z) = c₀ + Σ_i c_i s_i + Σ_T c_T Π_{i∈T} s_i` over triples `T`. Its Shapley
//! values are `φ_i(g) = 2 c_i + (2/3) Σ_{T∋i} c_T`: `s_i` moves by 2 when `i` joins,
//! and a triple's product, symmetric in its members, moves by `1 − (−1) = 2` in all.
//!
//! # Cross-fitting
//! The sampled pairs are split into [`FOLDS`] folds (pair `c` into fold `c mod
//! FOLDS`, so a round that adds pairs keeps the earlier ones' folds). For each fold
//! `k`, `g_k` is fitted by weighted least squares, with a ridge of [`RIDGE`] times
//! the diagonal on the triples' coefficients, to the enumerated coalitions and the
//! other folds' pairs, each with its kernel weight (so `g_k` is best where KernelSHAP
//! looks). With `ḡ` the mean of the `g_k`, the answer is `φ(ḡ) + φ̂(r)`, where `φ̂`
//! is KernelSHAP's constrained fit over all the coalitions to the residuals
//! `r(z) = v(z) − g_k(z)` of the pairs of fold `k` and `v(z) − ḡ(z)` of the
//! enumerated coalitions, with `r(N) − r(∅) = v(N) − v(∅) − (ḡ(N) − ḡ(∅))` exactly.
//! `g_k` does not depend on fold `k`'s draws, so each sampled residual is, given
//! `g_k`, a fresh draw of `v − g_k`, and together (each fold a `1/FOLDS` share of the
//! draws) they stand for `v − ḡ`: the adjustment adds no bias to KernelSHAP's own
//! (itself of order 1/pairs, and smaller as the residual is). One fit over every
//! pair, not one per fold: a KernelSHAP fit to a fifth of the pairs has five times
//! that bias (measured: 6 standard errors over 200 seeds at 13 pairs per fold).
//! Efficiency holds exactly.
//!
//! # Which triples
//! Every triple of players when they fit: at most [`MAX_TRIPLES`] (all of 12
//! players), and no more than half the pair observations of one fit (its pairs
//! plus half its enumerated coalitions) less `P + 1`: two observations per
//! coefficient (one per coefficient fitted more triples, for 20% fewer coalitions
//! on the benchmark's MLP but several times the fitting time). Otherwise
//! the triples of the `k` players with the largest single effects
//! `|v({i}) − v(∅)| + |v(N) − v(N∖{i})|`, read from the enumerated sizes 1 and
//! `P − 1` (not drawn, so choosing by them keeps the folds independent). Without
//! those sizes, room for one triple, or two pairs per fold, or above
//! [`MAX_PLAYERS`] players, the estimate is KernelSHAP's.
//!
//! # Standard errors
//! KernelSHAP's pair-clustered jackknife errors of the residual fit, `φ(ḡ)` taken as
//! fixed: they neglect the dependence of `g_k` on the other folds' draws, a
//! second-order effect (the coverage test checks the rate).

use ndarray::{s, Array1, Array2};

use self::cholesky::{dot, solve_in_place};
use self::walsh::Masses;
use super::Fit;
use crate::core::explain::exact_shapley::binomial;
use crate::core::explain::kernel_design::Design;
use crate::core::explain::sampling::Stop;
use crate::core::{CoreError, CoreResult};

/// Folds of the cross-fit: each surrogate is fitted to 80% of the pairs. With 2
/// folds (half the pairs) the error on the unit tests' third-order game was 3
/// times 5 folds' at 300 coalitions; each fold costs one factorisation.
pub(super) const FOLDS: usize = 5;
/// Above this many players the estimate is KernelSHAP's: the surrogate's normal
/// equations would cost more than the players' own (P² per coalition).
const MAX_PLAYERS: usize = 40;
/// The most triples a surrogate has: every triple of 12 players.
const MAX_TRIPLES: usize = 220;
/// The ridge on the triples' coefficients, as a share of the normal equations'
/// diagonal (every feature is ±1, so each diagonal entry is the total weight).
const RIDGE: f64 = 0.1;

/// The regression-adjusted estimate of the module doc for the coalitions of
/// `design` and their `values`, with `v(∅)` and `v(N)` in `ends`.
///
/// # Errors
/// As KernelSHAP's fit: [`CoreError::InvalidArgument`] when the coalitions do not
/// determine the attributions, and the `stop` checks between folds.
pub(super) fn fit(
    design: &Design,
    values: &[f64],
    ends: (f64, f64),
    stop: &Stop,
) -> CoreResult<Fit> {
    let route = match design.players <= walsh::MAX_PLAYERS {
        true => Route::Walsh,
        false => Route::Dense,
    };
    fit_by(route, design, values, ends, stop)
}

/// How [`Normal`] accumulates: the two give the same equations (the tests hold
/// them to each other); the transform is cheaper up to [`walsh::MAX_PLAYERS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Walsh,
    Dense,
}

/// [`fit`] with its normal equations accumulated by `route`.
fn fit_by(
    route: Route,
    design: &Design,
    values: &[f64],
    ends: (f64, f64),
    stop: &Stop,
) -> CoreResult<Fit> {
    let players = design.players;
    let all: Vec<usize> = (0..players).collect();
    let triples = choose_triples(design, values, ends);
    if players > MAX_PLAYERS || triples.is_empty() || design.pairs() < 2 * FOLDS {
        return super::fit(design, values, ends, &all, stop);
    }
    let surrogate = Surrogate { players, triples };
    let normal = Normal::of(route, &surrogate, design, values);
    let mut fits = Vec::with_capacity(FOLDS);
    for k in 0..FOLDS {
        stop.check()?;
        fits.push(normal.solve(k, &surrogate)?);
    }
    let mean = fits
        .iter()
        .fold(Array1::zeros(surrogate.width()), |m, c| m + c)
        / FOLDS as f64;
    // Enumerated coalitions less the mean surrogate; pair c's less the surrogate
    // fitted without its fold.
    let mut f = vec![0.0; surrogate.width()];
    let residuals: Vec<f64> = design
        .masks
        .chunks(players)
        .zip(values)
        .enumerate()
        .map(|(i, (z, &v))| {
            let c = match i.checked_sub(design.enumerated) {
                Some(sampled) => &fits[(sampled / 2) % FOLDS],
                None => &mean,
            };
            surrogate.features(z, &mut f);
            v - dot(&f, c.as_slice().unwrap_or_default())
        })
        .collect();
    stop.check()?;
    let (empty, full) = surrogate.ends(&mean);
    let ends = (ends.0 - empty, ends.1 - full);
    let residual = super::fit(design, &residuals, ends, &all, stop)?;
    let phi = surrogate.shapley(&mean).into_iter().zip(&residual.phi);
    Ok(Fit {
        phi: phi.map(|(g, r)| g + r).collect(),
        standard_errors: residual.standard_errors,
        adjusted: true,
    })
}

/// The odd third-order surrogate of the module doc.
struct Surrogate {
    /// Number of players.
    players: usize,
    /// The triples with a coefficient, each in increasing order.
    triples: Vec<[usize; 3]>,
}

impl Surrogate {
    /// Coefficients: the constant, one per player, one per triple.
    fn width(&self) -> usize {
        1 + self.players + self.triples.len()
    }

    /// The features of coalition `z` into `out` (`width` long).
    fn features(&self, z: &[bool], out: &mut [f64]) {
        out[0] = 1.0;
        let (signs, triples) = out[1..].split_at_mut(self.players);
        for (s, &on) in signs.iter_mut().zip(z) {
            *s = if on { 1.0 } else { -1.0 };
        }
        for (t, &[a, b, c]) in triples.iter_mut().zip(&self.triples) {
            *t = signs[a] * signs[b] * signs[c];
        }
    }

    /// The set of players of each feature, as bits: ∅ for the constant, then one
    /// player each, then the triples ([`walsh`]).
    fn sets(&self) -> Vec<usize> {
        let players = (0..self.players).map(|i| 1 << i);
        let triples = (self.triples.iter()).map(|t| t.iter().fold(0, |m, &i| m | 1 << i));
        std::iter::once(0).chain(players).chain(triples).collect()
    }

    /// `(g(∅), g(N))` for coefficients `c`: every `s_i` is −1, then +1.
    fn ends(&self, c: &Array1<f64>) -> (f64, f64) {
        let odd: f64 = c.iter().skip(1).sum();
        (c[0] - odd, c[0] + odd)
    }

    /// `φ(g)` for coefficients `c` (module doc).
    fn shapley(&self, c: &Array1<f64>) -> Vec<f64> {
        let mut phi: Vec<f64> = (0..self.players).map(|i| 2.0 * c[1 + i]).collect();
        for (t, triple) in self.triples.iter().enumerate() {
            for &i in triple {
                phi[i] += 2.0 / 3.0 * c[1 + self.players + t];
            }
        }
        phi
    }
}

/// The weighted normal equations of the surrogate in parts, the enumerated
/// coalitions' and each fold's, so that fold `k`'s system is the enumerated part
/// plus the other folds'.
struct Normal {
    parts: Parts,
    /// Pairs in each fold.
    pairs: Vec<usize>,
}

/// The parts of [`Normal`].
enum Parts {
    /// At most [`walsh::MAX_PLAYERS`] players: each part's weights and weighted
    /// targets by coalition, both sides of each pair, summed before the transform.
    Walsh {
        enumerated: Masses,
        folds: Vec<Masses>,
    },
    /// More players: each part's `Σ w f fᵀ` and `Σ w f t`, a pair `(z, z̄)` of
    /// weight `w` each adding `2w f_o f_oᵀ` and `w (y − ȳ) f_o` for its odd
    /// features `f_o` (those of `z̄` are `−f_o`), and `2w` and `w (y + ȳ)` to the
    /// constant's entries: half the rows of a matrix product.
    Dense {
        enumerated: (Array2<f64>, Array1<f64>),
        folds: Vec<(Array2<f64>, Array1<f64>)>,
    },
}

impl Normal {
    /// The parts of the normal equations of `surrogate` over `design`'s
    /// coalitions, accumulated by `route`.
    fn of(route: Route, surrogate: &Surrogate, design: &Design, values: &[f64]) -> Self {
        let p = design.players;
        let coalition = |a: usize| {
            (
                &design.masks[a * p..(a + 1) * p],
                design.weights[a],
                values[a],
            )
        };
        let enumerated = (0..design.enumerated).map(coalition);
        let pairs = design.pairs();
        let fold = |k: usize| (k..pairs).step_by(FOLDS).map(|c| design.enumerated + 2 * c);
        let counts = (0..FOLDS).map(|k| fold(k).count()).collect();
        let parts = if route == Route::Walsh {
            Parts::Walsh {
                enumerated: Masses::of(p, enumerated),
                folds: (0..FOLDS)
                    .map(|k| Masses::of(p, fold(k).flat_map(|a| [a, a + 1]).map(coalition)))
                    .collect(),
            }
        } else {
            let folds = (0..FOLDS).map(|k| {
                let rows = fold(k).map(|a| {
                    let (z, w, _) = coalition(a);
                    (z, 2.0 * w, (values[a] - values[a + 1]) / 2.0)
                });
                let (mut gram, mut rhs) = accumulate(surrogate, rows, true);
                for a in fold(k) {
                    gram[[0, 0]] += 2.0 * design.weights[a];
                    rhs[0] += design.weights[a] * (values[a] + values[a + 1]);
                }
                (gram, rhs)
            });
            Parts::Dense {
                enumerated: accumulate(surrogate, enumerated, false),
                folds: folds.collect(),
            }
        };
        Normal {
            parts,
            pairs: counts,
        }
    }

    /// The ridge-regularised coefficients of `surrogate` fitted without fold `k`
    /// (its pairs' mass carried by the others, their weights scaled up).
    fn solve(&self, k: usize, surrogate: &Surrogate) -> CoreResult<Array1<f64>> {
        let total: usize = self.pairs.iter().sum();
        let scale = total as f64 / (total - self.pairs[k]) as f64;
        let n = surrogate.width();
        let (mut a, mut b) = (vec![0.0; n * n], vec![0.0; n]);
        match &self.parts {
            Parts::Walsh { enumerated, folds } => {
                let others = (folds.iter().enumerate()).filter(|&(j, _)| j != k);
                let parts = std::iter::once((1.0, enumerated));
                Masses::sum(parts.chain(others.map(|(_, m)| (scale, m))))
                    .normal(surrogate, &mut a, &mut b);
            }
            Parts::Dense { enumerated, folds } => {
                let (mut gram, mut rhs) = enumerated.clone();
                for (_, (g, r)) in (folds.iter().enumerate()).filter(|&(j, _)| j != k) {
                    gram.scaled_add(scale, g);
                    rhs.scaled_add(scale, r);
                }
                a.copy_from_slice(gram.as_slice().expect("a standard layout matrix"));
                b.copy_from_slice(rhs.as_slice().expect("a standard layout vector"));
            }
        }
        let ridge = RIDGE * a[0];
        for t in 1 + surrogate.players..n {
            a[t * n + t] += ridge;
        }
        if !solve_in_place(&mut a, n, &mut b) {
            return Err(CoreError::InvalidArgument(
                "kernel_shap: the sampled coalitions do not determine every attribution; \
                 raise n_samples"
                    .into(),
            ));
        }
        Ok(Array1::from(b))
    }
}

/// Rows per block of [`accumulate`]: its memory is two blocks of features.
const BLOCK: usize = 512;

/// `(Σ w f fᵀ, Σ w f t)` over `rows` of (coalition, weight `w`, target `t`), `f`
/// the coalition's features, with the constant's zeroed when `odd`: a block of
/// rows at a time, each block one matrix product (above [`walsh::MAX_PLAYERS`]
/// players; [`Masses`] below).
fn accumulate<'a>(
    surrogate: &Surrogate,
    rows: impl Iterator<Item = (&'a [bool], f64, f64)>,
    odd: bool,
) -> (Array2<f64>, Array1<f64>) {
    let d = surrogate.width();
    let mut gram = Array2::<f64>::zeros((d, d));
    let mut rhs = Array1::<f64>::zeros(d);
    let mut f = Array2::<f64>::zeros((BLOCK, d));
    let mut wf = Array2::<f64>::zeros((BLOCK, d));
    let mut t = Array1::<f64>::zeros(BLOCK);
    let mut n = 0;
    let mut flush = |n: usize, f: &Array2<f64>, wf: &Array2<f64>, t: &Array1<f64>| {
        let (f, wf) = (f.slice(s![..n, ..]), wf.slice(s![..n, ..]));
        gram += &f.t().dot(&wf);
        rhs += &wf.t().dot(&t.slice(s![..n]));
    };
    for (z, w, target) in rows {
        let mut row = f.row_mut(n);
        surrogate.features(z, row.as_slice_mut().expect("a standard layout row"));
        if odd {
            row[0] = 0.0;
        }
        wf.row_mut(n).assign(&(&f.row(n) * w));
        t[n] = target;
        n += 1;
        if n == BLOCK {
            flush(n, &f, &wf, &t);
            n = 0;
        }
    }
    if n > 0 {
        flush(n, &f, &wf, &t);
    }
    (gram, rhs)
}

/// The triples of the module doc's `# Which triples` for `design`.
fn choose_triples(
    design: &Design,
    values: &[f64],
    (base, prediction): (f64, f64),
) -> Vec<[usize; 3]> {
    let p = design.players;
    let pairs = design.pairs();
    let fitted = pairs - pairs.div_ceil(FOLDS) + design.enumerated / 2;
    let room = (fitted / 2).saturating_sub(p + 1).min(MAX_TRIPLES) as f64;
    let Some(k) = (3..=p).rev().find(|&k| binomial(k, 3) <= room) else {
        return Vec::new();
    };
    let chosen: Vec<usize> = if k == p {
        (0..p).collect()
    } else {
        let mut effect = vec![None; p];
        let enumerated = design.masks[..design.enumerated * p].chunks(p);
        for (z, &v) in enumerated.zip(values) {
            let size = z.iter().filter(|&&on| on).count();
            let (player, gap) = match size {
                1 => (z.iter().position(|&on| on), v - base),
                s if s == p - 1 => (z.iter().position(|&on| !on), prediction - v),
                _ => continue,
            };
            if let Some(i) = player {
                *effect[i].get_or_insert(0.0) += gap.abs();
            }
        }
        let Some(effect) = effect.into_iter().collect::<Option<Vec<f64>>>() else {
            return Vec::new();
        };
        let mut order: Vec<usize> = (0..p).collect();
        order.sort_by(|&a, &b| effect[b].total_cmp(&effect[a]));
        order.truncate(k);
        order.sort_unstable();
        order
    };
    let mut triples = Vec::with_capacity(binomial(k, 3) as usize);
    for (x, &a) in chosen.iter().enumerate() {
        for (y, &b) in chosen.iter().enumerate().skip(x + 1) {
            for &c in &chosen[y + 1..] {
                triples.push([a, b, c]);
            }
        }
    }
    triples
}

mod cholesky;
#[cfg(test)]
mod tests;
mod walsh;
