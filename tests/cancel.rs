//! Work that outlives its request: past the deadline, after the client leaves, or
//! once shutdown begins, an explanation's computation stops within milliseconds and
//! gives its permit back; budgets above the server's caps are refused.
//!
//! The slow request below (kernel_shap on 30 features, 100,000 coalitions × 200
//! background rows for each of 16 rows) takes a minute or more in a debug build, so
//! every bound here (2 s for work to stop) is generous next to what it guards
//! against. The tests take one
//! lock each: slow work of one test would hold up the quick requests of another.
//!
//! A test binary of its own: it reads the whole process's CPU time to see that the
//! work stopped, which other tests running beside it in one binary would spoil.

mod common;
#[path = "common/tree_gen.rs"]
mod tree_gen;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::{call, house, ready_app};
use axum::http::{Method, StatusCode};
use axum::Router;
use explaind::config::Config;
use explaind::http::AppState;
use explaind::server;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

/// Features of the wide model: too many for kernel_shap to enumerate coalitions.
const WIDE: usize = 30;

/// A linear model of [`WIDE`] features with 200 background rows.
fn wide_spec() -> Value {
    let names: Vec<String> = (0..WIDE).map(|j| format!("x{j}")).collect();
    let coefficients: Vec<f64> = (0..WIDE).map(|j| j as f64 - 10.0).collect();
    let background: Vec<Vec<f64>> = (0..200)
        .map(|i| (0..WIDE).map(|j| ((i * 7 + j * 3) % 11) as f64).collect())
        .collect();
    json!({
        "kind": "linear", "feature_names": names,
        "params": {"coefficients": coefficients}, "background": background,
    })
}

/// A minute or more of work in a debug build (16 rows × 100,000 coalitions × 200
/// background rows; one row of 10,000 coalitions takes about 0.8 s).
fn slow_request() -> Value {
    json!({
        "instances": vec![vec![1.0; WIDE]; 16], "method": "kernel_shap",
        "n_samples": 100_000, "max_background": 200,
    })
}

