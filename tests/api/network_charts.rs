//! Neural-network pictures through `oneshot`: the weight heat map and the
//! first-layer images against `/weights`, the activation panels against
//! `/activations/curves` and `/activations/summary`. Each SVG is parsed as XML and
//! its geometry mapped back to the JSON numbers.

use crate::common::{call, default_app, digits_spec, iris_spec, send, Answer};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use roxmltree::{Document, Node};
use serde_json::{json, Value};

/// The diverging scale's ends and middle (`charts::heatmap::diverging`).
const RED_END: &str = "#b2182b";
const BLUE_END: &str = "#2166ac";
const NEUTRAL: &str = "#ffffff";

async fn get(app: &Router, uri: &str) -> Answer {
    call(app, Method::GET, uri, None).await
}

fn assert_svg(answer: &Answer) -> Document<'_> {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.headers["content-type"], "image/svg+xml");
    Document::parse(&answer.text).expect("the picture is valid XML")
}

fn assert_error(answer: &Answer, code: &str) {
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    assert_eq!(answer.json["error"]["code"], code, "{}", answer.text);
}

fn class<'a, 'i>(doc: &'a Document<'i>, c: &str) -> Vec<Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| n.attribute("class") == Some(c))
        .collect()
}

fn f(n: &Node, attr: &str) -> f64 {
    n.attribute(attr).unwrap().parse().unwrap()
}

/// Equal up to the last digit or so: JSON numbers are parsed by serde_json,
/// whose default float parser may differ from the exact value by an ulp.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

fn texts(doc: &Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

async fn app_with(models: &[(&str, Value)]) -> Router {
    let app = default_app().await;
    for (name, spec) in models {
        let put = call(
            &app,
            Method::PUT,
            &format!("/models/{name}"),
            Some(spec.clone()),
        )
        .await;
        assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    }
    app
}

/// One ReLU unit z = x and one z = x − 100, dead on this background; then one
/// sigmoid unit z = 3 h₀, saturated (|z| > 4) on two rows of four but not on all.
fn dead_relu_spec() -> Value {
    json!({
        "kind": "mlp", "feature_names": ["x"],
        "params": {"layers": [
            {"weights": [[1.0, 1.0]], "bias": [0.0, -100.0], "activation": "relu"},
            {"weights": [[3.0], [0.0]], "bias": [0.0], "activation": "sigmoid"}
        ]},
        "background": [[-1.0], [1.0], [2.0], [3.0]]
    })
}

#[tokio::test]
async fn layer_heat_maps_draw_the_json_matrices() {
    let app = app_with(&[("iris", iris_spec()), ("digits", digits_spec())]).await;
    for (model, layer) in [("iris", 0), ("iris", 1), ("digits", 0), ("digits", 1)] {
        let json = get(&app, &format!("/models/{model}/weights")).await.json;
        let w = matrix(&json["mlp"]["layers"][layer]["weights"]);
        let answer = get(&app, &format!("/models/{model}/weights.svg?layer={layer}")).await;
        let doc = assert_svg(&answer);
        let cells = class(&doc, "cell");
        // One cell per weight, rows = inputs, columns = units, row by row.
        assert_eq!(cells.len(), w.len() * w[0].len(), "{model} layer {layer}");
        let max_abs = w.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
        for (k, cell) in cells.iter().enumerate() {
            let v = w[k / w[0].len()][k % w[0].len()];
            assert!(same(f(cell, "data-value"), v));
            let fill = cell.attribute("fill").unwrap();
            if v.abs() == max_abs {
                assert_eq!(fill, if v > 0.0 { RED_END } else { BLUE_END });
            }
            if v.abs() < 1e-3 * max_abs {
                assert_eq!(fill, NEUTRAL, "a weight of {v} is drawn as zero");
            }
        }
        let all = texts(&doc);
        let first_row = cells[0].attribute("data-row").unwrap();
        let expected_row = if layer == 0 {
            json["feature_names"][0].as_str().unwrap().to_string()
        } else {
            "unit 0".to_string()
        };
        assert_eq!(first_row, expected_row);
        // The colour bar is labelled with −max, 0 and +max and says what it measures.
        assert!(all
            .iter()
            .any(|t| t == "weight from input (row) to unit (column)"));
        assert!(all.iter().any(|t| t == "0"));
        assert!(all
            .iter()
            .any(|t| t.contains(&format!("Layer {layer} weights"))));
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("linearGradient"))
                .count(),
            1
        );
    }
    let iris_last = get(&app, "/models/iris/weights.svg?layer=1").await;
    let doc = assert_svg(&iris_last);
    let cols: Vec<&str> = class(&doc, "cell")[..3]
        .iter()
        .map(|c| c.attribute("data-col").unwrap())
        .collect();
    assert_eq!(
        cols,
        ["setosa", "versicolor", "virginica"],
        "the last layer's units are the outputs"
    );
    let default = get(&app, "/models/iris/weights.svg").await;
    let layer0 = get(&app, "/models/iris/weights.svg?layer=0&view=matrix").await;
    assert_eq!(default.text, layer0.text, "layer 0 is the default");
}

