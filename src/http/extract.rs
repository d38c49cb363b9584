//! Extractors whose rejections are the app's own JSON errors, and the JSON answer
//! of the hot routes.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::ApiError;
use super::limits::{self, BodyLimit};

/// `axum::Json`, with serde and body errors turned into [`ApiError`].
///
/// The common case (`Content-Type: application/json`, a body that parses) is read
/// with plain `serde_json`; anything else goes through `axum::Json`, whose
/// rejections (with the path of the field at fault) make the error messages. The
/// answers are the same either way: `axum::Json` tracks the field path on every
/// parse, which costs about a fifth of parsing, and only a failed parse needs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = limits::refuse_declared(&req)?;
        let plain_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == b"application/json");
        if !plain_json {
            return match axum::Json::<T>::from_request(req, state).await {
                Ok(axum::Json(value)) => Ok(Json(value)),
                Err(rejection) => Err(json_rejection(rejection, limit)),
            };
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| json_rejection(JsonRejection::from(e), limit))?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(Json(value)),
            Err(_) => match axum::Json::<T>::from_bytes(&bytes) {
                Ok(axum::Json(value)) => Ok(Json(value)),
                Err(rejection) => Err(json_rejection(rejection, limit)),
            },
        }
    }
}

fn json_rejection(rejection: JsonRejection, limit: Option<BodyLimit>) -> ApiError {
    let message = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => ApiError::InvalidRequest(message),
        JsonRejection::JsonSyntaxError(_) => ApiError::BadJson(message),
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
            "send the body with Content-Type: application/json".into(),
        ),
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            limits::streamed_past(limit)
        }
        _ => ApiError::BadJson(message),
    }
}

/// A JSON answer, as `axum::Json` sends it (same bytes, `content-type:
/// application/json`), serialised into a buffer that starts at [`ANSWER_CAPACITY`]
/// bytes: `axum::Json` starts at 128 and regrows and copies several times for an
/// explanation.
#[derive(Debug)]
pub struct JsonAnswer<T>(pub T);

/// Starting size of a [`JsonAnswer`] buffer: an explanation of one row of a dozen
/// features is about 1.2 kB.
pub const ANSWER_CAPACITY: usize = 4096;

impl<T: Serialize> IntoResponse for JsonAnswer<T> {
    fn into_response(self) -> Response {
        // The last line behind the routes' own checks: serde_json would write a
        // non-finite number as null, which no schema allows.
        if let Some(path) = crate::core::serde_finite::find_non_finite(&self.0) {
            return ApiError::Internal(format!("the answer's {path} is not a finite number"))
                .into_response();
        }
        let mut buf = Vec::with_capacity(ANSWER_CAPACITY);
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                buf,
            )
                .into_response(),
            // As axum::Json: a value that cannot be serialised is a server fault.
            Err(e) => ApiError::Internal(format!("serialising the answer: {e}")).into_response(),
        }
    }
}

/// `axum::extract::Query`, with parse errors turned into [`ApiError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::InvalidRequest(rejection.body_text())
}
