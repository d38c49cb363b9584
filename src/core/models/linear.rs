//! Generalised linear models: least-squares regression (identity link) and
//! logistic regression, binary (sigmoid) or multinomial (softmax).
//!
//! Raw output k of row x is `intercept[k] + coefficients[k] · x`.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};

use super::mlp::DenseHead;
use super::{AdditiveRaw, AffineInput, Link, Model};
use crate::core::{CoreError, CoreResult};

/// A fitted linear or logistic model.
#[derive(Debug, Clone)]
pub struct LinearModel {
    /// One row of weights per raw output: shape (n_outputs, n_features).
    coefficients: Array2<f64>,
    /// One intercept per raw output.
    intercept: Array1<f64>,
    /// Identity for regression, Logistic for binary, Softmax for multinomial.
    link: Link,
}

impl LinearModel {
    /// A linear regression with one weight row per output.
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] when shapes disagree or a value is not finite.
    pub fn regression(coefficients: Array2<f64>, intercept: Array1<f64>) -> CoreResult<Self> {
        Self::new(coefficients, intercept, Link::Identity)
    }

    /// A logistic regression: one weight row means binary (sigmoid of the margin is
    /// P(positive class)); K ≥ 2 rows mean multinomial (softmax over the K margins).
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] when shapes disagree or a value is not finite.
    pub fn logistic(coefficients: Array2<f64>, intercept: Array1<f64>) -> CoreResult<Self> {
        let link = if coefficients.nrows() == 1 {
            Link::Logistic
        } else {
            Link::Softmax
        };
        Self::new(coefficients, intercept, link)
    }

    fn new(coefficients: Array2<f64>, intercept: Array1<f64>, link: Link) -> CoreResult<Self> {
        if coefficients.nrows() == 0 || coefficients.ncols() == 0 {
            return Err(CoreError::InvalidModel(
                "coefficients must have at least one output and one feature".into(),
            ));
        }
        if intercept.len() != coefficients.nrows() {
            return Err(CoreError::InvalidModel(format!(
                "{} intercept(s) for {} coefficient row(s)",
                intercept.len(),
                coefficients.nrows()
            )));
        }
        if coefficients
            .iter()
            .chain(intercept.iter())
            .any(|v| !v.is_finite())
        {
            return Err(CoreError::InvalidModel(
                "coefficients and intercepts must be finite numbers".into(),
            ));
        }
        Ok(Self {
            coefficients,
            intercept,
            link,
        })
    }

    /// Weights, shape (n_outputs, n_features).
    pub fn coefficients(&self) -> &Array2<f64> {
        &self.coefficients
    }

    /// Intercepts, one per output.
    pub fn intercept(&self) -> &Array1<f64> {
        &self.intercept
    }

    /// `"linear"` or `"logistic"`.
    pub fn kind(&self) -> &'static str {
        match self.link {
            Link::Identity => "linear",
            _ => "logistic",
        }
    }
}

impl Model for LinearModel {
    fn n_features(&self) -> usize {
        self.coefficients.ncols()
    }

    fn n_outputs(&self) -> usize {
        self.coefficients.nrows()
    }

    fn link(&self) -> Link {
        self.link
    }

    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        // One matrix-vector product per output: for the tall, one-column products
        // of explainer batches (10⁵ rows) a matrix-matrix product spends most of its
        // time packing `x`.
        let mut out = Array2::<f64>::zeros((x.nrows(), self.coefficients.nrows()));
        for (mut column, (weights, &b)) in out
            .columns_mut()
            .into_iter()
            .zip(self.coefficients.rows().into_iter().zip(&self.intercept))
        {
            column.assign(&x.dot(&weights));
            column += b;
        }
        out
    }

    fn affine_input(&self) -> Option<&dyn AffineInput> {
        Some(self)
    }

    fn additive_raw(&self) -> Option<&dyn AdditiveRaw> {
        Some(self)
    }
}

/// The whole model is the map: `W` is the transposed coefficients, the head the
/// identity.
impl AffineInput for LinearModel {
    fn input_affine(&self) -> (Array2<f64>, Array1<f64>) {
        (self.coefficients.t().to_owned(), self.intercept.clone())
    }

    fn predict_raw_from_affine(&self, z: ArrayViewMut2<f64>) -> Array2<f64> {
        z.to_owned()
    }

    /// No layer after the map: the raw outputs are its values.
    fn dense_head(&self) -> Option<DenseHead<'_>> {
        Some(DenseHead {
            first: None,
            layers: Vec::new(),
        })
    }
}

