//! The pictures in the README are the service's own output: this test renders the
//! house-price model's charts and the small networks' (iris, digits) and fails when `docs/img/` differs. Rewrite them with
//! `EXPLAIND_UPDATE_DOCS=1 cargo test --test api docs_pictures`.

use crate::common::{call, default_app, digits_spec, house, iris_spec};
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn committed_pictures_match_the_service() {
    let app = default_app().await;
    for (name, spec) in [("iris-mlp", iris_spec()), ("digits-mlp", digits_spec())] {
        let put = call(&app, Method::PUT, &format!("/models/{name}"), Some(spec)).await;
        assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    }
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
        (
            "dependence.svg",
            Method::GET,
            "/models/house-prices/dependence.svg?feature=lotsize",
            None,
        ),
        (
            "mlp-weights.svg",
            Method::GET,
            "/models/iris-mlp/weights.svg?layer=0",
            None,
        ),
        (
            "mlp-activations.svg",
            Method::GET,
            "/models/iris-mlp/activations.svg",
            None,
        ),
        (
            "mlp-dependence.svg",
            Method::GET,
            "/models/iris-mlp/dependence.svg?feature=petal_length",
            None,
        ),
        (
            "mlp-kernels.svg",
            Method::GET,
            "/models/digits-mlp/weights.svg?view=kernels",
            None,
        ),
        (
            "mlp-digits-activations.svg",
            Method::GET,
            "/models/digits-mlp/activations.svg",
            None,
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
         regenerate with `EXPLAIND_UPDATE_DOCS=1 cargo test --test api docs_pictures`"
    );
}
