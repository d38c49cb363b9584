//! The explaind binary: parse config, start logging, check the configuration and
//! load models, then listen and serve.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use explaind::config::{Config, LogFormat};
use explaind::server;

fn main() -> ExitCode {
    let config = Config::parse();
    if config.print_openapi {
        print!("{}", explaind::http::openapi::yaml());
        return ExitCode::SUCCESS;
    }
    if config.healthcheck {
        let healthy = server::probe_health(config.addr);
        return if healthy {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    init_tracing(config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(config));
    // The drain is over (or its grace period is): work still running on the blocking
    // pool must not hold the process, as dropping the runtime would (it waits for
    // every blocking task).
    runtime.shutdown_timeout(Duration::ZERO);
    code
}

/// Check the configuration and build the state, then listen: a configuration error
/// exits with status 2 before anything is announced or bound.
async fn run(config: Config) -> ExitCode {
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let addr = config.addr;
    let state = match server::build_state(config) {
        Ok(state) => state,
        Err(e) => {
            tracing::error!(error = %e, "configuration refused; not starting");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen; not starting");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().unwrap_or(addr);
    tracing::info!(addr = %bound, model_dir = ?state.config.model_dir, "explaind listening");
    if state.config.model_dir.is_none() {
        tracing::info!("no --model-dir: models registered through the API live in memory only");
    }
    let loader = state.clone();
    let reload = Duration::from_secs(loader.config.reload_interval_secs);
    tokio::spawn(async move {
        if let Err(e) = server::load_models(&loader).await {
            tracing::error!(error = %e, "cannot read the model directory; not ready");
            return;
        }
        if loader.config.model_dir.is_some() && !reload.is_zero() {
            server::watch_model_dir(loader, reload).await;
        }
    });
    match server::serve(listener, state, server::shutdown_signal(), grace).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "serving failed");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "explaind=info,tower_http=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
