//! `GET /models/{name}/dependence.svg` through `oneshot`: every vertex of the
//! partial dependence and ICE polylines maps back, through the plot's axis scales,
//! to the number `/global/dependence` answers for the same query; every error is
//! the JSON route's.

use std::collections::HashMap;

use crate::common::{call, default_app, multinomial_spec, send, Answer};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};

type Attrs = HashMap<String, String>;

/// The attributes of every element with this class, in document order.
fn elements(svg: &str, class: &str) -> Vec<Attrs> {
    let doc = roxmltree::Document::parse(svg).expect("the picture is valid XML");
    doc.descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .map(|n| {
            n.attributes()
                .map(|a| (a.name().to_string(), a.value().to_string()))
                .collect()
        })
        .collect()
}

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

fn num(attrs: &Attrs, name: &str) -> f64 {
    attrs[name].parse().unwrap()
}

async fn get(app: &Router, uri: &str) -> Answer {
    call(app, Method::GET, uri, None).await
}

fn floats(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

/// A panel's plot area: its pixel box and the data values at its edges.
struct Plot {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    x_min: f64,
    x_max: f64,
    y_min: f64,
    y_max: f64,
}

impl Plot {
    fn of(a: &Attrs) -> Plot {
        Plot {
            x: num(a, "x"),
            y: num(a, "y"),
            width: num(a, "width"),
            height: num(a, "height"),
            x_min: num(a, "data-x-min"),
            x_max: num(a, "data-x-max"),
            y_min: num(a, "data-y-min"),
            y_max: num(a, "data-y-max"),
        }
    }

    /// A pixel back in data units: x grows to the right, y upwards from the
    /// bottom edge (y_min) to the top edge (y_max).
    fn data(&self, px: f64, py: f64) -> (f64, f64) {
        (
            self.x_min + (px - self.x) / self.width * (self.x_max - self.x_min),
            self.y_min + (self.y + self.height - py) / self.height * (self.y_max - self.y_min),
        )
    }

    /// Coordinates are printed with two decimals: half a hundredth of a pixel,
    /// in data units, on each axis.
    fn tolerance(&self) -> (f64, f64) {
        (
            0.006 * (self.x_max - self.x_min) / self.width,
            0.006 * (self.y_max - self.y_min) / self.height,
        )
    }
}

fn vertices(polyline: &Attrs) -> Vec<(f64, f64)> {
    polyline["points"]
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

/// Every vertex of `line` is (grid[g], values[g]) through the plot's scales.
fn assert_maps_back(plot: &Plot, line: &Attrs, grid: &[f64], values: &[f64]) {
    let points = vertices(line);
    assert_eq!(points.len(), grid.len(), "one vertex per grid value");
    let (tx, ty) = plot.tolerance();
    for ((px, py), (g, v)) in points.iter().zip(grid.iter().zip(values)) {
        let (x, y) = plot.data(*px, *py);
        assert!((x - g).abs() <= tx, "x {x} for grid value {g} (± {tx})");
        assert!((y - v).abs() <= ty, "y {y} for value {v} (± {ty})");
    }
}

fn assert_svg(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.headers["content-type"], "image/svg+xml");
}

#[tokio::test]
async fn the_curves_map_back_to_the_json_numbers() {
    let app = default_app().await;
    let query = "feature=lotsize&grid=7&ice=4";
    let json = get(
        &app,
        &format!("/models/house-prices/global/dependence?{query}"),
    )
    .await;
    assert_eq!(json.status, StatusCode::OK, "{}", json.text);
    let picture = get(
        &app,
        &format!("/models/house-prices/dependence.svg?{query}"),
    )
    .await;
    assert_svg(&picture);
    let svg = &picture.text;
    let grid = floats(&json.json["grid"]);
    let curves = &json.json["outputs"][0];
    let average = floats(&curves["average"]);

    let plots = elements(svg, "plot");
    assert_eq!(plots.len(), 1, "one output, one panel");
    let plot = Plot::of(&plots[0]);
    // The x axis spans exactly the grid; the y axis every curve.
    assert_eq!((plot.x_min, plot.x_max), (grid[0], grid[grid.len() - 1]));
    let pd = elements(svg, "curve");
    assert_eq!(pd.len(), 1);
    assert_maps_back(&plot, &pd[0], &grid, &average);
    assert!(
        num(&pd[0], "stroke-width") > 1.5,
        "the partial dependence is bold"
    );

    let ice = elements(svg, "thin");
    let expected = curves["ice"].as_array().unwrap();
    assert_eq!(ice.len(), 4, "ice=4: four ICE curves");
    assert_eq!(expected.len(), 4);
    for (line, values) in ice.iter().zip(expected) {
        let values = floats(values);
        assert!(values.iter().all(|v| (plot.y_min..=plot.y_max).contains(v)));
        assert_maps_back(&plot, line, &grid, &values);
        assert_eq!(line["stroke-width"], "1", "ICE curves are thin");
    }

    // The dots carry the exact numbers; the rug marks each grid value.
    let dots = elements(svg, "point");
    assert_eq!(dots.len(), grid.len());
    for ((dot, g), v) in dots.iter().zip(&grid).zip(&average) {
        assert_eq!(num(dot, "data-x"), *g);
        assert!((num(dot, "data-y") - v).abs() <= 1e-12 * v.abs());
    }
    let rug: Vec<f64> = elements(svg, "rug")
        .iter()
        .map(|r| num(r, "data-x"))
        .collect();
    assert_eq!(rug, grid);

    let all = texts(svg);
    let title = &all[0];
    for part in ["house-prices", "v1", "lotsize"] {
        assert!(title.contains(part), "{title}");
    }
    assert!(all[1].contains("546 background rows") && all[1].contains("7 grid values"));
    assert!(all.iter().any(|t| t == "prediction (price)"), "{all:?}");
    assert!(all
        .iter()
        .any(|t| t == "lotsize (the value every row is set to)"));
    assert_eq!(elements(svg, "note")[1]["data-ice"], "4");

    // Conditional requests, as for the other GET pictures.
    let uri = format!("/models/house-prices/dependence.svg?{query}");
    let again = get(&app, &uri).await;
    assert_eq!(again.text, picture.text, "same version, same picture");
    let request = Request::get(&uri)
        .header("if-none-match", picture.headers["etag"].clone())
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, request).await.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn ice_counts_outputs_and_units_follow_the_query() {
    let app = default_app().await;
    let none = get(
        &app,
        "/models/house-prices/dependence.svg?feature=aircon&ice=0",
    )
    .await;
    assert_svg(&none);
    assert!(
        elements(&none.text, "thin").is_empty(),
        "ice=0: no ICE curve"
    );
    // A binary feature: its two values are the grid.
    let rug: Vec<f64> = elements(&none.text, "rug")
        .iter()
        .map(|r| num(r, "data-x"))
        .collect();
    assert_eq!(rug, [0.0, 1.0]);
    let default = get(&app, "/models/house-prices/dependence.svg?feature=bedrooms").await;
    assert_eq!(elements(&default.text, "thin").len(), 10, "10 by default");

    // A classifier on a data set: one panel per class, in probability space.
    call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    let doc = json!({"rows": [[0, 0], [1, 2], [2, 1], [3, 3]], "target": ["x", "y", "z", "x"]});
    let put = call(&app, Method::PUT, "/models/three/datasets/d", Some(doc)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let query = "feature=a&dataset=d";
    let json = get(&app, &format!("/models/three/global/dependence?{query}")).await;
    let all = get(&app, &format!("/models/three/dependence.svg?{query}")).await;
    assert_svg(&all);
    let plots = elements(&all.text, "plot");
    let lines = elements(&all.text, "curve");
    assert_eq!((plots.len(), lines.len()), (3, 3), "one panel per class");
    assert_eq!(
        elements(&all.text, "thin").len(),
        3 * 4,
        "4 rows, 4 ICE curves each"
    );
    let grid = floats(&json.json["grid"]);
    for ((plot, line), output) in plots
        .iter()
        .zip(&lines)
        .zip(json.json["outputs"].as_array().unwrap())
    {
        assert_maps_back(&Plot::of(plot), line, &grid, &floats(&output["average"]));
    }
    let words = texts(&all.text);
    assert!(words[1].contains("4 rows of data set 'd'"), "{}", words[1]);
    for class in ["x", "y", "z"] {
        assert!(words
            .iter()
            .any(|t| t == &format!("prediction (probability of {class})")));
    }
    let raw = get(
        &app,
        "/models/three/dependence.svg?feature=a&dataset=d&output=y&output_space=raw",
    )
    .await;
    assert_svg(&raw);
    assert_eq!(elements(&raw.text, "plot").len(), 1);
    assert!(texts(&raw.text)
        .iter()
        .any(|t| t == "prediction (log-odds of y)"));

    // A feature with one value in the data: one grid point, drawn as a dot, and said.
    let spec = json!({"kind": "linear", "feature_names": ["a", "b"],
        "params": {"coefficients": [1.0, 2.0]}, "background": [[1, 0], [1, 2], [1, 5]]});
    call(&app, Method::PUT, "/models/flat", Some(spec)).await;
    let one = get(&app, "/models/flat/dependence.svg?feature=a").await;
    assert_svg(&one);
    assert_eq!(elements(&one.text, "point").len(), 1);
    assert_eq!(elements(&one.text, "thin").len(), 3);
    let words = texts(&one.text);
    assert!(words[1].contains("each of 1 grid value;"), "{}", words[1]);
    assert!(words
        .iter()
        .any(|t| t.starts_with("a has one value in the data")));
}

#[tokio::test]
async fn errors_are_the_json_routes() {
    let app = default_app().await;
    let base = "/models/house-prices/dependence.svg";
    let cases = [
        (
            "?feature=nope",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_argument",
        ),
        ("", StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (
            "?feature=lotsize&grid=1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_argument",
        ),
        (
            "?feature=lotsize&grid=101",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_argument",
        ),
        (
            "?feature=lotsize&ice=101",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_argument",
        ),
        (
            "?feature=lotsize&grid=-3",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "?feature=lotsize&dataset=none",
            StatusCode::NOT_FOUND,
            "dataset_not_found",
        ),
        (
            "?feature=lotsize&output=nope",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            "?feature=lotsize&output=3",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            "?feature=lotsize&output_space=probability",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_argument",
        ),
        (
            "?feature=lotsize&colour=red",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
    ];
    for (query, status, code) in cases {
        let svg = get(&app, &format!("{base}{query}")).await;
        let json = get(
            &app,
            &format!("/models/house-prices/global/dependence{query}"),
        )
        .await;
        assert_eq!(svg.status, status, "{query}: {}", svg.text);
        assert_eq!(svg.json["error"]["code"], code, "{query}: {}", svg.text);
        assert_eq!(
            svg.json, json.json,
            "{query}: the same error as the JSON route"
        );
    }
    let unknown = get(&app, "/models/nope/dependence.svg?feature=a").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json["error"]["code"], "model_not_found");
    // A model without a background needs a data set.
    let spec = json!({"kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0]}});
    call(&app, Method::PUT, "/models/bare", Some(spec)).await;
    let bare = get(&app, "/models/bare/dependence.svg?feature=a").await;
    assert_eq!(bare.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bare.text.contains("no background"), "{}", bare.text);
}
