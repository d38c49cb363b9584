//! Registered models by name: the shared state every request reads (data sets and
//! jobs keep theirs in [`crate::datasets`] and [`crate::jobs`]).
//!
//! Readers clone an `Arc<ModelEntry>` under a short read lock and let go at once
//! (the `std::sync::RwLock` is never held across an `.await`). Replacing a model
//! swaps the `Arc`, so requests already running finish on the version they started
//! with. Mutations are serialised by an async mutex that is held while the model
//! file is written, so the version on disk and in memory always agree and a
//! registration is acknowledged only after it is durable.
//!
//! Changes to one model and its data sets are also serialised per name: putting
//! or deleting a model takes a [`NameGuard`] from [`Registry::lock_name`], as do
//! the data-set changes in [`crate::datasets`], so a model's deletion and a
//! registration of one of its data sets never interleave.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use chrono::{DateTime, Utc};

use crate::live::{LiveConfig, LiveStats};
use crate::spec;
use crate::spec::{BuiltModel, ModelSpec};
use crate::store::{FileStamp, Store, StoredModel};
use crate::summary::GlobalSummary;

mod check;
mod sync;
pub use crate::store::names::{NameGuard, NameLocks};
use check::build;
pub use check::validate_name;

/// Longest model name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// The global summary of a model version over its background, computed once and
/// kept: the JSON route and the pictures read the same value.
#[derive(Debug)]
pub struct CachedSummary {
    /// The summary itself.
    pub summary: GlobalSummary,
    /// A strong entity tag derived from its serialised form.
    pub etag: String,
}

/// One registered model version.
#[derive(Debug)]
pub struct ModelEntry {
    /// Registered name.
    pub name: String,
    /// Starts at 1 and grows by one with each replacement.
    pub version: u64,
    /// When this version was registered.
    pub created_at: DateTime<Utc>,
    /// Free text from the registration.
    pub description: Option<String>,
    /// The validated model, its names and its background.
    pub built: BuiltModel,
    /// The global summary of this version, computed on first request.
    pub global: OnceLock<Arc<CachedSummary>>,
    /// Statistics of the attributions served by this version, allocated here so
    /// the explain path only adds to them.
    pub live: LiveStats,
}

impl ModelEntry {
    /// This version, as the summaries see it.
    pub fn as_version(&self) -> crate::summary::ModelVersion<'_> {
        crate::summary::ModelVersion {
            name: &self.name,
            version: self.version,
            built: &self.built,
        }
    }

    /// A new entry, with empty live statistics sized for the model.
    pub fn new(head: EntryHead, built: BuiltModel, live: LiveConfig) -> Self {
        let stats = LiveStats::new(
            built.feature_names.len(),
            built.output_names.len(),
            built.reference.as_ref().map(|r| r.data.view()),
            built.model.raw_features(),
            live,
        );
        ModelEntry {
            name: head.name,
            version: head.version,
            created_at: head.created_at,
            description: head.description,
            built,
            global: OnceLock::new(),
            live: stats,
        }
    }
}

