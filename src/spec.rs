//! Model registration documents: what a client sends to `PUT /models/{name}` and
//! what the store keeps on disk, and their validation into core types.
//!
//! Raw documents ([`ModelSpec`]) are checked and turned into a [`BuiltModel`] in one
//! place, so a model read back from disk passes exactly the checks a new one does.

pub mod groups;
mod onnx;
mod params;
mod trees;
pub mod values;

use params::{build_linear, build_mlp, build_text};

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::core::explain::sampling::Stop;
use crate::core::explain::summary::{kmeans, WeightedBackground};
use crate::core::explain::tree_interventional::Background;
use crate::core::models::trees::TreeLimits;
use crate::core::models::{check_rows_with, HostedModel};
use crate::core::stats::Reference;
use crate::core::{CoreError, CoreResult};

/// Most background rows a model may carry.
pub const MAX_BACKGROUND_ROWS: usize = 100_000;

/// The model kinds explaind can host.
pub const KINDS: &[&str] = &[
    "linear",
    "logistic",
    "mlp",
    "xgboost",
    "lightgbm",
    "catboost",
    "text_classifier",
    "onnx",
];

/// A model registration document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Model family: `linear`, `logistic`, `mlp`, `xgboost`, `lightgbm`, `catboost`,
    /// `text_classifier` or `onnx` (in `model`: a feed-forward network, hosted as an
    /// `mlp`; an ONNX-ML tree ensemble, hosted as trees of kind `onnx`; or an ONNX-ML
    /// linear model, hosted as `linear` or `logistic`).
    pub kind: String,
    /// Input feature names, in column order. May be left out by tree model files (their
    /// own names, or XGBoost's `f0`, `f1`, … when the file has none), by text classifiers (their numeric inputs are the pooled embedding
    /// dimensions, `emb_0`, `emb_1`, …) and by ONNX models (`x0`, `x1`, … for
    /// networks, `f0`, `f1`, … for ONNX-ML tree ensembles and linear models).
    #[serde(default)]
    pub feature_names: Vec<String>,
    /// Output names; defaults depend on the kind (class names for classifiers). A
    /// one-output binary classifier may be given both classes' names, class 0
    /// first (scikit-learn's `classes_`): its output takes the second, and data sets
    /// name its classes by both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_names: Option<Vec<String>>,
    /// Kind-specific parameters. Linear and logistic: `coefficients`, `intercept`,
    /// `classes`. MLP: `layers` (each `weights` fan_in × fan_out, `bias`, `activation`),
    /// optional `scaler` (`mean`, `scale`) and `input_shape`. Text classifiers:
    /// `vocabulary` (lowercase words), `embeddings` (one row per word) and `head` (an
    /// MLP's params taking the pooled embedding).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// The model file of `xgboost` (the JSON document `Booster.save_model` writes, as
    /// an object or a string), `catboost` (the JSON document of
    /// `save_model(path, format="json", pool=pool)`, as an object or a string),
    /// `lightgbm` (the text, as a string) and `onnx` models (the file, base64-encoded:
    /// RFC 4648, padded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = model_file_schema, required = false)]
    pub model: Option<serde_json::Value>,
    /// Reference rows (one array of feature values per row) that explanations are
    /// computed against: numbers, category names for categorical features, `null`
    /// for missing values. Stored as sent, summarised, never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<Vec<Vec<values::RawValue>>>,
    /// Free text shown in listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Feature groups: group name → its features, e.g. the one-hot columns of one
    /// category. Each feature in at most one group; the others are groups of their
    /// own. Explain with `"group_by": "groups"` or `"players": "groups"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<BTreeMap<String, Vec<String>>>,
    /// A summary of `background` that the sampling explainers (`kernel_shap`,
    /// `permutation_shap`, `exact_shapley`) integrate over by default instead of its
    /// rows: `{"kmeans": K}`, K weighted k-means centres built once, here, as
    /// shap.kmeans builds them. A request's own `background.kmeans` still wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_summary: Option<SummarySpec>,
}