#[tokio::test]
async fn first_layer_units_are_drawn_as_images() {
    let app = app_with(&[("digits", digits_spec())]).await;
    let json = get(&app, "/models/digits/weights").await.json;
    let w = matrix(&json["mlp"]["layers"][0]["weights"]);
    let answer = get(&app, "/models/digits/weights.svg?view=kernels").await;
    let doc = assert_svg(&answer);
    let pixels = class(&doc, "pixel");
    assert_eq!(pixels.len(), 64 * 6, "an 8×8 image per unit");
    let max_abs = w.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
    for p in &pixels {
        let (u, r, c) = (f(p, "data-image"), f(p, "data-row"), f(p, "data-col"));
        // Pixel (r, c) of unit u is input r·8 + c's weight to u (row-major reshape).
        let v = w[r as usize * 8 + c as usize][u as usize];
        assert!(same(f(p, "data-value"), v));
        let fill = p.attribute("fill").unwrap();
        if v.abs() == max_abs {
            assert_eq!(fill, if v > 0.0 { RED_END } else { BLUE_END });
        }
        if v.abs() < 1e-3 * max_abs {
            assert_eq!(fill, NEUTRAL, "a weight of {v} is drawn as zero");
        }
    }
    let all = texts(&doc);
    for u in 0..6 {
        assert!(all.contains(&format!("unit {u}")));
    }
    assert_eq!(
        answer.headers["etag"],
        get(&app, "/models/digits/weights.svg?view=kernels&layer=0")
            .await
            .headers["etag"]
    );
}

#[tokio::test]
async fn weights_svg_parameters_are_checked_per_kind() {
    let app = app_with(&[("iris", iris_spec())]).await;
    for (uri, code) in [
        ("/models/iris/weights.svg?layer=2", "invalid_argument"),
        ("/models/iris/weights.svg?layer=-1", "invalid_request"),
        ("/models/iris/weights.svg?layer=abc", "invalid_request"),
        ("/models/iris/weights.svg?view=kernels", "invalid_argument"),
        ("/models/iris/weights.svg?view=pixels", "invalid_request"),
        ("/models/iris/weights.svg?scale=raw", "invalid_input"),
        ("/models/iris/weights.svg?output=setosa", "invalid_input"),
        ("/models/house-prices/weights.svg?layer=0", "invalid_input"),
        (
            "/models/house-prices/weights.svg?view=kernels",
            "invalid_input",
        ),
        (
            "/models/house-prices/activations.svg",
            "method_not_supported",
        ),
    ] {
        assert_error(&get(&app, uri).await, code);
    }
    let missing = get(&app, "/models/nope/activations.svg").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json["error"]["code"], "model_not_found");
    // The linear pictures are unchanged: bars, not cells.
    let linear = get(&app, "/models/house-prices/weights.svg").await;
    let doc = assert_svg(&linear);
    assert_eq!(class(&doc, "bar").len(), 11);
    assert!(class(&doc, "cell").is_empty());
    let mut bare = iris_spec();
    bare.as_object_mut().unwrap().remove("background");
    call(&app, Method::PUT, "/models/bare", Some(bare)).await;
    assert_error(
        &get(&app, "/models/bare/activations.svg").await,
        "invalid_argument",
    );
}

/// A curve point (pixels) mapped back to data through the plot's edges.
fn to_data(plot: &Node, (px, py): (f64, f64)) -> (f64, f64) {
    let (x0, w) = (f(plot, "x"), f(plot, "width"));
    let (y0, h) = (f(plot, "y"), f(plot, "height"));
    let (xa, xb) = (f(plot, "data-x-min"), f(plot, "data-x-max"));
    let (ya, yb) = (f(plot, "data-y-min"), f(plot, "data-y-max"));
    (
        xa + (px - x0) / w * (xb - xa),
        ya + (y0 + h - py) / h * (yb - ya),
    )
}

fn activation(name: &str, z: f64) -> f64 {
    match name {
        "relu" => z.max(0.0),
        "tanh" => z.tanh(),
        "sigmoid" => 1.0 / (1.0 + (-z).exp()),
        other => panic!("no test function for {other}"),
    }
}

