//! Start-up and shutdown: build the state, load the store, serve until a signal,
//! then drain for a bounded time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::Config;
use crate::demo;
use crate::http::auth::{self, Tokens};
use crate::http::{self, AppState};
use crate::registry::Registry;
use crate::store::Store;

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
    let registry = Registry::new(store).with_live(live);
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

/// Serve on `listener` until `shutdown` completes; then readiness turns false, new
/// connections are refused, and requests in flight get `grace` to finish.
///
/// # Errors
/// I/O errors from the listener.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let draining = Arc::new(Notify::new());
    let signal = {
        let state = state.clone();
        let draining = Arc::clone(&draining);
        async move {
            shutdown.await;
            tracing::info!("shutting down: draining requests in flight");
            state.set_ready(false);
            state.stop_work(grace);
            draining.notify_one();
        }
    };
    let server = axum::serve(listener, http::app(state)).with_graceful_shutdown(signal);
    tokio::select! {
        result = server => result,
        () = async { draining.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "drain time over; exiting with requests still open");
            Ok(())
        }
    }
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
