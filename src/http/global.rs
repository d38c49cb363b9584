//! Global importance: `/models/{name}/global` and `/global`.
//!
//! Dashboards poll these, so each model version's summary is computed once, kept
//! as serialised bytes with an entity tag, and answered with 304 when the client
//! already has it. The `live` section changes with traffic and time: it is
//! computed fresh on each request and spliced into the cached bytes, and the entity
//! tag joins the cached tag with a hash of the live part.

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
use super::routes::{routes, Access::*, Routes};
use super::AppState;
use crate::jobs::FromData;
use crate::registry::{CachedSummary, ModelEntry};
use crate::summary::live::LiveSummary;
use crate::summary::{self, GlobalSummary};

/// Routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .op(Reader, routes!(get_global_all))
        .op(Reader, routes!(get_global))
}

/// Summaries of every model.
#[derive(Debug, Serialize, ToSchema)]
pub struct GlobalAll {
    /// One summary per model with a background, sorted by model name.
    pub models: Vec<GlobalAnswer>,
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

/// The `/global` answer for one model: the background summary (cached per version),
/// the summaries from data once a job has succeeded on this version, and the live
/// section, fresh on every request. A value that holds what it shows; its entity tag
/// derives from its parts (see `answer`).
#[derive(Debug, Serialize, ToSchema)]
pub struct GlobalAnswer {
    /// Importance over the background.
    #[serde(flatten)]
    pub summary: GlobalSummary,
    /// Summaries from data, once a job (`POST /models/{name}/global/jobs`) has
    /// succeeded on this version: the last result of each kind, with its age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_data: Option<FromData>,
    /// The attributions this process has served for this version, beside the
    /// background baseline, with drift scores.
    pub live: LiveSummary,
}

/// Global importance of one model, cached per version.
#[utoipa::path(get, path = "/models/{name}/global", tag = "global",
    params(
        ("name" = String, Path, description = "Model name"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of a summary already held")),
    responses(
        (status = 200, description = "Summary", body = GlobalAnswer,
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
    let (answer, etag) = answer(&state, &entry, &cached, audience)?;
    let body = serde_json::to_vec(&answer).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(conditional(&body, &etag, &headers))
}

/// The answer for `entry` and its entity tag. The tag joins the cached summary's
/// (strong) tag with a hash of the live section; once a job result is shown it is
/// weak and also names the jobs and the audience, not the bytes (the results' ages
/// change every second), so it changes exactly when a new result lands.
///
/// # Errors
/// [`ApiError::Internal`] if serialising the live section fails.
fn answer(
    state: &AppState,
    entry: &ModelEntry,
    cached: &CachedSummary,
    audience: Audience,
) -> Result<(GlobalAnswer, String), ApiError> {
    let latest = state.jobs.latest(entry);
    let from_data = (!latest.is_empty())
        .then(|| audience.section(crate::jobs::from_data(&latest, chrono::Utc::now())));
    let live = crate::summary::live::summarise(
        &entry.live,
        &entry.built.feature_names,
        &cached.summary,
        crate::live::now_ms(),
    );
    let base = if latest.is_empty() {
        cached.etag.clone()
    } else {
        let ids: Vec<&str> = latest.iter().map(|j| j.id.as_str()).collect();
        let role = if audience.is_admin() { "" } else { "|reader" };
        let tag = etag_of(format!("{}|{}{role}", cached.etag, ids.join(",")).as_bytes());
        format!("W/{tag}")
    };
    let live_bytes = serde_json::to_vec(&live).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    live_bytes.hash(&mut hasher);
    let (weak, strong) = match base.strip_prefix("W/") {
        Some(t) => ("W/", t),
        None => ("", base.as_str()),
    };
    let etag = format!(
        "{weak}\"{}-{:016x}\"",
        strong.trim_matches('"'),
        hasher.finish()
    );
    let answer = GlobalAnswer {
        summary: cached.summary.clone(),
        from_data,
        live,
    };
    Ok((answer, etag))
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
    let mut models = Vec::new();
    let mut tags = Vec::new();
    let mut unavailable = Vec::new();
    for entry in state.registry.list() {
        let name = entry.name.clone();
        match cached_summary(&state, Arc::clone(&entry), audience).await {
            Ok(cached) => {
                let (answer, etag) = answer(&state, &entry, &cached, audience)?;
                models.push(answer);
                tags.push(etag);
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
    let all = GlobalAll {
        models,
        unavailable,
    };
    let body = serde_json::to_vec(&all).map_err(|e| ApiError::Internal(e.to_string()))?;
    // With a `from_data` section a body's bytes change with its age: tag by the
    // parts' tags instead, weakly (see [`answer`]).
    let etag = if tags.iter().any(|tag| tag.starts_with("W/")) {
        let mut parts = tags.join(",").into_bytes();
        parts.extend(
            serde_json::to_vec(&all.unavailable).map_err(|e| ApiError::Internal(e.to_string()))?,
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
            let cached = Arc::new(CachedSummary { summary, etag });
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