/// How a registration summarises its background (`background_summary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummarySpec {
    /// Weighted k-means centres (at least `--min-summary-rows`, at most
    /// `--max-background` and the number of distinct background rows).
    #[schema(minimum = 1)]
    pub kmeans: usize,
    /// Seeds the k-means++ start; the summary is the same for the same seed.
    #[serde(default)]
    pub seed: u64,
}

/// The schema of [`ModelSpec::model`]: a string (LightGBM text, a base64 ONNX
/// file, an XGBoost or CatBoost document as text) or an object (an XGBoost or
/// CatBoost document); never null.
fn model_file_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(ObjectBuilder::new().schema_type(Type::Object))
        .description(Some(
            "The model file of `xgboost` (the JSON document `Booster.save_model` writes, as \
             an object or a string), `catboost` (the JSON document of \
             `save_model(path, format=\"json\", pool=pool)`, as an object or a string), \
             `lightgbm` (the text, as a string) and `onnx` models (the file, base64-encoded: \
             RFC 4648, padded).",
        ))
        .into()
}

/// A validated model with everything the registry needs besides its name and version.
#[derive(Debug)]
pub struct BuiltModel {
    /// The model itself.
    pub model: HostedModel,
    /// Feature names, one per input column; shared, so that answers which repeat
    /// them (every explanation) take a reference count rather than a copy.
    pub feature_names: Arc<[String]>,
    /// Output names, one per model output.
    pub output_names: Vec<String>,
    /// A one-output binary classifier's other class (class 0), when the
    /// registration names it: `output_names` with two names (class 0, then the
    /// output's class), or a logistic model's `params.classes`.
    pub negative_class: Option<String>,
    /// The background and what is precomputed from it, when one was given.
    pub reference: Option<Reference>,
    /// Tree models: the background grouped for interventional TreeSHAP, built by the
    /// first request that needs it and kept for the next ones.
    pub tree_background: OnceLock<Arc<Background>>,
    /// Declared feature groups, completed with singletons, when any were declared.
    pub groups: Option<groups::ModelGroups>,
    /// The background summary asked for at registration, built from the background.
    pub summary: Option<Arc<WeightedBackground>>,
}

impl BuiltModel {
    /// The name of a one-output binary classifier's class 0: the registration's
    /// (`negative_class`), else `not <output>`. Data sets and counterfactual
    /// targets read it.
    pub fn class_zero(&self) -> String {
        self.negative_class
            .clone()
            .unwrap_or_else(|| format!("not {}", self.output_names[0]))
    }
}

/// Bounds on what one registration may make the server hold, set at start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Tree models (`--max-tree-depth`).
    pub trees: TreeLimits,
    /// A registered background summary (`--min-summary-rows`, `--max-background`).
    pub summary: SummaryLimits,
}

/// Bounds on [`ModelSpec::background_summary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryLimits {
    /// Fewest centres (`--min-summary-rows`): each centre holds background values
    /// that readers' answers are computed from, so fewer would let them be solved for.
    pub min_centres: usize,
    /// Most centres (`--max-background`), as for a request's own summary.
    pub max_centres: usize,
}

impl Default for SummaryLimits {
    fn default() -> Self {
        SummaryLimits {
            min_centres: 1,
            max_centres: MAX_BACKGROUND_ROWS,
        }
    }
}

/// Validate a registration document into a model within the default [`Limits`].
///
/// # Errors
/// As [`build_with`].
pub fn build(spec: &ModelSpec) -> CoreResult<BuiltModel> {
    build_with(spec, &Limits::default())
}

