//! Readers of model files written by other tools: bytes in, core types out. No
//! HTTP here; errors are [`crate::core::CoreError::InvalidModel`] values.

pub mod base64;
pub mod onnx;
pub mod protobuf;
