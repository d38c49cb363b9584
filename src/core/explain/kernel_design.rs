//! The coalitions KernelSHAP fits to and their regression weights: coalition sizes
//! the budget covers are enumerated completely, in shap's order (or, for Leverage
//! SHAP, by its leverage threshold), and the other sizes are sampled in antithetic
//! pairs without replacement by `strata.rs`'s stratified sampler, the sizes
//! sharing the pairs by kernel mass (or equally, for Leverage SHAP), each coalition a
//! balanced draw (`balanced.rs`); see [`super::kernel_shap`].

mod balanced;
mod strata;

use std::collections::HashMap;

use ndarray::{Array1, Array2};
use rand::Rng;

use balanced::Balance;

use super::exact_shapley::binomial;
use super::linalg::Cholesky;
use super::sampling::Stop;
use crate::core::CoreResult;

/// The Shapley kernel mass of all coalitions of size `s` among `p` players.
fn size_mass(p: usize, s: usize) -> f64 {
    (p - 1) as f64 / (s * (p - s)) as f64
}

/// The coalitions of one row and their regression weights.
#[derive(Debug, Clone)]
pub(super) struct Design {
    /// Number of players.
    pub players: usize,
    /// One run of `players` bools per coalition: enumerated ones first, then the
    /// sampled antithetic pairs.
    pub masks: Vec<bool>,
    /// Regression weight of each coalition.
    pub weights: Vec<f64>,
    /// How many coalitions (from the start) are enumerated rather than sampled.
    pub enumerated: usize,
    /// The smallest size not enumerated (sizes `low..=players − low` are sampled);
    /// `None` when every size is enumerated.
    low: Option<usize>,
    /// The draws so far, and how the sizes share them.
    drawn: strata::Drawn,
    /// Candidates per balanced draw at most (`balanced.rs`).
    candidates: usize,
}

impl Design {
    /// Every coalition but ∅ and N, with its Shapley kernel weight.
    pub fn enumerated(players: usize) -> Self {
        let mut design = Design::empty(players);
        for s in 1..players {
            design.enumerate_size(s);
        }
        design.low = None;
        design
    }

    /// The complete sizes a budget of `budget` coalitions covers, in shap's order
    /// (sizes 1 and P−1, then 2 and P−2, …): a size pair is enumerated when the share
    /// of the remaining budget its kernel mass earns covers all its coalitions, and
    /// at least two pairs remain to sample the sizes after it. No sampled pairs yet.
    pub fn plan(players: usize, budget: usize) -> Self {
        let mut design = Design::empty(players);
        design.drawn = strata::Drawn::by_kernel_mass();
        let half = players / 2;
        let pair_mass = |s: usize| size_mass(players, s) * if 2 * s == players { 1.0 } else { 2.0 };
        let mut left = budget as f64;
        let mut remaining_mass: f64 = (1..=half).map(pair_mass).sum();
        for s in 1..=half {
            let count = binomial(players, s) * if 2 * s == players { 1.0 } else { 2.0 };
            let share = left * pair_mass(s) / remaining_mass;
            let last = s == half;
            if share < count * (1.0 - 1e-8) || (!last && left - count < 4.0) {
                break;
            }
            design.enumerate_size(s);
            if 2 * s != players {
                design.enumerate_size(players - s);
            }
            design.low = (!last).then_some(s + 1);
            left -= count;
            remaining_mass -= pair_mass(s);
        }
        design
    }

    /// This design with its balanced draws the best of `candidates` at most (32
    /// otherwise; see `balanced.rs`).
    pub fn with_candidates(mut self, candidates: usize) -> Self {
        self.candidates = candidates;
        self
    }

    /// Leverage SHAP's design for a budget of `budget` coalitions: the sizes its
    /// leverage threshold enumerates (see `strata.rs`). No sampled pairs yet.
    pub fn leverage(players: usize, budget: usize) -> Self {
        strata::plan(players, budget)
    }

    /// No coalitions yet; every size still to sample.
    fn empty(players: usize) -> Self {
        Design {
            players,
            masks: Vec::new(),
            weights: Vec::new(),
            enumerated: 0,
            low: Some(1),
            drawn: strata::Drawn::default(),
            candidates: balanced::CANDIDATES,
        }
    }

    /// Sampled pairs by the smaller of their two sizes.
    fn pairs_by_size(&self) -> HashMap<usize, usize> {
        let p = self.players;
        let mut have = HashMap::new();
        for pair in self.masks[self.enumerated * p..].chunks(2 * p) {
            let s = pair[..p].iter().filter(|&&on| on).count();
            *have.entry(s.min(p - s)).or_insert(0) += 1;
        }
        have
    }

    /// Append every coalition of size `s` with its kernel weight.
    fn enumerate_size(&mut self, s: usize) {
        let p = self.players;
        let weight = size_mass(p, s) / binomial(p, s);
        for members in combinations(p, s) {
            let start = self.masks.len();
            self.masks.resize(start + p, false);
            for g in members {
                self.masks[start + g] = true;
            }
            self.weights.push(weight);
        }
        self.enumerated = self.weights.len();
    }

