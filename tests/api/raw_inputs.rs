//! Raw inputs (issue 14, item 4): instances and background rows of a model with
//! categorical raw features hold strings for those features and `null` for missing
//! values; the wrong kind of value is a 422 naming the feature and the row.
//!
//! No registration kind reads such a model yet (the ONNX-pipeline and CatBoost
//! readers produce them), so the model here is a tree ensemble over category codes
//! built in code and put in the registry through the library
//! ([`explaind::registry::Registry::insert_built`]).

use std::sync::{Arc, OnceLock};

use axum::http::{Method, StatusCode};
use axum::Router;
use explaind::config::Config;
use explaind::core::models::trees::{EnsembleSpec, Missing, Node, Split, Tree};
use explaind::core::models::{HostedModel, Link, RawFeatures, RawKind, TreeEnsemble};
use explaind::http::AppState;
use explaind::spec::values::RawValue;
use explaind::spec::{self, BuiltModel};
use serde_json::{json, Value};

use crate::common::{call, ready_app};

/// Feature names of the test model.
pub const NAMES: [&str; 3] = ["size", "region", "color"];
/// Categories of `region` (feature 1), in code order.
pub const REGIONS: [&str; 3] = ["north", "south", "west"];
/// Categories of `color` (feature 2), in code order.
pub const COLORS: [&str; 2] = ["red", "blue"];
/// Added to every prediction.
pub const BASE: f64 = 0.125;

/// A background with strings and nulls (one region unseen: "east").
pub fn background() -> Value {
    json!([
        [1.0, "north", "red"],
        [7.0, "south", "blue"],
        [4.0, "west", "blue"],
        [null, "east", "red"],
        [9.0, null, "blue"],
        [2.0, "south", null]
    ])
}

fn split(feature: usize, rule: Split, default_left: bool, left: usize, right: usize) -> Node {
    Node {
        feature: Some(feature),
        split: Some(rule),
        default_left,
        left: Some(left),
        right: Some(right),
        cover: 0.0,
        value: 0.0,
        gain: 1.0,
    }
}

fn listed(categories: &[u32]) -> Split {
    Split::Categories {
        categories: categories.to_vec(),
        listed_go_left: true,
    }
}

/// Set each split's cover to the sum of its children's (leaves are given).
fn fill_covers(nodes: &mut [Node]) {
    for i in (0..nodes.len()).rev() {
        if let (Some(l), Some(r)) = (nodes[i].left, nodes[i].right) {
            nodes[i].cover = nodes[l].cover + nodes[r].cover;
        }
    }
}

/// Two trees over (size, region, color); categorical splits list codes that go left.
fn ensemble() -> TreeEnsemble {
    let le5 = Split::LessOrEqual {
        threshold: 5.0,
        missing: Missing::NanDefault,
    };
    let mut t0 = vec![
        split(1, listed(&[0, 2]), false, 1, 2), // north or west; null goes right
        split(0, le5, true, 3, 4),
        split(2, listed(&[1]), true, 5, 6), // blue; null goes left
        Node::leaf(1.0, 3.0),
        Node::leaf(2.0, 2.0),
        Node::leaf(-1.0, 4.0),
        Node::leaf(0.5, 1.0),
    ];
    let mut t1 = vec![
        split(2, listed(&[0]), false, 1, 2), // red
        split(1, listed(&[1]), true, 3, 4),  // south; null goes left
        Node::leaf(0.25, 5.0),
        Node::leaf(3.0, 2.0),
        Node::leaf(-0.5, 3.0),
    ];
    fill_covers(&mut t0);
    fill_covers(&mut t1);
    let raw = RawFeatures::new(vec![
        RawKind::Numeric,
        RawKind::Categorical {
            categories: REGIONS.iter().map(|s| s.to_string()).collect(),
        },
        RawKind::Categorical {
            categories: COLORS.iter().map(|s| s.to_string()).collect(),
        },
    ])
    .unwrap();
    TreeEnsemble::new(EnsembleSpec {
        kind: "lightgbm",
        objective: "regression".into(),
        link: Link::Identity,
        n_features: 3,
        base: vec![BASE],
        trees: vec![
            Tree {
                nodes: t0,
                output: 0,
            },
            Tree {
                nodes: t1,
                output: 0,
            },
        ],
        feature_names: Some(NAMES.iter().map(|s| s.to_string()).collect()),
        raw_features: Some(raw),
    })
    .unwrap()
}

