//! The numeric core's error type. It carries no HTTP status: the HTTP layer maps
//! each variant to one in `http::error`, exhaustively.

/// Everything that can go wrong in model validation, prediction or explanation.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum CoreError {
    /// A model's parameters or file are unusable; the message names what is wrong.
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// An input matrix or vector has the wrong width.
    #[error("expected {expected} {what}, got {got}")]
    Shape {
        /// What was being counted ("features", "values", ...).
        what: &'static str,
        /// The width the model needs.
        expected: usize,
        /// The width that arrived.
        got: usize,
    },
    /// An input contains NaN or an infinity where the model cannot take one.
    #[error("row {row}, feature {feature}: value is not a finite number")]
    NonFinite {
        /// Row index in the request.
        row: usize,
        /// Feature index.
        feature: usize,
    },
    /// The explanation method does not apply to this kind of model.
    #[error("method '{method}' is not available for {kind} models")]
    MethodNotSupported {
        /// The method that was asked for.
        method: String,
        /// The model's kind.
        kind: &'static str,
    },
    /// A request argument is out of range or inconsistent.
    #[error("{0}")]
    InvalidArgument(String),
    /// A sampling explainer ran past the time limit the request set; nothing partial
    /// is returned.
    #[error("explanation exceeded its time limit of {limit_ms} ms; lower n_samples or raise the timeout")]
    Timeout {
        /// The limit that was exceeded, in milliseconds.
        limit_ms: u64,
    },
    /// The work was stopped through its [`crate::core::Cancel`] token (the client
    /// left, the request's deadline passed, or the server is shutting down); nothing
    /// partial is returned.
    #[error("the computation was cancelled")]
    Cancelled,
}

/// Shorthand used throughout the core.
pub type CoreResult<T> = Result<T, CoreError>;
