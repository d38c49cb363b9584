//! The numeric core: models, explanation algorithms and global summaries.
//!
//! It knows nothing of HTTP, async runtimes or JSON: ndarray in, ndarray and plain
//! structs out, errors as [`CoreError`]. Everything here is synchronous and pure, so
//! it can run on any thread and be tested without a server. [`serde_finite`] walks
//! any serialisable value for a non-finite number (serde's traits only, no format),
//! for the layers above to refuse what JSON could only write as `null`.

pub mod cancel;
pub mod counterfactual;
pub mod error;
pub mod explain;
pub mod global;
pub mod models;
pub mod serde_finite;
pub mod stats;

pub use cancel::Cancel;
pub use error::{CoreError, CoreResult};