/// The test model by hand, on raw values (`None`: missing; a region or color not
/// listed anywhere takes every split's "not listed" side).
pub fn by_hand(size: Option<f64>, region: Option<&str>, color: Option<&str>) -> f64 {
    let t0 = match region {
        Some("north" | "west") => match size {
            Some(s) if s > 5.0 => 2.0,
            _ => 1.0,
        },
        None | Some(_) => match color {
            Some("blue") | None => -1.0,
            Some(_) => 0.5,
        },
    };
    let t1 = match color {
        Some("red") => match region {
            Some("south") | None => 3.0,
            Some(_) => -0.5,
        },
        _ => 0.25,
    };
    BASE + t0 + t1
}

/// The test model, with `background` rows (as a document holds them) when given.
pub fn built(background: Option<&Value>) -> BuiltModel {
    let model = HostedModel::Trees(ensemble());
    let names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    let reference = background.map(|rows| {
        let rows: Vec<Vec<RawValue>> = serde_json::from_value(rows.clone()).unwrap();
        spec::build_reference(&model, &names, &rows).unwrap()
    });
    BuiltModel {
        model,
        feature_names: Arc::from(names),
        output_names: vec!["output".into()],
        negative_class: None,
        reference,
        tree_background: OnceLock::new(),
        groups: None,
        summary: None,
    }
}

/// An app serving the test model as `cat`, with the background of [`background`].
pub async fn app_with_model() -> (Router, AppState) {
    app_with_model_and(Config::defaults()).await
}

/// [`app_with_model`] with `config`.
pub async fn app_with_model_and(config: Config) -> (Router, AppState) {
    let (app, state) = ready_app(config).await;
    let built = built(Some(&background()));
    state.registry.insert_built("cat", None, built).unwrap();
    (app, state)
}

async fn predict(app: &Router, instances: Value) -> crate::common::Answer {
    let body = json!({"instances": instances, "output_space": "raw"});
    call(app, Method::POST, "/models/cat/predict", Some(body)).await
}

