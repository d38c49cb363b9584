//! The dashboard: `GET /` and its two assets, embedded in the binary.
//!
//! Plain HTML, CSS and JavaScript under `static/`, no build step and nothing
//! fetched from elsewhere: the page lists the models and, for the one selected,
//! polls `/models/{name}/global` with `If-None-Match`, shows the importance and
//! weight pictures, and explains an instance typed into a form pre-filled with the
//! background's medians (for a text classifier, a text typed into a box, shown with
//! its words marked by attribution). The page's icon is inline, so the browser asks
//! for no `/favicon.ico`.

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;

use super::routes::{routes, Access::*, Routes};

const INDEX_HTML: &str = include_str!("../../static/index.html");
const APP_JS: &str = include_str!("../../static/app.js");
const APP_CSS: &str = include_str!("../../static/app.css");

/// Routes of this module.
pub fn router() -> Routes {
    Routes::new()
        .op(Open, routes!(get_dashboard))
        .get("/static/app.js", Open, || {
            asset(APP_JS, "text/javascript; charset=utf-8")
        })
        .get("/static/app.css", Open, || {
            asset(APP_CSS, "text/css; charset=utf-8")
        })
}

async fn asset(body: &'static str, media_type: &'static str) -> impl IntoResponse {
    let cache = HeaderValue::from_static("no-cache");
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
}

/// The dashboard page.
#[utoipa::path(get, path = "/", tag = "dashboard",
    responses((status = 200, description = "The dashboard", content_type = "text/html", body = String)))]
pub async fn get_dashboard() -> impl IntoResponse {
    asset(INDEX_HTML, "text/html; charset=utf-8").await
}
