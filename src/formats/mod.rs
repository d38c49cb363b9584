//! Readers for model files written by other libraries: bytes in, validated core
//! types out. Every malformed input is a [`crate::core::CoreError::InvalidModel`]
//! naming what is wrong, never a panic.

pub mod lightgbm;
pub mod xgboost;
