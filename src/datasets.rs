//! Labelled data sets registered per model (`PUT /models/{name}/datasets/{id}`):
//! rows of features with a target, for permutation importance, partial dependence
//! and mean |φ| over data other than the background.
//!
//! Like models they are durable when a model directory is configured: one file per
//! data set under `<model-dir>/datasets/<model>/<id>.dataset.json`, written
//! atomically ([`crate::store::write_atomic`]) before the registration is
//! acknowledged, and read back at start (not rescanned while running). Without a
//! model directory they live in memory. Rows are never sent back: the routes
//! answer with counts and statistics only.
//!
//! A data set is checked against the model version it is registered for (width,
//! missing values, target kind). It stays registered when the model is replaced;
//! using it then checks again that the feature names and the task still agree.
//! Deleting the model deletes its data sets.
//!
//! Every change takes the model's [`NameGuard`] (from
//! the registry's `lock_name`), the lock a model's registration and
//! deletion hold too: a data set is only ever added while its model is known to
//! exist, and a deletion of the model cannot leave one behind.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use ndarray::Array2;

use crate::core::global::loss::{n_classes, Target};
use crate::core::{CoreError, CoreResult};
use crate::spec::BuiltModel;
use crate::store;
use crate::store::names::NameGuard;

mod file;
use file::{read_one, save, SUFFIX};

/// What the target of a model's data set holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// One number per row (single-output models without a probability space).
    Regression,
    /// One class per row; `classes[k]` names class index k.
    Classification {
        /// Class names by index (binary models: `not <positive>`, `<positive>`).
        classes: Vec<String>,
    },
}

/// The task a model's labels must fit.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for multi-output regressions (not supported).
pub fn task_of(model: &BuiltModel) -> CoreResult<Task> {
    let m = model.model.as_model();
    match n_classes(m) {
        0 if m.n_outputs() == 1 => Ok(Task::Regression),
        0 => Err(CoreError::InvalidArgument(format!(
            "data sets need a single-output regression or a classifier; this model has {} raw outputs",
            m.n_outputs()
        ))),
        2 if m.n_outputs() == 1 => {
            Ok(Task::Classification {
                classes: vec![model.class_zero(), model.output_names[0].clone()],
            })
        }
        _ => Ok(Task::Classification {
            classes: model.output_names.clone(),
        }),
    }
}

/// One target value as a client sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    /// A regression value, or a class index.
    Number(f64),
    /// Binary models: `true` is the positive class.
    Flag(bool),
    /// A class name (an output name; binary models also `not <positive>`).
    Name(String),
}

/// Turn labels into a target for `task`.
///
/// # Errors
/// [`CoreError::InvalidArgument`] naming the first label that does not fit: a
/// non-number for a regression, a non-finite number, an unknown class name, or a
/// class index that is not a whole number in range.
pub fn target_of(task: &Task, labels: &[Label]) -> CoreResult<Target> {
    let bad = |i: usize, why: String| CoreError::InvalidArgument(format!("target {i}: {why}"));
    match task {
        Task::Regression => labels
            .iter()
            .enumerate()
            .map(|(i, l)| match l {
                Label::Number(v) if v.is_finite() => Ok(*v),
                Label::Number(_) => Err(bad(i, "not a finite number".into())),
                Label::Flag(_) | Label::Name(_) => Err(bad(
                    i,
                    "this regression's target is a number per row".into(),
                )),
            })
            .collect::<CoreResult<Vec<f64>>>()
            .map(Target::Values),
        Task::Classification { classes } => labels
            .iter()
            .enumerate()
            .map(|(i, l)| match l {
                Label::Number(v)
                    if v.fract() == 0.0 && *v >= 0.0 && (*v as usize) < classes.len() =>
                {
                    Ok(*v as usize)
                }
                Label::Number(v) => Err(bad(
                    i,
                    format!("class index {v} is not one of 0..{}", classes.len() - 1),
                )),
                Label::Flag(b) if classes.len() == 2 => Ok(usize::from(*b)),
                Label::Flag(_) => Err(bad(i, "true/false labels are for binary models".into())),
                Label::Name(n) => classes.iter().position(|c| c == n).ok_or_else(|| {
                    bad(
                        i,
                        format!("unknown class '{n}'; classes: {}", classes.join(", ")),
                    )
                }),
            })
            .collect::<CoreResult<Vec<usize>>>()
            .map(Target::Classes),
    }
}

/// A registered data set.
#[derive(Debug)]
pub struct Dataset {
    /// Its id, unique per model (the naming rule of model names).
    pub id: String,
    /// The model it belongs to.
    pub model: String,
    /// The model version it was checked against at registration.
    pub model_version: u64,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Free text from the registration.
    pub description: Option<String>,
    /// Feature names of the columns, as the model had them at registration.
    pub feature_names: Vec<String>,
    /// The rows, (n, features); NaN marks a missing value (tree models only).
    pub x: Array2<f64>,
    /// What kind of target it has.
    pub task: Task,
    /// One label per row.
    pub target: Target,
}

