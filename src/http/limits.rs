//! Request body size limits, declared where a route is declared.
//!
//! [`BodyLimit`] is a layer: it sets axum's body limit (which stops a body that
//! streams past it, chunked ones included) and records the limit with the flag that
//! raises it. The body extractors call [`refuse_declared`] first, so a body whose
//! `Content-Length` already announces more than the limit is refused with 413 at
//! once, before any of it is read, instead of holding the connection until the
//! request deadline while the client sends it. The innermost layer wins, as with
//! axum's `DefaultBodyLimit`: the application sets `--max-body-bytes` for every
//! route, and upload routes set a larger one of their own.

use std::task::{Context, Poll};

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header;
use tower::{Layer, Service};

use super::error::ApiError;

/// The largest body a route accepts, and the flag that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    /// The limit in bytes.
    pub bytes: usize,
    /// The command-line flag that raises it, named in refusals.
    pub flag: &'static str,
}

impl BodyLimit {
    /// A limit of `bytes`, set by `flag` (e.g. `"--max-body-bytes"`).
    pub fn new(bytes: usize, flag: &'static str) -> Self {
        BodyLimit { bytes, flag }
    }

    /// The 413 for a body of `size` (a description such as "declares 5000 bytes").
    pub fn refusal(&self, size: &str) -> ApiError {
        ApiError::PayloadTooLarge(format!(
            "the request body {size}; this route accepts at most {} bytes (raise it with {})",
            self.bytes, self.flag
        ))
    }
}

impl<S> Layer<S> for BodyLimit {
    type Service = WithBodyLimit<S>;

    fn layer(&self, inner: S) -> WithBodyLimit<S> {
        WithBodyLimit {
            inner,
            limit: *self,
        }
    }
}

/// The service of a [`BodyLimit`] layer.
#[derive(Debug, Clone)]
pub struct WithBodyLimit<S> {
    inner: S,
    limit: BodyLimit,
}

impl<S> Service<Request> for WithBodyLimit<S>
where
    S: Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        DefaultBodyLimit::max(self.limit.bytes).apply(&mut request);
        request.extensions_mut().insert(self.limit);
        self.inner.call(request)
    }
}

/// The limit in force for `request`, after refusing it if its `Content-Length`
/// declares more: call before reading the body.
///
/// # Errors
/// [`ApiError::PayloadTooLarge`], naming the limit and its flag.
pub fn refuse_declared(request: &Request) -> Result<Option<BodyLimit>, ApiError> {
    let Some(limit) = request.extensions().get::<BodyLimit>().copied() else {
        return Ok(None);
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > limit.bytes as u64 => Err(limit.refusal(&format!("declares {n} bytes"))),
        _ => Ok(Some(limit)),
    }
}

/// The 413 for a body that streamed past the limit in force (`None`: no limit was
/// recorded, as when an extractor runs outside the application).
pub fn streamed_past(limit: Option<BodyLimit>) -> ApiError {
    match limit {
        Some(limit) => limit.refusal("is larger than the limit"),
        None => {
            ApiError::PayloadTooLarge("request body is larger than the configured limit".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(limit: Option<BodyLimit>, length: &str) -> Request {
        let mut request = Request::builder()
            .header(header::CONTENT_LENGTH, length)
            .body(Body::empty())
            .unwrap();
        if let Some(limit) = limit {
            request.extensions_mut().insert(limit);
        }
        request
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_with_the_flag() {
        let limit = BodyLimit::new(1000, "--max-body-bytes");
        assert_eq!(
            refuse_declared(&request(Some(limit), "1000")).unwrap(),
            Some(limit)
        );
        let refused = refuse_declared(&request(Some(limit), "1001")).unwrap_err();
        let message = refused.to_string();
        assert!(
            message.contains("1001") && message.contains("1000"),
            "{message}"
        );
        assert!(message.contains("--max-body-bytes"), "{message}");
        assert_eq!(refuse_declared(&request(None, "1001")).unwrap(), None);
    }
}
