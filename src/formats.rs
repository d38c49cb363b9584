//! Readers for model files written by other libraries (XGBoost JSON, LightGBM text,
//! CatBoost JSON, ONNX protobuf): bytes in, validated core types out. Every malformed input is a
//! [`crate::core::CoreError::InvalidModel`] naming what is wrong, never a panic. No
//! HTTP here.

pub mod base64;
pub mod catboost;
mod json;
pub mod lightgbm;
pub mod onnx;
pub mod protobuf;
pub mod xgboost;
