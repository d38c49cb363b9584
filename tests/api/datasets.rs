//! Data sets through `oneshot`: register, list, describe, delete, every refusal,
//! durability across restarts, and the admin role.

use crate::common::{call, logistic_spec, multinomial_spec, ready_app, send};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use explaind::config::{Config, Secret};
use serde_json::{json, Value};

/// The first `n` houses of the demo data: (rows in feature order, prices).
pub fn houses(n: usize) -> (Vec<Value>, Vec<Value>) {
    let table = explaind::demo::parse_csv(explaind::demo::CSV).unwrap();
    let rows = table.rows.iter().take(n).map(|r| json!(r[1..])).collect();
    let prices = table.rows.iter().take(n).map(|r| json!(r[0])).collect();
    (rows, prices)
}

#[tokio::test]
async fn register_list_describe_replace_delete() {
    let (app, _) = ready_app(Config::defaults()).await;
    let (rows, prices) = houses(100);
    let doc = json!({"rows": rows, "target": prices, "description": "first 100 houses"});
    let put = call(
        &app,
        Method::PUT,
        "/models/house-prices/datasets/first",
        Some(doc.clone()),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["rows"], 100);
    assert_eq!(put.json["features"], 11);
    assert_eq!(put.json["task"], "regression");
    assert_eq!(put.json["model_version"], 1);
    let mean: f64 = prices.iter().map(|p| p.as_f64().unwrap()).sum::<f64>() / 100.0;
    let stats = &put.json["target_stats"];
    assert!((stats["mean"].as_f64().unwrap() - mean).abs() < 1e-9);

    let again = call(
        &app,
        Method::PUT,
        "/models/house-prices/datasets/first",
        Some(doc),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);

    let list = call(&app, Method::GET, "/models/house-prices/datasets", None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["datasets"].as_array().unwrap().len(), 1);
    assert_eq!(list.json["datasets"][0]["id"], "first");
    assert_eq!(list.json["datasets"][0]["rows"], 100);
    assert!(list.json["datasets"][0]["created_at"].is_string());

    let one = call(
        &app,
        Method::GET,
        "/models/house-prices/datasets/first",
        None,
    )
    .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json["description"], "first 100 houses");
    // Metadata only: no field of the answer holds rows.
    assert!(one.json.get("rows").is_some_and(Value::is_u64));
    assert!(
        !one.text.contains("5850"),
        "a row value leaked: {}",
        one.text
    );

    let gone = call(
        &app,
        Method::DELETE,
        "/models/house-prices/datasets/first",
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::DELETE] {
        let missing = call(&app, method, "/models/house-prices/datasets/first", None).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.json["error"]["code"], "dataset_not_found");
    }
}

