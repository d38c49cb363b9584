//! Bad CatBoost documents: missing fields, leaf arrays of the wrong length, unknown
//! split types, CTR splits, mistyped values; each a 422 naming the problem, never a
//! panic.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::catboost::document;
use crate::common::{call, default_app};

/// `document` with `edit` applied to it.
fn edited(name: &str, edit: impl Fn(&mut Value)) -> Value {
    let mut doc = document(name);
    edit(&mut doc);
    doc
}

#[tokio::test]
async fn bad_documents_are_422_naming_the_problem() {
    let app = default_app().await;
    let tree = |doc: &mut Value| doc["oblivious_trees"][1].clone();
    let cases: Vec<(Value, &str)> = vec![
        (
            edited("cb_reg", |d| {
                drop(d.as_object_mut().unwrap().remove("oblivious_trees"))
            }),
            "oblivious_trees",
        ),
        (
            edited("cb_reg", |d| {
                drop(d.as_object_mut().unwrap().remove("features_info"))
            }),
            "features_info",
        ),
        (
            edited("cb_reg", |d| {
                drop(
                    d["oblivious_trees"][1]
                        .as_object_mut()
                        .unwrap()
                        .remove("leaf_weights"),
                )
            }),
            "leaf_weights",
        ),
        (
            edited("cb_reg", |d| {
                drop(
                    d["oblivious_trees"][1]["leaf_values"]
                        .as_array_mut()
                        .unwrap()
                        .pop(),
                )
            }),
            "tree 1: leaf_values has 63 values",
        ),
        (
            edited("cb_reg", |d| {
                drop(
                    d["oblivious_trees"][0]["leaf_weights"]
                        .as_array_mut()
                        .unwrap()
                        .pop(),
                )
            }),
            "tree 0: leaf_weights has 7 values; depth 3 needs 2^3 = 8",
        ),
        (
            edited("cb_reg", |d| {
                d["oblivious_trees"][3]["splits"][0]["split_type"] = json!("Estimated")
            }),
            "unknown split_type 'Estimated'",
        ),
        (
            edited("cb_reg", |d| {
                d["oblivious_trees"][3]["splits"][0]["float_feature_index"] = json!(99)
            }),
            "float_feature_index",
        ),
        (
            edited("cb_reg", |d| {
                d["oblivious_trees"][0]["leaf_values"][0] = json!("x")
            }),
            "leaf_values",
        ),
        (
            edited("cb_reg", |d| d["scale_and_bias"] = json!([1.0])),
            "scale_and_bias",
        ),
        (
            edited("cb_reg", |d| {
                d["model_info"]["params"]["loss_function"]["type"] = json!("YetiRank")
            }),
            "loss function 'YetiRank'",
        ),
        (
            edited("cb_reg", |d| {
                let t = tree(d);
                d["oblivious_trees"][1]["splits"] = json!(vec![t["splits"][0].clone(); 17]);
            }),
            "beyond CatBoost's maximum depth of 16",
        ),
        (
            edited("cb_bin_cat", |d| {
                drop(
                    d["features_info"]
                        .as_object_mut()
                        .unwrap()
                        .remove("cat_features_hash"),
                )
            }),
            "pool=pool",
        ),
        (
            edited("cb_bin_cat", |d| {
                d["features_info"]["float_features"][0]["nan_value_treatment"] = json!("Sometimes")
            }),
            "nan_value_treatment",
        ),
        (
            edited("cb_bin_cat", |d| {
                d["features_info"]["categorical_features"][0]["flat_feature_index"] = json!(0)
            }),
            "flat_feature_index 0 is used twice",
        ),
        (document("cb_ctr"), "categorical feature 'shop'"),
        (json!(42), "`model` must be the JSON document"),
        (json!("{not json"), "not a CatBoost JSON model"),
    ];
    for (model, needle) in cases {
        let spec = json!({"kind": "catboost", "model": model});
        let answer = call(&app, Method::PUT, "/models/bad", Some(spec)).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{needle}: {}",
            answer.text
        );
        assert_eq!(answer.json["error"]["code"], "invalid_model", "{needle}");
        let message = answer.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "wanted '{needle}' in: {message}");
    }
    let ctr = call(
        &app,
        Method::PUT,
        "/models/bad",
        Some(json!({"kind": "catboost", "model": document("cb_ctr")})),
    )
    .await;
    assert!(ctr.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("one_hot_max_size"));
    let missing = call(
        &app,
        Method::PUT,
        "/models/bad",
        Some(json!({"kind": "catboost"})),
    )
    .await;
    assert_eq!(
        missing.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        missing.text
    );
}

#[tokio::test]
async fn every_truncation_of_a_tree_is_refused_or_served_never_a_panic() {
    // Remove each key of a tree and of its first split, one at a time: each document
    // is either refused with 422 or registered (keys CatBoost's reader does not need).
    let app = default_app().await;
    let doc = document("cb_bin_cat");
    let tree_keys: Vec<String> = doc["oblivious_trees"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let split_keys: Vec<String> = doc["oblivious_trees"][0]["splits"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut edits: Vec<Value> = Vec::new();
    for key in &tree_keys {
        edits.push(edited("cb_bin_cat", |d| {
            drop(d["oblivious_trees"][0].as_object_mut().unwrap().remove(key))
        }));
    }
    for key in &split_keys {
        edits.push(edited("cb_bin_cat", |d| {
            drop(
                d["oblivious_trees"][0]["splits"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove(key),
            )
        }));
    }
    for t in 0..doc["oblivious_trees"].as_array().unwrap().len() {
        for s in 0..doc["oblivious_trees"][t]["splits"]
            .as_array()
            .unwrap()
            .len()
        {
            if doc["oblivious_trees"][t]["splits"][s]["split_type"] == "OneHotFeature" {
                edits.push(edited("cb_bin_cat", |d| {
                    d["oblivious_trees"][t]["splits"][s]["value"] = json!(12345)
                }));
                edits.push(edited("cb_bin_cat", |d| {
                    d["oblivious_trees"][t]["splits"][s]["cat_feature_index"] = json!(7)
                }));
                break;
            }
        }
    }
    assert!(edits.len() > 6);
    for model in edits {
        let spec = json!({"kind": "catboost", "model": model});
        let answer = call(&app, Method::PUT, "/models/cut", Some(spec)).await;
        assert!(
            answer.status == StatusCode::UNPROCESSABLE_ENTITY || answer.status.is_success(),
            "{}: {}",
            answer.status,
            answer.text
        );
    }
}
