//! LIME's surrogate (module doc of [`super`], step 4 and the standard errors), fitted
//! on its binary design without forming it.
//!
//! Every entry of `z` is 0 or 1, so the design is kept as each sample's ones (about a
//! quarter of the players with quartile bins), and the weighted Gram matrix
//! `Σ_i c_i z_i z_iᵀ` is summed over the pairs of each sample's ones: a few hundred
//! additions a sample instead of a dense product over every player pair. Its
//! diagonal is the weighted column sums (`z_j² = z_j`). Centring is then algebra:
//! with `C = Σ c_i` and `m` the weighted column means,
//! `Σ_i c_i (z_i − m)(z_i − m)ᵀ = Σ_i c_i z_i z_iᵀ − C m mᵀ`, and for other weights
//! `c` than those `m` is taken with, `− u mᵀ − m uᵀ + C m mᵀ` with `u = Σ_i c_i z_i`.

use ndarray::{Array1, Array2, ArrayView1};

use super::super::linalg::Cholesky;
use crate::core::{CoreError, CoreResult};

/// The surrogate's design `z` by its ones: for each sample, the players with `z = 1`,
/// ascending.
pub(super) struct Design {
    /// Number of players (columns of `z`).
    players: usize,
    /// Sample `s`'s ones are `ones[starts[s]..starts[s + 1]]`.
    starts: Vec<usize>,
    /// Every sample's ones, one sample after the other.
    ones: Vec<u32>,
}

impl Design {
    /// An empty design for `players` columns, with room for `samples` rows.
    pub(super) fn new(players: usize, samples: usize) -> Self {
        let mut starts = Vec::with_capacity(samples + 1);
        starts.push(0);
        Design {
            players,
            starts,
            ones: Vec::with_capacity(samples * players.div_ceil(2)),
        }
    }

    /// Append a sample by its ones, ascending.
    pub(super) fn push(&mut self, ones: &[u32]) {
        self.ones.extend_from_slice(ones);
        self.starts.push(self.ones.len());
    }

    /// How many ones sample `s` has.
    pub(super) fn count(&self, s: usize) -> usize {
        self.starts[s + 1] - self.starts[s]
    }

    /// The samples' ones, in order.
    fn samples(&self) -> impl Iterator<Item = &[u32]> {
        self.starts.windows(2).map(|w| &self.ones[w[0]..w[1]])
    }

    /// `Σ_i c_i z_i z_iᵀ`.
    fn gram(&self, c: &[f64]) -> Array2<f64> {
        let p = self.players;
        let mut g = vec![0.0; p * p];
        for (ones, &c) in self.samples().zip(c) {
            for (a, &j) in ones.iter().enumerate() {
                let row = &mut g[j as usize * p..][..p];
                for &k in &ones[a..] {
                    row[k as usize] += c;
                }
            }
        }
        let mut g = Array2::from_shape_vec((p, p), g).expect("p × p values");
        for j in 0..p {
            for k in 0..j {
                g[[j, k]] = g[[k, j]];
            }
        }
        g
    }

    /// `z_i · β` for each sample.
    fn fitted<'a>(&'a self, beta: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
        self.samples()
            .map(|ones| ones.iter().map(|&j| beta[j as usize]).sum())
    }
}

/// A fitted weighted ridge surrogate.
pub(super) struct Ridge {
    /// One coefficient per column.
    pub(super) coefficients: Array1<f64>,
    /// The unpenalised intercept.
    pub(super) intercept: f64,
    /// Weighted R² on the fitted data.
    pub(super) r2: f64,
    /// Sandwich standard errors of the coefficients (module doc of [`super`]).
    pub(super) standard_errors: Vec<f64>,
}

