//! Labelled data sets of a model: `/models/{name}/datasets` and
//! `/models/{name}/datasets/{id}` (admin role). Rows go in, never come out: the
//! answers hold counts and statistics only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::Json;
use super::limits::BodyLimit;
use super::routes::{routes, Access::*, Routes, UtoipaMethodRouterExt};
use super::{instances, AppState};
use crate::config::Config;
use crate::core::explain::finite;
use crate::core::global::loss::Target;
use crate::core::models::OutputSpace;
use crate::datasets::{self, Dataset, Label, Task};
use crate::registry::{self, ModelEntry};

/// Routes of this module; registration bodies get the model upload size limit.
pub fn router(config: &Config) -> Routes {
    // Data sets are labelled rows: every route, reading ones included, is for admins.
    let upload = BodyLimit::new(config.max_model_bytes, "--max-model-bytes");
    Routes::new()
        .op(Admin, routes!(list_datasets))
        .op(Admin, routes!(get_dataset))
        .op(Admin, routes!(put_dataset).layer(upload))
        .op(Admin, routes!(delete_dataset))
}

/// A data-set registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetDoc {
    /// Rows: arrays in feature order, or objects keyed by feature name; `null` marks
    /// a missing value (tree models only).
    #[schema(value_type = Vec<crate::spec::values::Instance>)]
    pub rows: instances::Instances,
    /// One label per row: a number for regressions; for classifiers a class name
    /// (an output name) or index, and for binary models also `true`/`false`.
    #[schema(value_type = Vec<Object>)]
    pub target: Vec<Value>,
    /// Free text shown in listings.
    #[serde(default)]
    pub description: Option<String>,
}

/// What explaind tells of a data set (never its rows).
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetInfo {
    /// Data-set id.
    pub id: String,
    /// The model it belongs to.
    pub model: String,
    /// The model version it was checked against.
    pub model_version: u64,
    /// When it was registered (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Free text from the registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Number of rows.
    pub rows: usize,
    /// Number of feature columns.
    pub features: usize,
    /// `regression` or `classification`.
    pub task: String,
    /// Regressions: statistics of the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_stats: Option<TargetStats>,
    /// Classifiers: rows per class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_counts: Option<Vec<ClassCount>>,
}

/// Statistics of a numeric target.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetStats {
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

impl TargetStats {
    fn of(v: &[f64]) -> Self {
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        TargetStats {
            mean,
            std,
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// How many rows have one class.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassCount {
    /// Class name.
    pub class: String,
    /// Class index.
    pub index: usize,
    /// Rows labelled with it.
    pub rows: usize,
}

impl DatasetInfo {
    fn of(d: &Dataset) -> Self {
        let (target_stats, class_counts) = match (&d.target, &d.task) {
            (Target::Values(v), _) => (Some(TargetStats::of(v)), None),
            (Target::Classes(c), Task::Classification { classes }) => {
                let counts = classes
                    .iter()
                    .enumerate()
                    .map(|(index, class)| ClassCount {
                        class: class.clone(),
                        index,
                        rows: c.iter().filter(|&&k| k == index).count(),
                    })
                    .collect();
                (None, Some(counts))
            }
            (Target::Classes(_), Task::Regression) => (None, None),
        };
        DatasetInfo {
            id: d.id.clone(),
            model: d.model.clone(),
            model_version: d.model_version,
            created_at: d.created_at,
            description: d.description.clone(),
            rows: d.x.nrows(),
            features: d.x.ncols(),
            task: match d.task {
                Task::Regression => "regression".into(),
                Task::Classification { .. } => "classification".into(),
            },
            target_stats,
            class_counts,
        }
    }
}

/// A model's data sets.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetList {
    /// Data sets, sorted by id.
    pub datasets: Vec<DatasetInfo>,
}

/// Register or replace a data set (201 when new, 200 when replaced). With a model
/// directory configured, the answer comes only after the data set is on disk.
/// A registration racing a deletion of the model either lands first and is
/// deleted with the model, or is refused with 404.
#[utoipa::path(put, path = "/models/{name}/datasets/{id}", tag = "datasets",
    params(("name" = String, Path, description = "Model name"),
        ("id" = String, Path, description = "Data-set id: letters, digits, '-', '_', '.'")),
    request_body = DatasetDoc,
    responses(
        (status = 201, description = "Registered", body = DatasetInfo),
        (status = 200, description = "Replaced", body = DatasetInfo),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 413, description = "More rows than --dataset-max-rows, or body over the model size limit", body = ErrorBody),
        (status = 422, description = "Invalid id, rows or target (wrong width, non-finite or missing values, length mismatch, unknown class, rows whose prediction or targets whose statistics are not finite numbers); nothing changed", body = ErrorBody),
        (status = 500, description = "The model directory could not be written; nothing changed", body = ErrorBody)))]
pub async fn put_dataset(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    Json(doc): Json<DatasetDoc>,
) -> Result<(StatusCode, axum::Json<DatasetInfo>), ApiError> {
    let guard = state.registry.lock_name(&name).await;
    let entry = state.entry(&name)?;
    registry::validate_name(&id)
        .map_err(|e| ApiError::InvalidName(e.to_string().replace("model name", "data-set id")))?;
    let max = state.config.dataset_max_rows;
    if doc.rows.len() > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "{} rows in one data set; at most {max} are accepted (--dataset-max-rows)",
            doc.rows.len()
        )));
    }
    let dataset = state
        .run_blocking(move || build(&entry, id, doc, max))
        .await??;
    let info = DatasetInfo::of(&dataset);
    let created = state
        .datasets
        .put(&guard, dataset)
        .await
        .map_err(ApiError::Storage)?;
    tracing::info!(model = %name, dataset = %info.id, rows = info.rows, "data set registered");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(info)))
}

