//! A linear or logistic model behind column-local preprocessing (imputing,
//! scaling, one-hot and label encoding, binarizing, casts), read over the raw
//! features the user sends.
//!
//! Each column the linear head reads is a function of one raw feature
//! ([`Derived`], the same description the tree fold uses), so raw output k is
//! additive over the raw features:
//! `f_k(x) = b_k + Σ_j g_kj(x_j)` with `g_kj(x_j) = Σ_{c from j} w_kc · col_c(x_j)`.
//! The interventional Shapley value of raw feature j against a background is then
//! exactly `φ_kj = g_kj(x_j) − E_b[g_kj(b_j)]` (the Shapley values of an additive
//! game are its terms, centred), whatever the preprocessing; [`AdditiveModel::terms`] gives
//! the `g_kj` and `crate::core::explain::linear_shap` the values. A preprocessing
//! made only of scalers and casts is affine and folds into a plain
//! [`super::LinearModel`] instead.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::trees::fold::{Derived, RawInputs, ValueMap};
use super::{AdditiveRaw, Link, Model, RawFeatures, RawKind};
use crate::core::{CoreError, CoreResult};

/// A linear head over columns each computed from one raw feature.
#[derive(Debug)]
pub struct AdditiveModel {
    /// The columns the head reads, each from one raw feature.
    columns: Vec<Derived>,
    /// Weights over the columns: shape (n_outputs, columns).
    weights: Array2<f64>,
    /// One intercept per output.
    intercept: Array1<f64>,
    /// Identity (regression), Logistic (binary) or Softmax (multinomial).
    link: Link,
    /// The raw features, in input order.
    raw: RawFeatures,
    /// Their names (the graph's inputs), in the same order.
    names: Vec<String>,
    /// Whether every raw feature's terms are finite at NaN (imputed numbers,
    /// categories): only then may rows hold missing values.
    /// Per raw feature: whether its preprocessing gives a number for NaN.
    accepts_missing: Vec<bool>,
}

impl AdditiveModel {
    /// The head `weights` (outputs × columns) and `intercept` over `columns` of the
    /// raw features `raw`, with `link` (Identity, Logistic with one output, or
    /// Softmax).
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] when shapes disagree, a weight is not finite, a
    /// column names a raw feature out of range or its value map does not fit the
    /// feature's kind, or a column's value is not finite for some category.
    pub fn new(
        columns: Vec<Derived>,
        raw: RawInputs,
        weights: Array2<f64>,
        intercept: Array1<f64>,
        link: Link,
    ) -> CoreResult<Self> {
        let bad = |m: String| Err(CoreError::InvalidModel(m));
        let RawInputs {
            names,
            features: raw,
        } = raw;
        if names.len() != raw.len() {
            return bad(format!(
                "{} names for {} raw features",
                names.len(),
                raw.len()
            ));
        }
        if weights.nrows() == 0 || weights.ncols() != columns.len() {
            return bad(format!(
                "{} weight column(s) and {} output(s) for {} preprocessed column(s)",
                weights.ncols(),
                weights.nrows(),
                columns.len()
            ));
        }
        if intercept.len() != weights.nrows() {
            return bad(format!(
                "{} intercept(s) for {} output(s)",
                intercept.len(),
                weights.nrows()
            ));
        }
        if weights.iter().chain(&intercept).any(|v| !v.is_finite()) {
            return bad("weights and intercepts must be finite numbers".into());
        }
        check_columns(&columns, &raw)?;
        let mut model = Self {
            columns,
            weights,
            intercept,
            link,
            raw,
            names,
            accepts_missing: Vec::new(),
        };
        let nan = Array1::from_elem(model.raw.len(), f64::NAN);
        let terms = model.terms(nan.view());
        model.accepts_missing = terms
            .columns()
            .into_iter()
            .map(|t| t.iter().all(|v| v.is_finite()))
            .collect();
        Ok(model)
    }

    /// The terms `g_kj(x_j)` of one raw row: shape (n_outputs, n_features).
    pub fn terms(&self, row: ArrayView1<f64>) -> Array2<f64> {
        let mut terms = Array2::zeros((self.weights.nrows(), self.raw.len()));
        for (c, column) in self.columns.iter().enumerate() {
            let v = value(&column.map, row[column.raw]);
            for k in 0..self.weights.nrows() {
                terms[[k, column.raw]] += self.weights[[k, c]] * v;
            }
        }
        terms
    }

    /// The mean terms over the rows of `data`: `E_b[g_kj(b_j)]`, shape
    /// (n_outputs, n_features).
    pub fn mean_terms(&self, data: ArrayView2<f64>) -> Array2<f64> {
        let mut sum = Array2::zeros((self.weights.nrows(), self.raw.len()));
        for row in data.axis_iter(Axis(0)) {
            sum += &self.terms(row);
        }
        sum / (data.nrows().max(1) as f64)
    }

    /// The raw features' names, in input order.
    pub fn feature_names(&self) -> &[String] {
        &self.names
    }

    /// One intercept per output.
    pub fn intercept(&self) -> &Array1<f64> {
        &self.intercept
    }

    /// The head's weights over the columns it reads: shape (n_outputs, columns).
    pub fn weights(&self) -> &Array2<f64> {
        &self.weights
    }

    /// The columns the head reads, each with its raw feature and steps, in order
    /// (empty when the model was built without their description).
    pub fn encoding(&self) -> &[super::raw::EncodedColumn] {
        self.raw.encoding()
    }

    /// `"linear"` or `"logistic"`, as for [`super::LinearModel`].
    pub fn kind(&self) -> &'static str {
        match self.link {
            Link::Identity => "linear",
            _ => "logistic",
        }
    }

    /// The raw features when some are categorical (see [`super::raw`]).
    pub fn raw_features(&self) -> Option<&RawFeatures> {
        self.raw.has_categories().then_some(&self.raw)
    }

    /// Whether raw feature `feature` may be NaN (missing): its preprocessing gives a
    /// number for it (an imputer, or a category's encoder).
    pub fn accepts_missing(&self, feature: usize) -> bool {
        self.accepts_missing.get(feature).copied().unwrap_or(false)
    }
}