/// A ready application with the wide model registered.
async fn wide_app(config: Config) -> (Router, AppState) {
    let (app, state) = ready_app(config).await;
    let put = call(&app, Method::PUT, "/models/wide", Some(wide_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    (app, state)
}

fn config(timeout_ms: u64) -> Config {
    Config {
        request_timeout_ms: timeout_ms,
        explain_concurrency: 2,
        ..Config::defaults()
    }
}

/// Wait (up to 2 s) until `state` has no explanation work holding a permit.
async fn permits_come_back(state: &AppState) -> Duration {
    let start = Instant::now();
    let total = state.config.effective_explain_concurrency();
    while state.explain_permits.available_permits() < total {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "explanation work still holds a permit 2 s after it should have stopped"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

/// Wait until some work holds a permit, then let it run a little.
async fn work_started(state: &AppState) {
    let total = state.config.effective_explain_concurrency();
    while state.explain_permits.available_permits() == total {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// CPU time this process has used (all threads), from `/proc/self/stat`.
#[cfg(target_os = "linux")]
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name: state is the first, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ, 100 on every Linux.
}

/// Wait until the permits are free, then check that the process is idle: over
/// one second it uses well under a quarter of a core (the work left running
/// would keep both cores busy).
async fn idle(state: &AppState) {
    permits_come_back(state).await;
    #[cfg(target_os = "linux")]
    {
        let before = cpu_seconds();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let used = cpu_seconds() - before;
        assert!(
            used < 0.25,
            "{used} s of CPU in the second after the work should have stopped"
        );
    }
}

/// [`idle`], and then a small sampling request (which needs the same threads) is
/// answered.
async fn work_stopped(app: &Router, state: &AppState) {
    idle(state).await;
    let quick = json!({"instances": [house()], "method": "kernel_shap", "n_samples": 100});
    let answer = call(
        app,
        Method::POST,
        "/models/house-prices/explain",
        Some(quick),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn past_the_deadline_the_work_stops_and_gives_its_permit_back() {
    let _serial = SERIAL.lock().await;
    let (app, state) = wide_app(config(1000)).await;
    let started = Instant::now();
    let late = call(
        &app,
        Method::POST,
        "/models/wide/explain",
        Some(slow_request()),
    )
    .await;
    assert_eq!(late.status, StatusCode::GATEWAY_TIMEOUT, "{}", late.text);
    assert_eq!(late.json["error"]["code"], "deadline_exceeded");
    assert!(started.elapsed() < Duration::from_secs(10));
    work_stopped(&app, &state).await;
}

#[tokio::test]
async fn a_dropped_request_stops_its_work() {
    let _serial = SERIAL.lock().await;
    let (app, state) = wide_app(config(600_000)).await;
    let client = app.clone();
    let request = tokio::spawn(async move {
        call(
            &client,
            Method::POST,
            "/models/wide/explain",
            Some(slow_request()),
        )
        .await
    });
    work_started(&state).await;
    request.abort();
    assert!(request.await.is_err_and(|e| e.is_cancelled()));
    work_stopped(&app, &state).await;
}

async fn serve(state: AppState, grace: Duration) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        let _ = stopped.await;
    };
    tokio::spawn(server::serve(listener, state, signal, grace));
    (addr, stop)
}

/// Send the slow request over a fresh connection; the connection is returned open.
async fn send_slow(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = slow_request().to_string();
    let request = format!(
        "POST /models/wide/explain HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn a_client_that_closes_its_socket_stops_the_work() {
    let _serial = SERIAL.lock().await;
    let (app, state) = wide_app(config(600_000)).await;
    let (addr, _stop) = serve(state.clone(), Duration::from_secs(30)).await;
    let stream = send_slow(addr).await;
    work_started(&state).await;
    drop(stream);
    work_stopped(&app, &state).await;
}

#[tokio::test]
async fn shutdown_stops_work_still_running_when_the_grace_period_ends() {
    let _serial = SERIAL.lock().await;
    let (_, state) = wide_app(config(600_000)).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        let _ = stopped.await;
    };
    let grace = Duration::from_secs(1);
    let serving = tokio::spawn(server::serve(listener, state.clone(), signal, grace));
    let mut stream = send_slow(addr).await;
    work_started(&state).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    // The work (a minute or more) is stopped when the grace period ends, and its
    // request answered; the server is done soon after.
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer)
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("shutting_down"), "{answer}");
    tokio::time::timeout(grace + Duration::from_secs(3), serving)
        .await
        .expect("the server stops soon after its grace period")
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() >= grace,
        "requests in flight get the grace period"
    );
    assert!(started.elapsed() < grace + Duration::from_secs(3));
    idle(&state).await;
}

#[tokio::test]
async fn budgets_above_the_caps_are_refused_naming_field_cap_and_flag() {
    let _serial = SERIAL.lock().await;
    let caps = Config {
        max_samples: 500,
        max_exact_players: 4,
        max_ig_steps: 64,
        max_background: 50,
        ..Config::defaults()
    };
    let (app, _) = ready_app(caps).await;
    let cases = [
        (
            json!({"method": "kernel_shap", "n_samples": 501}),
            "n_samples",
            "500",
            "--max-samples",
        ),
        (
            json!({"method": "lime", "n_samples": 501}),
            "n_samples",
            "500",
            "--max-samples",
        ),
        (
            json!({"method": "exact_shapley"}),
            "exact_shapley",
            "4",
            "--max-exact-players",
        ),
        (
            json!({"method": "kernel_shap", "max_background": 51}),
            "max_background",
            "50",
            "--max-background",
        ),
        (
            json!({"method": "integrated_gradients", "steps": 65}),
            "steps",
            "64",
            "--max-ig-steps",
        ),
    ];
    for (mut body, field, cap, flag) in cases {
        body["instances"] = json!([house()]);
        let answer = call(
            &app,
            Method::POST,
            "/models/house-prices/explain",
            Some(body),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.text
        );
        let message = answer.json["error"]["message"].as_str().unwrap();
        for part in [field, cap, flag] {
            assert!(message.contains(part), "{part} not in {message}");
        }
    }
    // At the cap is fine.
    let at = json!({"instances": [house()], "method": "kernel_shap", "n_samples": 500});
    let answer = call(&app, Method::POST, "/models/house-prices/explain", Some(at)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    // Jobs are capped the same way.
    let job = json!({"kind": "mean_abs_attribution", "method": "kernel_shap", "n_samples": 501});
    let answer = call(
        &app,
        Method::POST,
        "/models/house-prices/global/jobs",
        Some(job),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    assert!(answer.text.contains("--max-samples"), "{}", answer.text);
}

/// A forest of 60 complete trees of depth 8 on [`WIDE`] features (a fixed byte
/// pattern drives the generator) with 100 background rows of integers.
fn forest_spec() -> Value {
    let bytes: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut choices = tree_gen::Choices::new(&bytes);
    let trees = (0..60)
        .map(|_| tree_gen::balanced(&mut choices, WIDE, 8))
        .collect();
    let model = tree_gen::GenModel {
        n_features: WIDE,
        trees,
    };
    let document: Value = serde_json::from_str(&model.xgboost_json()).unwrap();
    let background: Vec<Vec<f64>> = (0..300)
        .map(|i| {
            (0..WIDE)
                .map(|j| ((i * 7 + j * 3) % 9) as f64 - 4.0)
                .collect()
        })
        .collect();
    json!({"kind": "xgboost", "feature_names": model.feature_names(), "model": document,
           "background": background})
}

#[tokio::test]
async fn tree_explanations_past_the_deadline_stop_and_give_their_permit_back() {
    // Interventional TreeSHAP of 10,000 rows against 100 background rows (and the
    // tolerance route to it) takes about 14 s in a debug build on 2 cores, far past
    // the 2 s deadline; the recorded background, built by the first request, is
    // checked between trees too. Registering the forest takes about 0.4 s.
    let _serial = SERIAL.lock().await;
    let (app, state) = ready_app(config(2000)).await;
    let put = call(&app, Method::PUT, "/models/forest", Some(forest_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let rows: Vec<Vec<f64>> = (0..10_000)
        .map(|i| {
            (0..WIDE)
                .map(|j| ((i * 5 + j * 11) % 9) as f64 - 4.0)
                .collect()
        })
        .collect();
    for body in [
        json!({"instances": rows, "method": "tree_interventional"}),
        json!({"instances": rows, "method": "kernel_shap", "tolerance": 0.01}),
        json!({"instances": rows, "method": "tree_path_dependent"}),
        json!({"instances": rows, "method": "tree_path_dependent", "interactions": true}),
    ] {
        let started = Instant::now();
        let late = call(&app, Method::POST, "/models/forest/explain", Some(body)).await;
        let what = &late.text[..late.text.len().min(200)];
        assert_eq!(late.status, StatusCode::GATEWAY_TIMEOUT, "{what}");
        assert!(started.elapsed() < Duration::from_secs(10));
        idle(&state).await;
    }
}
