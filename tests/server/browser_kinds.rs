//! The dashboard in a real headless browser (the harness of `browser.rs`) with the
//! model kinds whose cards differ: a text classifier, explained from a text typed
//! into its box (word attributions in the waterfall, the table and the marked
//! text, checked against the JSON answer), and a CatBoost ensemble, whose weights
//! card draws its PredictionValuesChange. The page asks for no `/favicon.ico` (a
//! 404 and a console error). Screenshots: `target/browser/dashboard-text.png` and
//! `dashboard-catboost.png`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::Method;
use explaind::config::Config;
use explaind::http::app;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::browser::{card_error, every_card_renders, screenshot, start, wait_card};
use crate::common::{call, fixture};

const TEXT: &str = "Great coffee, great price. Zzzq!";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_explains_a_text_and_draws_catboosts_importance() {
    let Some(session) = start(Config::defaults()).await else {
        return;
    };
    let (page, router, addr) = (
        session.client.clone(),
        app(session.state.clone()),
        session.addr,
    );
    let outcome = tokio::spawn(async move {
        let all = async {
            explain_a_text(&page, addr, &router).await;
            screenshot(&page, "dashboard-text").await;
            catboost_cards(&page, addr, &router).await;
            screenshot(&page, "dashboard-catboost").await;
            no_favicon_was_missing(&router).await;
        };
        tokio::time::timeout(Duration::from_secs(120), all).await
    })
    .await;
    session.finish(outcome, "dashboard-kinds").await;
}

async fn select(client: &Client, addr: SocketAddr, name: &str) {
    client.goto(&format!("http://{addr}/")).await.unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(&format!(
            "#models button[data-model='{name}']"
        )))
        .await
        .unwrap_or_else(|_| panic!("the model list shows {name}"))
        .click()
        .await
        .unwrap();
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
}

/// The text classifier's explain card is a text box; its answer is the JSON
/// route's for `texts`: the prediction, one waterfall step and one table row per
/// known word, the words marked in the text as sent.
async fn explain_a_text(client: &Client, addr: SocketAddr, app: &axum::Router) {
    let spec = fixture("text/fine_foods.json")["spec"].clone();
    let put = call(app, Method::PUT, "/models/foods", Some(spec)).await;
    assert_eq!(put.status, 201, "{}", put.text);
    select(client, addr, "foods").await;
    let shown = |id: &str| {
        let script = format!("return !document.getElementById('{id}').hidden");
        async move { client.execute(&script, vec![]).await.unwrap() }
    };
    assert_eq!(shown("explain-text-label").await, json!(true), "a text box");
    assert_eq!(
        shown("explain-fields").await,
        json!(false),
        "no emb_ fields"
    );
    assert_eq!(
        shown("change-card").await,
        json!(false),
        "no counterfactuals"
    );
    // Registered without background: one note where the global summary would be,
    // no dependence card (it offered emb_0 … and showed two errors before).
    assert_eq!(shown("global-note").await, json!(true), "the note");
    assert_eq!(shown("global-body").await, json!(false));
    assert_eq!(shown("global-error").await, json!(false), "no error");
    assert_eq!(shown("dependence-card").await, json!(false));
    let field = client.find(Locator::Id("explain-text")).await.unwrap();
    field.send_keys(TEXT).await.unwrap();
    client
        .find(Locator::Id("explain-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let expected = call(
        app,
        Method::POST,
        "/models/foods/explain",
        Some(json!({"texts": [TEXT]})),
    )
    .await;
    assert_eq!(expected.status, 200, "{}", expected.text);
    let e = &expected.json["explanations"][0];
    let tokens = e["tokens"].as_array().unwrap();
    assert!(tokens.len() >= 2, "{tokens:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let error = card_error(client, "explain-error").await;
        assert!(error.is_none(), "the explain card says {error:?}");
        let steps = client
            .find_all(Locator::Css("#waterfall rect.step"))
            .await
            .unwrap();
        if steps.len() == tokens.len() {
            break;
        }
        assert!(Instant::now() < deadline, "no waterfall of the words");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let prediction = client
        .find(Locator::Id("prediction"))
        .await
        .unwrap()
        .attr("data-value")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(json!(prediction.parse::<f64>().unwrap()), e["prediction"]);
    // Each step is one word: its offset and attribution those of the JSON token.
    for step in client
        .find_all(Locator::Css("#waterfall rect.step"))
        .await
        .unwrap()
    {
        let at: u64 = step
            .attr("data-value")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        let delta: f64 = step
            .attr("data-delta")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        let word = step.attr("data-feature").await.unwrap().unwrap();
        let t = tokens
            .iter()
            .find(|t| t["start"] == at)
            .expect("a token there");
        assert_eq!(t["token"], json!(word));
        assert_eq!(json!(delta), t["attribution"]);
    }
    // The text as typed, its known words marked in text order.
    let marks = client
        .execute(
            "const p = document.getElementById('explain-words');
             return [p.hidden, p.textContent,
                     Array.from(p.querySelectorAll('mark'), m => [m.dataset.token, Number(m.dataset.attribution)])]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(marks[0], json!(false));
    assert!(marks[1].as_str().unwrap().starts_with(TEXT), "{}", marks[1]);
    assert!(
        marks[1].as_str().unwrap().contains("zzzq"),
        "unknown word said"
    );
    let want: Vec<Value> = tokens
        .iter()
        .map(|t| json!([t["token"], t["attribution"]]))
        .collect();
    assert_eq!(marks[2], Value::from(want));
    let rows = client
        .find_all(Locator::Css("#explain-table tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), tokens.len(), "one row per word");
}

/// A CatBoost ensemble: every card renders, the weights card with the
/// PredictionValuesChange picture (it showed a 422 before).
async fn catboost_cards(client: &Client, addr: SocketAddr, app: &axum::Router) {
    let case = fixture("catboost/cb_reg.case.json");
    let spec = json!({"kind": "catboost", "model": fixture("catboost/cb_reg.json"),
        "background": case["background"]});
    let put = call(app, Method::PUT, "/models/houses-cb", Some(spec)).await;
    assert_eq!(put.status, 201, "{}", put.text);
    select(client, addr, "houses-cb").await;
    let url = "/models/houses-cb/weights.svg";
    wait_card(client, "weights-img", "weights-error", Some(url)).await;
    let label = client
        .execute(
            "return document.getElementById('weights-choice').selectedOptions[0].textContent",
            vec![],
        )
        .await
        .unwrap();
    assert!(label.as_str().unwrap().contains("PredictionValuesChange"));
    every_card_renders(client, app, "houses-cb", "weights.svg").await;
    // The form is the instance one again after the text model.
    let text_box = client
        .execute(
            "return document.getElementById('explain-text-label').hidden",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(text_box, json!(true));
    // With a background the global and dependence cards are back.
    for (id, hidden) in [
        ("global-note", true),
        ("global-body", false),
        ("dependence-card", false),
    ] {
        let script = format!("return document.getElementById('{id}').hidden");
        let value = client.execute(&script, vec![]).await.unwrap();
        assert_eq!(value, json!(hidden), "{id}");
    }
}

/// The browser asked for nothing this server does not serve: no `/favicon.ico`
/// (the page's icon is inline).
async fn no_favicon_was_missing(app: &axum::Router) {
    let metrics = call(app, Method::GET, "/metrics", None).await.text;
    let missing = r#"route="unmatched",method="GET",status="404""#;
    assert!(
        !metrics.contains(missing),
        "the page asked for a path with no route: {}",
        metrics
            .lines()
            .find(|l| l.contains(missing))
            .unwrap_or_default()
    );
}
