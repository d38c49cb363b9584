//! The HTTP layer: router, shared state, one module per resource.
//!
//! Handlers parse and validate, hand CPU-heavy work to the blocking pool through
//! [`AppState::run_cancellable`] (or [`AppState::run_blocking`]), and answer; they
//! hold no locks across `.await`.
//!
//! # Stopping work
//! Each piece of blocking work gets a [`Cancel`] token, a child of
//! [`Shared::shutdown`]. It is tripped when the future awaiting the work is dropped
//! (the client disconnected, `frame_request` answered 504 past
//! `--request-timeout-ms`, or the runtime is torn down) and when the drain period
//! after a shutdown signal runs out ([`AppState::stop_requests`]); the long
//! computations check it between blocks of work and stop within milliseconds. At that
//! moment `frame_request` also answers every request still open 503 `shutting_down`
//! at once, without waiting for its work to notice, so the server can write those
//! answers before it exits.
//! The explain permit is held by the work itself, so it is free again exactly when
//! the work has stopped.

pub mod activations;
pub mod auth;
pub mod charts;
pub mod counterfactuals;
pub mod dashboard;
pub mod datasets;
pub mod error;
pub mod explain;
pub mod extract;
pub mod global;
pub mod ice;
pub mod instances;
pub mod jobs;
pub mod kserve;
pub mod limits;
pub mod models;
pub mod oip;
pub mod openapi;
pub mod ops;
pub mod outputs;
pub mod predict;
pub mod privacy;
pub mod prometheus;
pub mod quality;
pub mod routes;
pub mod selection;
pub mod texts;
pub mod weights;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tracing::Instrument;

use crate::config::Config;
use crate::core::Cancel;
use crate::datasets::Datasets;
use crate::jobs::{JobLimits, Jobs};
use crate::metrics::Metrics;
use crate::registry::Registry;
use error::ApiError;

/// What every handler can reach: one `Arc`, so the clones each middleware layer and
/// handler takes cost a single reference count. Fields are reached through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The state behind [`AppState`].
pub struct Shared {
    /// Registered models.
    pub registry: Arc<Registry>,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Prometheus counters.
    pub metrics: Arc<Metrics>,
    /// False until the model store is loaded, and again once shutdown begins.
    pub ready: Arc<AtomicBool>,
    /// Bounds how many explanation jobs run at once on the blocking pool.
    pub explain_permits: Arc<Semaphore>,
    /// Access tokens (empty: access control off).
    pub tokens: Arc<auth::Tokens>,
    /// Explanation jobs running or waiting for a permit, for load shedding.
    pub explain_pending: Arc<AtomicUsize>,
    /// Labelled data sets per model.
    pub datasets: Arc<Datasets>,
    /// Background jobs of the data summaries and their last results.
    pub jobs: Arc<Jobs>,
    /// The root of every request's cancellation token: tripped once, when the
    /// drain period after a shutdown signal runs out ([`AppState::stop_requests`]).
    pub shutdown: Cancel,
    /// Turns true with `shutdown`, for the requests that wait on it
    /// ([`AppState::requests_stopped`]).
    stopped: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// State around a registry, not yet ready.
    pub fn new(config: Config, registry: Registry, tokens: auth::Tokens) -> Self {
        let permits = config.effective_explain_concurrency();
        let shutdown = Cancel::new();
        let limits = JobLimits {
            concurrency: config.global_job_concurrency,
            max_active: config.global_job_queue,
            kept: config.global_jobs_kept,
            timeout: config.job_timeout(),
        };
        let jobs = Jobs::new(limits, Cancel::new());
        AppState(Arc::new(Shared {
            shutdown,
            stopped: tokio::sync::watch::Sender::new(false),
            datasets: Arc::new(Datasets::new(config.model_dir.as_deref())),
            jobs: Arc::new(jobs),
            tokens: Arc::new(tokens),
            explain_pending: Arc::default(),
            registry: Arc::new(registry),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            ready: Arc::new(AtomicBool::new(false)),
            explain_permits: Arc::new(Semaphore::new(permits)),
        }))
    }

    /// The registered model `name`, resolved once per request: handlers pass the
    /// entry down, so every answer's `version` is the version that computed it.
    ///
    /// # Errors
    /// [`ApiError::ModelNotFound`].
    pub fn entry(&self, name: &str) -> Result<Arc<crate::registry::ModelEntry>, ApiError> {
        self.registry
            .get(name)
            .ok_or_else(|| ApiError::ModelNotFound(name.to_string()))
    }

    /// Whether the server should receive traffic.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Mark the server ready or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Shutdown has begun: stop every data-summary job now (running or queued, they
    /// fail with a message that says so). Requests go on until
    /// [`AppState::stop_requests`].
    pub fn stop_jobs(&self) {
        self.jobs.stop_all();
    }

    /// The drain period is over: trip every request's token, so explanation work
    /// stops within milliseconds, and answer every request still open 503
    /// `shutting_down` at once (`frame_request` waits on
    /// [`AppState::requests_stopped`]).
    pub fn stop_requests(&self) {
        self.shutdown.cancel();
        self.stopped.send_replace(true);
    }

    /// Resolves once [`AppState::stop_requests`] has been called (at once if it
    /// already has).
    pub async fn requests_stopped(&self) {
        let mut stopped = self.stopped.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = stopped.wait_for(|stopped| *stopped).await;
    }

    /// Run work whose cost (in rough multiply-adds, see [`crate::explainer::cost`]) is
    /// below [`INLINE_COST`] right here on the async worker, where a hand-off to the
    /// blocking pool would cost more than the work; anything larger goes through
    /// [`AppState::run_cancellable`].
    ///
    /// # Errors
    /// As [`AppState::run_cancellable`].
    pub async fn run_sized<T, F>(&self, cost: usize, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Cancel) -> T + Send + 'static,
        T: Send + 'static,
    {
        if cost <= INLINE_COST {
            // Microseconds of work: nothing to stop, no token to allocate.
            Ok(work(&Cancel::never()))
        } else {
            self.run_cancellable(work).await
        }
    }

