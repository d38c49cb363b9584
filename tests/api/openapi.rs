//! The committed openapi.yaml must equal the document generated from the code.

#[test]
fn committed_openapi_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let committed = std::fs::read_to_string(path).expect("openapi.yaml exists");
    let generated = explaind::http::openapi::yaml();
    assert!(
        committed == generated,
        "openapi.yaml is stale: regenerate it with `cargo run -- --print-openapi > openapi.yaml`"
    );
}

#[test]
fn every_route_is_described() {
    let doc = explaind::http::openapi::yaml();
    for route in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.yaml",
        "/models",
        "/models/{name}",
        "/models/{name}/explain",
        "/explain",
        "/models/{name}/predict",
        "/models/{name}/global",
        "/global",
        "/models/{name}/weights",
        "/models/{name}/global.svg",
        "/models/{name}/weights.svg",
        "/models/{name}/explain.svg",
        "/models/{name}/dependence.svg",
        "/",
    ] {
        assert!(
            doc.contains(&format!("  {route}:\n")),
            "{route} missing from the OpenAPI document"
        );
    }
}
