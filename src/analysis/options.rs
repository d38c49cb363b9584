//! What a summary from data may use: the configured budgets and each kind's options.

use crate::core::explain::sampling::SamplingParams;
use crate::core::explain::Method;
use crate::core::global::loss::Loss;
use crate::core::models::OutputSpace;

/// The configured budgets.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most rows any summary uses (an evenly spaced subset above it).
    pub max_rows: usize,
    /// Most permutation repeats.
    pub max_repeats: usize,
    /// Most grid points.
    pub max_grid: usize,
    /// Most ICE curves.
    pub max_ice: usize,
    /// Fewest rows holding a value for a grid to show it (`--min-summary-rows`).
    pub min_rows: usize,
}

/// Permutation-importance settings.
#[derive(Debug, Clone, Default)]
pub struct PermutationOptions {
    /// Shuffles per feature (default [`DEFAULT_REPEATS`](super::DEFAULT_REPEATS)).
    pub repeats: Option<usize>,
    /// Seeds the shuffles.
    pub seed: u64,
    /// Loss (default: by task).
    pub loss: Option<Loss>,
}

/// Partial-dependence settings.
#[derive(Debug, Clone)]
pub struct DependenceOptions {
    /// The feature, by name.
    pub feature: String,
    /// Grid points (default [`DEFAULT_GRID`](super::DEFAULT_GRID)).
    pub grid: Option<usize>,
    /// ICE curves (default [`DEFAULT_ICE`](super::DEFAULT_ICE); 0 for none).
    pub ice: Option<usize>,
    /// One output index, or every output.
    pub output: Option<usize>,
    /// Raw outputs or after the link.
    pub space: OutputSpace,
}

/// Mean-|φ| settings.
#[derive(Debug, Clone)]
pub struct AttributionOptions {
    /// The explainer (`Auto`: the family's exact one).
    pub method: Method,
    /// Seed and budgets of the sampling methods.
    pub sampling: SamplingParams,
    /// One output index, or every output.
    pub output: Option<usize>,
}
