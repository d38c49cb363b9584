//! A model behind a step that mixes the columns of a row: an ONNX-ML `Normalizer`,
//! or an affine map such as a PCA ([`super::affine_mix`]). The raw features go
//! through the column-local preprocessing of the pipeline ([`Derived`] columns, as
//! the tree fold and [`super::AdditiveModel`] read them), each row of those columns
//! is mixed, and the inner model (a tree ensemble, a linear head behind a
//! Normalizer) reads the result.
//!
//! The norms are onnxruntime's, in float32: L1 is Σ|x_j|, L2 is √Σx_j², MAX is the
//! row's largest value (signed, not the largest |x_j|: a row of negatives is divided
//! by the one nearest zero); a row whose norm is zero is left as it is.
//!
//! Mixing the raw features of a row makes the model no sum over raw features and no
//! tree over them: TreeSHAP and linear SHAP do not apply to the whole pipeline. It
//! predicts, and the model-agnostic methods (which only call predict) explain it
//! over the raw features; the others are refused naming the mixing step
//! ([`RowNormalized::refusal`]). (A linear head behind an affine map is itself
//! linear in the raw features, and is read as one: [`crate::formats::onnx`].)

use ndarray::{Array2, ArrayView2, Axis};

use super::additive::{check_columns, value};
use super::affine_mix::AffineMix;
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

/// What mixes each row of columns in front of the inner model.
#[derive(Debug, Clone, PartialEq)]
pub enum Mixing {
    /// A Normalizer: each row divided by its norm.
    Norm(Norm),
    /// An affine map of the row (a PCA, a TruncatedSVD).
    Affine(AffineMix),
    /// None: a network reads the preprocessed columns as they are (behind encoders
    /// or imputers, which no network layer can absorb).
    Columns,
}

impl Mixing {
    /// Columns given for `width` columns read.
    fn width_out(&self, width: usize) -> usize {
        match self {
            Mixing::Norm(_) | Mixing::Columns => width,
            Mixing::Affine(m) => m.width_out(),
        }
    }

    /// What the step is, for messages: `Normalizer (norm L2)`, `affine map (Sub,
    /// MatMul 4×3: a PCA or TruncatedSVD)`.
    pub fn describe(&self) -> String {
        match self {
            Mixing::Norm(n) => format!("Normalizer (norm {})", n.name()),
            Mixing::Affine(m) => format!(
                "affine map ({}: a PCA or TruncatedSVD as skl2onnx writes it)",
                m.describe()
            ),
            Mixing::Columns => "preprocessing (encoders, imputers)".into(),
        }
    }
}

/// A model over mixed rows of derived columns, read over the raw features.
#[derive(Debug)]
pub struct RowNormalized {
    /// The columns the Normalizer reads, each from one raw feature.
    columns: Vec<Derived>,
    /// The raw features, in input order.
    raw: RawFeatures,
    /// Their names (the graph's inputs), in the same order.
    names: Vec<String>,
    /// What mixes each row of columns.
    mixing: Mixing,
    /// The model after the mixing step, over its columns (one feature per column).
    inner: Box<HostedModel>,
    /// Whether every column is finite at NaN (imputed numbers, categories): only
    /// then may rows hold missing values.
    /// Per raw feature: whether every column read from it has a value for NaN.
    accepts_missing: Vec<bool>,
}

impl RowNormalized {
    /// `inner` behind `mixing` over `columns` of the raw features `raw`.
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] when the inner model does not read one feature
    /// per column, or a column does not fit its raw feature (see
    /// [`super::AdditiveModel::new`]).
    pub fn new(
        columns: Vec<Derived>,
        raw: RawInputs,
        mixing: Mixing,
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
        let given = mixing.width_out(columns.len());
        if width != given {
            return Err(CoreError::InvalidModel(format!(
                "the model after the {} reads {width} columns; it gives {given}",
                mixing.describe()
            )));
        }
        if let Mixing::Affine(m) = &mixing {
            if m.width_in() != columns.len() {
                return Err(CoreError::InvalidModel(format!(
                    "the {} reads {} columns; the preprocessing gives {}",
                    mixing.describe(),
                    m.width_in(),
                    columns.len()
                )));
            }
        }
        check_columns(&columns, &raw)?;
        let accepts_missing = (0..raw.len())
            .map(|j| {
                columns
                    .iter()
                    .filter(|c| c.raw == j)
                    .all(|c| value(&c.map, f64::NAN).is_finite())
            })
            .collect();
        Ok(Self {
            columns,
            raw,
            names,
            mixing,
            inner: Box::new(inner),
            accepts_missing,
        })
    }

    /// What mixes each row of columns.
    pub fn mixing(&self) -> &Mixing {
        &self.mixing
    }

    /// The model after the mixing step, over the columns it gives.
    pub fn inner(&self) -> &HostedModel {
        &self.inner
    }

    /// The columns the mixing step reads, each with its raw feature and steps, in
    /// order (empty when the model was built without their description).
    pub fn encoding(&self) -> &[super::raw::EncodedColumn] {
        self.raw.encoding()
    }

    /// Why `method`, one that reads a model's structure (TreeSHAP, linear SHAP,
    /// gradients, occlusion), does not apply.
    pub fn refusal(&self, method: &str) -> CoreError {
        let mixes = format!(
            "which mixes the raw features of a row, so the {} model after it is no sum or \
             tree over the raw features",
            self.inner.kind()
        );
        let why = match self.mixing {
            Mixing::Norm(_) => format!("divides each row by its norm, {mixes}"),
            Mixing::Affine(_) => {
                format!("sums several raw features into each column it gives, {mixes}")
            }
            Mixing::Columns => format!(
                "encodes or imputes the raw features for the {} after it, which is then no \
                 function of their numbers that gradients reach",
                self.inner.kind()
            ),
        };
        CoreError::InvalidArgument(format!(
            "{method} does not apply to this pipeline: its {} {why}; it predicts, and the \
             model-agnostic methods (kernel_shap, the default; permutation_shap, \
             exact_shapley, lime, anchors) explain it over the raw features",
            self.mixing.describe(),
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

    /// Whether raw feature `feature` may be NaN (missing): every column read from
    /// it is a number for it.
    pub fn accepts_missing(&self, feature: usize) -> bool {
        self.accepts_missing.get(feature).copied().unwrap_or(false)
    }

    /// The mixed columns of raw rows `x`: shape (rows, columns the inner model reads).
    pub fn normalized(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let width = self.mixing.width_out(self.columns.len());
        let mut out = Array2::zeros((x.nrows(), width));
        let mut columns = vec![0.0; self.columns.len()];
        for (mut o, row) in out.axis_iter_mut(Axis(0)).zip(x.axis_iter(Axis(0))) {
            for (c, column) in columns.iter_mut().zip(&self.columns) {
                *c = value(&column.map, row[column.raw]);
            }
            match &self.mixing {
                Mixing::Norm(norm) => {
                    norm.apply(&mut columns);
                    o.assign(&ndarray::aview1(&columns));
                }
                Mixing::Affine(mix) => o.assign(&ndarray::aview1(&mix.apply(&columns))),
                Mixing::Columns => o.assign(&ndarray::aview1(&columns)),
            }
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
