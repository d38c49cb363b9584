//! The data-set file: what is written to `<model-dir>/datasets/<model>/<id>.dataset.json`.

use std::fs;
use std::io;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Dataset, Task};
use crate::core::global::loss::Target;
use crate::store;

/// File format version written into every data-set file.
const FORMAT: u32 = 1;
/// Suffix of data-set files.
pub(super) const SUFFIX: &str = ".dataset.json";

/// What one data-set file holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredDataset {
    format: u32,
    model: String,
    id: String,
    model_version: u64,
    created_at: DateTime<Utc>,
    description: Option<String>,
    feature_names: Vec<String>,
    /// Class names for a classification target, absent for a regression.
    classes: Option<Vec<String>>,
    rows: Vec<Vec<Option<f64>>>,
    /// Numbers, or class indices.
    target: Vec<f64>,
}

impl StoredDataset {
    fn of(d: &Dataset) -> Self {
        StoredDataset {
            format: FORMAT,
            model: d.model.clone(),
            id: d.id.clone(),
            model_version: d.model_version,
            created_at: d.created_at,
            description: d.description.clone(),
            feature_names: d.feature_names.clone(),
            classes: match &d.task {
                Task::Regression => None,
                Task::Classification { classes } => Some(classes.clone()),
            },
            rows: d
                .x
                .rows()
                .into_iter()
                .map(|r| r.iter().map(|v| v.is_finite().then_some(*v)).collect())
                .collect(),
            target: match &d.target {
                Target::Values(v) => v.clone(),
                Target::Classes(c) => c.iter().map(|&k| k as f64).collect(),
            },
        }
    }

    fn into_dataset(self) -> Result<Dataset, String> {
        if self.format != FORMAT {
            return Err(format!("unsupported format version {}", self.format));
        }
        let x = crate::spec::rows_to_matrix(&self.rows, self.feature_names.len())
            .map_err(|e| e.to_string())?;
        if self.target.len() != x.nrows() {
            return Err("target and rows differ in length".into());
        }
        let (task, target) = match self.classes {
            None => (Task::Regression, Target::Values(self.target)),
            Some(classes) => {
                let idx = self.target.iter().map(|&v| v as usize).collect();
                (Task::Classification { classes }, Target::Classes(idx))
            }
        };
        Ok(Dataset {
            id: self.id,
            model: self.model,
            model_version: self.model_version,
            created_at: self.created_at,
            description: self.description,
            feature_names: self.feature_names,
            x,
            task,
            target,
        })
    }
}

pub(super) fn save(dir: &Path, d: &Dataset) -> io::Result<()> {
    let model_dir = dir.join(&d.model);
    let created = !model_dir.exists();
    fs::create_dir_all(&model_dir)?;
    if created {
        store::sync_dir(dir)?;
    }
    let bytes = serde_json::to_vec(&StoredDataset::of(d)).map_err(io::Error::other)?;
    let path = model_dir.join(format!("{}{SUFFIX}", d.id));
    store::write_atomic(&model_dir, &d.id, &path, &bytes)
}

pub(super) fn read_one(path: &Path) -> Result<Dataset, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let stored: StoredDataset =
        serde_json::from_slice(&bytes).map_err(|e| format!("not a data-set file: {e}"))?;
    stored.into_dataset()
}
