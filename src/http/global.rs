//! Global importance: `/models/{name}/global` and `/global`.
//!
//! Dashboards poll these, so each model version's summary is computed once, kept
//! as serialised bytes with an entity tag, and answered with 304 when the client
//! already has it. The `live` section changes with traffic and time: it is
//! computed fresh on each request and spliced into the cached bytes, and the entity
//! tag joins the cached tag with a hash of the live part.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::privacy::Audience;
use super::routes::{Access::*, Routes};
use super::AppState;
use crate::registry::{CachedJson, CachedSummary, ModelEntry};
use crate::summary::{self, GlobalSummary};

/// Routes of this module.
pub fn router() -> Routes {
    Routes::new().get("/global", Reader, get_global_all).get(
        "/models/{name}/global",
        Reader,
        get_global,
    )
}

/// Summaries of every model.
#[derive(Debug, Serialize, ToSchema)]
pub struct GlobalAll {
    /// One summary per model with a background, sorted by model name.
    pub models: Vec<GlobalSummary>,
    /// Models that cannot be summarised, and why.
    pub unavailable: Vec<Unavailable>,
}

/// A model without a summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unavailable {
    /// Model name.
    pub model: String,
    /// Why there is no summary.
    pub reason: String,
}

/// Global importance of one model, cached per version.
#[utoipa::path(get, path = "/models/{name}/global", tag = "global",
    params(
        ("name" = String, Path, description = "Model name"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of a summary already held")),
    responses(
        (status = 200, description = "Summary", body = GlobalSummary,
            headers(("ETag" = String, description = "Entity tag of this summary"))),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 403, description = "A reader token, and the background has fewer rows than --min-summary-rows", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "The model has no background to summarise", body = ErrorBody)))]
pub async fn get_global(
    State(state): State<AppState>,
    Path(name): Path<String>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let entry = state.entry(&name)?;
    let audience = Audience::of(caller, &state.config);
    let cached = cached_summary(&state, Arc::clone(&entry), audience).await?;
    let (body, etag) = global_body(&state, &entry, &cached.json, audience);
    let (body, etag) = with_live(&entry, &cached, &body, &etag)?;
    Ok(conditional(&body, &etag, &headers))
}

/// A summary body (`body`, tagged `tag`) with a fresh `live` section spliced in
/// before its closing brace, and an entity tag joining `tag` with a hash of the
/// live part (weak when `tag` is).
///
/// # Errors
/// [`ApiError::Internal`] if serialising fails.
fn with_live(
    entry: &ModelEntry,
    cached: &CachedSummary,
    body: &[u8],
    tag: &str,
) -> Result<(Vec<u8>, String), ApiError> {
    let live = crate::summary::live::summarise(
        &entry.live,
        &entry.built.feature_names,
        &cached.summary,
        crate::live::now_ms(),
    );
    let live = serde_json::to_vec(&live).map_err(|e| ApiError::Internal(e.to_string()))?;
    let open = body.len().saturating_sub(1);
    let mut out = Vec::with_capacity(body.len() + live.len() + 8);
    out.extend_from_slice(&body[..open]);
    out.extend_from_slice(b",\"live\":");
    out.extend_from_slice(&live);
    out.push(b'}');
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    live.hash(&mut hasher);
    let (weak, strong) = match tag.strip_prefix("W/") {
        Some(t) => ("W/", t),
        None => ("", tag),
    };
    let etag = format!(
        "{weak}\"{}-{:016x}\"",
        strong.trim_matches('"'),
        hasher.finish()
    );
    Ok((out, etag))
}

/// Global importance of every model (each cached per version). For reader tokens,
/// models whose background has fewer rows than `--min-summary-rows` are unavailable.
#[utoipa::path(get, path = "/global", tag = "global",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of an answer already held")),
    responses(
        (status = 200, description = "Summaries", body = GlobalAll,
            headers(("ETag" = String, description = "Entity tag of this answer"))),
        (status = 304, description = "Unchanged since the ETag given")))]