/// What identifies a registered version, besides the model.
#[derive(Debug, Clone)]
pub struct EntryHead {
    /// Registered name.
    pub name: String,
    /// Version number.
    pub version: u64,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// Free text from the registration.
    pub description: Option<String>,
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The name breaks the naming rule.
    #[error("invalid model name: {0}")]
    InvalidName(String),
    /// The document does not describe a valid model.
    #[error(transparent)]
    Invalid(#[from] crate::core::CoreError),
    /// The model could not be written to or removed from the model directory.
    #[error("model store: {0}")]
    Storage(#[from] std::io::Error),
}

/// Registered models.
#[derive(Debug)]
pub struct Registry {
    /// Name → current version.
    models: RwLock<HashMap<String, Arc<ModelEntry>>>,
    /// Serialises put and delete, including their disk writes.
    writes: tokio::sync::Mutex<()>,
    /// One lock per model name, held across a model's change and its data sets'.
    names: NameLocks,
    /// Where registrations are persisted, if anywhere.
    store: Option<Store>,
    /// Model name → stamp of its file when last loaded or written, so the store
    /// sync only reads files that changed.
    stamps: Mutex<HashMap<String, FileStamp>>,
    /// Model file → why it could not be loaded.
    failures: Mutex<HashMap<String, String>>,
    /// How each new version keeps its live statistics.
    live: LiveConfig,
    /// Bounds every model document is built within (`--max-tree-depth`).
    limits: spec::Limits,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    /// An empty registry, persisting to `store` when given.
    pub fn new(store: Option<Store>) -> Self {
        Registry {
            models: RwLock::default(),
            writes: tokio::sync::Mutex::new(()),
            names: NameLocks::default(),
            store,
            stamps: Mutex::default(),
            failures: Mutex::default(),
            live: LiveConfig::default(),
            limits: spec::Limits::default(),
        }
    }

    /// The same registry building every model from now on within `limits`.
    pub fn with_limits(mut self, limits: spec::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The same registry with these live-statistics settings for the versions it
    /// registers from now on.
    pub fn with_live(mut self, live: LiveConfig) -> Self {
        self.live = live;
        self
    }

    /// The model directory, if registrations are persisted.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Hold `name` until the guard drops: what puts, deletes and data-set changes
    /// of that model need, so that they happen one at a time.
    pub async fn lock_name(&self, name: &str) -> NameGuard {
        self.names.lock(name).await
    }

    /// The current version of a model.
    pub fn get(&self, name: &str) -> Option<Arc<ModelEntry>> {
        self.read().get(name).cloned()
    }

    /// Every model, sorted by name.
    pub fn list(&self) -> Vec<Arc<ModelEntry>> {
        let mut all: Vec<_> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Number of registered models.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no model is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Register or replace a model. Validation runs before anything changes; the
    /// file is written before the new version becomes visible.
    ///
    /// Returns the new entry and whether the name was new.
    ///
    /// # Errors
    /// An invalid name or document changes nothing; a storage error leaves the
    /// previous version in place, on disk and in memory.
    pub async fn put(
        &self,
        name: &NameGuard,
        spec: ModelSpec,
    ) -> Result<(Arc<ModelEntry>, bool), RegistryError> {
        let name = name.name();
        validate_name(name)?;
        let limits = self.limits;
        let (spec, built) = tokio::task::spawn_blocking(move || {
            let built = build(&spec, &limits);
            (spec, built)
        })
        .await
        .expect("model validation does not panic");
        let built = built?;
        let _guard = self.writes.lock().await;
        let previous = self.get(name);
        let version = previous.as_ref().map_or(1, |p| p.version + 1);
        let created_at = Utc::now();
        let description = spec.description.clone();
        if let Some(store) = self.store.clone() {
            let record = StoredModel::new(name, version, created_at, spec);
            let file_name = name.to_string();
            let stamp = tokio::task::spawn_blocking(move || {
                store.save(&record).map(|()| store.stamp(&file_name))
            })
            .await
            .expect("store writes do not panic")?;
            if let Some(stamp) = stamp {
                lock(&self.stamps).insert(name.to_string(), stamp);
            }
        }
        let head = EntryHead {
            name: name.to_string(),
            version,
            created_at,
            description,
        };
        let entry = Arc::new(ModelEntry::new(head, built, self.live));
        self.write().insert(name.to_string(), Arc::clone(&entry));
        Ok((entry, previous.is_none()))
    }

    /// Remove a model. Returns whether it existed.
    ///
    /// # Errors
    /// A storage error leaves the model registered.
    pub async fn delete(&self, name: &NameGuard) -> Result<bool, RegistryError> {
        let name = name.name();
        let _guard = self.writes.lock().await;
        if self.get(name).is_none() {
            return Ok(false);
        }
        if let Some(store) = self.store.clone() {
            let owned = name.to_string();
            tokio::task::spawn_blocking(move || store.remove(&owned))
                .await
                .expect("store removals do not panic")?;
            lock(&self.stamps).remove(name);
        }
        Ok(self.write().remove(name).is_some())
    }

    /// Register a model that is not persisted (the embedded demo), replacing nothing
    /// that already exists under its name.
    ///
    /// # Errors
    /// An invalid document.
    pub fn insert_ephemeral(&self, name: &str, spec: &ModelSpec) -> Result<(), RegistryError> {
        validate_name(name)?;
        let built = build(spec, &self.limits)?;
        self.insert_built(name, spec.description.clone(), built)
    }

    /// Register a model built in code rather than from a document (embedding, tests
    /// of core models that no registration kind reads yet), not persisted, replacing
    /// nothing that already exists under its name.
    ///
    /// # Errors
    /// An invalid name.
    pub fn insert_built(
        &self,
        name: &str,
        description: Option<String>,
        built: BuiltModel,
    ) -> Result<(), RegistryError> {
        validate_name(name)?;
        let head = EntryHead {
            name: name.to_string(),
            version: 1,
            created_at: Utc::now(),
            description,
        };
        let entry = Arc::new(ModelEntry::new(head, built, self.live));
        self.write().entry(name.to_string()).or_insert(entry);
        Ok(())
    }
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<ModelEntry>>> {
        self.models
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<ModelEntry>>> {
        self.models
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
