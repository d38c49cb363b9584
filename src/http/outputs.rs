//! Which output and in which space: the words every route that answers numbers
//! shares (explain, predict, texts, dependence, jobs).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use crate::core::models::OutputSpace;
use crate::registry::ModelEntry;

/// Which output: an index, or an output (class) name.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OutputRef {
    /// Output index, from 0.
    Index(usize),
    /// Output name, as in the model's `output_names`.
    Name(String),
}

/// The space outputs and attributions are expressed in.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SpaceName {
    /// Margins: the regression value, log-odds for classifiers, the log of the
    /// mean for count models.
    Raw,
    /// After the link: class probabilities, or a count model's mean (Poisson,
    /// gamma, Tweedie objectives).
    Probability,
}

impl From<SpaceName> for OutputSpace {
    fn from(s: SpaceName) -> Self {
        match s {
            SpaceName::Raw => OutputSpace::Raw,
            SpaceName::Probability => OutputSpace::Probability,
        }
    }
}

/// The index of an output given by index or name.
pub fn output_index(entry: &ModelEntry, output: &OutputRef) -> Result<usize, ApiError> {
    let names = &entry.built.output_names;
    match output {
        OutputRef::Index(k) if *k < names.len() => Ok(*k),
        OutputRef::Index(k) => Err(ApiError::InvalidInput(format!(
            "output {k} out of range: the model has {} output(s)",
            names.len()
        ))),
        OutputRef::Name(n) => names.iter().position(|o| o == n).ok_or_else(|| {
            ApiError::InvalidInput(format!(
                "unknown output '{n}'; outputs: {}",
                names.join(", ")
            ))
        }),
    }
}
