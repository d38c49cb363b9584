//! Unit tests of the parent module.

use super::*;
use serde_json::json;

fn model() -> BuiltModel {
    let spec: crate::spec::ModelSpec = serde_json::from_value(json!({
        "kind": "linear",
        "feature_names": ["a", "b", "c"],
        "params": {"coefficients": [1.0, 2.0, 3.0], "intercept": 0.5},
    }))
    .unwrap();
    crate::spec::build(&spec).unwrap()
}

/// Parse `body`'s instances as a request body would be, then build the matrix.
fn matrix(instances: &str) -> Result<Vec<f64>, String> {
    #[derive(Deserialize)]
    struct Body {
        instances: Instances,
    }
    let body: Body = serde_json::from_str(&format!("{{\"instances\":{instances}}}")).unwrap();
    to_matrix(&body.instances, &model(), 3)
        .map(|x| x.into_raw_vec_and_offset().0)
        .map_err(|e| e.to_string())
}

#[test]
fn arrays_and_objects_in_any_key_order_fill_rows_in_feature_order() {
    let x = matrix(r#"[[1, 2, 3], {"c": 6, "a": 4, "b": 5}, {"a": -1e3, "b": 0.5, "c": 7}]"#);
    assert_eq!(
        x.unwrap(),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, -1000.0, 0.5, 7.0]
    );
}

