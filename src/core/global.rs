//! Global summaries: which features matter across a data set.
//!
//! - [`importance`]: mean |φ| of any attribution over rows.
//! - [`catboost`]: CatBoost's own PredictionValuesChange importance, from its trees.
//! - [`loss`]: the losses of labelled rows (RMSE, log-loss, error rate).
//! - [`permutation`]: permutation importance, the loss increase when a column is shuffled.
//! - [`dependence`]: partial dependence and ICE curves over a quantile grid.
//! - [`drift`]: quantile bins of the background and the population stability index.

pub mod catboost;
pub mod dependence;
pub mod drift;
pub mod importance;
pub mod loss;
pub mod permutation;
#[cfg(test)]
mod tests;