    /// Whether sizes remain to sample.
    pub fn incomplete(&self) -> bool {
        self.low.is_some()
    }

    /// Sampled antithetic pairs so far.
    pub fn pairs(&self) -> usize {
        (self.masks.len() / self.players - self.enumerated) / 2
    }

    /// Of each sampled pair, the side drawn (with at most half the players; its
    /// complement follows it).
    fn drawn_sides(&self) -> impl Iterator<Item = &[bool]> {
        let p = self.players;
        self.masks[self.enumerated * p..]
            .chunks(2 * p)
            .map(move |pair| &pair[..p])
    }

    /// The balance of the sampled pairs so far (see `balanced.rs`).
    fn balance(&self) -> Balance {
        Balance::of(self.players, self.drawn_sides(), self.candidates)
    }

    /// Append a pair: a balanced coalition of `size` players (at most half of
    /// them) that `accept` takes (see `balanced.rs`), then its complement.
    fn draw_pair(
        &mut self,
        size: usize,
        balance: &mut Balance,
        rng: &mut impl Rng,
        accept: impl FnMut(&[bool]) -> bool,
    ) {
        debug_assert!(2 * size <= self.players);
        let drawn = balance.draw(size, rng, accept);
        self.masks.extend(drawn.iter().copied());
        self.masks.extend(drawn.iter().map(|&on| !on));
    }

    /// Draw `pairs` more pairs of the sampled sizes (each a balanced draw,
    /// `balanced.rs`, with its complement, without replacement), the sizes sharing
    /// all the pairs by their kernel mass (KernelSHAP) or equally (Leverage SHAP),
    /// and weight each sampled coalition by its size's kernel mass over the
    /// coalitions of that size drawn (`strata.rs`).
    pub fn sample(&mut self, pairs: usize, rng: &mut impl Rng, stop: &Stop) -> CoreResult<()> {
        let total = self.pairs() + pairs;
        strata::sample(self, total, rng, stop)
    }

    /// Standard errors from the pair-clustered jackknife covariance (module doc of
    /// [`super::kernel_shap`]) of the fit with design matrix `xs` (one row per
    /// coalition, eliminated player dropped), factorised `A` and `residuals`: the
    /// kept players' then the eliminated player's (`1ᵀ Cov 1`). Zero when nothing
    /// is sampled.
    pub fn sandwich(&self, chol: &Cholesky, xs: &Array2<f64>, residuals: &Array1<f64>) -> Vec<f64> {
        let clusters = self.pairs();
        if clusters == 0 {
            return vec![0.0; xs.ncols() + 1];
        }
        let inv = chol.inverse();
        // A⁻¹ x for every coalition at once (A⁻¹ is symmetric): one matrix product.
        let leveraged = xs.dot(&inv);
        let mut g = Array2::<f64>::zeros((clusters, xs.ncols()));
        for (c, mut row) in g.rows_mut().into_iter().enumerate() {
            let (a, b) = (self.enumerated + 2 * c, self.enumerated + 2 * c + 1);
            let (xa, xb) = (xs.row(a), xs.row(b));
            let (wa, wb) = (self.weights[a], self.weights[b]);
            // The pair's leverage H = X_c A⁻¹ X_cᵀ W_c; its residuals inflated to
            // leave-one-pair-out residuals (I − H)⁻¹ e_c.
            let (ia, ib) = (leveraged.row(a), leveraged.row(b));
            let (h11, h12) = (1.0 - xa.dot(&ia) * wa, -xa.dot(&ib) * wb);
            let (h21, h22) = (-xb.dot(&ia) * wa, 1.0 - xb.dot(&ib) * wb);
            let det = h11 * h22 - h12 * h21;
            let (ea, eb) = (residuals[a], residuals[b]);
            let (ea, eb) = if det.abs() > 1e-12 {
                ((h22 * ea - h12 * eb) / det, (h11 * eb - h21 * ea) / det)
            } else {
                (ea, eb)
            };
            row.assign(&(&xa * (wa * ea) + &xb * (wb * eb)));
        }
        // Each size's pairs are a simple random sample without replacement of its
        // pairs, but balanced (`balanced.rs`): the scores' spread is taken after
        // their fit on what the draws balance, with the degrees of freedom left,
        // and each stratum's share counted with Cochran's finite-population
        // correction (see `strata.rs`). Too few pairs for that fit: the scores
        // centred within each stratum, (1 − f_h) c_h/(c_h − 1).
        let (of_pair, fpc) = strata::strata(self);
        let sizes: Vec<usize> = self
            .drawn_sides()
            .map(|z| z.iter().filter(|&&on| on).count())
            .collect();
        let assisted = balanced::residual_scores(self.players, self.drawn_sides(), &sizes, &g);
        let mut meat = Array2::<f64>::zeros((xs.ncols(), xs.ncols()));
        for (h, &fpc) in fpc.iter().enumerate() {
            let members: Vec<usize> = (0..clusters).filter(|&c| of_pair[c] == h).collect();
            let c = members.len() as f64;
            let (scores, factor) = match &assisted {
                // Centred on their stratum by the fit (each size has its intercept).
                Some((residuals, left)) => (
                    residuals.select(ndarray::Axis(0), &members),
                    fpc * clusters as f64 / *left as f64,
                ),
                None if c > 1.0 => {
                    let scores = g.select(ndarray::Axis(0), &members);
                    let mean = scores.mean_axis(ndarray::Axis(0)).expect("a member");
                    (scores - &mean, fpc * c / (c - 1.0))
                }
                None => continue,
            };
            meat.scaled_add(factor, &scores.t().dot(&scores));
        }
        let cov = inv.dot(&meat).dot(&inv);
        cov.diag()
            .iter()
            .copied()
            .chain(std::iter::once(cov.sum()))
            .map(|v| v.max(0.0).sqrt())
            .collect()
    }
}