/// Check a registration against the model version and build the data set.
fn build(entry: &ModelEntry, id: String, doc: DatasetDoc, max: usize) -> Result<Dataset, ApiError> {
    let x = instances::to_matrix(&doc.rows, &entry.built, max).map_err(|e| match e {
        // A number beyond f64's range is refused as JSON, as in the body itself.
        ApiError::BadJson(m) => ApiError::BadJson(m.replace("instances", "rows")),
        other => ApiError::InvalidInput(other.to_string().replace("instance", "row")),
    })?;
    if doc.target.len() != x.nrows() {
        return Err(ApiError::InvalidInput(format!(
            "{} target value(s) for {} row(s); give one per row",
            doc.target.len(),
            x.nrows()
        )));
    }
    let labels =
        doc.target
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Number(n) => n.as_f64().map(Label::Number).ok_or_else(|| {
                    ApiError::InvalidInput(format!("target {i}: not a finite number"))
                }),
                Value::Bool(b) => Ok(Label::Flag(*b)),
                Value::String(s) => Ok(Label::Name(s.clone())),
                other => Err(ApiError::InvalidInput(format!(
                    "target {i}: expected a number or a class name, got {}",
                    if other.is_null() {
                        "null"
                    } else {
                        "an array or object"
                    }
                ))),
            })
            .collect::<Result<Vec<Label>, ApiError>>()?;
    let task =
        datasets::task_of(&entry.built).map_err(|e| ApiError::InvalidInput(e.to_string()))?;
    check_finite(entry, x.view(), &labels)?;
    let target =
        datasets::target_of(&task, &labels).map_err(|e| ApiError::InvalidInput(e.to_string()))?;
    Ok(Dataset {
        id,
        model: entry.name.clone(),
        model_version: entry.version,
        created_at: Utc::now(),
        description: doc.description,
        feature_names: entry.built.feature_names.to_vec(),
        x,
        task,
        target,
    })
}

/// Refuse rows the model cannot compute finite outputs for (finite values can
/// overflow, e.g. 1e308 × a coefficient), and numeric targets whose statistics
/// overflow: every use of the data set, and its description, would hold them.
fn check_finite(entry: &ModelEntry, x: ArrayView2<f64>, labels: &[Label]) -> Result<(), ApiError> {
    let inputs = finite::Inputs {
        x: x.reborrow(),
        feature_names: &entry.built.feature_names,
        row_word: "row",
    };
    let raw = entry.built.model.as_model().predict(x, OutputSpace::Raw);
    finite::check_predictions(&inputs, raw.view(), &entry.built.output_names)
        .map_err(|e| ApiError::InvalidInput(e.to_string()))?;
    let values: Vec<f64> = labels
        .iter()
        .filter_map(|l| match l {
            Label::Number(v) => Some(*v),
            Label::Flag(_) | Label::Name(_) => None,
        })
        .collect();
    let stats = TargetStats::of(&values);
    if [stats.mean, stats.std].iter().any(|v| !v.is_finite()) {
        return Err(ApiError::InvalidInput(
            "target: the mean or spread of the values overflows; answers hold finite \
             numbers only: send values nearer each other"
                .into(),
        ));
    }
    Ok(())
}

/// List a model's data sets (metadata only).
#[utoipa::path(get, path = "/models/{name}/datasets", tag = "datasets",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "The model's data sets", body = DatasetList),
        (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn list_datasets(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<axum::Json<DatasetList>, ApiError> {
    state.entry(&name)?;
    let datasets = state
        .datasets
        .list(&name)
        .iter()
        .map(|d| DatasetInfo::of(d))
        .collect();
    Ok(axum::Json(DatasetList { datasets }))
}

/// Describe one data set (never its rows).
#[utoipa::path(get, path = "/models/{name}/datasets/{id}", tag = "datasets",
    params(("name" = String, Path, description = "Model name"),
        ("id" = String, Path, description = "Data-set id")),
    responses(
        (status = 200, description = "The data set", body = DatasetInfo),
        (status = 404, description = "No such model or data set", body = ErrorBody)))]
pub async fn get_dataset(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<axum::Json<DatasetInfo>, ApiError> {
    state.entry(&name)?;
    let d = state
        .datasets
        .get(&name, &id)
        .ok_or(ApiError::DatasetNotFound(name, id))?;
    Ok(axum::Json(DatasetInfo::of(&d)))
}

/// Remove a data set.
#[utoipa::path(delete, path = "/models/{name}/datasets/{id}", tag = "datasets",
    params(("name" = String, Path, description = "Model name"),
        ("id" = String, Path, description = "Data-set id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such model or data set", body = ErrorBody)))]
pub async fn delete_dataset(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let guard = state.registry.lock_name(&name).await;
    state.entry(&name)?;
    if state
        .datasets
        .delete(&guard, &id)
        .await
        .map_err(ApiError::Storage)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::DatasetNotFound(name, id))
    }
}
