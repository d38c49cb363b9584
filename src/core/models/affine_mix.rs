//! An affine map of a row's columns, as an ONNX graph computes it in front of a
//! model: scikit-learn's `PCA` (`Sub` the mean, `MatMul` by the components, `Div`
//! by the root of the explained variance when whitened) and `TruncatedSVD` (`MatMul`)
//! as skl2onnx writes them, or any chain of `Sub`, `Add`, `Mul`, `Div` by constants
//! and `MatMul` by a constant matrix.
//!
//! Each step rounds to float32 as onnxruntime's float tensors do; a matrix product
//! sums in f64 and rounds once (onnxruntime's sgemm sums in float32 in its own
//! order, so a value may differ from it in the last bit, which moves a prediction
//! only for a row within that bit of a split).

use ndarray::{Array1, Array2};

use crate::core::{CoreError, CoreResult};

/// One step of an [`AffineMix`].
#[derive(Debug, Clone, PartialEq)]
pub enum MixStep {
    /// `x − v`, per column (or one value for all).
    Sub(Vec<f64>),
    /// `x + v`.
    Add(Vec<f64>),
    /// `x · v`.
    Mul(Vec<f64>),
    /// `x / v`.
    Div(Vec<f64>),
    /// `x @ m`, `m` of shape (columns in, columns out).
    MatMul(Array2<f64>),
}

impl MixStep {
    /// The operator's name.
    pub fn op(&self) -> &'static str {
        match self {
            MixStep::Sub(_) => "Sub",
            MixStep::Add(_) => "Add",
            MixStep::Mul(_) => "Mul",
            MixStep::Div(_) => "Div",
            MixStep::MatMul(_) => "MatMul",
        }
    }
}

/// Steps applied in order to a row of columns.
#[derive(Debug, Clone, PartialEq)]
pub struct AffineMix {
    steps: Vec<MixStep>,
    width_in: usize,
    width_out: usize,
}

/// `v` rounded to float32, as an f64.
fn f32r(v: f64) -> f64 {
    f64::from(v as f32)
}

