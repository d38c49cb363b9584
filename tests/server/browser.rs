//! The dashboard in a real headless browser: start the server on a real socket,
//! drive Debian's chromium through chromedriver, explain the pre-filled house and
//! check the waterfall the page shows against the JSON explain answer, choose a
//! feature in the Dependence card and check its picture; then select a neural
//! network and an XGBoost ensemble and check that every card renders without an
//! error (and the network's layer choices and pictures appear).
//!
//! Needs `chromedriver` and `chromium` (Debian: `apt-get install chromium
//! chromium-driver`; override the paths with `CHROMEDRIVER` and `CHROMIUM`). Without
//! them the tests print `SKIPPED: …` and pass, so that `cargo test` passes on a
//! machine with only the Rust toolchain; with `EXPLAIND_REQUIRE_BROWSER=1` (set by
//! CI, `.ci/run`) a missing driver fails them instead. They leave screenshots in
//! `target/browser/`: `dashboard-house.png` (the house-price model with its
//! waterfall and dependence picture), `dashboard-mlp.png`, `dashboard-trees.png`,
//! `dashboard.png` (the last model, at the end) and `dashboard-token.png` (the
//! session with access control).

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::Method;
use explaind::config::{Config, Secret};
use explaind::http::app;
use explaind::server;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

