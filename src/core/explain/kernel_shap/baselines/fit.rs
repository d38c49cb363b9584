//! The cross-fitted regressions of [`super`], every background row's at once.
//!
//! In the coordinates that eliminate the last player (`x = z[kept] − z[last]`, as
//! [`super::super::fit`]), a sampled pair's two coalitions have opposite `x`
//! (`x(N∖S) = −x(S)`) and equal weights (a size's kernel mass is its complement's,
//! and the pair draws one of each), so the pair enters every weighted sum as one
//! row: `x_a` with the difference of its responses `y_a − y_b`, and `2 w x_a x_aᵀ`
//! in `XᵀWX`. The sums are matrix products over the pairs' rows, grouped as the
//! folds use them.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};

use super::super::Fit;
use super::{Ends, Relabel, Reused, Slot};
use crate::core::explain::kernel_design::{Design, Folds};
use crate::core::explain::linalg::Cholesky;
use crate::core::explain::sampling::Stop;
use crate::core::{CoreError, CoreResult};

/// Folds of the cross-fit (fewer where a sampled size has fewer pairs). Four were
/// 2% more accurate on the benchmark's MLP and 4% slower.
const FOLDS: usize = 2;

/// The attributions and standard errors of the module doc of [`super`] from `y`
/// (coalitions of `design` × background rows, centred).
pub(super) fn fit(
    design: &Design,
    relabel: &Relabel,
    y: ArrayView2<f64>,
    ends: &Ends,
    stop: &Stop,
) -> CoreResult<Fit> {
    let p = design.players;
    let mut phi = vec![0.0; p];
    let mut variance = vec![0.0; p];
    let delta = ends.empty.mapv(|e| ends.prediction - e);
    if p == 1 {
        phi[0] = delta.dot(&ends.weights);
        return Ok(done(phi, variance));
    }
    let q = p - 1;
    let c = population_scale(design);
    // Two folds, or one where a fold's coalitions do not determine the fit.
    let mut fitted = None;
    for count in [FOLDS, 1] {
        stop.check()?;
        let folds = design.folds(count);
        let rows = Rows::of(design, folds, y);
        match rows.fits(c) {
            Some((kept, fits)) => {
                fitted = Some((rows, kept, fits));
                break;
            }
            None => rows.d.give_back(),
        }
    }
    let (rows, kept, fits) = fitted.ok_or_else(|| {
        CoreError::InvalidArgument(
            "kernel_shap: the sampled coalitions do not determine every attribution; \
             raise n_samples"
                .into(),
        )
    })?;
    let row_variance = rows.variance(&fits, c);
    rows.d.give_back();
    for b in 0..y.ncols() {
        let (w, to) = (ends.weights[b], relabel.of(b));
        let mut rest = delta[b];
        for g in 0..q {
            phi[to[g]] += w * kept[[g, b]];
            rest -= kept[[g, b]];
        }
        phi[to[q]] += w * rest;
        for g in 0..p {
            variance[to[g]] += w * w * row_variance[[g, b]];
        }
    }
    Ok(done(phi, variance))
}

/// A [`Fit`] from attributions and variances.
fn done(phi: Vec<f64>, variance: Vec<f64>) -> Fit {
    Fit {
        phi,
        standard_errors: variance.into_iter().map(|v| v.max(0.0).sqrt()).collect(),
        adjusted: false,
    }
}

/// The design's rows as the fits use them: the enumerated coalitions, then the
/// sampled pairs as differences, in groups: those of sizes drawn completely (in
/// every fit, as enumerated coalitions), then each fold's.
struct Rows<'a> {
    folds: Folds,
    players: usize,
    /// The enumerated coalitions' `x`, weights and responses.
    enumerated: (Array2<f64>, Array1<f64>, ArrayView2<'a, f64>),
    /// Each pair's `x_a`, (pairs × q), in group order.
    x: Array2<f64>,
    /// Each pair's weight `w_a` times its fold's factor.
    w: Array1<f64>,
    /// Each pair's `y_a − y_b`, (pairs × background rows), in the thread's
    /// reused buffer.
    d: Reused,
    /// Background rows.
    n_bg: usize,
    /// Each pair's index in the design.
    pair: Vec<usize>,
    /// Where each group of pairs starts: complete sizes, each fold, then the end.
    bounds: Vec<usize>,
}

