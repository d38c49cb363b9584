//! The binary on a real socket, as a misbehaving client or a careless operator meets
//! it: half-sent request heads, idle and excess connections, bodies that announce
//! more than the limit or stop sending theirs, refused tokens and configurations,
//! and SIGTERM during long work. Settings go through the environment, as in a
//! container.

use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const BIN: &str = env!("CARGO_BIN_EXE_explaind");

/// A server process, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Start the binary on a free port with `env`, through `sh` when `shell` sets a
/// limit first (e.g. `ulimit -n 64`), and wait until it answers `/readyz`.
async fn start(env: &[(&str, &str)], shell: Option<&str>) -> Server {
    let addr = free_port();
    let mut command = match shell {
        Some(prefix) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!("{prefix} && exec \"$0\"")).arg(BIN);
            c
        }
        None => Command::new(BIN),
    };
    command
        .env("EXPLAIND_ADDR", addr.to_string())
        .env("EXPLAIND_REQUEST_TIMEOUT_MS", "600000")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = Server {
        child: command.spawn().unwrap(),
        addr,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Ok((200, _))) = timeout(Duration::from_secs(2), get(addr, "/readyz")).await {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {addr} never became ready");
}

/// Read one response (head and a `Content-Length` body): (status, whole text).
async fn read_response(stream: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        raw.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_string)
                })
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length || n == 0 {
                let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
                return Ok((status, text));
            }
        }
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    read_response(&mut stream).await
}

