//! Command-line and environment configuration: one struct, every flag with an
//! environment variable and a documented default.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A credential from the command line or environment: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().len() < 16 {
            return Err("tokens must have at least 16 characters".into());
        }
        Ok(Secret(s.trim().to_string()))
    }
}

/// Parses a [`Secret`] from the command line or environment. Unlike clap's default
/// for a `FromStr` type, its error never repeats the value: a token that is refused
/// (too short, a typo) would otherwise end up in the terminal or the container log.
#[derive(Debug, Clone, Copy)]
pub struct SecretParser;

impl clap::builder::TypedValueParser for SecretParser {
    type Value = Secret;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Secret, clap::Error> {
        let parsed = value
            .to_str()
            .ok_or_else(|| "tokens must be valid UTF-8".to_string())
            .and_then(str::parse::<Secret>);
        parsed.map_err(|reason| {
            let flag = arg.and_then(clap::Arg::get_long).unwrap_or("token");
            let env = arg
                .and_then(clap::Arg::get_env)
                .map(|e| format!(" (or {})", e.to_string_lossy()))
                .unwrap_or_default();
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("a value of --{flag}{env} is refused: {reason} (the value is not shown)\n"),
            )
            .with_cmd(cmd)
        })
    }
}

/// explaind's configuration.
#[derive(Debug, Clone, Parser)]
#[command(name = "explaind", version, about = "An explanation microservice")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "EXPLAIND_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Directory where registered models are stored durably and loaded from at start.
    /// Without it, models registered through the API live in memory only.
    #[arg(long, env = "EXPLAIND_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,

    /// Seconds between scans of the model directory for files added, changed or
    /// removed by other processes (0: never rescan).
    #[arg(long, env = "EXPLAIND_RELOAD_INTERVAL_SECS", default_value_t = 2)]
    pub reload_interval_secs: u64,

    /// Do not register the embedded house-price demo model at start.
    #[arg(long, env = "EXPLAIND_NO_DEMO", default_value_t = false)]
    pub no_demo: bool,

    /// Largest request body accepted on explain, predict and other non-upload routes, in bytes.
    #[arg(long, env = "EXPLAIND_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest model registration body (PUT /models/{name}), in bytes.
    #[arg(long, env = "EXPLAIND_MAX_MODEL_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_model_bytes: usize,

    /// Most instances accepted in one explain or predict request.
    #[arg(long, env = "EXPLAIND_MAX_INSTANCES", default_value_t = 10_000)]
    pub max_instances: usize,

    /// Explanation jobs that may run at once on the blocking pool (0: number of CPUs).
    #[arg(long, env = "EXPLAIND_EXPLAIN_CONCURRENCY", default_value_t = 0)]
    pub explain_concurrency: usize,

    /// Most background or data-set rows a global summary (importance, permutation
    /// importance, partial dependence, mean |φ|) is computed over (a deterministic
    /// evenly spaced subset is used above this).
    #[arg(long, env = "EXPLAIND_GLOBAL_MAX_ROWS", default_value_t = 1000)]
    pub global_max_rows: usize,

    /// Live importance: length of the sliding window of served attributions shown
    /// in `/global`, in seconds.
    #[arg(long, env = "EXPLAIND_LIVE_WINDOW_SECS", default_value_t = 300)]
    pub live_window_secs: u64,

    /// Live importance: width of one time bucket of that window, in seconds (the
    /// window slides in these steps).
    #[arg(long, env = "EXPLAIND_LIVE_BUCKET_SECS", default_value_t = 10)]
    pub live_bucket_secs: u64,

    /// Live importance: value bins per feature for the drift score (PSI), cut at
    /// background quantiles when a version is registered.
    #[arg(long, env = "EXPLAIND_LIVE_BINS", default_value_t = 10)]
    pub live_bins: usize,

    /// Live importance: models with more features than this export only totals on
    /// /metrics, not per-feature series.
    #[arg(
        long,
        env = "EXPLAIND_LIVE_METRICS_MAX_FEATURES",
        default_value_t = 256
    )]
    pub live_metrics_max_features: usize,
    /// Most rows one data set (PUT /models/{name}/datasets/{id}) may hold (413 above).
    #[arg(long, env = "EXPLAIND_DATASET_MAX_ROWS", default_value_t = 100_000)]
    pub dataset_max_rows: usize,

    /// Data-summary jobs (POST /models/{name}/global/jobs) running at once on the
    /// blocking pool, apart from the explanation requests' slots.
    #[arg(long, env = "EXPLAIND_GLOBAL_JOB_CONCURRENCY", default_value_t = 1)]
    pub global_job_concurrency: usize,

    /// Most data-summary jobs queued or running; more are refused with 503.
    #[arg(long, env = "EXPLAIND_GLOBAL_JOB_QUEUE", default_value_t = 16)]
    pub global_job_queue: usize,

    /// Finished jobs kept for GET /jobs/{id} (oldest dropped first).
    #[arg(long, env = "EXPLAIND_GLOBAL_JOBS_KEPT", default_value_t = 100)]
    pub global_jobs_kept: usize,

    /// Most shuffles per feature a permutation-importance request may ask for.
    #[arg(long, env = "EXPLAIND_GLOBAL_MAX_REPEATS", default_value_t = 50)]
    pub global_max_repeats: usize,

    /// Most grid points a partial-dependence request may ask for.
    #[arg(long, env = "EXPLAIND_GLOBAL_MAX_GRID", default_value_t = 100)]
    pub global_max_grid: usize,

    /// Most ICE curves a partial-dependence request may ask for.
    #[arg(long, env = "EXPLAIND_GLOBAL_MAX_ICE", default_value_t = 100)]
    pub global_max_ice: usize,

    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C; those still
    /// open then are answered 503 `shutting_down`.
    #[arg(long, env = "EXPLAIND_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// Log format.
    #[arg(long, env = "EXPLAIND_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Ask the server at `--addr` for `/healthz` and exit 0 if it answers 200: a
    /// health check for images that have no shell or curl.
    #[arg(long, default_value_t = false)]
    pub healthcheck: bool,

    /// Bearer tokens with the admin role (register, replace, delete, weights), comma-separated.
    #[arg(
        long = "admin-token",
        env = "EXPLAIND_ADMIN_TOKENS",
        value_delimiter = ',',
        value_parser = SecretParser,
        hide_env_values = true
    )]
    pub admin_tokens: Vec<Secret>,

    /// Bearer tokens with the reader role (predict, explain, global, pictures), comma-separated.
    #[arg(
        long = "reader-token",
        env = "EXPLAIND_READER_TOKENS",
        value_delimiter = ',',
        value_parser = SecretParser,
        hide_env_values = true
    )]
    pub reader_tokens: Vec<Secret>,

    /// A file of tokens, one per line as `admin TOKEN` or `reader TOKEN` (`#` starts a
    /// comment), e.g. a mounted Kubernetes secret. Read at start.
    #[arg(long, env = "EXPLAIND_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,

    /// Allow listening on a non-loopback address with no tokens configured, so that
    /// anyone who can reach the port can replace models. Off by default.
    #[arg(long, env = "EXPLAIND_ALLOW_UNAUTHENTICATED", default_value_t = false)]
    pub allow_unauthenticated: bool,

    /// Explanation requests that may wait for a slot beyond the running ones; more
    /// are refused at once with 503 and Retry-After.
    #[arg(long, env = "EXPLAIND_EXPLAIN_QUEUE", default_value_t = 256)]
    pub explain_queue: usize,

    /// Deadline for any request, in milliseconds: past it the answer is 504.
    #[arg(long, env = "EXPLAIND_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,

    /// Print the OpenAPI document (YAML) to standard output and exit.
    #[arg(long, default_value_t = false)]
    pub print_openapi: bool,

    // Issue 15, deep trees.
    /// Deepest tree (splits from root to leaf) an XGBoost or LightGBM model may have;
    /// a deeper one is refused with 422 (and skipped, and listed in /readyz, when read
    /// from --model-dir). TreeSHAP keeps every leaf's path, so a model's memory grows
    /// with leaves × this limit.
    #[arg(
        long,
        env = "EXPLAIND_MAX_TREE_DEPTH",
        default_value_t = crate::core::models::trees::DEFAULT_MAX_TREE_DEPTH as u16,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub max_tree_depth: u16,

    // --- Connections (issue 15: connection handling) ---
    /// Milliseconds a client has to send a complete request head, counted from when
    /// the connection opens or its previous answer was sent; past it the connection
    /// is closed (so a kept-alive connection with no next request closes then too).
    /// 0: no limit.
    #[arg(
        long,
        env = "EXPLAIND_HEADER_READ_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub header_read_timeout_ms: u64,

    /// Seconds a connection may stay open with no request being computed and no byte
    /// moving either way (e.g. a client that stops reading its answer, or stops sending
    /// a request body it announced); then it is closed. 0: no limit.
    #[arg(long, env = "EXPLAIND_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// Most connections open at once. Past it, new connections wait in the listen
    /// backlog, unanswered, until an open one closes (they are not refused).
    #[arg(
        long,
        env = "EXPLAIND_MAX_CONNECTIONS",
        default_value_t = 1024,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_connections: usize,

    // Privacy of background and data-set rows (issue 15, item 5).
    /// Fewest background or data-set rows a summary shown to a reader-role token may
    /// be computed over (global importance, partial dependence, job results); fewer
    /// are refused with 403. Also the fewest rows that must share a value before a
    /// dependence grid shows it exactly (0 acts as 1). Admins are not limited by it.
    #[arg(long, env = "EXPLAIND_MIN_SUMMARY_ROWS", default_value_t = 10)]
    pub min_summary_rows: usize,

    // Work limits (issue 15, cancellation): budgets a request may ask for, above
    // which it is refused with 422, and the time a data-summary job may run.
    /// Largest `n_samples` a request may ask of kernel_shap, permutation_shap or
    /// lime (the core's own bound is 1,048,576).
    #[arg(long, env = "EXPLAIND_MAX_SAMPLES", default_value_t = 100_000)]
    pub max_samples: usize,

    /// Most players (features or groups) exact_shapley may enumerate: 2^players
    /// coalitions per row (the core's own bound is 16).
    #[arg(long, env = "EXPLAIND_MAX_EXACT_PLAYERS", default_value_t = 16)]
    pub max_exact_players: usize,

    /// Largest `steps` of integrated gradients (the core's own bound is 2048).
    #[arg(long, env = "EXPLAIND_MAX_IG_STEPS", default_value_t = 2048)]
    pub max_ig_steps: usize,

    /// Largest `max_background` (background rows a sampling explainer integrates
    /// over) a request may ask for.
    #[arg(long, env = "EXPLAIND_MAX_BACKGROUND", default_value_t = 1000)]
    pub max_background: usize,

    /// Seconds a data-summary job may run before it is stopped and failed; 0: no
    /// limit.
    #[arg(long, env = "EXPLAIND_JOB_TIMEOUT_SECS", default_value_t = 600)]
    pub job_timeout_secs: u64,

    // Memory of tree models (issue 15, item 1: memory linear in the model's size).
    /// Most memory, in MiB, one XGBoost or LightGBM model's TreeSHAP layout may take
    /// (estimated from the trees before it is built; beyond it the model is refused
    /// with 422, or skipped and listed in /readyz when read from --model-dir), and
    /// the same for its background grouped for interventional TreeSHAP (beyond it the
    /// request is refused with 422).
    #[arg(
        long,
        env = "EXPLAIND_MAX_MODEL_MEMORY_MB",
        default_value_t = crate::core::models::trees::budget::DEFAULT_MAX_MODEL_MEMORY_MB,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_model_memory_mb: usize,
}