impl<'a> Rows<'a> {
    fn of(design: &Design, folds: Folds, y: ArrayView2<'a, f64>) -> Rows<'a> {
        let p = design.players;
        let q = p - 1;
        let bit = |on: bool| f64::from(u8::from(on));
        let x_of = |i: usize| {
            let z = &design.masks[i * p..(i + 1) * p];
            Array1::from_iter((0..q).map(|g| bit(z[g]) - bit(z[q])))
        };
        let e = design.enumerated;
        let mut xe = Array2::<f64>::zeros((e, q));
        for i in 0..e {
            xe.row_mut(i).assign(&x_of(i));
        }
        let we = Array1::from(design.weights[..e].to_vec());
        let group = |c: usize| folds.fold[c].map_or(0, |f| f + 1);
        let mut pair: Vec<usize> = (0..folds.fold.len()).collect();
        pair.sort_by_key(|&c| group(c));
        let groups = folds.count + 1;
        let bounds: Vec<usize> = (0..=groups)
            .map(|g| pair.iter().take_while(|&&c| group(c) < g).count())
            .collect();
        let n_bg = y.ncols();
        let mut x = Array2::<f64>::zeros((pair.len(), q));
        let mut w = Array1::<f64>::zeros(pair.len());
        let mut d = Reused::take(Slot::Differences);
        for (r, &c) in pair.iter().enumerate() {
            let a = e + 2 * c;
            debug_assert!((design.weights[a] - design.weights[a + 1]).abs() <= 1e-12);
            x.row_mut(r).assign(&x_of(a));
            w[r] = design.weights[a] * folds.factor[c];
            let row = |i: usize| y.row(i).to_slice().expect("y is laid out by rows");
            d.extend(row(a).iter().zip(row(a + 1)).map(|(ya, yb)| ya - yb));
        }
        Rows {
            folds,
            players: p,
            enumerated: (xe, we, y.slice_move(s![..e, ..])),
            x,
            w,
            d,
            n_bg,
            pair,
            bounds,
        }
    }

    /// The pairs' differences, (pairs × background rows).
    fn d(&self) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((self.pair.len(), self.n_bg), &self.d).expect("whole rows")
    }

    /// `XᵀWX` and `XᵀWy` (every background row's) over the pairs of group `g`
    /// (0: complete sizes and the enumerated coalitions; then the folds).
    fn sums(&self, g: usize) -> (Array2<f64>, Array2<f64>) {
        let range = self.bounds[g]..self.bounds[g + 1];
        let x = self.x.slice(s![range.clone(), ..]);
        let wx = &x * &self.w.slice(s![range.clone()]).insert_axis(Axis(1));
        let mut xtx = 2.0 * x.t().dot(&wx);
        let mut xty = wx.t().dot(&self.d().slice(s![range, ..]));
        if g == 0 {
            let (xe, we, ye) = &self.enumerated;
            let wxe = xe * &we.view().insert_axis(Axis(1));
            xtx += &xe.t().dot(&wxe);
            xty += &wxe.t().dot(ye);
        }
        (xtx, xty)
    }

    /// Every row's fitted kept players (q × background rows), cross-fitted over
    /// the folds ([`super`]'s module doc), and each fold's own fit (none when
    /// nothing is sampled); `None` when a fit's coalitions do not determine it.
    fn fits(&self, c: f64) -> Option<(Array2<f64>, Vec<Array2<f64>>)> {
        let fixed = self.sums(0);
        let count = self.folds.count;
        if self.bounds[1] == self.bounds[count + 1] {
            let chol = Cholesky::new(&fixed.0)?;
            return Some((chol.inverse().dot(&fixed.1), Vec::new()));
        }
        let folds: Vec<_> = (1..=count).map(|g| self.sums(g)).collect();
        let mut kept = Array2::<f64>::zeros(fixed.1.raw_dim());
        let mut fits = Vec::with_capacity(count);
        for fold in 0..count {
            // Fit on the enumerated coalitions and the other folds (each fold's
            // pairs weighted for their whole size, so over the `k − 1` of them
            // together; any weights leave the estimate unbiased); then the
            // residual's Shapley values from the enumerated coalitions and this
            // fold: `XᵀW(y − Xβ) = XᵀWy − XᵀWX β` over them, through the
            // population's inverse. (One fold: fitted on itself, whose residual's
            // values are then zero.)
            let (mut a, mut b) = fixed.clone();
            let others = (count - 1).max(1) as f64;
            for (g, (xtx, xty)) in folds.iter().enumerate() {
                if g != fold || count == 1 {
                    a.scaled_add(1.0 / others, xtx);
                    b.scaled_add(1.0 / others, xty);
                }
            }
            let chol = Cholesky::new(&a)?;
            let beta = chol.inverse().dot(&b);
            let test = &folds[fold];
            let total = &fixed.1 + &test.1 - (&fixed.0 + &test.0).dot(&beta);
            kept += &beta;
            kept += &population_solve(&total, c, self.players);
            fits.push(beta);
        }
        kept /= count as f64;
        Some((kept, fits))
    }