/// Validate a registration document into a model within `limits`.
///
/// # Errors
/// [`CoreError::InvalidModel`] naming the first thing wrong, or the limit passed.
pub fn build_with(spec: &ModelSpec, limits: &Limits) -> CoreResult<BuiltModel> {
    if spec.model.is_some()
        && !matches!(
            spec.kind.as_str(),
            "xgboost" | "lightgbm" | "catboost" | "onnx"
        )
    {
        return Err(CoreError::InvalidModel(format!(
            "`model` (a model file) is for xgboost, lightgbm, catboost and onnx models, not {}",
            spec.kind
        )));
    }
    let mut onnx_names = None;
    let (model, default_outputs) = match spec.kind.as_str() {
        "linear" | "logistic" => build_linear(spec)?,
        "mlp" => build_mlp(spec)?,
        "xgboost" | "lightgbm" | "catboost" => trees::build(spec, limits.trees)?,
        "text_classifier" => build_text(spec)?,
        "onnx" => {
            let (model, outputs, names) = onnx::build(spec, limits)?;
            onnx_names = names;
            (model, outputs)
        }
        other => {
            return Err(CoreError::InvalidModel(format!(
                "unknown kind '{other}'; known kinds: {}",
                KINDS.join(", ")
            )))
        }
    };
    let n_features = model.as_model().n_features();
    // A tree model file without names (XGBoost trained on arrays) gets XGBoost's
    // own names for its features: f0, f1, ...
    let placeholders = || (0..n_features).map(|j| format!("f{j}")).collect();
    let feature_names = match (&model, spec.feature_names.is_empty()) {
        (HostedModel::Trees(m), true) => m
            .feature_names()
            .map_or_else(placeholders, <[String]>::to_vec),
        (HostedModel::Additive(m), true) => m.feature_names().to_vec(),
        (HostedModel::Normalized(m), true) => m.feature_names().to_vec(),
        (HostedModel::ExtremeTrees(m), true) => m
            .ensemble()
            .feature_names()
            .map_or_else(placeholders, <[String]>::to_vec),
        (HostedModel::Text(_), true) => (0..n_features).map(|j| format!("emb_{j}")).collect(),
        (HostedModel::Mlp(_), true) if spec.kind == "onnx" => {
            (0..n_features).map(|j| format!("x{j}")).collect()
        }
        (HostedModel::Linear(_), true) if spec.kind == "onnx" => {
            onnx_names.take().unwrap_or_else(placeholders)
        }
        _ => spec.feature_names.clone(),
    };
    check_feature_names(&feature_names)?;
    if n_features != feature_names.len() {
        return Err(CoreError::InvalidModel(format!(
            "the model has {n_features} input(s) but {} feature name(s) were given",
            feature_names.len()
        )));
    }
    // One output, a class's probability or log-odds: a link to probabilities, or
    // a classifier whose averaged trees give the probability itself (a forest).
    let one_binary_output = model.as_model().n_outputs() == 1
        && (model.as_model().link().has_probability() || default_outputs == ["positive"]);
    let mut negative_class = params::negative_class(spec).filter(|_| one_binary_output);
    let output_names = match &spec.output_names {
        // A binary classifier named by both classes, as `classes_` lists them.
        Some(names) if one_binary_output && names.len() == 2 => {
            check_unique("output_names", names)?;
            negative_class = Some(names[0].clone());
            vec![names[1].clone()]
        }
        Some(names) => {
            if names.len() != model.as_model().n_outputs() {
                return Err(CoreError::InvalidModel(format!(
                    "{} output name(s) for a model with {} output(s)",
                    names.len(),
                    model.as_model().n_outputs()
                )));
            }
            check_unique("output_names", names)?;
            names.clone()
        }
        None => default_outputs,
    };
    let reference = match &spec.background {
        Some(_) if matches!(model, HostedModel::Text(_)) => {
            return Err(CoreError::InvalidModel(
                "text classifiers take no background: attributions start from the empty text"
                    .into(),
            ))
        }
        Some(rows) => Some(build_reference(&model, &feature_names, rows)?),
        None => None,
    };
    let groups = spec
        .groups
        .as_ref()
        .map(|g| groups::ModelGroups::new(g, &feature_names))
        .transpose()?;
    let summary = match (&spec.background_summary, &reference) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(CoreError::InvalidModel(
                "background_summary summarises the background; send `background` rows too".into(),
            ))
        }
        (Some(s), Some(r)) => Some(Arc::new(summarise(s, r, &limits.summary)?)),
    };
    Ok(BuiltModel {
        model,
        feature_names: feature_names.into(),
        output_names,
        negative_class,
        reference,
        tree_background: OnceLock::new(),
        groups,
        summary,
    })
}

