//! A model behind an ONNX-ML `Normalizer`: the raw features go through the
//! column-local preprocessing of the pipeline ([`Derived`] columns, as the tree fold
//! and [`super::AdditiveModel`] read them), each row of those columns is divided by
//! its norm, and the inner model (a linear head, a tree ensemble) reads the result.
//!
//! The norms are onnxruntime's, in float32: L1 is Σ|x_j|, L2 is √Σx_j², MAX is the
//! row's largest value (signed, not the largest |x_j|: a row of negatives is divided
//! by the one nearest zero); a row whose norm is zero is left as it is.
//!
//! Dividing by the norm mixes the raw features of a row, so the model is no sum
//! over raw features and no tree over them: TreeSHAP and linear SHAP do not apply
//! to the whole pipeline. It predicts, and the model-agnostic methods (which only
//! call predict) explain it over the raw features; the others are refused naming
//! the Normalizer ([`RowNormalized::refusal`]).

use ndarray::{Array2, ArrayView2, Axis};

use super::additive::{check_columns, value};
use super::trees::fold::{Derived, RawInputs};
use super::{HostedModel, Link, Model, RawFeatures};
use crate::core::{CoreError, CoreResult};

/// Which norm each row is divided by (ONNX-ML `Normalizer`'s `norm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// Σ|x_j|.
    L1,
    /// √Σx_j².
    L2,
    /// max_j x_j (signed).
    Max,
}

impl Norm {
    /// The attribute's value: `"L1"`, `"L2"` or `"MAX"`.
    pub fn name(self) -> &'static str {
        match self {
            Norm::L1 => "L1",
            Norm::L2 => "L2",
            Norm::Max => "MAX",
        }
    }

    /// Divide `row` by its norm, in float32 as onnxruntime does; a zero norm
    /// leaves the row unchanged.
    pub fn apply(self, row: &mut [f64]) {
        let values = row.iter().map(|&v| v as f32);
        let norm = match self {
            Norm::L1 => values.map(f32::abs).sum::<f32>(),
            Norm::L2 => values.map(|v| v * v).sum::<f32>().sqrt(),
            Norm::Max => values.fold(f32::MIN, f32::max),
        };
        if norm != 0.0 {
            for v in row.iter_mut() {
                *v = f64::from(*v as f32 / norm);
            }
        }
    }
}

/// A model over normalized rows of derived columns, read over the raw features.
#[derive(Debug)]
pub struct RowNormalized {
    /// The columns the Normalizer reads, each from one raw feature.
    columns: Vec<Derived>,
    /// The raw features, in input order.
    raw: RawFeatures,
    /// Their names (the graph's inputs), in the same order.
    names: Vec<String>,
    /// The norm each row of columns is divided by.
    norm: Norm,
    /// The model after the Normalizer, over the columns (one feature per column).
    inner: Box<HostedModel>,
    /// Whether every column is finite at NaN (imputed numbers, categories): only
    /// then may rows hold missing values.
    accepts_missing: bool,
}

impl RowNormalized {
    /// `inner` behind `norm` over `columns` of the raw features `raw`.
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] when the inner model does not read one feature
    /// per column, or a column does not fit its raw feature (see
    /// [`super::AdditiveModel::new`]).
    pub fn new(
        columns: Vec<Derived>,
        raw: RawInputs,
        norm: Norm,
        inner: HostedModel,
    ) -> CoreResult<Self> {
        let RawInputs {
            names,
            features: raw,
        } = raw;
        if names.len() != raw.len() {
            return Err(CoreError::InvalidModel(format!(
                "{} names for {} raw features",
                names.len(),
                raw.len()
            )));
        }
        let width = inner.as_model().n_features();
        if width != columns.len() {
            return Err(CoreError::InvalidModel(format!(
                "the model after the Normalizer reads {width} columns; the Normalizer gives {}",
                columns.len()
            )));
        }
        check_columns(&columns, &raw)?;
        let accepts_missing = columns.iter().all(|c| value(&c.map, f64::NAN).is_finite());
        Ok(Self {
            columns,
            raw,
            names,
            norm,
            inner: Box::new(inner),
            accepts_missing,
        })
    }

    /// The norm rows are divided by.
    pub fn norm(&self) -> Norm {
        self.norm
    }

    /// Why `method`, one that reads a model's structure (TreeSHAP, linear SHAP,
    /// gradients, occlusion), does not apply.
    pub fn refusal(&self, method: &str) -> CoreError {
        CoreError::InvalidArgument(format!(
            "{method} does not apply to this pipeline: its Normalizer (norm {}) divides each \
             row by its norm, which mixes the raw features of a row, so the {} model after it \
             is no sum or tree over the raw features; it predicts, and the model-agnostic \
             methods (kernel_shap, the default; permutation_shap, exact_shapley, lime, \
             anchors) explain it over the raw features",
            self.norm.name(),
            self.inner.kind()
        ))
    }

    /// The raw features' names, in input order.
    pub fn feature_names(&self) -> &[String] {
        &self.names
    }

    /// The kind users registered, `"onnx"`.
    pub fn kind(&self) -> &'static str {
        "onnx"
    }

    /// The raw features when some are categorical (see [`super::raw`]).
    pub fn raw_features(&self) -> Option<&RawFeatures> {
        self.raw.has_categories().then_some(&self.raw)
    }

    /// Whether rows may hold NaN (missing): every column is a number for it.
    pub fn accepts_missing(&self) -> bool {
        self.accepts_missing
    }

    /// The normalized columns of raw rows `x`: shape (rows, columns).
    pub fn normalized(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((x.nrows(), self.columns.len()));
        for (mut o, row) in out.axis_iter_mut(Axis(0)).zip(x.axis_iter(Axis(0))) {
            for (o, column) in o.iter_mut().zip(&self.columns) {
                *o = value(&column.map, row[column.raw]);
            }
            self.norm.apply(
                o.as_slice_mut()
                    .expect("rows of a new array are contiguous"),
            );
        }
        out
    }
}

impl Model for RowNormalized {
    fn n_features(&self) -> usize {
        self.raw.len()
    }

    fn n_outputs(&self) -> usize {
        self.inner.as_model().n_outputs()
    }

    fn link(&self) -> Link {
        self.inner.as_model().link()
    }

    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.inner.as_model().predict_raw(self.normalized(x).view())
    }

    fn categories(&self) -> Option<&RawFeatures> {
        self.raw_features()
    }
}

#[cfg(test)]
mod tests;