    /// Each background row's variance of each design player's attribution,
    /// (P × background rows): the stratified estimator of the pairs' scores
    /// ([`super`]'s module doc), each pair's residuals from the fit of the fold
    /// that did not see it. A pair's score is `x_a d` with
    /// `d = f/k · w (y_a − y_b − 2 x_a β)` (`f` its fold's factor over the `k`
    /// folds), and player `j`'s share of it through the population's inverse is
    /// `α_j d`: `α_j = (x_aj − σ/P) / c` for a kept player, `−σ / (P c)` for the
    /// eliminated one (`σ = Σ_j x_aj`).
    fn variance(&self, fits: &[Array2<f64>], c: f64) -> Array2<f64> {
        let (p, folds, n) = (self.players, &self.folds, self.n_bg);
        let q = p - 1;
        let mut variance = Array2::<f64>::zeros((p, n));
        if fits.is_empty() {
            return variance;
        }
        let sampled = self.bounds[1]..self.bounds[folds.count + 1];
        let stride = n.next_multiple_of(moments::LANES);
        let (mut first, mut second) = (vec![0.0; p * stride], vec![0.0; p * stride]);
        for (h, &fpc) in folds.fpc.iter().enumerate() {
            let members: Vec<usize> = sampled
                .clone()
                .filter(|&r| folds.stratum[self.pair[r]] == h)
                .collect();
            let count = members.len();
            if count < 2 || fpc <= 0.0 {
                continue;
            }
            // Each member's `d` (rows of `stride`, zero past the background) and
            // its players' `α`, (P × count).
            let mut d = vec![0.0; count * stride];
            let mut alpha = vec![0.0; p * count];
            for (k, (&r, d)) in members.iter().zip(d.chunks_exact_mut(stride)).enumerate() {
                let fold = folds.fold[self.pair[r]].expect("a sampled pair");
                let x = self.x.row(r);
                let x = x.as_slice().expect("x is laid out by rows");
                let beta = fits[fold].as_slice().expect("a fit is laid out by rows");
                let scale = self.w[r] / folds.count as f64;
                moments::residual(x, beta, &self.d[r * n..(r + 1) * n], scale, d);
                let sigma: f64 = x.iter().sum();
                for j in 0..q {
                    alpha[j * count + k] = (x[j] - sigma / p as f64) / c;
                }
                alpha[q * count + k] = -sigma / (p as f64 * c);
            }
            // Σ_k (α d)² − (Σ_k α d)² / count, per player and row.
            moments::moments(&alpha, &d, stride, &mut first, &mut second);
            let factor = fpc * count as f64 / (count as f64 - 1.0);
            for (g, mut row) in variance.rows_mut().into_iter().enumerate() {
                let at = g * stride..g * stride + n;
                let moments = first[at.clone()].iter().zip(&second[at]);
                for (v, (&m1, &m2)) in row.iter_mut().zip(moments) {
                    *v += factor * (m2 - m1 * m1 / count as f64);
                }
            }
        }
        variance
    }
}

/// `c` of the population's regression matrix `c (I + J)` ([`super`]'s module
/// doc), from the design's weights, which give every size its kernel mass.
fn population_scale(design: &Design) -> f64 {
    let p = design.players as f64;
    (design.masks.chunks(design.players).zip(&design.weights))
        .map(|(z, &w)| {
            let s = z.iter().filter(|&&on| on).count() as f64;
            w * s * (p - s) / (p * (p - 1.0))
        })
        .sum()
}

/// `(c (I + J))⁻¹ t = (t − 1ᵀt / P) / c` for each column of `t` (q × columns).
fn population_solve(t: &Array2<f64>, c: f64, p: usize) -> Array2<f64> {
    let sums = t.sum_axis(Axis(0)) / p as f64;
    (t - &sums.insert_axis(Axis(0))) / c
}

mod moments;