/// The registered summary `spec` asks for, within `limits`.
fn summarise(
    spec: &SummarySpec,
    reference: &Reference,
    limits: &SummaryLimits,
) -> CoreResult<WeightedBackground> {
    let k = spec.kmeans;
    if k < limits.min_centres.max(1) || k > limits.max_centres {
        return Err(CoreError::InvalidModel(format!(
            "background_summary.kmeans must be between {} (--min-summary-rows: fewer \
             centres would expose background rows to readers) and {} (--max-background), \
             got {k}",
            limits.min_centres.max(1),
            limits.max_centres
        )));
    }
    let mut summary =
        kmeans(reference.data.view(), k, spec.seed, &Stop::default()).map_err(|e| match e {
            CoreError::InvalidArgument(m) => {
                CoreError::InvalidModel(m.replace("background.kmeans", "background_summary.kmeans"))
            }
            other => other,
        })?;
    summary.note = format!("registered {}", summary.note);
    Ok(summary)
}

fn check_feature_names(names: &[String]) -> CoreResult<()> {
    if names.is_empty() {
        return Err(CoreError::InvalidModel(
            "feature_names must not be empty (model files may carry them instead)".into(),
        ));
    }
    check_unique("feature_names", names)
}

fn check_unique(what: &str, names: &[String]) -> CoreResult<()> {
    let mut seen = HashSet::new();
    for name in names {
        if name.trim().is_empty() {
            return Err(CoreError::InvalidModel(format!(
                "{what} must not contain empty names"
            )));
        }
        if !seen.insert(name.as_str()) {
            return Err(CoreError::InvalidModel(format!(
                "{what}: '{name}' appears twice"
            )));
        }
    }
    Ok(())
}

/// Turn document rows (categories by name, null = missing) into a matrix, checked
/// against the model.
///
/// # Errors
/// [`CoreError::InvalidModel`] naming the row and feature at fault, or a size limit.
pub fn build_reference(
    model: &HostedModel,
    names: &[String],
    rows: &[Vec<values::RawValue>],
) -> CoreResult<Reference> {
    if rows.is_empty() {
        return Err(CoreError::InvalidModel(
            "background must have at least one row".into(),
        ));
    }
    if rows.len() > MAX_BACKGROUND_ROWS {
        return Err(CoreError::InvalidModel(format!(
            "background has {} rows; at most {MAX_BACKGROUND_ROWS} are accepted",
            rows.len()
        )));
    }
    let m = model.as_model();
    let data = values::encode_rows(rows, names, model.raw_features())
        .map_err(|e| CoreError::InvalidModel(format!("background: {e}")))?;
    check_rows_with(data.view(), m.n_features(), |j| model.accepts_missing(j))
        .map_err(|e| CoreError::InvalidModel(format!("background: {e}")))?;
    Ok(Reference::new(m, data))
}

/// Rows of optional values (None = missing, stored as NaN) into an (n, width) matrix.
///
/// # Errors
/// [`CoreError::Shape`] when a row has the wrong length.
pub fn rows_to_matrix(rows: &[Vec<Option<f64>>], width: usize) -> CoreResult<Array2<f64>> {
    let mut data = Vec::with_capacity(rows.len() * width);
    for row in rows {
        if row.len() != width {
            return Err(CoreError::Shape {
                what: "values in a row",
                expected: width,
                got: row.len(),
            });
        }
        data.extend(row.iter().map(|v| v.unwrap_or(f64::NAN)));
    }
    Ok(Array2::from_shape_vec((rows.len(), width), data).expect("length checked per row"))
}