pub async fn get_global_all(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let audience = Audience::of(caller, &state.config);
    let mut bodies = Vec::new();
    let mut unavailable = Vec::new();
    for entry in state.registry.list() {
        let name = entry.name.clone();
        match cached_summary(&state, Arc::clone(&entry), audience).await {
            Ok(cached) => {
                let (body, etag) = global_body(&state, &entry, &cached.json, audience);
                bodies.push(with_live(&entry, &cached, &body, &etag)?);
            }
            Err(ApiError::Core(e)) => unavailable.push(Unavailable {
                model: name,
                reason: e.to_string(),
            }),
            Err(ApiError::PrivateRows(reason)) => unavailable.push(Unavailable {
                model: name,
                reason,
            }),
            Err(e) => return Err(e),
        }
    }
    // The summaries are already serialised: splice them rather than re-encode.
    let mut body = b"{\"models\":[".to_vec();
    for (i, (one, _)) in bodies.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(one);
    }
    body.extend_from_slice(b"],\"unavailable\":");
    body.extend(serde_json::to_vec(&unavailable).map_err(|e| ApiError::Internal(e.to_string()))?);
    body.push(b'}');
    // With a `from_data` section a body's bytes change with its age: tag by the
    // parts' tags instead, weakly (see [`global_body`]).
    let etag = if bodies.iter().any(|(_, tag)| tag.starts_with("W/")) {
        let tags: Vec<&str> = bodies.iter().map(|(_, tag)| tag.as_str()).collect();
        let mut parts = tags.join(",").into_bytes();
        parts.extend(
            serde_json::to_vec(&unavailable).map_err(|e| ApiError::Internal(e.to_string()))?,
        );
        format!("W/{}", etag_of(&parts))
    } else {
        etag_of(&body)
    };
    Ok(conditional(&body, &etag, &headers))
}

/// The entry's summary, computed on the blocking pool the first time it is asked for
/// and kept with the entry: the JSON route and the pictures share it.
///
/// # Errors
/// [`ApiError::Core`] when the model has no background to summarise;
/// [`ApiError::PrivateRows`] when `audience` is a reader and the background has
/// too few rows.
pub async fn cached_summary(
    state: &AppState,
    entry: Arc<ModelEntry>,
    audience: Audience,
) -> Result<Arc<CachedSummary>, ApiError> {
    let max_rows = state.config.global_max_rows;
    audience.check_source(&entry, None, max_rows)?;
    if let Some(cached) = entry.global.get() {
        return Ok(Arc::clone(cached));
    }
    state
        .run_blocking(move || {
            if let Some(cached) = entry.global.get() {
                return Ok(Arc::clone(cached));
            }
            let summary = summary::global_summary(&entry.as_version(), max_rows)?;
            let body =
                serde_json::to_vec(&summary).map_err(|e| ApiError::Internal(e.to_string()))?;
            let etag = etag_of(&body);
            let json = CachedJson { body, etag };
            let cached = Arc::new(CachedSummary { summary, json });
            Ok(Arc::clone(entry.global.get_or_init(|| cached)))
        })
        .await?
}

/// A strong entity tag: a hash of the body.
pub fn etag_of(body: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}-{}\"", hasher.finish(), body.len())
}

/// 304 when `If-None-Match` already names this tag, else the JSON body with its ETag.
pub fn conditional(body: &[u8], etag: &str, headers: &HeaderMap) -> Response {
    conditional_as(body, etag, headers, "application/json")
}

/// [`conditional`] for a body of any media type (`image/svg+xml` for pictures).
pub fn conditional_as(
    body: &[u8],
    etag: &str,
    headers: &HeaderMap,
    media_type: &'static str,
) -> Response {
    let tag = HeaderValue::from_str(etag).expect("etags are ASCII");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t == etag || t.strip_prefix("W/") == Some(etag)
        });
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag), cache]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
            (header::ETAG, tag),
            cache,
        ],
        body.to_vec(),
    )
        .into_response()
}

/// The body and tag of `/models/{name}/global`: the cached summary as it is, or,
/// once a job has succeeded on this version, with a `from_data` section holding
/// the last result of each kind and its age. The tag then derives from the
/// summary's and the jobs' ids, not the bytes (`age_seconds` changes every second),
/// so it is weak: `W/"…"`; it changes exactly when a new result lands. Readers see
/// the results as [`Audience::section`] gives them, under a tag of their own.
pub fn global_body<'a>(
    state: &AppState,
    entry: &ModelEntry,
    json: &'a CachedJson,
    audience: Audience,
) -> (Cow<'a, [u8]>, Cow<'a, str>) {
    let latest = state.jobs.latest(entry);
    if latest.is_empty() {
        return (Cow::Borrowed(&json.body), Cow::Borrowed(&json.etag));
    }
    let section = audience.section(crate::jobs::from_data(&latest, chrono::Utc::now()));
    let Ok(section) = serde_json::to_vec(&section) else {
        return (Cow::Borrowed(&json.body), Cow::Borrowed(&json.etag));
    };
    let mut body = json.body.clone();
    if body.last() == Some(&b'}') {
        body.pop();
        body.extend_from_slice(b",\"from_data\":");
        body.extend_from_slice(&section);
        body.push(b'}');
    }
    let ids: Vec<&str> = latest.iter().map(|j| j.id.as_str()).collect();
    let role = if audience.is_admin() { "" } else { "|reader" };
    let tag = etag_of(format!("{}|{}{role}", json.etag, ids.join(",")).as_bytes());
    (Cow::Owned(body), Cow::Owned(format!("W/{tag}")))
}
