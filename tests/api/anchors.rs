//! `method: "anchors"` on the explain routes: over a real socket on the demo house
//! prices (a regression) and an XGBoost softmax classifier; bad parameters; what
//! readers and admins see of the examples; the anchor picture.

use std::net::SocketAddr;

use crate::common::{call, default_app, fixture, house, ready_app};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use explaind::config::{Config, Secret};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serve the app of `config` on a loopback port.
async fn serve(config: Config) -> SocketAddr {
    let (router, _) = ready_app(config).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// One HTTP/1.1 exchange over a fresh connection: (status, JSON body).
async fn http(addr: SocketAddr, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let payload = body.to_string();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    // Bodies may come chunked: the JSON is between the first '{' and the last '}'.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&body[a..=b]).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (head[9..12].parse().unwrap(), json)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Checks every anchor must pass: a rule the instance meets, bounds in order.
fn check_anchor(a: &Value, instance: &[f64], names: &[Value], asked: f64) {
    let (p, lb, cov) = (
        f(&a["precision"]),
        f(&a["precision_lower_bound"]),
        f(&a["coverage"]),
    );
    assert!(lb <= p && p <= 1.0 && cov > 0.0 && cov <= 1.0, "{a}");
    if a["precision_met"] == true {
        assert!(lb >= asked, "{a}");
    }
    for c in a["rule"].as_array().unwrap() {
        let j = names.iter().position(|n| *n == c["feature"]).unwrap();
        let v = instance[j];
        assert_eq!(c["op"], "interval", "{c}");
        assert!(c["lower"].as_f64().is_none_or(|l| v > l), "{c} vs {v}");
        assert!(c["upper"].as_f64().is_none_or(|u| v <= u), "{c} vs {v}");
        assert!(a["text"]
            .as_str()
            .unwrap()
            .contains(c["text"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn anchors_over_a_real_socket_on_the_house_prices_and_a_tree_classifier() {
    let addr = serve(Config::defaults()).await;
    // A linear price moves with every feature: within ±25 000 (about one standard
    // deviation of the background's prices) a few conditions keep it.
    let body = json!({"instances": [house()], "method": "anchors", "seed": 3, "tolerance": 25000});
    let (status, answer) = http(addr, "POST", "/models/house-prices/explain", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["method"].as_str(), answer["seed"].as_u64()),
        (Some("anchors"), Some(3))
    );
    let e = &answer["explanations"][0];
    // A rule has no attributions to add up: no additivity residual (it was
    // base − prediction, which meant nothing).
    assert!(e["quality"].get("additivity_residual").is_none(), "{e}");
    assert!(e["quality"]["samples"].as_u64().unwrap() > 0, "{e}");
    assert_eq!(e["attributions"], json!([]));
    let anchor = &e["anchor"];
    let names = answer["feature_names"].as_array().unwrap().clone();
    let instance: Vec<f64> = names
        .iter()
        .map(|n| f(&house()[n.as_str().unwrap()]))
        .collect();
    check_anchor(anchor, &instance, &names, 0.95);
    assert_eq!(anchor["precision_met"], true, "{anchor}");
    // A regression: the band is the prediction ± the tolerance.
    assert_eq!(f(&anchor["tolerance"]), 25000.0);
    let prediction = f(&e["prediction"]);
    let band = format!(
        "price in [{:.0}, {:.0}]",
        prediction - 25000.0,
        prediction + 25000.0
    );
    assert_eq!(anchor["answer"], band.as_str());
    let holds = anchor["examples"]["holds"].as_array().unwrap();
    assert!(!holds.is_empty() && holds.len() <= 3);
    // The same request gives the same answer.
    let (_, again) = http(addr, "POST", "/models/house-prices/explain", &body).await;
    assert_eq!(again["explanations"][0]["anchor"], *anchor);

    let case = fixture("trees/xgb_softmax.case.json");
    let width = case["rows"][0].as_array().unwrap().len();
    let feature_names: Vec<String> = (0..width).map(|j| format!("f{j}")).collect();
    let spec = json!({"kind": "xgboost", "feature_names": feature_names, "model": fixture("trees/xgb_softmax.json"),
        "background": case["background"], "output_names": ["red", "green", "blue"]});
    let (status, put) = http(addr, "PUT", "/models/colours", &spec).await;
    assert_eq!(status, 201, "{put}");
    let rows: Vec<Value> = case["rows"].as_array().unwrap()[..3]
        .iter()
        .map(|r| {
            json!(r
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap_or(0.0))
                .collect::<Vec<_>>())
        })
        .collect();
    let (_, predicted) = http(
        addr,
        "POST",
        "/models/colours/predict",
        &json!({"instances": rows}),
    )
    .await;
    let body = json!({"instances": rows, "method": "anchors", "precision": 0.9, "beam_size": 3});
    let (status, answer) = http(addr, "POST", "/models/colours/explain", &body).await;
    assert_eq!(status, 200, "{answer}");
    let names: Vec<Value> = feature_names.iter().map(|n| json!(n)).collect();
    for (i, e) in answer["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let p: Vec<f64> = predicted["predictions"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(f)
            .collect();
        let class = (0..3).fold(0, |b, k| if p[k] > p[b] { k } else { b });
        assert_eq!(e["output"], ["red", "green", "blue"][class]);
        assert_eq!(e["anchor"]["answer"], e["output"]);
        let instance: Vec<f64> = rows[i].as_array().unwrap().iter().map(f).collect();
        check_anchor(&e["anchor"], &instance, &names, 0.9);
    }
}

#[tokio::test]
async fn bad_anchor_parameters_are_422_naming_the_field() {
    let (app, _) = ready_app(Config {
        max_samples: 5000,
        ..Config::defaults()
    })
    .await;
    let cases = [
        (json!({"precision": 1.5}), "precision"),
        (json!({"precision": 0.0}), "precision"),
        (json!({"delta": 1.0}), "delta"),
        (json!({"epsilon": 0.0}), "epsilon"),
        (json!({"beam_size": 0}), "beam_size"),
        (json!({"n_samples": 10}), "n_samples"),
        (json!({"n_samples": 6000}), "--max-samples"),
        (json!({"tolerance": -1.0}), "tolerance"),
        (json!({"outputs": "all"}), "outputs"),
        (json!({"group_by": "groups"}), "group_by"),
        (
            json!({"method": "kernel_shap", "precision": 0.9}),
            "precision",
        ),
    ];
    for (extra, field) in cases {
        let mut body = json!({"instances": [house()], "method": "anchors"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = call(
            &app,
            Method::POST,
            "/models/house-prices/explain",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.text
        );
        let message = answer.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{body}: {message}");
    }
    // A model without background has nothing to perturb with.
    let spec = json!({"kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0], "intercept": 0.0}});
    assert_eq!(
        call(&app, Method::PUT, "/models/bare", Some(spec))
            .await
            .status,
        StatusCode::CREATED
    );
    let body = json!({"instances": [[1.0]], "method": "anchors"});
    let answer = call(&app, Method::POST, "/models/bare/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.text.contains("background"), "{}", answer.text);
}

#[tokio::test]
async fn readers_get_the_rule_without_examples_admins_with_them() {
    const ADMIN: &str = "admin-secret-0123456789";
    const READER: &str = "reader-secret-0123456789";
    let config = Config {
        admin_tokens: vec![Secret(ADMIN.into())],
        reader_tokens: vec![Secret(READER.into())],
        ..Config::defaults()
    };
    let (app, _) = ready_app(config).await;
    let body = json!({"instances": [house()], "method": "anchors"});
    let mut anchors = Vec::new();
    for token in [READER, ADMIN] {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/models/house-prices/explain")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let answer = crate::common::send(&app, request).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        anchors.push(answer.json["explanations"][0]["anchor"].clone());
    }
    assert!(anchors[0].get("examples").is_none(), "{}", anchors[0]);
    assert!(anchors[1]["examples"]["holds"].is_array(), "{}", anchors[1]);
    // Otherwise the same answer.
    anchors[1].as_object_mut().unwrap().remove("examples");
    assert_eq!(anchors[0], anchors[1]);
}

#[tokio::test]
async fn the_anchor_picture_shows_the_rule_with_precision_and_coverage() {
    let app = default_app().await;
    let body = json!({"instances": [house()], "method": "anchors"});
    let json = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(body.clone()),
    )
    .await
    .json;
    let anchor = &json["explanations"][0]["anchor"];
    let picture = call(
        &app,
        Method::POST,
        "/models/house-prices/explain.svg",
        Some(body),
    )
    .await;
    assert_eq!(picture.status, StatusCode::OK, "{}", picture.text);
    let doc = roxmltree::Document::parse(&picture.text).expect("valid SVG");
    let conditions: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("condition"))
        .collect();
    assert_eq!(conditions.len(), anchor["rule"].as_array().unwrap().len());
    for (node, c) in conditions.iter().zip(anchor["rule"].as_array().unwrap()) {
        assert_eq!(node.attribute("data-feature"), c["feature"].as_str());
    }
    let bar = |class: &str| {
        let n = doc
            .descendants()
            .find(|n| n.attribute("class") == Some(class))
            .unwrap();
        n.attribute("data-value").unwrap().parse::<f64>().unwrap()
    };
    assert_eq!(bar("precision"), f(&anchor["precision"]));
    assert_eq!(bar("coverage"), f(&anchor["coverage"]));
}

#[tokio::test]
async fn routes_that_answer_attributions_refuse_anchors() {
    let app = default_app().await;
    let row: Vec<f64> = [5850.0, 3.0, 1.0, 2.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0].to_vec();
    let body = json!({"parameters": {"method": "anchors"},
        "inputs": [{"name": "input", "shape": [1, 11], "datatype": "FP64", "data": row}]});
    let oip = call(
        &app,
        Method::POST,
        "/v2/models/house-prices/explain",
        Some(body),
    )
    .await;
    assert_eq!(oip.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", oip.text);
    assert!(oip.text.contains("anchors"), "{}", oip.text);
    let job = json!({"kind": "mean_abs_attribution", "method": "anchors"});
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
    assert!(answer.text.contains("anchors"), "{}", answer.text);
}