/// Check that every column reads a raw feature of `raw` through a value map that
/// fits its kind, and that a category's value is finite.
///
/// # Errors
/// [`CoreError::InvalidModel`] naming the first column that does not.
pub(super) fn check_columns(columns: &[Derived], raw: &RawFeatures) -> CoreResult<()> {
    let bad = |m: String| Err(CoreError::InvalidModel(m));
    for (c, column) in columns.iter().enumerate() {
        match (raw.kinds().get(column.raw), &column.map) {
            (Some(RawKind::Numeric), ValueMap::Monotone(_)) => {}
            (Some(RawKind::Categorical { categories }), ValueMap::Table { codes, missing })
                if codes.len() == categories.len() + 1 =>
            {
                if !codes.iter().all(|v| v.is_finite()) || !missing.is_finite() {
                    return bad(format!("column {c}: a category's value is not finite"));
                }
            }
            _ => {
                return bad(format!(
                    "column {c}: its value map does not fit its raw feature"
                ))
            }
        }
    }
    Ok(())
}

/// A column's value for raw value `x` (a number, or a category's code).
pub(super) fn value(map: &ValueMap, x: f64) -> f64 {
    match map {
        ValueMap::Monotone(f) => f(x),
        ValueMap::Table { missing, .. } if x.is_nan() => *missing,
        ValueMap::Table { codes, .. } => {
            // A code out of the list (or no code) is the unseen one, the last.
            let last = codes.len() - 1;
            let at = if x >= 0.0 && x.fract() == 0.0 {
                (x as usize).min(last)
            } else {
                last
            };
            codes[at]
        }
    }
}

/// The terms of [`AdditiveModel::terms`].
impl AdditiveRaw for AdditiveModel {
    fn terms(&self, row: ArrayView1<f64>) -> Array2<f64> {
        AdditiveModel::terms(self, row)
    }
}

impl Model for AdditiveModel {
    fn n_features(&self) -> usize {
        self.raw.len()
    }

    fn n_outputs(&self) -> usize {
        self.weights.nrows()
    }

    fn link(&self) -> Link {
        self.link
    }

    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((x.nrows(), self.weights.nrows()));
        for (c, column) in self.columns.iter().enumerate() {
            for (mut o, row) in out.axis_iter_mut(Axis(0)).zip(x.axis_iter(Axis(0))) {
                let v = value(&column.map, row[column.raw]);
                for (k, o) in o.iter_mut().enumerate() {
                    *o += self.weights[[k, c]] * v;
                }
            }
        }
        out += &self.intercept;
        out
    }

    fn additive_raw(&self) -> Option<&dyn AdditiveRaw> {
        Some(self)
    }

    fn categories(&self) -> Option<&RawFeatures> {
        self.raw_features()
    }
}

#[cfg(test)]
mod tests;