/// How long until the server closes `stream` (EOF or reset), at most `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut sink = Vec::new();
    match timeout(limit, stream.read_to_end(&mut sink)).await {
        Ok(_) => Some(start.elapsed()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_head_is_disconnected() {
    let server = start(
        &[
            ("EXPLAIND_HEADER_READ_TIMEOUT_MS", "300"),
            ("EXPLAIND_IDLE_TIMEOUT_SECS", "600"),
        ],
        None,
    )
    .await;
    let mut partial = TcpStream::connect(server.addr).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    for stream in [&mut partial, &mut silent] {
        let after = closed_within(stream, Duration::from_secs(5)).await;
        assert!(after.is_some(), "the connection is still open after 5 s");
    }
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let server = start(
        &[
            ("EXPLAIND_HEADER_READ_TIMEOUT_MS", "600000"),
            ("EXPLAIND_IDLE_TIMEOUT_SECS", "1"),
        ],
        None,
    )
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = read_response(&mut stream).await.unwrap();
    assert_eq!(status, 200);
    let after = closed_within(&mut stream, Duration::from_secs(6)).await;
    let after = after.expect("the idle connection is still open after 6 s");
    assert!(
        after >= Duration::from_millis(500),
        "closed too early: {after:?}"
    );
}

#[tokio::test]
async fn idle_sockets_past_the_limit_do_not_starve_health_checks() {
    // 64 file descriptors: without a connection limit and timeouts, 60 idle sockets
    // exhaust them and the health check is never accepted.
    let server = start(
        &[
            ("EXPLAIND_MAX_CONNECTIONS", "20"),
            ("EXPLAIND_HEADER_READ_TIMEOUT_MS", "500"),
            ("EXPLAIND_NO_DEMO", "true"),
        ],
        Some("ulimit -n 64"),
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let health = timeout(Duration::from_secs(15), get(server.addr, "/healthz")).await;
    let (status, _) = health
        .expect("/healthz not answered within 15 s")
        .expect("/healthz connection failed");
    assert_eq!(status, 200);
    drop(idle);
}

#[tokio::test]
async fn clients_that_stop_sending_their_body_do_not_starve_health_checks() {
    // Each slow client announces 100 bytes of body, sends 6 and goes quiet. Counted as
    // a request being computed, they held every slot until the request deadline
    // (600 s here) and /healthz was never accepted.
    let server = start(
        &[
            ("EXPLAIND_MAX_CONNECTIONS", "4"),
            ("EXPLAIND_IDLE_TIMEOUT_SECS", "1"),
            ("EXPLAIND_HEADER_READ_TIMEOUT_MS", "600000"),
        ],
        None,
    )
    .await;
    let addr = server.addr;
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /models/house-prices/explain HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"inst"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    let health = timeout(Duration::from_secs(10), get(addr, "/healthz")).await;
    let (status, _) = health
        .expect("/healthz not answered within 10 s")
        .expect("/healthz connection failed");
    assert_eq!(status, 200);
    for stream in &mut slow {
        let after = closed_within(stream, Duration::from_secs(5)).await;
        assert!(after.is_some(), "a stalled body still holds its connection");
    }
}

#[tokio::test]
async fn a_body_sent_slowly_but_steadily_is_read_to_its_end() {
    // Bytes keep moving, each gap shorter than the idle timeout: not idle.
    let server = start(&[("EXPLAIND_IDLE_TIMEOUT_SECS", "1")], None).await;
    let addr = server.addr;
    let house = r#"{"lotsize":5850,"bedrooms":3,"bathrooms":1,"stories":2,"driveway":1,"recreation":0,"fullbase":1,"gasheat":0,"aircon":0,"garage":1,"prefer":0}"#;
    let body = format!(r#"{{"instances":[{house}]}}"#);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /models/house-prices/predict HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    for part in [&first[..10], &first[10..], rest] {
        tokio::time::sleep(Duration::from_millis(700)).await;
        stream.write_all(part.as_bytes()).await.unwrap();
    }
    let (status, answer) = read_response(&mut stream).await.unwrap();
    assert_eq!(status, 200, "{answer}");
}

/// Send a head declaring `declared` bytes and 1 kB of body, then wait for the answer.
async fn announce(addr: SocketAddr, method: &str, path: &str, declared: u64) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {declared}\r\n\r\n{}",
        " ".repeat(1024)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = timeout(Duration::from_secs(10), read_response(&mut stream)).await;
    answer
        .expect("no answer within 10 s")
        .expect("the answer could not be read")
}

#[tokio::test]
async fn a_body_declared_over_the_limit_is_refused_at_the_headers() {
    let server = start(&[], None).await;
    let start = Instant::now();
    let (status, text) = announce(
        server.addr,
        "POST",
        "/models/house-prices/explain",
        200 * 1024 * 1024,
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
    assert!(
        text.contains("2097152") && text.contains("--max-body-bytes"),
        "{text}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    // Registration routes have their own, larger limit and flag.
    let (status, text) = announce(server.addr, "PUT", "/models/big", 100 * 1024 * 1024).await;
    assert_eq!(status, 413, "{text}");
    assert!(
        text.contains("67108864") && text.contains("--max-model-bytes"),
        "{text}"
    );
}

fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn printed(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

#[test]
fn a_refused_token_is_never_printed() {
    let addr = free_port().to_string();
    let by_flag = run_to_exit(&["--addr", &addr, "--admin-token", "short-secret-15"], &[]);
    let by_env = run_to_exit(
        &["--addr", &addr],
        &[(
            "EXPLAIND_READER_TOKENS",
            "a-long-enough-token-1,short-secret-15",
        )],
    );
    for (output, flag) in [(by_flag, "--admin-token"), (by_env, "--reader-token")] {
        let text = printed(&output);
        assert!(!output.status.success(), "{text}");
        assert!(
            !text.contains("short-secret-15"),
            "the token was printed: {text}"
        );
        assert!(
            !text.contains("a-long-enough-token-1"),
            "a token was printed: {text}"
        );
        assert!(
            text.contains(flag) && text.contains("16 characters"),
            "{text}"
        );
    }
    // clap's help shows the values of environment variables, unless told not to.
    let help = run_to_exit(
        &["--help"],
        &[("EXPLAIND_ADMIN_TOKENS", "a-long-enough-token-2")],
    );
    let text = printed(&help);
    assert!(text.contains("EXPLAIND_ADMIN_TOKENS"), "{text}");
    assert!(
        !text.contains("a-long-enough-token-2"),
        "a token was printed: {text}"
    );
}

#[test]
fn a_configuration_error_stops_before_listening() {
    let public = format!("0.0.0.0:{}", free_port().port());
    let exposed = run_to_exit(&["--addr", &public], &[]);
    let local = free_port().to_string();
    let bad_live = run_to_exit(&["--addr", &local, "--live-bucket-secs", "0"], &[]);
    for (output, reason) in [
        (exposed, "refusing to listen"),
        (bad_live, "--live-bucket-secs"),
    ] {
        let text = printed(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains(reason), "{text}");
        assert!(!text.contains("explaind listening"), "{text}");
    }
}

#[tokio::test]
async fn sigterm_answers_long_work_503_at_the_end_of_the_grace_period_and_exits() {
    let settings = [
        ("EXPLAIND_SHUTDOWN_GRACE_SECS", "1"),
        ("EXPLAIND_MAX_SAMPLES", "1048576"),
    ];
    let mut server = start(&settings, None).await;
    let addr = server.addr;
    // Legal (with the sample cap raised) but long: permutation SHAP with the largest budget, on several rows
    // (seconds per row even in a release build).
    let house = r#"{"lotsize":5850,"bedrooms":3,"bathrooms":1,"stories":2,"driveway":1,"recreation":0,"fullbase":1,"gasheat":0,"aircon":0,"garage":1,"prefer":0}"#;
    let rows = [house; 8].join(",");
    let body =
        format!(r#"{{"instances":[{rows}],"method":"permutation_shap","n_samples":1048576}}"#);
    let long = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /models/house-prices/explain HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        read_response(&mut stream).await
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        !long.is_finished(),
        "the long request must be running: {:?}",
        long.await
    );

    let pid = server.child.id().to_string();
    let signalled = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // The drain has begun: the listener is closed, so new connections are refused
    // (readiness probes fail by refusal), while the request in flight goes on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = TcpStream::connect(addr).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted during the drain"
    );
    assert!(
        !long.is_finished(),
        "the request in flight was cut off early"
    );
    let mut exited = None;
    while signalled.elapsed() < Duration::from_secs(10) {
        if let Some(status) = server.child.try_wait().unwrap() {
            exited = Some((status, signalled.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, after) = exited.expect("still running 10 s after SIGTERM with a 1 s grace");
    assert!(status.success(), "{status:?}");
    assert!(
        after < Duration::from_secs(4),
        "exited {after:?} after SIGTERM"
    );
    // Stopped at the end of the grace period, and told so before the process exited.
    let (status, answer) = long.await.unwrap().expect("no answer to the long request");
    assert_eq!(status, 503, "{answer}");
    assert!(answer.contains("\"shutting_down\""), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nretry-after: 1\r\n"),
        "{answer}"
    );
}
