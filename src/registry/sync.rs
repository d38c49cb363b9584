//! The registry kept in step with the model directory: at start, and whenever the
//! files change under a running server.

use std::sync::Arc;

use super::{build, lock, validate_name, EntryHead, ModelEntry, Registry};
use crate::store::{ModelFile, Store};

impl Registry {
    /// Bring the registry in line with the model directory: load files that are new
    /// or changed since last seen (by modification time and length), and drop models
    /// whose file was removed. A file that fails to load leaves the version already
    /// serving in place and is reported (see [`Registry::load_failures`]) until it is
    /// fixed or removed. Runs under the write lock, so it never interleaves with an
    /// API registration. `at_start` also removes temporary files of interrupted writes.
    ///
    /// Returns the names of models loaded, replaced or dropped.
    ///
    /// # Errors
    /// Only when the model directory cannot be listed.
    pub async fn sync_store(self: &Arc<Self>, at_start: bool) -> std::io::Result<Vec<String>> {
        if self.store.is_none() {
            return Ok(Vec::new());
        }
        let _guard = self.writes.lock().await;
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || this.sync_blocking(at_start))
            .await
            .expect("syncing the store does not panic")
    }

    fn sync_blocking(&self, at_start: bool) -> std::io::Result<Vec<String>> {
        let store = self.store.as_ref().expect("checked by the caller");
        let files = store.list(at_start)?;
        let mut stamps = lock(&self.stamps);
        let mut failures = lock(&self.failures);
        let mut changed = Vec::new();
        let present: std::collections::HashSet<&str> =
            files.iter().map(|f| f.name.as_str()).collect();
        let gone: Vec<String> = stamps
            .keys()
            .filter(|n| !present.contains(n.as_str()))
            .cloned()
            .collect();
        for name in gone {
            stamps.remove(&name);
            if self.write().remove(&name).is_some() {
                tracing::info!(model = %name, "model file removed: model unregistered");
                changed.push(name);
            }
        }
        failures.retain(|file, _| files.iter().any(|f| &f.file == file));
        for file in &files {
            if stamps.get(&file.name) == Some(&file.stamp) {
                continue;
            }
            stamps.insert(file.name.clone(), file.stamp);
            match self.load_file(store, file) {
                Ok(Some(entry)) => {
                    failures.remove(&file.file);
                    tracing::info!(model = %entry.name, version = entry.version, "model loaded from file");
                    changed.push(entry.name.clone());
                    self.write().insert(entry.name.clone(), entry);
                }
                Ok(None) => {
                    failures.remove(&file.file);
                }
                Err(reason) => {
                    tracing::warn!(file = %file.file, %reason, "model file not loaded; any version already serving stays");
                    failures.insert(file.file.clone(), reason);
                }
            }
        }
        Ok(changed)
    }

    /// Read and validate one file; `None` when it holds the version already serving.
    fn load_file(
        &self,
        store: &Store,
        file: &ModelFile,
    ) -> Result<Option<Arc<ModelEntry>>, String> {
        validate_name(&file.name).map_err(|e| e.to_string())?;
        let record = store.read(file)?;
        if let Some(current) = self.get(&record.name) {
            if current.version == record.version && current.created_at == record.created_at {
                return Ok(None);
            }
        }
        let built = build(&record.spec, &self.limits).map_err(|e| e.to_string())?;
        let head = EntryHead {
            name: record.name.clone(),
            version: record.version,
            created_at: record.created_at,
            description: record.spec.description.clone(),
        };
        Ok(Some(Arc::new(ModelEntry::new(head, built, self.live))))
    }

    /// Model files that could not be loaded, as "file: reason", sorted by file.
    pub fn load_failures(&self) -> Vec<String> {
        let failures = lock(&self.failures);
        let mut list: Vec<String> = failures.iter().map(|(f, r)| format!("{f}: {r}")).collect();
        list.sort();
        list
    }
}