    /// [`AppState::run_cancellable`] for work that never checks its token (short
    /// work only: it runs to its end even when the request is gone).
    ///
    /// # Errors
    /// As [`AppState::run_cancellable`].
    pub async fn run_blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.run_cancellable(|_| work()).await
    }

    /// Run CPU-heavy work on the blocking pool, at most `explain_concurrency` at a
    /// time, inside the caller's tracing span. When the running jobs and those
    /// already waiting fill `explain_queue`, the request is shed at once.
    ///
    /// `work` gets a token (module doc, "Stopping work") tripped when this future is
    /// dropped or shutdown begins; long work checks it and stops. The permit is
    /// released when `work` returns, not when this future is dropped.
    ///
    /// # Errors
    /// [`ApiError::Overloaded`] when shed; [`ApiError::ShuttingDown`] when shutdown
    /// tripped the token while the work ran (whatever it returned);
    /// [`ApiError::Internal`] if the work panicked (the panic is logged).
    pub async fn run_cancellable<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Cancel) -> T + Send + 'static,
        T: Send + 'static,
    {
        let capacity = self.config.effective_explain_concurrency() + self.config.explain_queue;
        let pending = PendingGuard::enter(&self.explain_pending);
        if pending.count > capacity {
            return Err(ApiError::Overloaded);
        }
        let permit = Arc::clone(&self.explain_permits)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Internal("explanation pool closed".into()))?;
        let cancel = self.shutdown.child();
        // Dropped with this future: a client gone or a 504 stops the work.
        let _trip = cancel.trip_on_drop();
        let token = cancel.clone();
        let span = tracing::Span::current();
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(|| work(&token))
        })
        .instrument(tracing::Span::current())
        .await
        .map_err(|e| ApiError::Internal(format!("explanation task failed: {e}")))?;
        if self.shutdown.is_cancelled() {
            return Err(ApiError::ShuttingDown);
        }
        Ok(outcome)
    }
}

/// Work below this many multiply-adds (tens of microseconds) runs inline.
pub const INLINE_COST: usize = 20_000;

/// Counts a job as pending for as long as it lives.
struct PendingGuard<'a> {
    counter: &'a AtomicUsize,
    /// Jobs pending including this one, when it entered.
    count: usize,
}

impl<'a> PendingGuard<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        let count = counter.fetch_add(1, Ordering::SeqCst) + 1;
        PendingGuard { counter, count }
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The whole application, ready to serve or to be called with `oneshot` in tests.
///
/// Only the request middleware (`frame_request`) is a route layer, because it needs
/// the matched route template. Tracing, panic catching and the body limit wrap the
/// routed application from outside: axum clones a route's whole stack of layers on
/// every call, so each layer kept off the routes saves allocations per request.
pub fn app(state: AppState) -> Router {
    let (routes, table) = routes(&state.config).into_parts();
    let routed = routes
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            (state.clone(), Arc::new(table)),
            frame_request,
        ))
        .with_state(state.clone());
    let outer = tower::ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Internal(
                "handler panicked".into(),
            ))
        }))
        .layer(limits::BodyLimit::new(
            state.config.max_body_bytes,
            "--max-body-bytes",
        ))
        .service(routed);
    Router::new().fallback_service(outer)
}

/// Every route of the service, each declared with who may call it.
pub fn routes(config: &Config) -> routes::Routes {
    routes::Routes::new()
        .merge(ops::router())
        .merge(openapi::router())
        .merge(models::router(config))
        .merge(explain::router())
        .merge(counterfactuals::router())
        .merge(predict::router())
        .merge(global::router())
        .merge(datasets::router(config))
        .merge(jobs::router())
        .merge(ice::router())
        .merge(weights::router())
        .merge(activations::router())
        .merge(kserve::router())
        .merge(oip::router())
        .merge(charts::router())
        .merge(dashboard::router())
        .merge(texts::router())
}

async fn route_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::RouteNotFound(uri.path().to_string())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The middleware every request passes, outermost first: count the answer by route
/// template, method and status with its latency; answer 504 past
/// `--request-timeout-ms`, and 503 `shutting_down` when a shutdown's drain period
/// ends ([`AppState::stop_requests`]); refuse it (401/403) without the token its route needs
/// ([`auth::admit`]). One layer rather than three, so a request pays for one boxed
/// future and one state clone.
async fn frame_request(
    State((state, table)): State<(AppState, Arc<routes::RouteTable>)>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let ms = state.config.request_timeout_ms;
    let guarded = async {
        // Unmatched routes are open: they answer 404 to everyone.
        let needed = route
            .as_ref()
            .and_then(|r| table.access(&method, r.as_str()).role());
        match auth::admit(&state.tokens, needed, &request) {
            Err(refused) => axum::response::IntoResponse::into_response(refused),
            Ok(caller) => {
                let mut request = request;
                request.extensions_mut().insert(caller);
                next.run(request).await
            }
        }
    };
    // At the end of a shutdown's drain period the request is answered at once;
    // dropping `guarded` trips its work's token.
    let response = tokio::select! {
        answered = tokio::time::timeout(Duration::from_millis(ms), guarded) => match answered {
            Ok(response) => response,
            Err(_) => axum::response::IntoResponse::into_response(ApiError::DeadlineExceeded(ms)),
        },
        () = state.requests_stopped() => axum::response::IntoResponse::into_response(ApiError::ShuttingDown),
    };
    state.metrics.observe_request(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        method.as_str(),
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}