#[test]
fn escaped_keys_and_repeated_keys_read_as_a_parsed_map_would() {
    // "\u0062" is "b"; the repeated "a" keeps its last value.
    let x = matrix(r#"[{"a": 1, "\u0062": 2, "c": 3, "a": 9}]"#).unwrap();
    assert_eq!(x, vec![9.0, 2.0, 3.0]);
}

#[test]
fn faults_are_named_in_the_order_a_parsed_map_checks_them() {
    let err = |s: &str| matrix(s).unwrap_err();
    // The smallest unknown name, whatever the key order.
    assert!(err(r#"[{"zz": 1, "a": 1, "b": 2, "c": 3, "yy": 2}]"#).contains("unknown feature 'yy'"));
    // Unknown before missing; missing and bad values in feature order.
    assert!(err(r#"[{"q": 1}]"#).contains("unknown feature 'q'"));
    assert!(err(r#"[{"c": "x", "a": 1}]"#).contains("missing feature 'b'"));
    assert!(err(r#"[{"a": 1, "b": [1, {"x": 2}], "c": 3}]"#)
        .contains("instance 0, feature 'b': expected a number, got an array"));
    // Arrays: the length before any value, then the first bad value.
    assert!(err(r#"[[1, "x", 3, 4]]"#).contains("instance 0: expected 3 feature values, got 4"));
    assert!(err(r#"[[1, true, {}]]"#).contains("feature 'b': expected a number, got a boolean"));
    assert!(err(r#"[[1, 2, 3], [1, null, 3]]"#)
        .contains("instance 1, feature 'b': missing value (null)"));
    assert!(err(r#"[[1, 2, 3], "row"]"#)
        .contains("instance 1: expected an array of 3 values or an object keyed by feature name"));
    assert!(err("[]").contains("at least one instance"));
    // Skipping over the body's values does not check a number's range; reading does.
    assert!(err("[[1e400, 2, 3]]").contains("instances[0]: number out of range"));
    assert!(
        err("[[1,2,3],[1,2,3],[1,2,3],[1,2,3]]").contains("4 instances in one request; at most 3")
    );
}

/// A tree model over (n, cat): `cat` lists the categories "x" and "y".
fn categorical_model() -> BuiltModel {
    categorical_model_of(false)
}

/// [`categorical_model`], its `cat` refusing unseen categories when `strict`.
fn categorical_model_of(strict: bool) -> BuiltModel {
    use crate::core::models::trees::{EnsembleSpec, Node, Split, Tree};
    use crate::core::models::{HostedModel, Link, RawKind, TreeEnsemble};
    let root = Node {
        feature: Some(1),
        split: Some(Split::Categories {
            categories: vec![0],
            listed_go_left: true,
        }),
        default_left: true,
        left: Some(1),
        right: Some(2),
        cover: 2.0,
        value: 0.0,
        gain: 0.0,
    };
    let raw = RawFeatures::new(vec![
        RawKind::Numeric,
        RawKind::Categorical {
            categories: vec!["x".into(), "y".into()],
        },
    ])
    .unwrap();
    let raw = if strict { raw.refusing_unseen(1) } else { raw };
    let trees = TreeEnsemble::new(EnsembleSpec {
        kind: "lightgbm",
        objective: "regression".into(),
        link: Link::Identity,
        n_features: 2,
        base: vec![0.0],
        trees: vec![Tree {
            nodes: vec![root, Node::leaf(1.0, 1.0), Node::leaf(2.0, 1.0)],
            output: 0,
        }],
        feature_names: None,
        raw_features: Some(raw),
    })
    .unwrap();
    BuiltModel {
        model: HostedModel::Trees(trees),
        feature_names: vec!["n".to_string(), "cat".to_string()].into(),
        output_names: vec!["output".into()],
        negative_class: None,
        reference: None,
        tree_background: std::sync::OnceLock::new(),
        groups: None,
        summary: None,
    }
}

fn categorical_matrix(instances: &str) -> Result<Vec<f64>, String> {
    let instances: Instances = serde_json::from_str(instances).unwrap();
    to_matrix(&instances, &categorical_model(), 8)
        .map(|x| x.into_raw_vec_and_offset().0)
        .map_err(|e| e.to_string())
}

#[test]
fn categories_read_as_codes_in_arrays_and_objects_escapes_included() {
    // "\u0079" is "y"; "z" is unseen (code 2); null is NaN.
    let x = categorical_matrix(
        r#"[[1, "x"], {"cat": "\u0079", "n": 2}, [null, "z"], {"n": 3, "cat": null}]"#,
    )
    .unwrap();
    assert_eq!(
        (x[0], x[1], x[2], x[3], x[5], x[6]),
        (1.0, 0.0, 2.0, 1.0, 2.0, 3.0)
    );
    assert!(x[4].is_nan() && x[7].is_nan());
}

#[test]
fn categorical_faults_name_feature_and_instance() {
    let err = |s: &str| categorical_matrix(s).unwrap_err();
    assert!(err(r#"[[1, "x"], [1, 0]]"#)
        .contains("instance 1, feature 'cat': expected a category (a string), got a number"));
    assert!(err(r#"[{"n": "1", "cat": "x"}]"#)
        .contains("instance 0, feature 'n': expected a number, got a string"));
    assert!(err(r#"[{"n": 1, "cat": ["x"]}]"#)
        .contains("instance 0, feature 'cat': expected a category (a string), got an array"));
    // An unknown key's string value is skipped, not looked up.
    assert!(err(r#"[{"n": 1, "cat": "x", "other": "x"}]"#).contains("unknown feature 'other'"));
}

/// A model whose encoder refuses unseen categories (an ONNX OneHotEncoder with
/// zeros = 0): an unlisted or missing category is a 422 naming the feature.
#[test]
fn a_strict_feature_refuses_unlisted_and_missing_categories() {
    let read = |s: &str| {
        let instances: Instances = serde_json::from_str(s).unwrap();
        to_matrix(&instances, &categorical_model_of(true), 8).map_err(|e| e.to_string())
    };
    assert!(read(r#"[[1, "y"], {"n": null, "cat": "x"}]"#).is_ok());
    let err = read(r#"[[1, "x"], [1, "z"]]"#).unwrap_err();
    assert!(
        err.contains("instance 1, feature 'cat': a category the model does not list"),
        "{err}"
    );
    let err = read(r#"[{"n": 1, "cat": null}]"#).unwrap_err();
    assert!(
        err.contains("instance 0, feature 'cat': a missing category"),
        "{err}"
    );
}

#[test]
fn numbers_are_read_to_the_nearest_double() {
    // Values a tester sent whose nearest double serde_json's fast path missed by one
    // ulp (a counterfactual then "changed" an immutable feature): every number in a
    // row is the correctly rounded double of its decimal text, as Rust's parser and
    // Python's `float` read it.
    let texts = [
        "0.0012152796589411327",
        "0.028758087465735226",
        "-0.045472477940023646",
        "0.039062152967186486",
        "0.04452872881997113",
        "5850.000000000001",
    ];
    for pair in texts.chunks(2) {
        let row = format!("[[{}, {}, 1.0]]", pair[0], pair[1]);
        let got = matrix(&row).unwrap();
        for (g, t) in got.iter().zip(pair) {
            assert_eq!(g.to_bits(), t.parse::<f64>().unwrap().to_bits(), "{t}");
        }
    }
}
