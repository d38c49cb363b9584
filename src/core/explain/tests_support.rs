//! Small hand-written models for the explainers' unit tests.

use ndarray::{Array2, ArrayView2, Axis};

use crate::core::models::{Link, Model};

/// `f(x) = x0 · x1` on two features: the textbook symmetric game.
pub(crate) struct Product;

impl Model for Product {
    fn n_features(&self) -> usize {
        2
    }
    fn n_outputs(&self) -> usize {
        1
    }
    fn link(&self) -> Link {
        Link::Identity
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let out = &x.column(0) * &x.column(1);
        out.insert_axis(Axis(1))
    }
}

/// `f(x) = x0 x1 + x2² + Σ_{j≥3} (j / 4) x_j`: interactions, a non-linearity and
/// plain linear terms, on `n_features ≥ 3` features.
pub(crate) struct Mixed {
    /// Width of the inputs.
    pub n_features: usize,
}

impl Model for Mixed {
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn n_outputs(&self) -> usize {
        1
    }
    fn link(&self) -> Link {
        Link::Identity
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let out = x.map_axis(Axis(1), |r| {
            r[0] * r[1]
                + r[2] * r[2]
                + r.iter()
                    .skip(3)
                    .enumerate()
                    .map(|(j, v)| (j + 3) as f64 / 4.0 * v)
                    .sum::<f64>()
        });
        out.insert_axis(Axis(1))
    }
}

/// A model seen only through [`Model::predict_raw`]: the explainers take their
/// generic path even when the model has an affine first step.
pub(crate) struct Opaque<'a>(pub &'a dyn Model);

impl Model for Opaque<'_> {
    fn n_features(&self) -> usize {
        self.0.n_features()
    }
    fn n_outputs(&self) -> usize {
        self.0.n_outputs()
    }
    fn link(&self) -> Link {
        self.0.link()
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.0.predict_raw(x)
    }
}
