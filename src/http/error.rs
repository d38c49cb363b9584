//! The one error type of the HTTP layer and its JSON body.
//!
//! Every failure leaves as `{"error": {"code": "...", "message": "..."}}`. Details of
//! server-side failures (5xx) are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::core::CoreError;
use crate::registry::RegistryError;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A machine-readable code and a message a person can act on.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `model_not_found`, `invalid_input`.
    pub code: String,
    /// What went wrong and what to do about it.
    pub message: String,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, or not the JSON this route takes.
    #[error("{0}")]
    BadJson(String),
    /// The JSON is well-formed but a field has the wrong type or is missing.
    #[error("{0}")]
    InvalidRequest(String),
    /// The request needs `Content-Type: application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body is larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// No model of that name.
    #[error("no model named '{0}'")]
    ModelNotFound(String),
    /// A model version that is not the one served (only the latest is kept).
    #[error(
        "model '{0}' serves version {2}, not '{1}': only the latest version registered is kept"
    )]
    VersionNotFound(String, String, u64),
    /// No data set of that id for the model.
    #[error("model '{0}' has no data set '{1}'")]
    DatasetNotFound(String, String),
    /// No job of that id (never created, or dropped after finishing).
    #[error("no job '{0}' (finished jobs are kept for a while, then dropped)")]
    JobNotFound(String),
    /// A word outside a text classifier's vocabulary.
    #[error("'{0}' is not in the model's vocabulary")]
    WordNotFound(String),
    /// No such route.
    #[error("no route {0}")]
    RouteNotFound(String),
    /// The route exists but not with this HTTP method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// Instances that do not fit the model (count, width, names, values).
    #[error("{0}")]
    InvalidInput(String),
    /// A model name breaks the naming rule.
    #[error("{0}")]
    InvalidName(String),
    /// Instances or parameters fail validation.
    #[error("{0}")]
    Core(#[from] CoreError),
    /// The model store could not be written.
    #[error("model store: {0}")]
    Storage(std::io::Error),
    /// No valid bearer token.
    #[error("missing or invalid bearer token: send `Authorization: Bearer <token>`")]
    Unauthorized,
    /// The token's role may not do this.
    #[error("this token's role may not do this (admin role needed)")]
    Forbidden,
    /// A reader asked for what would show background or data-set rows (see
    /// [`super::privacy`]).
    #[error("{0}")]
    PrivateRows(String),
    /// Too many explanation requests are running or waiting.
    #[error("overloaded: too many explanation requests in progress; retry shortly")]
    Overloaded,
    /// The request ran past its deadline.
    #[error("the request ran past its deadline of {0} ms")]
    DeadlineExceeded(u64),
    /// Models are still loading.
    #[error("not ready: models are still loading")]
    NotReady,
    /// The server began shutting down while the request's work was running, and
    /// stopped it.
    #[error("the server is shutting down; the computation was stopped, retry shortly")]
    ShuttingDown,
    /// A bug: details are logged, the client sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::InvalidName(m) => {
                ApiError::InvalidName(format!("invalid model name: {m}"))
            }
            RegistryError::Invalid(core) => ApiError::Core(core),
            RegistryError::Storage(io) => ApiError::Storage(io),
        }
    }
}

impl ApiError {
    /// Status and code for each variant. Exhaustive, with no catch-all arm, so a new
    /// error forces a decision here.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadJson(_) => (StatusCode::BAD_REQUEST, "bad_json"),
            ApiError::InvalidRequest(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::ModelNotFound(_) => (StatusCode::NOT_FOUND, "model_not_found"),
            ApiError::VersionNotFound(..) => (StatusCode::NOT_FOUND, "version_not_found"),
            ApiError::RouteNotFound(_) => (StatusCode::NOT_FOUND, "route_not_found"),
            ApiError::WordNotFound(_) => (StatusCode::NOT_FOUND, "word_not_found"),
            ApiError::DatasetNotFound(..) => (StatusCode::NOT_FOUND, "dataset_not_found"),
            ApiError::JobNotFound(_) => (StatusCode::NOT_FOUND, "job_not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::InvalidInput(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ApiError::InvalidName(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name"),
            ApiError::Core(core) => match core {
                CoreError::InvalidModel(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_model"),
                CoreError::Shape { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
                CoreError::NonFinite { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
                CoreError::MethodNotSupported { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "method_not_supported")
                }
                CoreError::InvalidArgument(_) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "invalid_argument")
                }
                CoreError::Timeout { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "timeout"),
                CoreError::Cancelled => (StatusCode::SERVICE_UNAVAILABLE, "cancelled"),
            },
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::PrivateRows(_) => (StatusCode::FORBIDDEN, "private_rows"),
            ApiError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::DeadlineExceeded(_) => (StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded"),
            ApiError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage_error"),
            ApiError::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            tracing::error!(code, error = %self, "request failed");
            match self {
                ApiError::Storage(e) => format!(
                    "the change could not be written to the model directory ({}); nothing was changed",
                    e.kind()
                ),
                ApiError::NotReady
                | ApiError::Overloaded
                | ApiError::DeadlineExceeded(_)
                | ApiError::ShuttingDown
                | ApiError::Core(CoreError::Cancelled) => self.to_string(),
                _ => "internal error (see the server log)".into(),
            }
        } else {
            self.to_string()
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
