//! Faults: hot reload of model files changed by other processes, graceful shutdown,
//! kill -9 during a burst of registrations, and a model directory that cannot be
//! written.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{call, logistic_spec, multinomial_spec, ready_app};
use axum::http::{Method, StatusCode};
use explaind::config::Config;
use explaind::server;
use explaind::spec::ModelSpec;
use explaind::store::{Store, StoredModel};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn dir_config(dir: &std::path::Path) -> Config {
    Config {
        model_dir: Some(dir.to_path_buf()),
        ..Config::defaults()
    }
}

fn record(name: &str, version: u64, spec: Value) -> StoredModel {
    let spec: ModelSpec = serde_json::from_value(spec).unwrap();
    StoredModel::new(name, version, chrono::Utc::now(), spec)
}

#[tokio::test]
async fn files_written_by_another_process_are_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = ready_app(dir_config(dir.path())).await;
    let other = Store::open(dir.path()).unwrap();

    // A new file appears.
    other.save(&record("dropped", 7, logistic_spec())).unwrap();
    state.registry.sync_store(false).await.unwrap();
    let m = call(&app, Method::GET, "/models/dropped", None).await;
    assert_eq!(m.status, StatusCode::OK);
    assert_eq!(m.json["version"], 7);

    // It is replaced by a newer version.
    other
        .save(&record("dropped", 8, multinomial_spec()))
        .unwrap();
    state.registry.sync_store(false).await.unwrap();
    let m = call(&app, Method::GET, "/models/dropped", None).await;
    assert_eq!(m.json["version"], 8);
    assert_eq!(m.json["output_names"], json!(["x", "y", "z"]));

    // A broken replacement keeps version 8 serving and is reported.
    std::fs::write(
        dir.path().join("dropped.model.json"),
        b"{\"format\": 1, \"name\": \"dr",
    )
    .unwrap();
    state.registry.sync_store(false).await.unwrap();
    let m = call(&app, Method::GET, "/models/dropped", None).await;
    assert_eq!(m.json["version"], 8);
    let ready = call(&app, Method::GET, "/readyz", None).await;
    assert!(ready.json["load_failures"][0]
        .as_str()
        .unwrap()
        .starts_with("dropped.model.json"));
    let explain = call(
        &app,
        Method::POST,
        "/models/dropped/explain",
        Some(json!({"instances": [[1.0, 2.0]]})),
    )
    .await;
    assert_eq!(explain.status, StatusCode::OK);

    // Fixed again, then removed.
    other.save(&record("dropped", 9, logistic_spec())).unwrap();
    state.registry.sync_store(false).await.unwrap();
    assert_eq!(
        call(&app, Method::GET, "/models/dropped", None).await.json["version"],
        9
    );
    assert_eq!(
        call(&app, Method::GET, "/readyz", None).await.json["load_failures"],
        json!([])
    );
    other.remove("dropped").unwrap();
    state.registry.sync_store(false).await.unwrap();
    assert_eq!(
        call(&app, Method::GET, "/models/dropped", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The embedded demo, which has no file, stays.
    assert_eq!(
        call(&app, Method::GET, "/models/house-prices", None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_watcher_reloads_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = ready_app(dir_config(dir.path())).await;
    let watcher = tokio::spawn(server::watch_model_dir(state, Duration::from_millis(50)));
    Store::open(dir.path())
        .unwrap()
        .save(&record("late", 1, logistic_spec()))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if call(&app, Method::GET, "/models/late", None).await.status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the watcher never loaded the file"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watcher.abort();
}

#[tokio::test]
async fn an_unwritable_model_file_fails_the_registration_and_serving_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = ready_app(dir_config(dir.path())).await;
    // A directory where the model file should go: the rename cannot replace it
    // (as root, permissions cannot simulate a read-only disk).
    std::fs::create_dir(dir.path().join("blocked.model.json")).unwrap();
    let answer = call(&app, Method::PUT, "/models/blocked", Some(logistic_spec())).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.json["error"]["code"], "storage_error");
    let message = answer.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(
        !message.contains(dir.path().to_str().unwrap()),
        "no paths in errors"
    );
    assert_eq!(
        call(&app, Method::GET, "/models/blocked", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left behind");
    let explain = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": [crate::common::house()]})),
    )
    .await;
    assert_eq!(explain.status, StatusCode::OK);
}

#[tokio::test]
async fn shutdown_turns_readiness_off_and_lets_requests_finish() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = server::build_state(Config {
        explain_concurrency: 1,
        ..Config::defaults()
    })
    .unwrap();
    server::load_models(&state).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve(
        listener,
        state.clone(),
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(10),
    ));

    // A request in flight, held back by the only explanation slot.
    let permit = state.explain_permits.clone().acquire_owned().await.unwrap();
    let body =
        json!({"instances": [crate::common::house()], "method": "exact_shapley"}).to_string();
    let in_flight =
        tokio::spawn(
            async move { raw_http(addr, "POST", "/models/house-prices/explain", &body).await },
        );
    tokio::time::sleep(Duration::from_millis(100)).await;

    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!state.is_ready(), "readiness turns false at once");
    assert!(
        !serving.is_finished(),
        "the server waits for the request in flight"
    );
    drop(permit);
    let (status, answer) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{answer}");
    serving.await.unwrap().unwrap();
}