#[tokio::test]
async fn class_labels_by_name_index_or_flag() {
    let (app, _) = ready_app(Config::defaults()).await;
    call(&app, Method::PUT, "/models/churn", Some(logistic_spec())).await;
    let doc = json!({"rows": [[0, 1], [1, 2], {"a": 2, "b": 0}, [3, 3]],
                     "target": ["yes", 0, true, "no"]});
    let put = call(&app, Method::PUT, "/models/churn/datasets/d", Some(doc)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["task"], "classification");
    let counts = &put.json["class_counts"];
    assert_eq!(counts[0], json!({"class": "no", "index": 0, "rows": 2}));
    assert_eq!(counts[1], json!({"class": "yes", "index": 1, "rows": 2}));

    call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    let ok = json!({"rows": [[0, 0], [1, 1]], "target": ["x", 2]});
    let put = call(&app, Method::PUT, "/models/three/datasets/d", Some(ok)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    for (label, needle) in [
        (json!("w"), "unknown class 'w'"),
        (json!(3), "class index 3"),
        (json!(1.5), "class index 1.5"),
        (json!(true), "binary"),
    ] {
        let bad = json!({"rows": [[0, 0]], "target": [label]});
        let a = call(&app, Method::PUT, "/models/three/datasets/bad", Some(bad)).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{label}");
        assert!(
            a.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{}",
            a.text
        );
    }
    let list = call(&app, Method::GET, "/models/three/datasets", None).await;
    assert_eq!(list.json["datasets"].as_array().unwrap().len(), 1);

    // A one-output binary classifier named by both classes, as scikit-learn's
    // `classes_` lists them: its output takes the second name and data sets take
    // the model's own labels (class 0 was "not <output>" only: a data set of the
    // training labels was refused).
    let mut spec = logistic_spec();
    spec["params"].as_object_mut().unwrap().remove("classes");
    spec["output_names"] = json!(["stays", "churns"]);
    let put = call(&app, Method::PUT, "/models/named", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["output_names"], json!(["churns"]));
    let doc = json!({"rows": [[0, 1], [1, 2], [2, 0]], "target": ["stays", "churns", "stays"]});
    let put = call(&app, Method::PUT, "/models/named/datasets/d", Some(doc)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(
        put.json["class_counts"][0],
        json!({"class": "stays", "index": 0, "rows": 2})
    );
    let mut spec = logistic_spec();
    spec["output_names"] = json!(["a", "b", "c"]);
    let put = call(&app, Method::PUT, "/models/bad", Some(spec)).await;
    assert_eq!(put.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", put.text);
}

#[tokio::test]
async fn bad_data_sets_are_refused_and_change_nothing() {
    let config = Config {
        dataset_max_rows: 5,
        ..Config::defaults()
    };
    let (app, _) = ready_app(config).await;
    let (rows, prices) = houses(3);
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"rows": [[1, 2, 3]], "target": [1]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected 11 feature values",
        ),
        (
            json!({"rows": [[null, 3, 1, 2, 1, 0, 1, 0, 0, 1, 0]], "target": [1]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing value",
        ),
        (
            json!({"rows": [{"lotsize": 1}], "target": [1]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing feature",
        ),
        (
            json!({"rows": rows, "target": [1, 2]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "2 target value(s) for 3 row(s)",
        ),
        (
            json!({"rows": rows, "target": [1, null, 3]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "target 1",
        ),
        (
            json!({"rows": rows, "target": [1, "cheap", 3]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "target 1",
        ),
        (
            json!({"rows": [], "target": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "at least one",
        ),
        (
            json!({"rows": vec![rows[0].clone(); 6], "target": vec![prices[0].clone(); 6]}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "at most 5",
        ),
        (
            json!({"rows": rows, "target": prices, "extra": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field",
        ),
    ];
    for (doc, status, needle) in cases {
        let a = call(
            &app,
            Method::PUT,
            "/models/house-prices/datasets/x",
            Some(doc.clone()),
        )
        .await;
        assert_eq!(a.status, status, "{doc}: {}", a.text);
        assert!(a.text.contains(needle), "{doc}: {}", a.text);
    }
    // A non-finite number cannot be written in JSON; one too large for f64 is refused as JSON.
    let raw = Request::builder()
        .method(Method::PUT)
        .uri("/models/house-prices/datasets/x")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"rows": [[1e999,3,1,2,1,0,1,0,0,1,0]], "target": [1]}"#,
        ))
        .unwrap();
    assert_eq!(send(&app, raw).await.status, StatusCode::BAD_REQUEST);

    let good = json!({"rows": rows, "target": prices});
    let bad_id = call(
        &app,
        Method::PUT,
        "/models/house-prices/datasets/.hidden",
        Some(good.clone()),
    )
    .await;
    assert_eq!(bad_id.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_id.json["error"]["code"], "invalid_name");
    assert!(bad_id.text.contains("data-set id"), "{}", bad_id.text);
    let no_model = call(&app, Method::PUT, "/models/nope/datasets/x", Some(good)).await;
    assert_eq!(no_model.status, StatusCode::NOT_FOUND);
    assert_eq!(no_model.json["error"]["code"], "model_not_found");
    for uri in ["/models/nope/datasets", "/models/nope/datasets/x"] {
        assert_eq!(
            call(&app, Method::GET, uri, None).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let list = call(&app, Method::GET, "/models/house-prices/datasets", None).await;
    assert_eq!(list.json["datasets"], json!([]), "nothing was registered");
}

#[tokio::test]
async fn data_sets_survive_a_restart_and_go_with_their_model() {
    let dir = tempfile::tempdir().unwrap();
    let config = || Config {
        model_dir: Some(dir.path().to_path_buf()),
        ..Config::defaults()
    };
    let (app, _) = ready_app(config()).await;
    call(&app, Method::PUT, "/models/churn", Some(logistic_spec())).await;
    let doc = json!({"rows": [[0, 1], [1, 2]], "target": ["yes", "no"]});
    let put = call(&app, Method::PUT, "/models/churn/datasets/d", Some(doc)).await;
    assert_eq!(put.status, StatusCode::CREATED);
    assert!(dir.path().join("datasets/churn/d.dataset.json").exists());
    drop(app);

    let (again, _) = ready_app(config()).await;
    let one = call(&again, Method::GET, "/models/churn/datasets/d", None).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.json, put.json, "the same data set came back");

    assert_eq!(
        call(&again, Method::DELETE, "/models/churn", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(!dir.path().join("datasets/churn").exists());
    call(&again, Method::PUT, "/models/churn", Some(logistic_spec())).await;
    let list = call(&again, Method::GET, "/models/churn/datasets", None).await;
    assert_eq!(list.json["datasets"], json!([]));
}

#[tokio::test]
async fn data_sets_need_the_admin_role() {
    let admin = "admin-secret-0123456789";
    let reader = "reader-secret-0123456789";
    let config = Config {
        admin_tokens: vec![Secret(admin.into())],
        reader_tokens: vec![Secret(reader.into())],
        ..Config::defaults()
    };
    let (app, _) = ready_app(config).await;
    let (rows, prices) = houses(2);
    for (token, status) in [
        (reader, StatusCode::FORBIDDEN),
        (admin, StatusCode::CREATED),
    ] {
        let request = Request::builder()
            .method(Method::PUT)
            .uri("/models/house-prices/datasets/d")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"rows": rows, "target": prices}).to_string(),
            ))
            .unwrap();
        assert_eq!(send(&app, request).await.status, status);
    }
    let list = Request::builder()
        .uri("/models/house-prices/datasets")
        .header("authorization", format!("Bearer {reader}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, list).await.status, StatusCode::FORBIDDEN);
}

/// A data-set PUT racing a DELETE of its model, many times over on a multi-thread
/// runtime with a model directory: whichever is acknowledged first, once the
/// DELETE is acknowledged none of the model's data sets exist (in memory or on
/// disk), a PUT that loses the race is refused with 404, and nothing comes back
/// when the name is registered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_data_set_put_racing_a_model_delete_never_outlives_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        model_dir: Some(dir.path().to_path_buf()),
        ..Config::defaults()
    };
    let (app, _) = ready_app(config).await;
    let rows: Vec<Value> = (0..200).map(|i| json!([i % 7, i % 5])).collect();
    let target: Vec<Value> = (0..200).map(|i| json!(i % 2 == 0)).collect();
    let doc = json!({"rows": rows, "target": target});
    let registered = call(&app, Method::PUT, "/models/churn", Some(logistic_spec())).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    let mut outcomes = std::collections::BTreeMap::new();
    for round in 0..60 {
        let (a, d) = (app.clone(), doc.clone());
        let put = tokio::spawn(async move {
            call(&a, Method::PUT, "/models/churn/datasets/d", Some(d)).await
        });
        let a = app.clone();
        let delete =
            tokio::spawn(async move { call(&a, Method::DELETE, "/models/churn", None).await });
        let (put, delete) = (put.await.unwrap(), delete.await.unwrap());
        assert_eq!(delete.status, StatusCode::NO_CONTENT, "{}", delete.text);
        assert!(
            [StatusCode::CREATED, StatusCode::NOT_FOUND].contains(&put.status),
            "round {round}: {} {}",
            put.status,
            put.text
        );
        *outcomes.entry(put.status.as_u16()).or_insert(0) += 1;
        assert!(
            !dir.path().join("datasets/churn/d.dataset.json").exists(),
            "round {round}: the data set (PUT answered {}) outlived its model on disk",
            put.status
        );
        let again = call(&app, Method::PUT, "/models/churn", Some(logistic_spec())).await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
        let list = call(&app, Method::GET, "/models/churn/datasets", None).await;
        assert_eq!(
            list.json["datasets"],
            json!([]),
            "round {round}: the data set (PUT answered {}) came back with the name",
            put.status
        );
    }
    eprintln!("PUT outcomes (status: rounds): {outcomes:?}");
}