/// `t_kj(x_j) = w_kj x_j`.
impl AdditiveRaw for LinearModel {
    fn terms(&self, row: ArrayView1<f64>) -> Array2<f64> {
        &self.coefficients * &row
    }
}

/// Ordinary least squares with an intercept, by Householder QR (stable where the
/// normal equations would square the condition number, e.g. lot sizes in the
/// thousands beside 0/1 dummies).
///
/// Returns `(coefficients, intercept)`.
///
/// # Errors
/// [`CoreError::InvalidArgument`] when there are fewer rows than parameters or the
/// design matrix is rank-deficient.
pub fn fit_least_squares(x: ArrayView2<f64>, y: &[f64]) -> CoreResult<(Array1<f64>, f64)> {
    let (n, f) = x.dim();
    let p = f + 1;
    if y.len() != n {
        return Err(CoreError::InvalidArgument(format!(
            "{} targets for {} rows",
            y.len(),
            n
        )));
    }
    if n < p {
        return Err(CoreError::InvalidArgument(format!(
            "{n} rows cannot determine {p} parameters"
        )));
    }
    // Design matrix [1, x] and right-hand side, reduced in place to R and Qᵀy.
    let mut a = Array2::<f64>::ones((n, p));
    a.slice_mut(ndarray::s![.., 1..]).assign(&x);
    let mut b = Array1::from(y.to_vec());
    for k in 0..p {
        let norm = a
            .slice(ndarray::s![k.., k])
            .dot(&a.slice(ndarray::s![k.., k]))
            .sqrt();
        if norm == 0.0 {
            return Err(CoreError::InvalidArgument(
                "design matrix is rank-deficient".into(),
            ));
        }
        let alpha = if a[[k, k]] > 0.0 { -norm } else { norm };
        let mut v = a.slice(ndarray::s![k.., k]).to_owned();
        v[0] -= alpha;
        let vnorm2 = v.dot(&v);
        if vnorm2 == 0.0 {
            continue;
        }
        for j in k..p {
            let s = 2.0 * v.dot(&a.slice(ndarray::s![k.., j])) / vnorm2;
            a.slice_mut(ndarray::s![k.., j]).scaled_add(-s, &v);
        }
        let s = 2.0 * v.dot(&b.slice(ndarray::s![k..])) / vnorm2;
        b.slice_mut(ndarray::s![k..]).scaled_add(-s, &v);
    }
    // Back substitution R β = Qᵀy.
    let mut beta = Array1::<f64>::zeros(p);
    for k in (0..p).rev() {
        let diag = a[[k, k]];
        if diag.abs() < 1e-12 * a[[0, 0]].abs().max(1.0) {
            return Err(CoreError::InvalidArgument(
                "design matrix is rank-deficient".into(),
            ));
        }
        let tail: f64 = (k + 1..p).map(|j| a[[k, j]] * beta[j]).sum();
        beta[k] = (b[k] - tail) / diag;
    }
    Ok((beta.slice(ndarray::s![1..]).to_owned(), beta[0]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    #[test]
    fn least_squares_recovers_an_exact_plane() {
        // y = 3 + 2·x0 − x1 holds exactly, so the fit must return those parameters.
        let x = array![[0.0, 1.0], [1.0, 0.0], [2.0, 5.0], [3.0, 1.0], [4.0, 4.0]];
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| 3.0 + 2.0 * r[0] - r[1])
            .collect();
        let (w, b) = fit_least_squares(x.view(), &y).unwrap();
        assert_abs_diff_eq!(b, 3.0, epsilon = 1e-10);
        assert_abs_diff_eq!(w[0], 2.0, epsilon = 1e-10);
        assert_abs_diff_eq!(w[1], -1.0, epsilon = 1e-10);
    }

    #[test]
    fn least_squares_refuses_collinear_columns() {
        let x = array![[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0]];
        let err = fit_least_squares(x.view(), &[1.0, 2.0, 3.0, 4.0]).unwrap_err();
        assert!(matches!(err, CoreError::InvalidArgument(_)));
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let m = LinearModel::logistic(array![[1.0], [-1.0], [0.5]], array![0.0, 0.1, 0.2]).unwrap();
        let p = m.predict(
            array![[2.0], [-3.0]].view(),
            super::super::OutputSpace::Probability,
        );
        for row in p.rows() {
            assert_abs_diff_eq!(row.sum(), 1.0, epsilon = 1e-12);
        }
    }
}