#[tokio::test]
async fn strings_and_nulls_are_read_as_categories_and_missing_values() {
    let (app, _) = app_with_model().await;
    let answer = predict(
        &app,
        json!([
            [3.0, "north", "red"],
            {"color": "blue", "size": 8.0, "region": "west"},
            [null, "south", "red"],
            [6.0, null, "red"],
            {"size": 6.0, "region": "south", "color": null}
        ]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let got: Vec<f64> = answer.json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_f64().unwrap())
        .collect();
    let want = [
        by_hand(Some(3.0), Some("north"), Some("red")),
        by_hand(Some(8.0), Some("west"), Some("blue")),
        by_hand(None, Some("south"), Some("red")),
        by_hand(Some(6.0), None, Some("red")),
        by_hand(Some(6.0), Some("south"), None),
    ];
    assert_eq!(got, want);
}

#[tokio::test]
async fn an_unseen_category_takes_the_none_of_these_branch() {
    let (app, _) = app_with_model().await;
    let answer = predict(&app, json!([[3.0, "east", "red"], [3.0, "", "green"]])).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let preds = &answer.json["predictions"];
    // "east" is listed by no region split, "green" by no color split.
    let east = by_hand(Some(3.0), Some("east"), Some("red"));
    let none = by_hand(Some(3.0), Some(""), Some("green"));
    assert_eq!(preds[0][0].as_f64(), Some(east));
    assert_eq!(preds[1][0].as_f64(), Some(none));
    // And "east" differs from every listed region here: it is not read as one of them.
    for region in REGIONS {
        assert_ne!(by_hand(Some(3.0), Some(region), Some("red")), east);
    }
}

#[tokio::test]
async fn a_value_of_the_wrong_kind_is_a_422_naming_feature_and_instance() {
    let (app, _) = app_with_model().await;
    let cases = [
        (
            json!([[1.0, "north", "red"], [1.0, 2, "red"]]),
            "instance 1, feature 'region': expected a category (a string), got a number",
        ),
        (
            json!([{"size": "big", "region": "north", "color": "red"}]),
            "instance 0, feature 'size': expected a number, got a string",
        ),
        (
            json!([[1.0, "north", true]]),
            "instance 0, feature 'color': expected a category (a string), got a boolean",
        ),
    ];
    for (instances, message) in cases {
        let answer = predict(&app, instances).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        let got = answer.json["error"]["message"].as_str().unwrap();
        assert!(got.contains(message), "{got}");
    }
}

#[tokio::test]
async fn a_string_for_a_model_without_categories_is_refused_as_before() {
    let (app, _) = ready_app(Config::defaults()).await;
    let spec = json!({
        "kind": "linear",
        "feature_names": ["a", "b"],
        "params": {"coefficients": [1.0, 2.0]},
        "background": [[1.0, 2.0], [1.0, "x"]]
    });
    let answer = call(&app, Method::PUT, "/models/lin", Some(spec)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = answer.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("background: row 1, feature 'b': expected a number, got a string"),
        "{message}"
    );
}

#[tokio::test]
async fn the_model_lists_its_raw_features_and_background_rows_with_strings() {
    let (app, state) = app_with_model().await;
    let answer = call(&app, Method::GET, "/models/cat", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["background_rows"], 6);
    assert_eq!(
        answer.json["raw_features"],
        json!([
            {"name": "size", "kind": "numeric"},
            {"name": "region", "kind": "categorical", "categories": REGIONS},
            {"name": "color", "kind": "categorical", "categories": COLORS}
        ])
    );
    // The background is held as codes: "east" unseen (3), null as NaN.
    let entry = state.registry.get("cat").unwrap();
    let data = &entry.built.reference.as_ref().unwrap().data;
    assert_eq!(data[[1, 1]], 1.0);
    assert_eq!(data[[3, 1]], 3.0);
    assert!(data[[3, 0]].is_nan() && data[[4, 1]].is_nan() && data[[5, 2]].is_nan());
    let wrong = json!([[1.0, "north", 0]]);
    let rows: Vec<Vec<RawValue>> = serde_json::from_value(wrong).unwrap();
    let names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    let err = spec::build_reference(&entry.built.model, &names, &rows).unwrap_err();
    assert!(err
        .to_string()
        .contains("background: row 0, feature 'color': expected a category"));
}

/// NaN-aware equality of two matrices' cells.
fn same_cells(a: &ndarray::Array2<f64>, b: &ndarray::Array2<f64>) -> bool {
    a.dim() == b.dim()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

#[test]
fn a_stored_document_keeps_the_background_as_sent_and_encodes_it_again() {
    use explaind::store::{Store, StoredModel};
    // The document as a registration holds it; the store writes and reads it back
    // as a restart does, and the rebuilt model encodes it from its own categories.
    let doc: spec::ModelSpec = serde_json::from_value(json!({
        "kind": "lightgbm",
        "feature_names": NAMES,
        "background": background(),
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .save(&StoredModel::new("cat", 1, chrono::Utc::now(), doc.clone()))
        .unwrap();
    let files = store.list(false).unwrap();
    let read = store.read(&files[0]).unwrap();
    assert_eq!(read.spec.background, doc.background);
    let at_registration = built(Some(&background()));
    let rows = read.spec.background.unwrap();
    let again = spec::build_reference(&at_registration.model, &doc.feature_names, &rows).unwrap();
    let first = &at_registration.reference.unwrap().data;
    assert!(same_cells(first, &again.data));
}
