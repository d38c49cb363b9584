//! Operations routes: liveness, readiness, metrics and the API description.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::routes::{routes, Access::*, Routes};
use super::AppState;

/// Routes of this module.
pub fn router() -> Routes {
    // Probes and scrapers carry no tokens.
    Routes::new()
        .op(Open, routes!(get_healthz))
        .op(Open, routes!(get_readyz))
        .op(Open, routes!(get_metrics))
}

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves requests.
    pub status: String,
}

/// Readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Whether traffic should be sent here.
    pub ready: bool,
    /// Models registered.
    pub models: usize,
    /// Model files that failed to load, as "file: reason" (the models serve without them).
    pub load_failures: Vec<String>,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn get_healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The model store is loaded and the server is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Loading models or shutting down", body = Readiness)))]
pub async fn get_readyz(State(state): State<AppState>) -> impl IntoResponse {
    let ready = state.is_ready();
    let body = Readiness {
        ready,
        models: state.registry.len(),
        load_failures: state.registry.load_failures(),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain")))]
pub async fn get_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_text(&state),
    )
}

/// The service's metrics followed by the live statistics of every model.
fn metrics_text(state: &AppState) -> String {
    let mut text = state.metrics.render(state.registry.len());
    super::prometheus::render(
        &mut text,
        &state.registry.list(),
        state.config.live_metrics_max_features,
    );
    text
}
