//! The explaind binary: parse config, start logging, load models, serve.

use std::time::Duration;

use clap::Parser;
use explaind::config::{Config, LogFormat};
use explaind::server;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = Config::parse();
    if config.print_openapi {
        print!("{}", explaind::http::openapi::yaml());
        return Ok(());
    }
    if config.healthcheck {
        let healthy = server::probe_health(config.addr);
        std::process::exit(i32::from(!healthy));
    }
    init_tracing(config.log_format);
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, model_dir = ?config.model_dir, "explaind listening");
    if config.model_dir.is_none() {
        tracing::info!("no --model-dir: models registered through the API live in memory only");
    }
    let state = server::build_state(config)?;
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
    server::serve(listener, state, server::shutdown_signal(), grace).await?;
    tracing::info!("stopped");
    Ok(())
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