impl Config {
    /// The configuration with every default, as tests and embedders start from.
    pub fn defaults() -> Self {
        Config::parse_from(["explaind"])
    }

    /// The live-importance settings.
    pub fn live(&self) -> crate::live::LiveConfig {
        crate::live::LiveConfig {
            window_secs: self.live_window_secs,
            bucket_secs: self.live_bucket_secs,
            bins: self.live_bins,
            min_bin_rows: self.min_summary_rows,
        }
    }

    /// The run-time limit of a data-summary job, if any.
    pub fn job_timeout(&self) -> Option<std::time::Duration> {
        (self.job_timeout_secs > 0).then(|| std::time::Duration::from_secs(self.job_timeout_secs))
    }

    /// The server-side caps on explanation budgets (`--max-samples` and friends).
    pub fn caps(&self) -> crate::explainer::Caps {
        crate::explainer::Caps {
            max_samples: self.max_samples,
            max_exact_players: self.max_exact_players,
            max_ig_steps: self.max_ig_steps,
            max_background: self.max_background,
        }
    }

    /// The limits of data summaries (rows, shuffles, grid, ICE curves, fewest rows).
    pub fn summary_limits(&self) -> crate::analysis::Limits {
        crate::analysis::Limits {
            max_rows: self.global_max_rows.max(1),
            max_repeats: self.global_max_repeats,
            max_grid: self.global_max_grid,
            max_ice: self.global_max_ice,
            min_rows: self.min_summary_rows.max(1),
        }
    }

    /// Explanation concurrency with 0 resolved to the number of CPUs.
    pub fn effective_explain_concurrency(&self) -> usize {
        if self.explain_concurrency > 0 {
            self.explain_concurrency
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }
}
