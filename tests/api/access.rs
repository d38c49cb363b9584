//! Access control, load shedding and deadlines through `oneshot`.

use std::sync::atomic::Ordering;

use crate::common::{call, house, logistic_spec, ready_app, send};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use explaind::config::{Config, Secret};
use explaind::server;
use serde_json::json;

const ADMIN: &str = "admin-secret-0123456789";
const READER: &str = "reader-secret-0123456789";

fn with_tokens() -> Config {
    Config {
        admin_tokens: vec![Secret(ADMIN.into())],
        reader_tokens: vec![Secret(READER.into())],
        ..Config::defaults()
    }
}

async fn as_user(
    app: &axum::Router,
    token: Option<&str>,
    method: Method,
    uri: &str,
    body: Option<serde_json::Value>,
) -> crate::common::Answer {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        builder = builder.header("authorization", format!("Bearer {t}"));
    }
    let body = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    send(app, builder.body(body).unwrap()).await
}

#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_case() {
    let (app, _) = ready_app(with_tokens()).await;
    let get = |value: String| {
        let request = Request::builder()
            .uri("/models")
            .header("authorization", value)
            .body(Body::empty())
            .unwrap();
        send(&app, request)
    };
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        for gap in [" ", "   "] {
            let answer = get(format!("{scheme}{gap}{READER}")).await;
            assert_eq!(
                answer.status,
                StatusCode::OK,
                "{scheme}{gap}: {}",
                answer.text
            );
        }
    }
    // The admin's token in lower case is still an admin's.
    let request = Request::builder()
        .method(Method::DELETE)
        .uri("/models/house-prices")
        .header("authorization", format!("bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, request).await.status, StatusCode::NO_CONTENT);
    for refused in [
        format!("Basic {READER}"),
        format!("Bearer{READER}"),
        format!("Bearerx {READER}"),
        READER.to_string(),
        "bearer ".to_string(),
    ] {
        let answer = get(refused.clone()).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{refused}");
    }
}

#[tokio::test]
async fn readers_read_admins_change_strangers_get_401() {
    let (app, _) = ready_app(with_tokens()).await;
    let explain = Some(json!({"instances": [house()]}));

    let stranger = as_user(
        &app,
        None,
        Method::POST,
        "/models/house-prices/explain",
        explain.clone(),
    )
    .await;
    assert_eq!(stranger.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stranger.headers["www-authenticate"], "Bearer");
    assert_eq!(stranger.json["error"]["code"], "unauthorized");
    let wrong = as_user(
        &app,
        Some("not-a-token-at-all-xx"),
        Method::GET,
        "/models",
        None,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let reader = as_user(
        &app,
        Some(READER),
        Method::POST,
        "/models/house-prices/explain",
        explain.clone(),
    )
    .await;
    assert_eq!(reader.status, StatusCode::OK);
    assert_eq!(
        as_user(&app, Some(READER), Method::GET, "/global", None)
            .await
            .status,
        StatusCode::OK
    );
    let put = as_user(
        &app,
        Some(READER),
        Method::PUT,
        "/models/churn",
        Some(logistic_spec()),
    )
    .await;
    assert_eq!(put.status, StatusCode::FORBIDDEN);
    assert_eq!(put.json["error"]["code"], "forbidden");
    let weights = as_user(
        &app,
        Some(READER),
        Method::GET,
        "/models/house-prices/weights",
        None,
    )
    .await;
    assert_eq!(weights.status, StatusCode::FORBIDDEN);
    let delete = as_user(
        &app,
        Some(READER),
        Method::DELETE,
        "/models/house-prices",
        None,
    )
    .await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);

    let admin = as_user(
        &app,
        Some(ADMIN),
        Method::PUT,
        "/models/churn",
        Some(logistic_spec()),
    )
    .await;
    assert_eq!(admin.status, StatusCode::CREATED);
    assert_eq!(
        as_user(
            &app,
            Some(ADMIN),
            Method::GET,
            "/models/house-prices/weights",
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        as_user(
            &app,
            Some(ADMIN),
            Method::POST,
            "/models/churn/predict",
            Some(json!({"instances": [[1, 2]]}))
        )
        .await
        .status,
        StatusCode::OK
    );

    // Probes and metrics stay open for the platform.
    for open in ["/healthz", "/readyz", "/metrics", "/openapi.yaml"] {
        assert_eq!(
            as_user(&app, None, Method::GET, open, None).await.status,
            StatusCode::OK,
            "{open}"
        );
    }
    // A forbidden change changed nothing.
    let churn = as_user(&app, Some(READER), Method::GET, "/models/churn", None).await;
    assert_eq!(churn.json["version"], 1);
}

#[tokio::test]
async fn tokens_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens");
    std::fs::write(
        &path,
        format!("# mounted secret\nadmin {ADMIN}\n\nreader {READER}  # dashboards\n"),
    )
    .unwrap();
    let config = Config {
        tokens_file: Some(path),
        ..Config::defaults()
    };
    let (app, _) = ready_app(config).await;
    assert_eq!(
        as_user(&app, None, Method::GET, "/models", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        as_user(&app, Some(READER), Method::GET, "/models", None)
            .await
            .status,
        StatusCode::OK
    );
    let put = as_user(
        &app,
        Some(ADMIN),
        Method::PUT,
        "/models/churn",
        Some(logistic_spec()),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED);

    std::fs::write(dir.path().join("bad"), "owner abcdefabcdefabcdefabcdef\n").unwrap();
    let config = Config {
        tokens_file: Some(dir.path().join("bad")),
        ..Config::defaults()
    };
    let err = server::build_state(config).err().unwrap().to_string();
    assert!(err.contains("line 1") && !err.contains("abcdef"), "{err}");
}

#[tokio::test]
async fn no_public_address_without_tokens_unless_allowed() {
    let public = Config {
        addr: "0.0.0.0:8080".parse().unwrap(),
        ..Config::defaults()
    };
    let err = server::build_state(public.clone())
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("--allow-unauthenticated"), "{err}");
    assert!(server::build_state(Config {
        allow_unauthenticated: true,
        ..public.clone()
    })
    .is_ok());
    assert!(server::build_state(Config {
        addr: public.addr,
        ..with_tokens()
    })
    .is_ok());
}

#[tokio::test]
async fn explanations_beyond_the_queue_are_shed_with_retry_after() {
    // exact_shapley runs on the blocking pool (cheap linear SHAP would run inline).
    let config = Config {
        explain_concurrency: 1,
        explain_queue: 0,
        ..Config::defaults()
    };
    let (app, state) = ready_app(config).await;
    // One job holds the only slot.
    let permit = state.explain_permits.clone().acquire_owned().await.unwrap();
    state.explain_pending.fetch_add(1, Ordering::SeqCst);
    let shed = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": [house()], "method": "exact_shapley"})),
    )
    .await;
    assert_eq!(shed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.json["error"]["code"], "overloaded");
    assert_eq!(shed.headers["retry-after"], "1");
    // Once it finishes, requests go through again.
    drop(permit);
    state.explain_pending.fetch_sub(1, Ordering::SeqCst);
    let ok = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": [house()], "method": "exact_shapley"})),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn requests_past_the_deadline_get_504() {
    let config = Config {
        request_timeout_ms: 50,
        explain_concurrency: 1,
        ..Config::defaults()
    };
    let (app, state) = ready_app(config).await;
    // The only slot is taken, so the request waits past its deadline.
    let _permit = state.explain_permits.clone().acquire_owned().await.unwrap();
    let late = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": [house()], "method": "exact_shapley"})),
    )
    .await;
    assert_eq!(late.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(late.json["error"]["code"], "deadline_exceeded");
}