impl Dataset {
    /// Check that the data set still fits `built`, the model at `version` (feature names
    /// and task), as the model may have been replaced since registration.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] saying what changed.
    pub fn check_fits(&self, built: &BuiltModel, version: u64) -> CoreResult<()> {
        if self.feature_names[..] != built.feature_names[..] {
            return Err(CoreError::InvalidArgument(format!(
                "data set '{}' has the features of version {} of the model, which differ from \
                 version {}'s; register it again",
                self.id, self.model_version, version
            )));
        }
        if task_of(built)? != self.task {
            return Err(CoreError::InvalidArgument(format!(
                "data set '{}' was labelled for version {} of the model, whose outputs differ \
                 from version {}'s; register it again",
                self.id, self.model_version, version
            )));
        }
        Ok(())
    }
}

/// Model name → data-set id → data set.
type Table = HashMap<String, HashMap<String, Arc<Dataset>>>;

/// Every registered data set, and where they are persisted.
#[derive(Debug)]
pub struct Datasets {
    /// The sets; the lock is never held across an `.await`. Changes to one
    /// model's sets are serialised by its [`NameGuard`], disk writes included.
    table: RwLock<Table>,
    /// `<model-dir>/datasets`, when a model directory is configured.
    dir: Option<PathBuf>,
}

impl Datasets {
    /// No data sets yet; persisted under `model_dir` when given.
    pub fn new(model_dir: Option<&std::path::Path>) -> Self {
        Datasets {
            table: RwLock::default(),
            dir: model_dir.map(|d| d.join("datasets")),
        }
    }

    /// One data set of a model.
    pub fn get(&self, model: &str, id: &str) -> Option<Arc<Dataset>> {
        self.read().get(model).and_then(|m| m.get(id)).cloned()
    }

    /// A model's data sets, sorted by id.
    pub fn list(&self, model: &str) -> Vec<Arc<Dataset>> {
        let mut all: Vec<_> = self
            .read()
            .get(model)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Register or replace a data set of the model `name` holds (the caller has
    /// checked, under that guard, that the model exists); durable before it is
    /// visible. Returns whether the id was new.
    ///
    /// # Errors
    /// A storage error changes nothing.
    pub async fn put(&self, name: &NameGuard, dataset: Dataset) -> io::Result<bool> {
        assert_eq!(
            name.name(),
            dataset.model,
            "the guard locks the data set's model"
        );
        let dataset = Arc::new(dataset);
        if let Some(dir) = self.dir.clone() {
            let d = Arc::clone(&dataset);
            tokio::task::spawn_blocking(move || save(&dir, &d))
                .await
                .map_err(io::Error::other)??;
        }
        let mut table = self.write();
        let previous = table
            .entry(dataset.model.clone())
            .or_default()
            .insert(dataset.id.clone(), dataset);
        Ok(previous.is_none())
    }

    /// Remove one data set; returns whether it existed.
    ///
    /// # Errors
    /// A storage error leaves it registered.
    pub async fn delete(&self, model: &NameGuard, id: &str) -> io::Result<bool> {
        let model = model.name();
        if self.get(model, id).is_none() {
            return Ok(false);
        }
        if let Some(dir) = &self.dir {
            let path = dir.join(model).join(format!("{id}{SUFFIX}"));
            match fs::remove_file(&path) {
                Ok(()) => store::sync_dir(&dir.join(model))?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let mut table = self.write();
        Ok(table.get_mut(model).and_then(|m| m.remove(id)).is_some())
    }

    /// Remove every data set of a model (when the model is deleted).
    ///
    /// # Errors
    /// A storage error; the sets stay in memory then.
    pub async fn delete_model(&self, model: &NameGuard) -> io::Result<()> {
        let model = model.name();
        if let Some(dir) = &self.dir {
            match fs::remove_dir_all(dir.join(model)) {
                Ok(()) => store::sync_dir(dir)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.write().remove(model);
        Ok(())
    }

    /// Read every data-set file (at start). Files that do not parse are skipped
    /// and returned as "path: reason".
    ///
    /// # Errors
    /// Only when the directory exists but cannot be listed.
    pub fn load(&self) -> io::Result<Vec<String>> {
        let Some(dir) = &self.dir else {
            return Ok(Vec::new());
        };
        let mut failures = Vec::new();
        let models = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(failures),
            Err(e) => return Err(e),
        };
        let mut table = self.write();
        for model_dir in models.filter_map(Result::ok) {
            let Ok(files) = fs::read_dir(model_dir.path()) else {
                continue;
            };
            for file in files.filter_map(Result::ok) {
                let path = file.path();
                let name = file.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.ends_with(".tmp") {
                    let _ = fs::remove_file(&path);
                    continue;
                }
                if !name.ends_with(SUFFIX) {
                    continue;
                }
                match read_one(&path) {
                    Ok(d) => {
                        table
                            .entry(d.model.clone())
                            .or_default()
                            .insert(d.id.clone(), Arc::new(d));
                    }
                    Err(reason) => failures.push(format!("{}: {reason}", path.display())),
                }
            }
        }
        Ok(failures)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }
}
