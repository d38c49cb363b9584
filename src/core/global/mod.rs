//! Global summaries: which features matter across a data set.

pub mod drift;
pub mod importance;
