//! Durable storage of registered models: one JSON file per model in the model
//! directory, written atomically so that a crash leaves either the old file or the
//! new one, never a mix.
//!
//! A write goes to a hidden temporary file in the same directory, is fsynced,
//! renamed over the final name, and the directory is fsynced so the rename itself
//! survives a power cut. Loading skips (and reports) files that do not parse or
//! validate; it never half-loads one.

pub mod names;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::spec::ModelSpec;

/// The on-disk format version written into every file.
const FORMAT: u32 = 1;
/// Suffix of model files; anything else in the directory is ignored.
const SUFFIX: &str = ".model.json";

/// What one model file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredModel {
    /// File format version, so later versions can migrate old files.
    pub format: u32,
    /// Registered name (also the file name's stem).
    pub name: String,
    /// Version number at the time of writing.
    pub version: u64,
    /// When this version was registered.
    pub created_at: DateTime<Utc>,
    /// The registration document, as accepted.
    pub spec: ModelSpec,
}

impl StoredModel {
    /// A record in the current format.
    pub fn new(name: &str, version: u64, created_at: DateTime<Utc>, spec: ModelSpec) -> Self {
        StoredModel {
            format: FORMAT,
            name: name.to_string(),
            version,
            created_at,
            spec,
        }
    }
}

/// The model directory.
#[derive(Debug, Clone)]
pub struct Store {
    /// Where model files live; created at open if missing.
    dir: PathBuf,
}

impl Store {
    /// Open (and create if needed) the model directory.
    ///
    /// # Errors
    /// The I/O error from creating the directory.
    pub fn open(dir: &Path) -> io::Result<Store> {
        fs::create_dir_all(dir)?;
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}{SUFFIX}"))
    }

    /// Write one model durably, replacing any earlier version.
    ///
    /// # Errors
    /// Any I/O error; the earlier file, if any, is then untouched.
    pub fn save(&self, model: &StoredModel) -> io::Result<()> {
        let bytes = serde_json::to_vec(model).map_err(io::Error::other)?;
        write_atomic(&self.dir, &model.name, &self.path_for(&model.name), &bytes)
    }

    /// Delete a model's file; a missing file is not an error.
    ///
    /// # Errors
    /// Any other I/O error.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.path_for(name)) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// List the model files, with what identifies their current contents. With
    /// `clean`, temporary files left by an interrupted write are removed (only safe
    /// while nothing writes, i.e. at start).
    ///
    /// # Errors
    /// Only when the directory itself cannot be listed.
    pub fn list(&self, clean: bool) -> io::Result<Vec<ModelFile>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.dir)?.filter_map(Result::ok) {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with('.') && file.ends_with(".tmp") {
                if clean {
                    let _ = fs::remove_file(entry.path());
                }
                continue;
            }
            let Some(stem) = file.strip_suffix(SUFFIX) else {
                continue;
            };
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            files.push(ModelFile {
                name: stem.to_string(),
                stamp: FileStamp::of(&meta),
                file,
            });
        }
        files.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(files)
    }

    /// Read and parse one listed file.
    ///
    /// # Errors
    /// A message saying why the file is not a usable model file.
    pub fn read(&self, file: &ModelFile) -> Result<StoredModel, String> {
        read_one(&self.dir.join(&file.file), &file.name)
    }

    /// The stamp of a model's file as it is now, if it exists.
    pub fn stamp(&self, name: &str) -> Option<FileStamp> {
        fs::metadata(self.path_for(name))
            .ok()
            .map(|m| FileStamp::of(&m))
    }
}

/// What identifies a version of a file: modification time and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
}

impl FileStamp {
    fn of(meta: &fs::Metadata) -> Self {
        FileStamp {
            modified: meta.modified().ok(),
            len: meta.len(),
        }
    }
}

/// A model file found in the directory.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// File name within the directory.
    pub file: String,
    /// The model name it should hold (the file name's stem).
    pub name: String,
    /// Modification time and length when listed.
    pub stamp: FileStamp,
}

fn read_one(path: &Path, stem: &str) -> Result<StoredModel, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let model: StoredModel =
        serde_json::from_slice(&bytes).map_err(|e| format!("not a model file: {e}"))?;
    if model.format != FORMAT {
        return Err(format!("unsupported format version {}", model.format));
    }
    if model.name != stem {
        return Err(format!("file holds model '{}', not '{stem}'", model.name));
    }
    Ok(model)
}

/// Write `bytes` to `path` (in `dir`) durably and atomically: a hidden temporary
/// file named after `stem` in the same directory, fsync, rename over `path`, fsync
/// of the directory. A crash leaves the old file or the new one, never a mix.
///
/// # Errors
/// Any I/O error; the temporary file is then removed and `path` untouched.
pub fn write_atomic(dir: &Path, stem: &str, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{stem}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsync a directory so that renames and unlinks in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
