//! Every route with who may call it (issue 16): roles are declared where the routes
//! are ([`explaind::http::routes`]), and this list is their review. A new route fails
//! here until it is added below, with the access it was declared with, and every
//! operation of the API description must be a declared route.

use explaind::config::Config;
use explaind::http::routes::Access::{self, Admin, Open, Reader};

/// (method, route template, access), sorted by template then method.
const EXPECTED: &[(&str, &str, Access)] = &[
    ("GET", "/", Open),
    ("POST", "/explain", Reader),
    ("GET", "/global", Reader),
    ("GET", "/healthz", Open),
    ("GET", "/jobs/{id}", Reader),
    ("GET", "/metrics", Open),
    ("GET", "/models", Reader),
    ("DELETE", "/models/{name}", Admin),
    ("GET", "/models/{name}", Reader),
    ("PUT", "/models/{name}", Admin),
    ("POST", "/models/{name}/activations", Reader),
    ("GET", "/models/{name}/activations.svg", Reader),
    ("GET", "/models/{name}/activations/curves", Reader),
    ("GET", "/models/{name}/activations/summary", Reader),
    ("POST", "/models/{name}/counterfactuals", Reader),
    ("POST", "/models/{name}/counterfactuals.svg", Reader),
    ("GET", "/models/{name}/datasets", Admin),
    ("DELETE", "/models/{name}/datasets/{id}", Admin),
    ("GET", "/models/{name}/datasets/{id}", Admin),
    ("PUT", "/models/{name}/datasets/{id}", Admin),
    ("GET", "/models/{name}/dependence.svg", Reader),
    ("POST", "/models/{name}/explain", Reader),
    ("POST", "/models/{name}/explain.svg", Reader),
    ("GET", "/models/{name}/global", Reader),
    ("GET", "/models/{name}/global.svg", Reader),
    ("GET", "/models/{name}/global/dependence", Reader),
    ("POST", "/models/{name}/global/dependence", Reader),
    ("GET", "/models/{name}/global/jobs", Reader),
    ("POST", "/models/{name}/global/jobs", Reader),
    ("POST", "/models/{name}/predict", Reader),
    ("GET", "/models/{name}/weights", Admin),
    ("GET", "/models/{name}/weights.svg", Admin),
    ("GET", "/models/{name}/weights/embeddings", Admin),
    ("GET", "/openapi.yaml", Open),
    ("GET", "/readyz", Open),
    ("GET", "/static/app.css", Open),
    ("GET", "/static/app.js", Open),
    ("GET", "/v1/models/{target}", Reader),
    ("POST", "/v1/models/{target}", Reader),
    ("GET", "/v2", Open),
    ("GET", "/v2/health/live", Open),
    ("GET", "/v2/health/ready", Open),
    ("GET", "/v2/models/{name}", Reader),
    ("POST", "/v2/models/{name}/explain", Reader),
    ("POST", "/v2/models/{name}/infer", Reader),
    ("GET", "/v2/models/{name}/ready", Reader),
    ("GET", "/v2/models/{name}/versions/{version}", Reader),
    (
        "POST",
        "/v2/models/{name}/versions/{version}/explain",
        Reader,
    ),
    ("POST", "/v2/models/{name}/versions/{version}/infer", Reader),
    ("GET", "/v2/models/{name}/versions/{version}/ready", Reader),
];

#[test]
fn every_route_is_declared_with_the_access_listed_here() {
    let (_, table) = explaind::http::routes(&Config::defaults()).into_parts();
    let declared = table.list();
    let expected: Vec<(String, String, Access)> = EXPECTED
        .iter()
        .map(|(m, p, a)| (m.to_string(), p.to_string(), *a))
        .collect();
    assert_eq!(declared, expected);
}

/// The router's template for an operation of the API description: KServe's
/// `{name}:verb` paths are one route, `/v1/models/{target}`.
fn template(path: &str) -> String {
    match path.strip_prefix("/v1/models/") {
        Some(_) => "/v1/models/{target}".to_string(),
        None => path.to_string(),
    }
}

#[test]
fn every_documented_operation_is_a_declared_route() {
    let (_, table) = explaind::http::routes(&Config::defaults()).into_parts();
    let declared: Vec<(String, String)> =
        table.list().into_iter().map(|(m, p, _)| (m, p)).collect();
    let doc =
        serde_json::to_value(explaind::http::openapi::document()).expect("the document serialises");
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete"] {
            if item.get(method).is_some() {
                let key = (method.to_uppercase(), template(path));
                assert!(
                    declared.contains(&key),
                    "{key:?} is documented but not declared"
                );
                documented.push(key);
            }
        }
    }
    // The other way round: every declared route is described, but for the
    // dashboard's static files.
    for key in &declared {
        if key.1.starts_with("/static/") {
            continue;
        }
        assert!(
            documented.contains(key),
            "{key:?} is declared but not documented: declare it with `Routes::op`"
        );
    }
    assert!(documented.len() >= 30, "{}", documented.len());
}

/// Each declared route, called as a stranger, a reader and an admin, refuses exactly
/// those its access excludes: 401 without a token, 403 with too low a role. Every
/// path parameter names nothing that exists, so no call changes anything.
#[tokio::test]
async fn every_route_enforces_its_declared_access() {
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use explaind::config::Secret;

    let config = Config {
        admin_tokens: vec![Secret("admin-secret-0123456789".into())],
        reader_tokens: vec![Secret("reader-secret-0123456789".into())],
        ..Config::defaults()
    };
    let (app, _) = crate::common::ready_app(config.clone()).await;
    let (_, table) = explaind::http::routes(&config).into_parts();
    for (method, path, access) in table.list() {
        let uri = path
            .replace("{name}", "nope")
            .replace("{id}", "nope")
            .replace("{target}", "nope");
        for (who, token, refused) in [
            ("a stranger", None, access != Open),
            (
                "a reader",
                Some("reader-secret-0123456789"),
                access == Admin,
            ),
            ("an admin", Some("admin-secret-0123456789"), false),
        ] {
            let mut request = Request::builder()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(&uri)
                .header("content-type", "application/json");
            if let Some(t) = token {
                request = request.header("authorization", format!("Bearer {t}"));
            }
            let answer = crate::common::send(&app, request.body(Body::from("{}")).unwrap()).await;
            let status = answer.status;
            let expected = match (token, refused) {
                (None, true) => Some(StatusCode::UNAUTHORIZED),
                (Some(_), true) => Some(StatusCode::FORBIDDEN),
                (_, false) => None,
            };
            match expected {
                Some(code) => assert_eq!(status, code, "{method} {path} as {who}"),
                None => assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{method} {path} as {who}: {status} {}",
                    answer.text
                ),
            }
        }
    }
}