/// The sampled pairs split in folds for cross-fitting (`kernel_shap/baselines.rs`),
/// each size's pairs taking the folds in turn in the order drawn; no more folds
/// than a size not drawn completely has pairs (a fold would miss it), so one when
/// such a size has a single pair.
#[derive(Debug, Clone)]
pub(super) struct Folds {
    /// How many folds.
    pub count: usize,
    /// Of each sampled pair, its fold; `None` where its size is drawn completely
    /// (every fit takes it, as an enumerated coalition).
    pub fold: Vec<Option<usize>>,
    /// Of each sampled pair in a fold, its size's pairs over those of its fold in
    /// that size: its weight's factor when its fold stands for the size alone.
    pub factor: Vec<f64>,
    /// Of each sampled pair, its stratum (the smaller of its sizes).
    pub stratum: Vec<usize>,
    /// Of each stratum, the finite-population correction `1 − n/N`.
    pub fpc: Vec<f64>,
}

impl Design {
    /// [`Folds`] of the sampled pairs, in `count` folds at most.
    pub fn folds(&self, count: usize) -> Folds {
        let (stratum, fpc) = strata::strata(self);
        let mut seen = vec![0usize; fpc.len()];
        for &h in &stratum {
            seen[h] += 1;
        }
        // No more folds than the smallest sampled size has pairs.
        let fewest = (0..fpc.len())
            .filter(|&h| fpc[h] > 0.0 && seen[h] > 0)
            .map(|h| seen[h])
            .min()
            .unwrap_or(count);
        let count = count.min(fewest).max(1);
        let mut drawn = vec![0usize; fpc.len()];
        let fold: Vec<Option<usize>> = (stratum.iter())
            .map(|&h| {
                drawn[h] += 1;
                (fpc[h] > 0.0).then_some((drawn[h] - 1) % count)
            })
            .collect();
        let per_fold = |h: usize, f: usize| seen[h] / count + usize::from(f < seen[h] % count);
        let factor = (stratum.iter().zip(&fold))
            .map(|(&h, f)| f.map_or(1.0, |f| seen[h] as f64 / per_fold(h, f) as f64))
            .collect();
        Folds {
            count,
            fold,
            factor,
            stratum,
            fpc,
        }
    }
}

/// The `k`-subsets of `0..n` in lexicographic order.
fn combinations(n: usize, k: usize) -> impl Iterator<Item = Vec<usize>> {
    let mut next: Option<Vec<usize>> = (k <= n).then(|| (0..k).collect());
    std::iter::from_fn(move || {
        let current = next.take()?;
        let mut c = current.clone();
        // Advance the last index that can still move right.
        if let Some(i) = (0..k).rev().find(|&i| c[i] < n - k + i) {
            c[i] += 1;
            for j in i + 1..k {
                c[j] = c[j - 1] + 1;
            }
            next = Some(c);
        }
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_are_all_the_subsets() {
        let all: Vec<Vec<usize>> = combinations(5, 2).collect();
        assert_eq!(all.len(), 10);
        assert_eq!(all[0], vec![0, 1]);
        assert_eq!(all[9], vec![3, 4]);
        assert_eq!(combinations(4, 0).count(), 1);
    }

    #[test]
    fn the_budget_enumerates_sizes_from_the_outside_in() {
        // 10 players: sizes 1 and 9 are 20 coalitions, sizes 2 and 8 another 90.
        let small = Design::plan(10, 100);
        assert_eq!(small.enumerated, 20);
        assert_eq!(small.low, Some(2));
        let larger = Design::plan(10, 400);
        assert_eq!(larger.enumerated, 110);
        assert_eq!(larger.low, Some(3));
        // Below 2P nothing is complete.
        assert_eq!(Design::plan(10, 19).enumerated, 0);
        // The kernel weights of the whole set of coalitions sum to the total mass.
        let all = Design::enumerated(6);
        let mass: f64 = (1..6).map(|s| size_mass(6, s)).sum();
        assert!((all.weights.iter().sum::<f64>() - mass).abs() < 1e-12);
        assert!(!all.incomplete());
    }
}
