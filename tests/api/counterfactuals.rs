//! `POST /models/{name}/counterfactuals`: answers equal to the least costs scipy's
//! `milp` finds (tests/fixtures/gen_counterfactuals.py), constraints met on every
//! answer, infeasible requests answered as such, bad input refused naming the field,
//! and a session over a real socket on the embedded house-price model.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use explaind::config::Config;
use explaind::server;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::common::{
    call, default_app, fixture, house, house_row, logistic_spec, multinomial_spec,
};

/// Check an answer's constraints against the request, independently of the server:
/// immutables kept, bounds, whole numbers, max_changes, and the target met by the
/// model's own parameters.
fn check_constraints(model: &Value, request: &Value, cf: &Value) {
    let names: Vec<&str> = model["feature_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let x = &request["instance"];
    let y = &cf["instance"];
    let value = |v: &Value, n: &str| v[n].as_f64().unwrap();
    for f in request["immutable"].as_array().into_iter().flatten() {
        let f = f.as_str().unwrap();
        assert_eq!(value(x, f), value(y, f), "immutable {f} changed");
    }
    for f in request["integer"].as_array().into_iter().flatten() {
        assert_eq!(value(y, f.as_str().unwrap()).fract(), 0.0);
    }
    if let Some(bounds) = request["bounds"].as_object() {
        for (f, b) in bounds {
            let v = value(y, f);
            assert!(
                v == value(x, f) || (b[0].as_f64().unwrap() <= v && v <= b[1].as_f64().unwrap())
            );
        }
    }
    let changes = names.iter().filter(|n| value(x, n) != value(y, n)).count();
    assert_eq!(changes, cf["changes"].as_array().unwrap().len());
    if let Some(m) = request["max_changes"].as_u64() {
        assert!(changes as u64 <= m);
    }
    let coef = model["params"]["coefficients"].as_array().unwrap();
    let margin: f64 = model["params"]["intercept"].as_f64().unwrap()
        + names
            .iter()
            .zip(coef)
            .map(|(n, w)| value(y, n) * w.as_f64().unwrap())
            .sum::<f64>();
    let target = &request["target"];
    let (lo, hi) = if target.is_object() {
        let p = |k: &str, d: f64| target[k].as_f64().unwrap_or(d);
        let (lo, hi) = (p("min", f64::NEG_INFINITY), p("max", f64::INFINITY));
        if model["kind"] == "logistic" {
            let logit = |p: f64| {
                if p >= 1.0 {
                    f64::INFINITY
                } else {
                    (p / (1.0 - p)).ln()
                }
            };
            (logit(lo), logit(hi))
        } else {
            (lo, hi)
        }
    } else {
        (0.0, f64::INFINITY)
    };
    assert!(
        lo <= margin && margin <= hi,
        "margin {margin} outside [{lo}, {hi}]"
    );
}

async fn register(app: &axum::Router, model: &Value) {
    let name = model["name"].as_str().unwrap();
    let mut body = model.clone();
    body.as_object_mut().unwrap().remove("name");
    let put = call(app, Method::PUT, &format!("/models/{name}"), Some(body)).await;
    assert!(put.status.is_success(), "{}", put.text);
}

#[tokio::test]
async fn linear_and_logistic_answers_equal_the_milp_least_cost() {
    let doc = fixture("counterfactuals/linear_cases.json");
    let app = default_app().await;
    for model in doc["models"].as_array().unwrap() {
        register(&app, model).await;
    }
    let mut feasible = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["model"].as_str().unwrap();
        let model = doc["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap();
        let uri = format!("/models/{name}/counterfactuals");
        let answer = call(&app, Method::POST, &uri, Some(case["request"].clone())).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let a = &answer.json;
        assert_eq!(a["method"], "linear_exact");
        assert_eq!(a["optimal"], true, "{case}");
        match case["least_cost"].as_f64() {
            None => {
                assert_eq!(a["infeasible"], true, "{case}: {a}");
                assert_eq!(a["counterfactuals"], json!([]));
                assert_eq!(a["bound"], Value::Null);
            }
            Some(least) => {
                let cf = &a["counterfactuals"][0];
                let cost = cf["cost"].as_f64().unwrap();
                // The server aims a hair (1e-9 relative) past the target's edge.
                assert!(
                    (cost - least).abs() <= 1e-6 * (1.0 + least),
                    "{case}: {cost} vs {least}"
                );
                assert!((a["bound"].as_f64().unwrap() - cost).abs() <= 1e-6 * (1.0 + least));
                check_constraints(model, &case["request"], cf);
                feasible += 1;
            }
        }
    }
    assert!(feasible >= 8);
}

#[tokio::test]
async fn several_counterfactuals_are_sorted_diverse_and_in_the_request_form() {
    let app = default_app().await;
    let body = json!({"instance": house_row(), "target": {"min": 90000}, "count": 3,
                      "integer": ["bedrooms", "bathrooms", "stories", "garage"]});
    let a = call(
        &app,
        Method::POST,
        "/models/house-prices/counterfactuals",
        Some(body),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let found = a.json["counterfactuals"].as_array().unwrap();
    assert_eq!(found.len(), 3);
    let mut supports: Vec<Vec<String>> = Vec::new();
    let mut last = 0.0;
    for cf in found {
        assert!(cf["instance"].is_array());
        assert!(cf["prediction"][0].as_f64().unwrap() >= 90000.0);
        let cost = cf["cost"].as_f64().unwrap();
        assert!(cost >= last);
        last = cost;
        let support: Vec<String> = cf["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["feature"].as_str().unwrap().to_string())
            .collect();
        for earlier in &supports {
            assert!(earlier.iter().any(|f| !support.contains(f)));
        }
        supports.push(support);
    }
}

#[tokio::test]
async fn a_logistic_class_target_by_name_and_an_infeasible_request() {
    let app = default_app().await;
    let mut spec = logistic_spec();
    spec["name"] = json!("churn");
    register(&app, &spec).await;
    let uri = "/models/churn/counterfactuals";
    let body = json!({"instance": {"a": 0.0, "b": 2.0}, "target": "yes"});
    let a = call(&app, Method::POST, uri, Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(
        a.json["counterfactuals"][0]["prediction"][0]
            .as_f64()
            .unwrap()
            >= 0.5
    );
    assert!(a.json["counterfactuals"][0]["instance"].is_object());
    let body = json!({"instance": {"a": 0.0, "b": 2.0}, "target": "yes", "immutable": ["a"],
                      "bounds": {"b": [1.5, 3.0]}});
    let a = call(&app, Method::POST, uri, Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["infeasible"], true);
    assert_eq!(a.json["counterfactuals"], json!([]));
    // Class 0 by the name the registration gave it (`params.classes`), as data sets
    // take it; it was refused ("unknown class"), only index 0 worked.
    let body = json!({"instance": {"a": 2.0, "b": 0.0}, "target": "no"});
    let a = call(&app, Method::POST, uri, Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(
        a.json["counterfactuals"][0]["prediction"][0]
            .as_f64()
            .unwrap()
            < 0.5
    );
    let body = json!({"instance": {"a": 2.0, "b": 0.0}, "target": "not yes"});
    let a = call(&app, Method::POST, uri, Some(body)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(a.text.contains("classes: no, yes"), "{}", a.text);
}

/// A class of a multinomial logistic model is the largest of three margins: several
/// linear constraints at once, which the knapsack does not solve. Such targets (and
/// probability ranges, through the softmax) are answered by growing spheres and say
/// so; a raw range on one margin is one linear constraint and is exact.
#[tokio::test]
async fn a_multinomial_logistic_class_target_is_answered_by_growing_spheres() {
    let app = default_app().await;
    let mut spec = multinomial_spec();
    spec["name"] = json!("three");
    register(&app, &spec).await;
    let uri = "/models/three/counterfactuals";
    // Margins a, b, −a − b: at (2, 0) class x; class y needs b > a and b > −a − b.
    let instance = json!({"a": 2.0, "b": 0.0});
    let body = json!({"instance": instance, "target": "y", "seed": 3});
    let a = call(&app, Method::POST, uri, Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["method"], "growing_spheres", "{}", a.text);
    assert_eq!(a.json["optimal"], false);
    let p = &a.json["counterfactuals"][0]["prediction"];
    assert!(
        p[1].as_f64() > p[0].as_f64() && p[1].as_f64() > p[2].as_f64(),
        "{p}"
    );
    // The least change is a + b's gap, 2 (b just past a, both within the default
    // bounds [0.5, 1.5]): pulled back to the boundary, not proved (it was 2.00–2.07
    // over seeds 1–5 before the pull-back).
    let cost = a.json["counterfactuals"][0]["cost"].as_f64().unwrap();
    assert!((2.0..2.0001).contains(&cost), "{cost}");
    let body = json!({"instance": instance, "target": {"min": 0.5}, "output": "y"});
    let a = call(&app, Method::POST, uri, Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["method"], "growing_spheres");
    // Margin of y (= b) at least 1: b moves to 1, proved least (unit MAD weights).
    let body = json!({"instance": instance, "target": {"min": 1.0}, "space": "raw", "output": "y"});
    let a = call(&app, Method::POST, uri, Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["method"], "linear_exact", "{}", a.text);
    assert_eq!(a.json["optimal"], true);
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    let app = default_app().await;
    let uri = "/models/house-prices/counterfactuals";
    let with = |extra: Value| {
        let mut body = json!({"instance": house(), "target": {"min": 90000}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (
            with(json!({"immutable": ["pool"]})),
            "immutable: unknown feature 'pool'",
        ),
        (
            with(json!({"bounds": {"pool": [0, 1]}})),
            "bounds: unknown feature 'pool'",
        ),
        (
            with(json!({"integer": ["pool"]})),
            "integer: unknown feature 'pool'",
        ),
        (
            with(json!({"cost": {"pool": 1.0}})),
            "cost: unknown feature 'pool'",
        ),
        (
            with(json!({"bounds": {"lotsize": [9000, 3000]}})),
            "bounds.lotsize: lo 9000 is above hi 3000",
        ),
        (
            with(json!({"immutable": ["lotsize"], "bounds": {"lotsize": [6000, 9000]}})),
            "bounds.lotsize: [6000, 9000] excludes the instance's own value 5850",
        ),
        (
            with(json!({"target": {"min": 10000}})),
            "target: the instance already meets it",
        ),
        (
            with(json!({"target": {"min": 9, "max": 3}})),
            "target: min 9 is above max 3",
        ),
        (with(json!({"target": 1})), "target: a regression takes"),
        (with(json!({"count": 6})), "count: 6; between 1 and 5"),
        (with(json!({"cost": "l2"})), "cost: \"l1_mad\", \"l0\""),
        (
            with(json!({"categories": {"bedrooms": [1, 2]}})),
            "categories.bedrooms: 'bedrooms' is not a categorical",
        ),
    ];
    for (body, message) in cases {
        let a = call(&app, Method::POST, uri, Some(body)).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{message}: {}",
            a.text
        );
        let got = a.json["error"]["message"].as_str().unwrap();
        assert!(got.contains(message), "{got} lacks {message}");
    }
}

/// One HTTP/1.1 exchange over a fresh connection: (status, parsed JSON body).
async fn http(addr: std::net::SocketAddr, path: &str, body: &Value) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let payload = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    (
        head[9..12].parse().unwrap(),
        serde_json::from_str(rest).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_cheapest_change_of_a_house_over_a_real_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = server::build_state(Config::defaults()).unwrap();
    server::load_models(&state).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(server::serve(
        listener,
        state,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));
    let body = json!({"instance": house(), "target": {"min": 80000}, "immutable": ["lotsize"],
                      "integer": ["bedrooms", "bathrooms", "stories", "garage"], "max_changes": 2});
    let (status, a) = http(addr, "/models/house-prices/counterfactuals", &body).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["optimal"], true);
    assert_eq!(a["method"], "linear_exact");
    let cf = &a["counterfactuals"][0];
    assert_eq!(
        cf["instance"]["lotsize"],
        house()["lotsize"].as_f64().unwrap()
    );
    assert!(cf["changes"].as_array().unwrap().len() <= 2);
    assert!(cf["prediction"][0].as_f64().unwrap() >= 80000.0);
    assert!(a["elapsed_ms"].as_f64().unwrap() >= 0.0);
    let (status, _) = http(
        addr,
        "/models/house-prices/counterfactuals",
        &json!({"instance": house()}),
    )
    .await;
    assert_eq!(status, 422);
    stop.send(()).unwrap();
    done.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_window_narrower_than_an_integer_step_is_answered_without_a_proof() {
    // A bathroom adds about 14,000 to the price, far more than the 10 the window
    // allows: an overshoot could need a move against the target, which the exact
    // search does not try, so the answer is not claimed minimal.
    let app = default_app().await;
    let body = json!({"instance": house(), "target": {"min": 80000, "max": 80010},
                      "integer": ["bedrooms", "bathrooms", "stories", "garage"]});
    let a = call(
        &app,
        Method::POST,
        "/models/house-prices/counterfactuals",
        Some(body),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["optimal"], false);
    let p = a.json["counterfactuals"][0]["prediction"][0]
        .as_f64()
        .unwrap();
    assert!((80000.0..=80010.0).contains(&p), "{p}");
}

#[tokio::test]
async fn an_instance_whose_prediction_overflows_is_refused() {
    let app = default_app().await;
    let mut x = house();
    x["lotsize"] = json!(1e308);
    let body = json!({"instance": x, "target": {"max": 1.0}});
    let a = call(
        &app,
        Method::POST,
        "/models/house-prices/counterfactuals",
        Some(body),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(a
        .text
        .contains("instance: the model's output on it is not a finite number"));
}
