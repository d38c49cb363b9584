//! The KServe V1 protocol routes.

use crate::common::{call, default_app, house};
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn kserve_status_predict_and_explain() {
    let app = default_app().await;
    let status = call(&app, Method::GET, "/v1/models/house-prices", None).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json, json!({"name": "house-prices", "ready": true}));

    let body = json!({"instances": [house()]});
    let predicted = call(
        &app,
        Method::POST,
        "/v1/models/house-prices:predict",
        Some(body.clone()),
    )
    .await;
    assert_eq!(predicted.status, StatusCode::OK, "{}", predicted.text);
    let explained = call(
        &app,
        Method::POST,
        "/v1/models/house-prices:explain",
        Some(body.clone()),
    )
    .await;
    assert_eq!(explained.status, StatusCode::OK);
    // The same numbers as the native routes.
    let native = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(body.clone()),
    )
    .await;
    assert_eq!(explained.json["explanations"], native.json["explanations"]);
    assert_eq!(
        predicted.json["predictions"][0][0],
        native.json["explanations"][0]["prediction"]
    );

    let unknown_verb = call(
        &app,
        Method::POST,
        "/v1/models/house-prices:train",
        Some(body.clone()),
    )
    .await;
    assert_eq!(unknown_verb.status, StatusCode::NOT_FOUND);
    let no_verb = call(
        &app,
        Method::POST,
        "/v1/models/house-prices",
        Some(body.clone()),
    )
    .await;
    // The resource exists (GET reads it); POST goes to `NAME:verb`.
    assert_eq!(no_verb.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(no_verb.headers["allow"], "GET,HEAD");
    let unknown_model = call(&app, Method::POST, "/v1/models/nope:explain", Some(body)).await;
    assert_eq!(unknown_model.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown_model.json["error"]["code"], "model_not_found");
}
