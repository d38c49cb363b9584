//! The small dense solves the estimators need: symmetric positive definite systems by
//! Cholesky factorisation, which is stable for the well-conditioned normal equations
//! of weighted least squares with a few hundred unknowns at most.

use ndarray::{Array1, Array2, ArrayView1};

/// A Cholesky factor `L` (lower triangular, `A = L Lᵀ`).
pub(crate) struct Cholesky {
    /// The factor; entries above the diagonal are unused.
    l: Array2<f64>,
}

impl Cholesky {
    /// Factor the symmetric matrix `a`, or `None` when it is not numerically
    /// positive definite (a pivot below 1e-12 of the largest diagonal entry).
    pub(crate) fn new(a: &Array2<f64>) -> Option<Self> {
        let n = a.nrows();
        let scale = a.diag().iter().fold(0.0_f64, |m, &v| m.max(v.abs()));
        let mut l = Array2::<f64>::zeros((n, n));
        for j in 0..n {
            let mut d = a[[j, j]];
            for k in 0..j {
                d -= l[[j, k]] * l[[j, k]];
            }
            if d.is_nan() || d <= 1e-12 * scale {
                return None;
            }
            let d = d.sqrt();
            l[[j, j]] = d;
            for i in j + 1..n {
                let mut v = a[[i, j]];
                for k in 0..j {
                    v -= l[[i, k]] * l[[j, k]];
                }
                l[[i, j]] = v / d;
            }
        }
        Some(Cholesky { l })
    }

    /// Solve `A x = b`.
    pub(crate) fn solve(&self, b: ArrayView1<f64>) -> Array1<f64> {
        let n = self.l.nrows();
        let mut y = b.to_owned();
        for i in 0..n {
            let mut v = y[i];
            for k in 0..i {
                v -= self.l[[i, k]] * y[k];
            }
            y[i] = v / self.l[[i, i]];
        }
        for i in (0..n).rev() {
            let mut v = y[i];
            for k in i + 1..n {
                v -= self.l[[k, i]] * y[k];
            }
            y[i] = v / self.l[[i, i]];
        }
        y
    }

    /// `A⁻¹`, column by column.
    pub(crate) fn inverse(&self) -> Array2<f64> {
        let n = self.l.nrows();
        let mut inv = Array2::<f64>::zeros((n, n));
        let mut unit = Array1::<f64>::zeros(n);
        for j in 0..n {
            unit[j] = 1.0;
            inv.column_mut(j).assign(&self.solve(unit.view()));
            unit[j] = 0.0;
        }
        inv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    #[test]
    fn solves_a_small_spd_system() {
        // A = [[4, 2], [2, 3]], b = A·(1, −2) = (0, −4).
        let c = Cholesky::new(&array![[4.0, 2.0], [2.0, 3.0]]).unwrap();
        let x = c.solve(array![0.0, -4.0].view());
        assert_abs_diff_eq!(x[0], 1.0, epsilon = 1e-12);
        assert_abs_diff_eq!(x[1], -2.0, epsilon = 1e-12);
        assert!(Cholesky::new(&array![[1.0, 1.0], [1.0, 1.0]]).is_none());
        // A⁻¹ = [[3, −2], [−2, 4]] / 8.
        let inv = c.inverse();
        for (got, want) in inv.iter().zip([3.0, -2.0, -2.0, 4.0]) {
            assert_abs_diff_eq!(*got, want / 8.0, epsilon = 1e-12);
        }
    }
}