/// Minimise `Σ w_i (y_i − b − z_i·β)² + α‖β‖²`, as scikit-learn's `Ridge` with
/// `sample_weight`: centre by weighted means, solve, recover the intercept.
pub(super) fn weighted_ridge(
    z: &Design,
    y: ArrayView1<f64>,
    w: &[f64],
    alpha: f64,
) -> CoreResult<Ridge> {
    let total: f64 = w.iter().sum();
    let gram = z.gram(w);
    let z_sums = gram.diag().to_owned();
    let z_mean = &z_sums / total;
    let y_mean = y.iter().zip(w).map(|(y, w)| y * w).sum::<f64>() / total;
    let yc: Vec<f64> = y.iter().map(|y| y - y_mean).collect();
    // Z̃ᵀW ỹ = Σ w_i ỹ_i z_i − m Σ w_i ỹ_i (the last sum is zero up to rounding).
    let mut rhs = Array1::<f64>::zeros(z.players);
    let mut wy_total = 0.0;
    for ((ones, &w), &yc) in z.samples().zip(w).zip(&yc) {
        let v = w * yc;
        wy_total += v;
        for &j in ones {
            rhs[j as usize] += v;
        }
    }
    rhs.scaled_add(-wy_total, &z_mean);
    let mut h = centred(gram, &z_sums, &z_mean, total);
    for j in 0..h.nrows() {
        h[[j, j]] += alpha;
    }
    let chol = Cholesky::new(&h).ok_or_else(|| {
        CoreError::InvalidArgument("lime: the surrogate's normal equations are singular".into())
    })?;
    let beta = chol.solve(rhs.view());
    let offset = z_mean.dot(&beta);
    let residuals: Vec<f64> = z
        .fitted(beta.as_slice().expect("a standard layout vector"))
        .zip(&yc)
        .map(|(fit, yc)| yc - (fit - offset))
        .collect();
    let ss_res: f64 = residuals.iter().zip(w).map(|(e, w)| e * e * w).sum();
    let ss_tot: f64 = yc.iter().zip(w).map(|(y, w)| y * y * w).sum();
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        1.0
    };
    // Sandwich: H⁻¹ M H⁻¹ with M = Σ c_i z̃_i z̃_iᵀ, c_i = (w_i e_i)².
    let c: Vec<f64> = residuals
        .iter()
        .zip(w)
        .map(|(e, w)| (w * e).powi(2))
        .collect();
    let c_gram = z.gram(&c);
    let c_sums = c_gram.diag().to_owned();
    let meat = centred(c_gram, &c_sums, &z_mean, c.iter().sum());
    let f = h.nrows();
    let h_inv = chol.inverse();
    let left = h_inv.dot(&meat);
    let standard_errors = (0..f)
        .map(|j| left.row(j).dot(&h_inv.column(j)).max(0.0).sqrt())
        .collect();
    Ok(Ridge {
        intercept: y_mean - offset,
        coefficients: beta,
        r2,
        standard_errors,
    })
}

/// `Σ_i c_i (z_i − m)(z_i − m)ᵀ` from `gram = Σ_i c_i z_i z_iᵀ`, `sums = Σ_i c_i z_i`
/// and `total = Σ_i c_i`: `gram − sums mᵀ − m sumsᵀ + total m mᵀ`.
fn centred(mut gram: Array2<f64>, sums: &Array1<f64>, m: &Array1<f64>, total: f64) -> Array2<f64> {
    for ((j, k), g) in gram.indexed_iter_mut() {
        *g += -sums[j] * m[k] - m[j] * sums[k] + total * m[j] * m[k];
    }
    gram
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::Axis;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_sparse_fit_matches_the_dense_formulas() {
        // A random binary design, fitted from its ones and from the dense matrices.
        let (n, p, alpha) = (300, 7, 1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let dense = Array2::from_shape_fn((n, p), |_| f64::from(u8::from(rng.random_bool(0.3))));
        let y = Array1::from_shape_fn(n, |i| dense.row(i).sum() + rng.random::<f64>());
        let w: Vec<f64> = (0..n).map(|_| rng.random_range(0.1..1.0)).collect();
        let mut z = Design::new(p, n);
        for r in dense.rows() {
            let ones: Vec<u32> = (0..p as u32).filter(|&j| r[j as usize] == 1.0).collect();
            z.push(&ones);
        }
        let got = weighted_ridge(&z, y.view(), &w, alpha).unwrap();

        let w = Array1::from(w);
        let total = w.sum();
        let z_mean = dense.t().dot(&w) / total;
        let zc = &dense - &z_mean;
        let yc = &y - y.dot(&w) / total;
        let wz = &zc * &w.view().insert_axis(Axis(1));
        let h = zc.t().dot(&wz) + Array2::<f64>::eye(p) * alpha;
        let chol = Cholesky::new(&h).unwrap();
        let beta = chol.solve(wz.t().dot(&yc).view());
        let e = &yc - &zc.dot(&beta);
        let scaled = &zc * &(&e * &w).insert_axis(Axis(1));
        let h_inv = chol.inverse();
        let cov = h_inv.dot(&scaled.t().dot(&scaled)).dot(&h_inv);
        let r2 = 1.0 - (&e * &e).dot(&w) / (&yc * &yc).dot(&w);
        for j in 0..p {
            assert_abs_diff_eq!(got.coefficients[j], beta[j], epsilon = 1e-10);
            assert_abs_diff_eq!(got.standard_errors[j], cov[[j, j]].sqrt(), epsilon = 1e-10);
        }
        let intercept = y.dot(&w) / total - z_mean.dot(&beta);
        assert_abs_diff_eq!(got.intercept, intercept, epsilon = 1e-10);
        assert_abs_diff_eq!(got.r2, r2, epsilon = 1e-10);
    }
}
