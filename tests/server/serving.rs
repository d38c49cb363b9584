//! The real server on a real socket: start on port 0, talk HTTP over TCP, stop,
//! start again over the same model directory.

use std::net::SocketAddr;
use std::time::Duration;

use explaind::config::Config;
use explaind::server;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: JoinHandle<std::io::Result<()>>,
}

async fn start(config: Config) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = server::build_state(config).unwrap();
    server::load_models(&state).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(server::serve(
        listener,
        state,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));
    Running { addr, stop, done }
}

impl Running {
    async fn shutdown(self) {
        self.stop.send(()).unwrap();
        self.done.await.unwrap().unwrap();
    }
}

/// One HTTP/1.1 exchange over a fresh connection: (status, parsed JSON body).
async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let (status, _, json) = http_with_head(addr, method, path, body).await;
    (status, json)
}

/// [`http`], also returning the response head (status line and headers) as text.
async fn http_with_head(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let status: u16 = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        status,
        head.to_string(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_user_session_over_a_real_socket() {
    let running = start(Config::defaults()).await;
    let (status, health) = http(running.addr, "GET", "/healthz", None).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, _) = http(running.addr, "GET", "/readyz", None).await;
    assert_eq!(status, 200);
    let (status, answer) = http(
        running.addr,
        "POST",
        "/models/house-prices/explain",
        Some(&json!({"instances": [crate::common::house()]})),
    )
    .await;
    assert_eq!(status, 200);
    let e = &answer["explanations"][0];
    let total: f64 = e["base_value"].as_f64().unwrap()
        + e["attributions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum::<f64>();
    assert!((total - e["prediction"].as_f64().unwrap()).abs() < 1e-6);
    let (status, error) = http(
        running.addr,
        "POST",
        "/explain",
        Some(&json!({"instances": []})),
    )
    .await;
    assert_eq!(status, 422);
    assert!(error["error"]["message"].is_string());
    running.shutdown().await;
}

#[tokio::test]
async fn registered_models_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        model_dir: Some(dir.path().to_path_buf()),
        ..Config::defaults()
    };
    let running = start(config.clone()).await;
    let (status, _) = http(
        running.addr,
        "PUT",
        "/models/churn",
        Some(&crate::common::logistic_spec()),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = http(
        running.addr,
        "PUT",
        "/models/three",
        Some(&crate::common::multinomial_spec()),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = http(
        running.addr,
        "PUT",
        "/models/churn",
        Some(&crate::common::logistic_spec()),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = http(running.addr, "DELETE", "/models/three", None).await;
    assert_eq!(status, 204);
    let (_, before) = http(running.addr, "GET", "/models/churn", None).await;
    running.shutdown().await;

    // A corrupt file and a temporary file left by an interrupted write.
    std::fs::write(
        dir.path().join("broken.model.json"),
        b"{\"format\": 1, \"na",
    )
    .unwrap();
    std::fs::write(dir.path().join(".churn.123.tmp"), b"partial").unwrap();

    let running = start(config).await;
    let (_, after) = http(running.addr, "GET", "/models/churn", None).await;
    assert_eq!(after, before, "same version, same metadata");
    assert_eq!(after["version"], 2);
    let (status, _) = http(running.addr, "GET", "/models/three", None).await;
    assert_eq!(status, 404, "the deletion was durable too");
    let (status, _) = http(running.addr, "GET", "/models/broken", None).await;
    assert_eq!(status, 404, "a corrupt file is never half-loaded");
    let (_, ready) = http(running.addr, "GET", "/readyz", None).await;
    let failures = ready["load_failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1);
    assert!(failures[0]
        .as_str()
        .unwrap()
        .starts_with("broken.model.json"));
    assert!(!dir.path().join(".churn.123.tmp").exists());
    let (status, answer) = http(
        running.addr,
        "POST",
        "/models/churn/explain",
        Some(&json!({"instances": [[1.0, 2.0]]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["version"], 2);
    running.shutdown().await;
}

#[tokio::test]
async fn a_data_set_and_a_job_over_a_real_socket() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        model_dir: Some(dir.path().to_path_buf()),
        ..Config::defaults()
    };
    let running = start(config.clone()).await;
    let rows: Vec<Value> = (0..20)
        .map(|i| {
            json!([
                4000 + 100 * i,
                3,
                1 + i % 2,
                2,
                1,
                0,
                i % 2,
                0,
                i % 3 % 2,
                1,
                0
            ])
        })
        .collect();
    let target: Vec<Value> = (0..20).map(|i| json!(50_000 + 1000 * i)).collect();
    let doc = json!({"rows": rows, "target": target});
    let (status, _) = http(
        running.addr,
        "PUT",
        "/models/house-prices/datasets/sold",
        Some(&doc),
    )
    .await;
    assert_eq!(status, 201);
    let body = json!({"kind": "permutation_importance", "dataset": "sold"});
    let (status, head, job) = http_with_head(
        running.addr,
        "POST",
        "/models/house-prices/global/jobs",
        Some(&body),
    )
    .await;
    assert_eq!(status, 202);
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .expect("a Location header")
        .to_string();
    assert_eq!(location, format!("/jobs/{}", job["id"].as_str().unwrap()));
    let mut done = Value::Null;
    for _ in 0..3000 {
        let (_, j) = http(running.addr, "GET", &location, None).await;
        if j["state"] == "succeeded" {
            done = j;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(done["result"]["rows"], 20);
    let (_, global) = http(running.addr, "GET", "/models/house-prices/global", None).await;
    assert_eq!(
        global["from_data"]["permutation_importance"]["job"],
        job["id"]
    );
    running.shutdown().await;

    // The data set is durable (job results are not: they are recomputed on demand).
    let running = start(config).await;
    let (status, info) = http(
        running.addr,
        "GET",
        "/models/house-prices/datasets/sold",
        None,
    )
    .await;
    assert_eq!((status, info["rows"].as_u64()), (200, Some(20)));
    running.shutdown().await;
}