/// A program on PATH (or at the path an environment variable names).
fn program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver, killed (by its own process id) when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver(path: &PathBuf) -> Driver {
    let port = StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn browser(driver: &Driver, chromium: Option<PathBuf>, profile: &std::path::Path) -> Client {
    let mut options = json!({"args": [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--window-size=1280,2000",
        format!("--user-data-dir={}", profile.display()),
    ]});
    if let Some(binary) = chromium {
        options["binary"] = json!(binary);
    }
    let mut caps = Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    // chromedriver listens before it can always serve: on a loaded machine its first
    // answer was once a reset connection. Try a few times before failing.
    let mut tries = 0;
    loop {
        tries += 1;
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return client,
            Err(e) if tries < 4 => {
                eprintln!("chromedriver session, try {tries}: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => panic!("chromedriver starts a chromium session: {e}"),
        }
    }
}

/// A server on a real socket and a chromium session pointed at it.
pub(crate) struct Session {
    pub(crate) addr: SocketAddr,
    pub(crate) state: explaind::http::AppState,
    pub(crate) client: Client,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
    // Dropped last: chromedriver and the browser profile outlive the client.
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// Say loudly that the browser test did not run. Written to the process's stderr
/// itself, not through `eprintln!`, which the test harness captures (and shows
/// only for failures): the message must be seen by whoever runs `cargo test`.
fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: tests/browser.rs did not drive the dashboard: {why}. ***\n"
    );
}

/// Start the server with `config` and a browser, or None when no chromedriver is
/// found and `EXPLAIND_REQUIRE_BROWSER` is not `1` (the test then says it skipped).
pub(crate) async fn start(config: Config) -> Option<Session> {
    let Some(driver_path) = program("CHROMEDRIVER", &["chromedriver"]) else {
        let how = "install it (Debian: apt-get install chromium chromium-driver) or point \
                   CHROMEDRIVER at it";
        if std::env::var("EXPLAIND_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("chromedriver not found and EXPLAIND_REQUIRE_BROWSER=1: {how}");
        }
        skipped(&format!(
            "chromedriver not found on PATH. To run it, {how}; set \
             EXPLAIND_REQUIRE_BROWSER=1 to make this a failure (CI does)"
        ));
        return None;
    };
    let chromium = program(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    if chromium.is_none() && std::env::var("EXPLAIND_REQUIRE_BROWSER").as_deref() != Ok("1") {
        skipped(
            "chromedriver is there but no chromium (Debian: apt-get install chromium, or \
             point CHROMIUM at it)",
        );
        return None;
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let state = server::build_state(config).unwrap();
    server::load_models(&state).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve(
        listener,
        state.clone(),
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));
    let driver = start_driver(&driver_path);
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, chromium, profile.path()).await;
    Some(Session {
        addr,
        state,
        client,
        stop,
        serving,
        _driver: driver,
        _profile: profile,
    })
}

impl Session {
    /// Run `outcome` (the page's checks, in their own task so a failed check still
    /// leaves a screenshot), save `target/browser/{shot}.png`, stop the server, and
    /// pass a failure on.
    pub(crate) async fn finish(
        self,
        outcome: Result<Result<(), tokio::time::error::Elapsed>, tokio::task::JoinError>,
        shot: &str,
    ) {
        let client = self.client;
        screenshot(&client, shot).await;
        let _ = client.close().await;
        self.stop.send(()).unwrap();
        self.serving.await.unwrap().unwrap();
        match outcome {
            Ok(finished) => finished.expect("the browser session finished within two minutes"),
            Err(failed) => std::panic::resume_unwind(failed.into_panic()),
        }
    }
}

/// Save `target/browser/{shot}.png` of the whole page (the window grown to it);
/// a failure to take it is not the test's.
pub(crate) async fn screenshot(client: &Client, shot: &str) {
    let height = client
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .ok()
        .and_then(|h| h.as_f64())
        .unwrap_or(2000.0);
    let _ = client
        .set_window_size(1280, height.min(6000.0) as u32 + 140)
        .await;
    if let Ok(png) = client.screenshot().await {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{shot}.png")), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_explains_the_house_it_prefills() {
    let Some(session) = start(Config::defaults()).await else {
        return;
    };
    let (page, router, addr) = (
        session.client.clone(),
        app(session.state.clone()),
        session.addr,
    );
    let outcome = tokio::spawn(async move {
        let both = async {
            drive(&page, addr, &router).await;
            drive_network(&page, addr, &router).await;
            screenshot(&page, "dashboard-mlp").await;
            drive_trees(&page, addr, &router).await;
            screenshot(&page, "dashboard-trees").await;
        };
        tokio::time::timeout(Duration::from_secs(120), both).await
    })
    .await;
    session.finish(outcome, "dashboard").await;
}

const ADMIN: &str = "admin-token-for-the-browser-test";
const READER: &str = "reader-token-for-the-browser-test";

/// With access control on, the page asks for a token; with a reader's token it
/// lists the models, polls the summary, draws the weights and explains, without the
/// weight dump (which is the admin's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_asks_for_a_token_and_works_with_a_readers() {
    let mut config = Config::defaults();
    config.admin_tokens = vec![Secret(ADMIN.into())];
    config.reader_tokens = vec![Secret(READER.into())];
    let Some(session) = start(config).await else {
        return;
    };
    let (page, addr) = (session.client.clone(), session.addr);
    let outcome = tokio::spawn(async move {
        tokio::time::timeout(Duration::from_secs(120), drive_with_token(&page, addr)).await
    })
    .await;
    session.finish(outcome, "dashboard-token").await;
}

async fn drive_with_token(client: &Client, addr: SocketAddr) {
    let wait = |what| {
        client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(what)
    };
    client.goto(&format!("http://{addr}/")).await.unwrap();
    wait(Locator::Css("#models li.error"))
        .await
        .expect("the model list says why it is empty");
    let status = wait(Locator::Id("token-status")).await.unwrap();
    let said = status.text().await.unwrap();
    assert!(said.contains("needs an access token"), "{said}");

    // A wrong token is refused and the page says so.
    let field = client.find(Locator::Id("token")).await.unwrap();
    field.send_keys("not-a-token-of-this-server").await.unwrap();
    client
        .find(Locator::Id("token-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !status.text().await.unwrap().contains("not accepted") {
        assert!(Instant::now() < deadline, "a wrong token went unremarked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    field.send_keys(READER).await.unwrap();
    client
        .find(Locator::Id("token-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait(Locator::Css("#models button[data-model='house-prices']"))
        .await
        .expect("with the reader's token the model list shows house-prices");
    wait(Locator::Css("#global-table tbody tr"))
        .await
        .expect("the global importance table fills");
    wait(Locator::Css("#global-chart rect.bar"))
        .await
        .expect("the global importance picture appears");
    // The weight dump and its pictures are the admin's: the card is hidden.
    wait_rendered(client, "dependence-img").await;
    let hidden = client
        .execute("return document.getElementById('weights').hidden", vec![])
        .await
        .unwrap();
    assert_eq!(hidden, json!(true));

    client
        .find(Locator::Id("explain-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait(Locator::Css("#waterfall rect.step"))
        .await
        .expect("a waterfall appears with the reader's token");
    let steps = client
        .find_all(Locator::Css("#waterfall rect.step"))
        .await
        .unwrap();
    assert_eq!(steps.len(), 11, "one step per feature");
    // The token is kept for the tab: a reload needs no typing.
    client.refresh().await.unwrap();
    wait(Locator::Css("#models button[data-model='house-prices']"))
        .await
        .expect("after a reload the token is still used");
}

/// The explain form's fields, feature name to value. The page selects the first
/// model on load and again when the test clicks it, so the form may be built anew
/// while it is read (a stale element): read it again then.
async fn form_values(client: &Client) -> Map<String, Value> {
    let mut tries = 0;
    loop {
        tries += 1;
        let read = async {
            let inputs = client
                .find_all(Locator::Css("#explain-fields input"))
                .await?;
            let mut instance = Map::new();
            for input in &inputs {
                let name = input.attr("data-feature").await?.unwrap_or_default();
                let value = input.prop("value").await?.unwrap_or_default();
                instance.insert(name, json!(value.parse::<f64>().unwrap_or(f64::NAN)));
            }
            Ok::<_, fantoccini::error::CmdError>(instance)
        };
        match read.await {
            Ok(instance) => return instance,
            Err(e) if tries < 5 => {
                eprintln!("reading the form, try {tries}: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the explain form can be read: {e}"),
        }
    }
}

async fn drive(client: &Client, addr: SocketAddr, app: &axum::Router) {
    let wait = |what| {
        client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(what)
    };
    client.goto(&format!("http://{addr}/")).await.unwrap();
    wait(Locator::Css("#models button[data-model='house-prices']"))
        .await
        .expect("the model list shows house-prices")
        .click()
        .await
        .unwrap();
    wait(Locator::Css("#global-table tbody tr"))
        .await
        .expect("the global importance table fills");
    wait(Locator::Css("#global-chart rect.bar"))
        .await
        .expect("the global importance picture appears");
    let instance = form_values(client).await;
    assert_eq!(instance.len(), 11, "one field per feature");
    // Pre-filled with the background's medians: a 4,600 square-foot lot, 3 bedrooms.
    assert_eq!(instance["lotsize"], json!(4600.0));
    assert_eq!(instance["bedrooms"], json!(3.0));

    client
        .find(Locator::Id("explain-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait(Locator::Css("#waterfall rect.step"))
        .await
        .expect("a waterfall appears");

    let expected = crate::common::call(
        app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": [Value::Object(instance.clone())]})),
    )
    .await
    .json;
    let e = &expected["explanations"][0];
    let names = expected["feature_names"].as_array().unwrap();
    let steps = client
        .find_all(Locator::Css("#waterfall rect.step"))
        .await
        .unwrap();
    assert_eq!(steps.len(), 11, "one step per feature");
    for step in &steps {
        let feature = step.attr("data-feature").await.unwrap().unwrap();
        let delta: f64 = step
            .attr("data-delta")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        let value: f64 = step
            .attr("data-value")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        let j = names.iter().position(|n| n == &feature).unwrap();
        let want = e["attributions"][j].as_f64().unwrap();
        assert!(
            (delta - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{feature}: page {delta}, JSON {want}"
        );
        assert_eq!(json!(value), instance[&feature], "{feature}'s value");
    }
    let shown: f64 = client
        .find(Locator::Id("prediction"))
        .await
        .unwrap()
        .attr("data-value")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(json!(shown), e["prediction"]);
    let rows = client
        .find_all(Locator::Css("#explain-table tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 11);
    // The pictures loaded (an <img> whose SVG failed has no natural width).
    // The page keeps polling the summary with If-None-Match: the server answers 304.
    let polled = r#"route="/models/{name}/global",method="GET",status="304""#;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !crate::common::call(app, Method::GET, "/metrics", None)
        .await
        .text
        .contains(polled)
    {
        assert!(Instant::now() < deadline, "no conditional poll of /global");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let bars = client
        .find_all(Locator::Css("#global-chart rect.bar"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 11, "the importance picture shows every feature");
    let script = "return document.getElementById('weights-img').naturalWidth";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let width = client.execute(script, vec![]).await.unwrap();
        if width.as_f64().unwrap_or(0.0) > 100.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the weights picture did not render"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    live_card_follows_the_server(client, app).await;
    choose_dependence(client, app).await;
    what_would_change_it(client, app, &instance, shown).await;
    screenshot(client, "dashboard-house").await;
}

/// The "what would change it" card: a target above the prediction draws the
/// counterfactual the JSON route finds (its changed features highlighted), and the
/// anchor button draws a rule with its precision and coverage bars.
async fn what_would_change_it(
    client: &Client,
    app: &axum::Router,
    instance: &Map<String, Value>,
    prediction: f64,
) {
    let wait = |what| {
        client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(what)
    };
    let target = (prediction + 10_000.0).round();
    let field = client.find(Locator::Id("target-min")).await.unwrap();
    field.send_keys(&target.to_string()).await.unwrap();
    client
        .find(Locator::Id("counterfactual-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait(Locator::Css("#counterfactual rect[data-changed]"))
        .await
        .expect("the counterfactual picture highlights a change");
    let expected = crate::common::call(
        app,
        Method::POST,
        "/models/house-prices/counterfactuals",
        Some(json!({"instance": Value::Object(instance.clone()), "target": {"min": target}})),
    )
    .await
    .json;
    let mut want: Vec<String> = expected["counterfactuals"][0]["changes"]
        .as_array()
        .expect("a counterfactual")
        .iter()
        .map(|c| c["feature"].as_str().unwrap().to_string())
        .collect();
    let mut shown = Vec::new();
    for rect in client
        .find_all(Locator::Css("#counterfactual rect[data-changed]"))
        .await
        .unwrap()
    {
        shown.push(rect.attr("data-changed").await.unwrap().unwrap());
    }
    want.sort();
    shown.sort();
    assert_eq!(
        shown, want,
        "the page highlights the features the route changes"
    );

    client
        .find(Locator::Id("anchor-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait(Locator::Css("#anchor rect.precision"))
        .await
        .expect("the anchor picture shows its precision");
    let coverage = client
        .find_all(Locator::Css("#anchor rect.coverage"))
        .await
        .unwrap();
    assert_eq!(coverage.len(), 1, "one coverage bar");
}

/// The Live traffic card shows what `/global`'s live section says once the page's
/// own explanations have been counted: the rows served and one line per feature.
async fn live_card_follows_the_server(client: &Client, app: &axum::Router) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let global =
            crate::common::call(app, Method::GET, "/models/house-prices/global", None).await;
        let live = &global.json["live"];
        let rows = live["window"]["rows"].as_u64().unwrap();
        let want = format!(
            "{rows} rows explained in the last {} s",
            live["window_secs"]
        );
        let shown = client
            .find(Locator::Id("live-status"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if rows > 0 && shown.starts_with(&want) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the live card says {shown:?}; the server counts {rows} rows"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let lines = client
        .find_all(Locator::Css("#live-table tbody tr"))
        .await
        .unwrap();
    assert_eq!(lines.len(), 11, "one line per feature");
}

/// The Dependence card offers the model's features and starts with the most
/// important; choosing another shows its `dependence.svg`, the picture of
/// `/global/dependence` for that feature.
async fn choose_dependence(client: &Client, app: &axum::Router) {
    let options = client
        .execute(
            "return Array.from(document.querySelectorAll('#dependence-feature option'), o => o.value)",
            vec![],
        )
        .await
        .unwrap();
    let info = crate::common::call(app, Method::GET, "/models/house-prices", None)
        .await
        .json;
    assert_eq!(options, info["feature_names"], "one choice per feature");
    let summary = crate::common::call(app, Method::GET, "/models/house-prices/global", None)
        .await
        .json;
    let top = summary["features"][0]["name"].as_str().unwrap();
    let first = format!("/models/house-prices/dependence.svg?feature={top}");
    wait_shown(client, "dependence-img", &first).await;
    assert_ne!(top, "bedrooms", "the choice below changes the picture");
    client
        .find(Locator::Id("dependence-feature"))
        .await
        .unwrap()
        .select_by_value("bedrooms")
        .await
        .unwrap();
    let url = "/models/house-prices/dependence.svg?feature=bedrooms";
    wait_shown(client, "dependence-img", url).await;
    // The picture the page shows is the server's for that feature: read the blob
    // back and compare it with what the route answers.
    let shown = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(document.getElementById('dependence-img').src)
               .then((r) => r.text()).then(done, (e) => done('failed: ' + e));",
            vec![],
        )
        .await
        .unwrap();
    let served = crate::common::call(app, Method::GET, url, None).await;
    assert_eq!(shown.as_str(), Some(served.text.as_str()));
    assert!(served.text.contains("feature bedrooms"));
    assert_eq!(
        served.text.matches("class=\"thin\"").count(),
        10,
        "ten ICE curves"
    );
    let error = client
        .execute(
            "return document.getElementById('dependence-error').hidden",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(error, json!(true), "no error shown");
}

/// Wait until the `<img>` with this id shows the picture of `url` and has rendered.
async fn wait_shown(client: &Client, id: &str, url: &str) {
    let script = format!("return document.getElementById('{id}').dataset.url || ''");
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.execute(&script, vec![]).await.unwrap() != json!(url) {
        assert!(Instant::now() < deadline, "#{id} never showed {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_rendered(client, id).await;
}

/// Wait until the `<img>` with this id has rendered (an image whose SVG failed has
/// no natural width).
async fn wait_rendered(client: &Client, id: &str) {
    let script = format!("return document.getElementById('{id}').naturalWidth");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let width = client.execute(&script, vec![]).await.unwrap();
        if width.as_f64().unwrap_or(0.0) > 100.0 {
            return;
        }
        assert!(Instant::now() < deadline, "#{id} did not render");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A network: the weights menu offers its layers and the images of its first
/// layer, and the activation picture appears.
async fn drive_network(client: &Client, addr: SocketAddr, app: &axum::Router) {
    let put = crate::common::call(
        app,
        Method::PUT,
        "/models/digits",
        Some(crate::common::digits_spec()),
    )
    .await;
    assert_eq!(put.status, 201, "{}", put.text);
    client.goto(&format!("http://{addr}/")).await.unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#models button[data-model='digits']"))
        .await
        .expect("the model list shows the network")
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#weights-choice option[value='view=kernels']"))
        .await
        .expect("the weights menu offers the first layer's images");
    // One snapshot in the page: selecting re-renders the menu, so element handles
    // taken one by one could go stale.
    let values = client
        .execute(
            "return Array.from(document.querySelectorAll('#weights-choice option'), o => o.value)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(values, json!(["layer=0", "layer=1", "view=kernels"]));
    wait_rendered(client, "weights-img").await;
    wait_rendered(client, "activations-img").await;
    let src = client
        .execute(
            "return document.getElementById('weights-img').getAttribute('src')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(src.as_str().map(|s| s.starts_with("blob:")), Some(true));
    let shown = client
        .execute(
            "return document.getElementById('weights-img').dataset.url",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shown, json!("/models/digits/weights.svg?layer=0"));
    every_card_renders(client, app, "digits", "weights.svg?layer=0").await;
}

/// An XGBoost ensemble (tests/fixtures/trees/xgb_bin.json with its background):
/// the weights card draws the split importance (tree pictures take no `scale`,
/// `layer` or `view`), and every other card renders too.
async fn drive_trees(client: &Client, addr: SocketAddr, app: &axum::Router) {
    let case = crate::common::fixture("trees/xgb_bin.case.json");
    let document = crate::common::fixture("trees/xgb_bin.json");
    let spec = json!({
        "kind": "xgboost",
        "feature_names": ["f0", "f1", "f2", "f3", "f4"],
        "model": document,
        "background": case["background"],
    });
    let put = crate::common::call(app, Method::PUT, "/models/churn-xgb", Some(spec)).await;
    assert_eq!(put.status, 201, "{}", put.text);
    client.goto(&format!("http://{addr}/")).await.unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#models button[data-model='churn-xgb']"))
        .await
        .expect("the model list shows the tree ensemble")
        .click()
        .await
        .unwrap();
    every_card_renders(client, app, "churn-xgb", "weights.svg").await;
}

/// With `name` selected, every card of the page shows its picture or table and no
/// error: global importance, weights (`weights` is the picture it should draw
/// first), dependence, activations for networks, and an explanation of the
/// pre-filled instance whose prediction is the JSON route's.
pub(crate) async fn every_card_renders(
    client: &Client,
    app: &axum::Router,
    name: &str,
    weights: &str,
) {
    let title = format!("{name} (");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .find(Locator::Id("model-name"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .starts_with(&title)
    {
        assert!(Instant::now() < deadline, "{name} was never selected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let summary =
        crate::common::call(app, Method::GET, &format!("/models/{name}/global"), None).await;
    assert_eq!(summary.status, 200, "{}", summary.text);
    let features = summary.json["features"].as_array().unwrap();
    wait_card(client, "global-chart", "global-error", None).await;
    let bars = client
        .find_all(Locator::Css("#global-chart rect.bar"))
        .await
        .unwrap();
    assert_eq!(bars.len(), features.len(), "{name}: one bar per feature");
    let top = features[0]["name"].as_str().unwrap();
    let url = format!("/models/{name}/{weights}");
    wait_card(client, "weights-img", "weights-error", Some(&url)).await;
    let url = format!("/models/{name}/dependence.svg?feature={top}");
    wait_card(client, "dependence-img", "dependence-error", Some(&url)).await;
    let info = crate::common::call(app, Method::GET, &format!("/models/{name}"), None).await;
    if info.json["kind"] == "mlp" {
        let url = format!("/models/{name}/activations.svg");
        wait_card(client, "activations-img", "activations-error", Some(&url)).await;
    } else {
        let hidden = client
            .execute(
                "return document.getElementById('activations').hidden",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(hidden, json!(true), "{name}: no activations card");
    }

    let (mut instance, mut fields) = (Map::new(), Vec::new());
    for input in client
        .find_all(Locator::Css("#explain-fields input"))
        .await
        .unwrap()
    {
        let feature = input.attr("data-feature").await.unwrap().unwrap();
        let value: f64 = input.prop("value").await.unwrap().unwrap().parse().unwrap();
        fields.push(feature.clone());
        instance.insert(feature, json!(value));
    }
    assert_eq!(Value::from(fields), info.json["feature_names"]);
    let expected = crate::common::call(
        app,
        Method::POST,
        &format!("/models/{name}/explain"),
        Some(json!({"instances": [Value::Object(instance)]})),
    )
    .await;
    assert_eq!(expected.status, 200, "{}", expected.text);
    let want = &expected.json["explanations"][0]["prediction"];
    client
        .find(Locator::Id("explain-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let shown = "const p = document.getElementById('prediction');
        return document.getElementById('explain-result').hidden ? null : p.dataset.value";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let error = card_error(client, "explain-error").await;
        assert!(error.is_none(), "{name}: the explain card says {error:?}");
        let value = client.execute(shown, vec![]).await.unwrap();
        if let Some(v) = value.as_str().and_then(|v| v.parse::<f64>().ok()) {
            if json!(v) == *want {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{name}: the page shows prediction {value}, the JSON route {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let steps = client
        .find_all(Locator::Css("#waterfall rect.step"))
        .await
        .unwrap();
    assert!(!steps.is_empty(), "{name}: a waterfall appears");
}

/// The text of the error paragraph `id` when it is shown.
pub(crate) async fn card_error(client: &Client, id: &str) -> Option<String> {
    let script = format!(
        "const e = document.getElementById('{id}'); return e.hidden ? null : e.textContent"
    );
    client
        .execute(&script, vec![])
        .await
        .unwrap()
        .as_str()
        .map(String::from)
}

/// Wait until the card's picture `id` shows `url` (an `<img>`) or has an inline
/// SVG (`url` None) and has rendered, failing at once with the message when the
/// card's error paragraph `error` is shown.
pub(crate) async fn wait_card(client: &Client, id: &str, error: &str, url: Option<&str>) {
    let script = format!(
        "const e = document.getElementById('{id}');
         if (e.tagName === 'IMG') return [e.dataset.url || '', e.naturalWidth];
         const s = e.querySelector('svg');
         return ['', s ? s.getBoundingClientRect().width : 0];"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(message) = card_error(client, error).await {
            panic!("#{error} says {message:?} (waiting for {url:?})");
        }
        let seen = client.execute(&script, vec![]).await.unwrap();
        let shown = seen[0].as_str().unwrap_or("");
        let width = seen[1].as_f64().unwrap_or(0.0);
        if (url.is_none() || url == Some(shown)) && width > 100.0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "#{id} shows {shown:?} ({width} px wide), not {url:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
