//! `/metrics` keeps a bounded label set whatever clients send: made-up HTTP methods
//! and unmatched paths each share one label, so `/healthz` (open to anyone) cannot
//! grow the exposition.

use crate::common::{call, default_app, send};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

#[tokio::test]
async fn made_up_methods_and_paths_do_not_grow_the_metrics() {
    let app = default_app().await;
    let warm_up = [
        (Method::GET, "/healthz"),
        (Method::GET, "/no-such-route"),
        (Method::DELETE, "/healthz"),
        (Method::GET, "/metrics"),
    ];
    for (method, uri) in warm_up {
        call(&app, method, uri, None).await;
    }
    let before = call(&app, Method::GET, "/metrics", None).await.text;
    for i in 0..300 {
        let method = Method::from_bytes(format!("ZZMETH{i}").as_bytes()).unwrap();
        for uri in ["/healthz".to_string(), format!("/zz-path-{i}")] {
            let request = Request::builder()
                .method(method.clone())
                .uri(uri)
                .body(Body::empty())
                .unwrap();
            let answer = send(&app, request).await;
            assert!(answer.status.is_client_error(), "{}", answer.status);
        }
        call(&app, Method::GET, &format!("/zz-path-{i}"), None).await;
    }
    let after = call(&app, Method::GET, "/metrics", None).await;
    assert_eq!(after.status, StatusCode::OK);
    let text = after.text;
    assert!(!text.contains("ZZMETH"), "{text}");
    assert!(!text.contains("zz-path"), "{text}");
    assert!(
        text.contains(
            r#"explaind_http_requests_total{route="/healthz",method="other",status="405"} 300"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"explaind_http_requests_total{route="unmatched",method="other",status="404"} 300"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"explaind_http_requests_total{route="unmatched",method="GET",status="404"} 301"#
        ),
        "{text}"
    );
    // Two new label sets (method "other" on /healthz and on unmatched paths), each a
    // histogram of 17 lines and a counter line; nothing per request.
    let grown = text.lines().count() - before.lines().count();
    assert!(grown <= 2 * 18 + 4, "{grown} lines more:\n{text}");
}
