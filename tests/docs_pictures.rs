//! The pictures in the README are the service's own output: this test renders the
//! house-price model's charts and fails when `docs/img/` differs. Rewrite them with
//! `EXPLAIND_UPDATE_DOCS=1 cargo test --test docs_pictures`.

mod common;

use axum::http::{Method, StatusCode};
use common::{call, default_app, house};
use serde_json::json;

#[tokio::test]
async fn committed_pictures_match_the_service() {
    let app = default_app().await;
    let pictures = [
        (
            "global.svg",
            Method::GET,
            "/models/house-prices/global.svg",
            None,
        ),
        (
            "weights.svg",
            Method::GET,
            "/models/house-prices/weights.svg?scale=standardized",
            None,
        ),
        (
            "explain.svg",
            Method::POST,
            "/models/house-prices/explain.svg",
            Some(json!({"instances": [house()]})),
        ),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img");
    let update = std::env::var("EXPLAIND_UPDATE_DOCS").as_deref() == Ok("1");
    let mut stale = Vec::new();
    for (file, method, uri, body) in pictures {
        let answer = call(&app, method, uri, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text);
        let path = dir.join(file);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &answer.text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(answer.text.as_str()) {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "docs/img/{stale:?} differ from what the service draws: \
         regenerate with `EXPLAIND_UPDATE_DOCS=1 cargo test --test docs_pictures`"
    );
}
