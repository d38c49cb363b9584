//! Start-up and shutdown: build the state, load the store, serve until a signal,
//! then drain for a bounded time. Connections are served here rather than by
//! `axum::serve`, which sets no timeouts and no limit on open connections
//! (see the `connections` module).

mod connections;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use crate::demo;
use crate::http::auth::{self, Tokens};
use crate::http::{self, AppState};
use crate::registry::Registry;
use crate::store::Store;
use connections::ConnectionLimits;

/// Build the application state: open the model directory and register the demo
/// model. Nothing is loaded from the directory yet (see [`load_models`]).
///
/// # Errors
/// When the model directory cannot be created, or the embedded demo fails to fit.
pub fn build_state(config: Config) -> Result<AppState, Box<dyn std::error::Error + Send + Sync>> {
    let store = match &config.model_dir {
        Some(dir) => Some(Store::open(dir)?),
        None => None,
    };
    let live = config.live();
    live.validate()?;
    let limits = crate::spec::Limits {
        trees: crate::core::models::trees::TreeLimits {
            max_depth: usize::from(config.max_tree_depth),
            max_memory_bytes: config
                .max_model_memory_mb
                .saturating_mul(crate::core::models::trees::budget::MIB),
        },
        summary: crate::spec::SummaryLimits {
            min_centres: config.min_summary_rows.max(1),
            max_centres: config.max_background,
        },
    };
    let registry = Registry::new(store).with_live(live).with_limits(limits);
    if !config.no_demo {
        registry.insert_ephemeral(demo::NAME, &demo::house_prices_spec()?)?;
    }
    let tokens = Tokens::from_config(&config)?;
    auth::check_exposure(config.addr, &tokens, config.allow_unauthenticated)?;
    if !tokens.enabled() {
        tracing::warn!(addr = %config.addr, "no access tokens configured: every route is open to whoever can reach the address");
    }
    Ok(AppState::new(config, registry, tokens))
}

/// Load every model file and mark the server ready. Files that fail are logged and
/// listed by `/readyz`.
///
/// # Errors
/// When the model directory cannot be listed.
pub async fn load_models(state: &AppState) -> std::io::Result<()> {
    state.registry.sync_store(true).await?;
    tracing::info!(models = state.registry.len(), "models loaded");
    let datasets = std::sync::Arc::clone(&state.datasets);
    let failures = tokio::task::spawn_blocking(move || datasets.load())
        .await
        .map_err(std::io::Error::other)??;
    for failure in failures {
        tracing::warn!(%failure, "data-set file not loaded");
    }
    state.set_ready(true);
    Ok(())
}

/// Pick up model files that other processes add, change or remove in the model
/// directory, every `interval`, for as long as the process runs.
pub async fn watch_model_dir(state: AppState, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(e) = state.registry.sync_store(false).await {
            tracing::warn!(error = %e, "cannot read the model directory");
        }
    }
}

/// Serve on `listener` until `shutdown` completes, then drain: readiness turns
/// false, data-summary jobs stop, the listener closes (new connections are refused),
/// kept-alive connections close once idle (answers in flight carry
/// `Connection: close`), and requests in flight get `grace` to finish. Those still
/// open then are answered 503 `shutting_down` ([`AppState::stop_requests`]) and get
/// up to [`ANSWER_TIME`] for that answer to be written before this returns.
///
/// Each connection gets `--header-read-timeout-ms` to send a request head and is
/// closed after `--idle-timeout-secs` with nothing happening on it (no request being
/// computed, no byte moving; a request whose body stops arriving counts as nothing
/// happening). At most `--max-connections` are open at once: past that, new
/// connections are not accepted until one closes, so they wait in the kernel's
/// listen backlog rather than being refused (a burst is answered late, not failed; the timeouts bound the
/// wait that idle sockets can cause).
///
/// # Errors
/// None at present: accept errors are logged and retried (an exhausted
/// file-descriptor table after a pause), as axum's own `serve` does.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let limits = ConnectionLimits::of(&state.config);
    let slots = Arc::new(Semaphore::new(state.config.max_connections));
    let app = http::app(state.clone());
    let graceful = GracefulShutdown::new();
    let mut warned = None;
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = acquire_slot(&slots, &mut warned) => slot,
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        connections::spawn(stream, app.clone(), limits, &graceful, slot);
    }
    drop(listener);
    tracing::info!("shutting down: draining requests in flight");
    state.set_ready(false);
    state.stop_jobs();
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    if tokio::time::timeout(grace, &mut drained).await.is_ok() {
        return Ok(());
    }
    tracing::warn!(
        ?grace,
        "drain time over; answering the requests still open 503 shutting_down"
    );
    state.stop_requests();
    if tokio::time::timeout(ANSWER_TIME, &mut drained)
        .await
        .is_err()
    {
        tracing::warn!("exiting with connections whose answer could not be written in time");
    }
    Ok(())
}

/// How long, after the drain period, the 503 answers to the requests still open get
/// to be written before the process exits (a client that reads nothing does not
/// hold it longer).
pub const ANSWER_TIME: Duration = Duration::from_secs(1);

/// A slot of the connection limit, waiting when none is free (and saying so, at
/// most once a minute: `warned` is when it last did).
async fn acquire_slot(
    slots: &Arc<Semaphore>,
    warned: &mut Option<Instant>,
) -> OwnedSemaphorePermit {
    if let Ok(slot) = Arc::clone(slots).try_acquire_owned() {
        return slot;
    }
    let due = match warned {
        Some(at) => at.elapsed() >= Duration::from_secs(60),
        None => true,
    };
    if due {
        *warned = Some(Instant::now());
        tracing::warn!("--max-connections reached: new connections wait until one closes");
    }
    Arc::clone(slots)
        .acquire_owned()
        .await
        .expect("the connection semaphore is never closed")
}

/// Connection-level accept errors are the client's; anything else (such as running
/// out of file descriptors) is logged and retried after a pause.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// `GET /healthz` on the server at `addr` (an unspecified address such as 0.0.0.0
/// is probed on loopback); true when it answers 200 within two seconds.
pub fn probe_health(addr: std::net::SocketAddr) -> bool {
    use std::io::{Read, Write};
    let mut target = addr;
    if target.ip().is_unspecified() {
        target.set_ip(match target {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let timeout = Duration::from_secs(2);
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&target, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}