async fn raw_http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return (0, String::new());
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

fn spawn_binary(addr: SocketAddr, dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_explaind"))
        .args([
            "--addr",
            &addr.to_string(),
            "--no-demo",
            "--reload-interval-secs",
            "0",
        ])
        .arg("--model-dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if raw_http(addr, "GET", "/readyz", "").await.0 == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {addr} never became ready");
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_registrations_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_port();
    let mut child = spawn_binary(addr, dir.path());
    wait_ready(addr).await;

    // 80 registrations from 8 concurrent clients; the process is killed mid-burst,
    // once a dozen have been acknowledged.
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..8 {
        let acked = acked.clone();
        clients.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..10 {
                let name = format!("m{c}-{i}");
                let mut spec = logistic_spec();
                spec["params"]["coefficients"] = json!([c as f64 + 0.5, i as f64 - 0.25]);
                spec["description"] = json!(format!("client {c} model {i}"));
                let (status, _) =
                    raw_http(addr, "PUT", &format!("/models/{name}"), &spec.to_string()).await;
                match status {
                    201 => {
                        acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        acknowledged.push((name, spec));
                    }
                    0 => break, // the server is gone
                    other => panic!("registration answered {other}"),
                }
            }
            acknowledged
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.load(std::sync::atomic::Ordering::SeqCst) < 12 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut acknowledged = Vec::new();
    for c in clients {
        acknowledged.extend(c.await.unwrap());
    }

    let mut child = spawn_binary(addr, dir.path());
    wait_ready(addr).await;
    let (_, ready) = raw_http(addr, "GET", "/readyz", "").await;
    assert!(
        ready.contains("\"load_failures\":[]"),
        "no partial file was loaded: {ready}"
    );
    let stored = Store::open(dir.path()).unwrap();
    for (name, sent) in &acknowledged {
        let (status, _) = raw_http(addr, "GET", &format!("/models/{name}"), "").await;
        assert_eq!(status, 200, "acknowledged model {name} lost");
        let file = stored
            .list(false)
            .unwrap()
            .into_iter()
            .find(|f| &f.name == name)
            .unwrap();
        let on_disk = serde_json::to_value(stored.read(&file).unwrap().spec).unwrap();
        let mut expected = sent.clone();
        expected
            .as_object_mut()
            .unwrap()
            .retain(|_, v| !v.is_null());
        assert_eq!(on_disk, expected, "{name} on disk is what was acknowledged");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        acknowledged.len() >= 12 && acknowledged.len() < 80,
        "killed mid-burst: {}",
        acknowledged.len()
    );
    eprintln!(
        "{} registrations acknowledged before the kill",
        acknowledged.len()
    );
}