#[tokio::test]
async fn activation_panels_draw_the_json_curves_and_counts() {
    let models = [
        ("iris", iris_spec()),
        ("digits", digits_spec()),
        ("dead", dead_relu_spec()),
    ];
    let app = app_with(&models).await;
    for (model, _) in &models {
        let curves = get(&app, &format!("/models/{model}/activations/curves"))
            .await
            .json;
        let summary = get(&app, &format!("/models/{model}/activations/summary"))
            .await
            .json;
        let answer = get(&app, &format!("/models/{model}/activations.svg")).await;
        let doc = assert_svg(&answer);
        let curves = curves["curves"].as_array().unwrap();
        let plots = class(&doc, "plot");
        let lines = class(&doc, "curve");
        assert_eq!(plots.len(), curves.len(), "one panel per non-softmax layer");
        let densities = class(&doc, "density");
        let mut bins = densities.iter();
        let notes = class(&doc, "note");
        let dead_notes: Vec<_> = notes
            .iter()
            .filter(|n| n.has_attribute("data-inactive-units"))
            .collect();
        for (k, c) in curves.iter().enumerate() {
            let name = c["activation"].as_str().unwrap();
            let x: Vec<f64> = c["x"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let plot = &plots[k];
            // The x range is the observed range, exactly.
            assert!(same(f(plot, "data-x-min"), x[0]));
            assert!(same(f(plot, "data-x-max"), *x.last().unwrap()));
            // Every point of the curve lies on the function, to pixel rounding
            // (±0.005 px in each coordinate, slopes at most 1 in data units).
            let tol = 0.01
                * ((x.last().unwrap() - x[0]) / f(plot, "width")
                    + (f(plot, "data-y-max") - f(plot, "data-y-min")) / f(plot, "height"));
            let points: Vec<(f64, f64)> = lines[k]
                .attribute("points")
                .unwrap()
                .split(' ')
                .map(|p| {
                    let (a, b) = p.split_once(',').unwrap();
                    (a.parse().unwrap(), b.parse().unwrap())
                })
                .collect();
            assert_eq!(points.len(), x.len());
            for p in points {
                let (dx, dy) = to_data(plot, p);
                assert!(
                    (dy - activation(name, dx)).abs() <= tol,
                    "{model} {name}: ({dx}, {dy})"
                );
            }
            // Bar heights are proportional to the JSON counts.
            let counts: Vec<f64> = c["histogram"]["counts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let max = counts.iter().copied().fold(0.0, f64::max);
            for count in counts {
                let bar = bins.next().expect("one bar per bin");
                assert_eq!(f(bar, "data-count"), count);
                assert!((f(bar, "height") - count / max * f(plot, "height")).abs() < 0.01);
            }
            // The legend's count of always-inactive units is the summary's.
            let layer = &summary["layers"][c["layer"].as_u64().unwrap() as usize];
            let always = layer["units"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|u| u["inactive_fraction"] == 1.0)
                .count();
            assert_eq!(f(dead_notes[k], "data-inactive-units") as usize, always);
            let wording = if name == "relu" {
                "dead units"
            } else {
                "saturated units"
            };
            let line = dead_notes[k].text().unwrap();
            assert!(
                line.starts_with(wording) && line.contains(&format!(": {always} of ")),
                "{line}"
            );
        }
        assert!(bins.next().is_none());
    }
    let dead = get(&app, "/models/dead/activations.svg").await;
    let doc = assert_svg(&dead);
    let counts: Vec<&str> = class(&doc, "note")
        .iter()
        .filter_map(|n| n.attribute("data-inactive-units"))
        .collect();
    assert_eq!(
        counts,
        ["1", "0"],
        "one dead ReLU, no always-saturated sigmoid"
    );
    assert!(texts(&doc)
        .iter()
        .any(|t| t.starts_with("dead units (pre <= 0 on every row): 1 of 2")));
}

#[tokio::test]
async fn network_pictures_are_cached_by_etag() {
    let app = app_with(&[("digits", digits_spec())]).await;
    for uri in [
        "/models/digits/activations.svg",
        "/models/digits/weights.svg?layer=1",
        "/models/digits/weights.svg?view=kernels",
    ] {
        let first = get(&app, uri).await;
        assert_svg(&first);
        let again = get(&app, uri).await;
        assert_eq!(first.text, again.text, "deterministic: {uri}");
        let etag = first.headers["etag"].to_str().unwrap().to_string();
        let request = Request::get(uri)
            .header("if-none-match", &etag)
            .body(Body::empty())
            .unwrap();
        let cached = send(&app, request).await;
        assert_eq!(cached.status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(cached.text.is_empty());
    }
}