impl AffineMix {
    /// `steps` over rows of `width_in` columns.
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] when a step's constant does not fit the width it
    /// meets (one value, or one per column), or there is no step.
    pub fn new(steps: Vec<MixStep>, width_in: usize) -> CoreResult<Self> {
        if steps.is_empty() {
            return Err(CoreError::InvalidModel("an affine map needs a step".into()));
        }
        let mut width = width_in;
        for (i, step) in steps.iter().enumerate() {
            match step {
                MixStep::Sub(v) | MixStep::Add(v) | MixStep::Mul(v) | MixStep::Div(v) => {
                    if v.len() != 1 && v.len() != width {
                        return Err(CoreError::InvalidModel(format!(
                            "{} (step {i} in front of the model) has {} values for {width} columns",
                            step.op(),
                            v.len()
                        )));
                    }
                }
                MixStep::MatMul(m) => {
                    if m.nrows() != width || m.ncols() == 0 {
                        return Err(CoreError::InvalidModel(format!(
                            "MatMul (step {i} in front of the model) has a {}×{} matrix for {width} \
                             columns",
                            m.nrows(),
                            m.ncols()
                        )));
                    }
                    width = m.ncols();
                }
            }
        }
        Ok(Self {
            steps,
            width_in,
            width_out: width,
        })
    }

    /// Columns it reads.
    pub fn width_in(&self) -> usize {
        self.width_in
    }

    /// Columns it gives.
    pub fn width_out(&self) -> usize {
        self.width_out
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[MixStep] {
        &self.steps
    }

    /// The operators, in order (`Sub, MatMul 4×3, Div`).
    pub fn describe(&self) -> String {
        let ops: Vec<String> = (self.steps.iter())
            .map(|s| match s {
                MixStep::MatMul(m) => format!("MatMul {}×{}", m.nrows(), m.ncols()),
                other => other.op().to_string(),
            })
            .collect();
        ops.join(", ")
    }

    /// The map applied to one row of `width_in` columns, in float32 steps.
    pub fn apply(&self, row: &[f64]) -> Vec<f64> {
        let mut x: Vec<f64> = row.iter().map(|&v| f32r(v)).collect();
        for step in &self.steps {
            let at = |v: &[f64], j: usize| f32r(v[if v.len() == 1 { 0 } else { j }]);
            match step {
                MixStep::Sub(v) => (x.iter_mut().enumerate()).for_each(|(j, a)| {
                    *a = f64::from(*a as f32 - at(v, j) as f32);
                }),
                MixStep::Add(v) => (x.iter_mut().enumerate()).for_each(|(j, a)| {
                    *a = f64::from(*a as f32 + at(v, j) as f32);
                }),
                MixStep::Mul(v) => (x.iter_mut().enumerate()).for_each(|(j, a)| {
                    *a = f64::from(*a as f32 * at(v, j) as f32);
                }),
                MixStep::Div(v) => (x.iter_mut().enumerate()).for_each(|(j, a)| {
                    *a = f64::from(*a as f32 / at(v, j) as f32);
                }),
                MixStep::MatMul(m) => {
                    x = (0..m.ncols())
                        .map(|o| {
                            f32r(
                                (x.iter().enumerate())
                                    .map(|(i, a)| a * f32r(m[[i, o]]))
                                    .sum(),
                            )
                        })
                        .collect();
                }
            }
        }
        x
    }

    /// `(A, c)` with the map equal to `x @ A + c` in exact arithmetic (A: width_in ×
    /// width_out): what folds into a linear model's weights.
    pub fn affine(&self) -> (Array2<f64>, Array1<f64>) {
        let mut a = Array2::eye(self.width_in);
        let mut c = Array1::zeros(self.width_in);
        for step in &self.steps {
            let per = |v: &[f64], n: usize| -> Array1<f64> {
                Array1::from_iter((0..n).map(|j| f32r(v[if v.len() == 1 { 0 } else { j }])))
            };
            match step {
                MixStep::Sub(v) => c -= &per(v, c.len()),
                MixStep::Add(v) => c += &per(v, c.len()),
                MixStep::Mul(v) | MixStep::Div(v) => {
                    let mut k = per(v, c.len());
                    if matches!(step, MixStep::Div(_)) {
                        k.mapv_inplace(|d| 1.0 / d);
                    }
                    a *= &k.view().insert_axis(ndarray::Axis(0));
                    c *= &k;
                }
                MixStep::MatMul(m) => {
                    let m = m.mapv(f32r);
                    a = a.dot(&m);
                    c = c.dot(&m);
                }
            }
        }
        (a, c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn pca() -> AffineMix {
        let steps = vec![
            MixStep::Sub(vec![1.0, 2.0, 3.0]),
            MixStep::MatMul(array![[0.5, -1.0], [0.25, 2.0], [1.0, 0.0]]),
            MixStep::Div(vec![2.0, 4.0]),
            MixStep::Add(vec![0.5]),
        ];
        AffineMix::new(steps, 3).unwrap()
    }

    #[test]
    fn the_affine_form_equals_the_steps() {
        let mix = pca();
        assert_eq!((mix.width_in(), mix.width_out()), (3, 2));
        let (a, c) = mix.affine();
        for row in [[0.0, 0.0, 0.0], [1.5, -2.0, 4.0], [10.0, 3.0, -7.0]] {
            let got = mix.apply(&row);
            let want = ndarray::aview1(&row).dot(&a) + &c;
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5 * w.abs().max(1.0), "{g} vs {w}");
            }
        }
        // By hand: x = (1.5, −2, 4) − (1, 2, 3) = (0.5, −4, 1); @ m = (0.25 − 1 + 1,
        // −0.5 − 8) = (0.25, −8.5); / (2, 4) = (0.125, −2.125); + 0.5.
        assert_eq!(mix.apply(&[1.5, -2.0, 4.0]), vec![0.625, -1.625]);
        assert_eq!(mix.describe(), "Sub, MatMul 3×2, Div, Add");
    }

    #[test]
    fn constants_must_fit_the_width_they_meet() {
        let bad = AffineMix::new(vec![MixStep::Sub(vec![1.0, 2.0])], 3);
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("2 values for 3 columns"));
        let bad = AffineMix::new(
            vec![
                MixStep::MatMul(Array2::zeros((3, 2))),
                MixStep::Div(vec![1.0; 3]),
            ],
            3,
        );
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("3 values for 2 columns"));
        let bad = AffineMix::new(vec![MixStep::MatMul(Array2::zeros((2, 2)))], 3);
        assert!(bad.unwrap_err().to_string().contains("2×2 matrix for 3"));
        assert!(AffineMix::new(Vec::new(), 3).is_err());
    }
}
