//! Parity of CatBoost models with CatBoost itself.
//!
//! Each `tests/fixtures/catboost/<name>.case.json` was written by
//! `tests/fixtures/gen_catboost.py`: raw rows (strings for categories, null for NaN,
//! an unseen category, values at split borders), CatBoost's raw predictions and
//! probabilities, its `ShapValues`, shap's TreeExplainer values, and interventional
//! Shapley values enumerated over CatBoost's own predict. Rows are turned into codes
//! through the model's own raw features, so the category mapping is under test too.
//! CatBoost sums in double precision, so values are matched to 1e-9 relative.

use std::path::PathBuf;

use explaind::core::explain::{tree_interventional, tree_shap};
use explaind::core::global::catboost::prediction_values_change;
use explaind::core::models::{Model, OutputSpace, TreeEnsemble};
use explaind::core::stats::Reference;
use explaind::formats::catboost;
use ndarray::Array2;
use serde_json::Value;

const CASES: &[&str] = &["cb_reg", "cb_bin_cat", "cb_multi"];
const RTOL: f64 = 1e-9;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catboost")
}

struct Case {
    name: &'static str,
    json: Value,
    model: TreeEnsemble,
    output_names: Option<Vec<String>>,
}

fn load(name: &'static str) -> Case {
    let read = |file: &str| std::fs::read(dir().join(file)).expect("fixture");
    let json: Value = serde_json::from_slice(&read(&format!("{name}.case.json"))).expect("case");
    let parsed = catboost::parse(&read(json["model"].as_str().expect("file"))).expect("parse");
    Case {
        name,
        json,
        model: parsed.ensemble,
        output_names: parsed.output_names,
    }
}

/// Raw rows (numbers, null, category strings) as the numeric rows the model reads.
fn encode(case: &Case, rows: &Value) -> Array2<f64> {
    let rows = rows.as_array().expect("rows");
    let width = case.model.n_features();
    let raw = case.model.raw_features();
    let mut data = Vec::with_capacity(rows.len() * width);
    for row in rows {
        for (j, v) in row.as_array().expect("row").iter().enumerate() {
            data.push(match v {
                Value::String(s) => raw.and_then(|r| r.code(j, s)).expect("categorical"),
                other => other.as_f64().unwrap_or(f64::NAN),
            });
        }
    }
    Array2::from_shape_vec((rows.len(), width), data).expect("rectangular")
}

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(flat).collect(),
        other => vec![other.as_f64().unwrap_or(f64::NAN)],
    }
}

/// |got − want| ≤ RTOL (|want| + the largest |want|), per value.
fn assert_close(case: &Case, what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{}: {what}: lengths", case.name);
    let scale = want.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = RTOL * (w.abs() + scale);
        assert!(
            (g - w).abs() <= tol,
            "{}: {what}[{i}]: got {g}, want {w}",
            case.name
        );
    }
}

#[test]
fn predictions_and_probabilities_match_catboost() {
    for name in CASES {
        let case = load(name);
        let x = encode(&case, &case.json["rows"]);
        let raw = case.model.predict(x.view(), OutputSpace::Raw);
        let raw: Vec<f64> = raw.iter().copied().collect();
        assert_close(&case, "raw", &raw, &flat(&case.json["raw"]));
        if let Some(want) = case.json.get("probability") {
            let p = case.model.predict(x.view(), OutputSpace::Probability);
            let mut got: Vec<f64> = p.iter().copied().collect();
            if case.model.n_outputs() == 1 {
                // CatBoost answers [P(class 0), P(class 1)] per row.
                got = got.iter().flat_map(|p| [1.0 - p, *p]).collect();
            }
            assert_close(&case, "probability", &got, &flat(want));
        }
    }
}

#[test]
fn categories_and_names_come_from_the_document() {
    let case = load("cb_bin_cat");
    let raw = case.model.raw_features().expect("categorical");
    assert_eq!(
        raw.categories(2).expect("region"),
        ["east", "north", "south", "west"]
    );
    assert_eq!(raw.categories(0), None, "income is numeric");
    let names: Vec<String> = case.json["feature_names"]
        .as_array()
        .expect("names")
        .iter()
        .map(|n| n.as_str().expect("name").to_string())
        .collect();
    assert_eq!(case.model.feature_names(), Some(names.as_slice()));
    assert_eq!(case.output_names, Some(vec!["1".to_string()]));
    let multi = load("cb_multi");
    let classes: Vec<String> = multi.json["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .map(|c| c.as_str().expect("label").to_string())
        .collect();
    assert_eq!(multi.output_names, Some(classes));
    assert!(load("cb_reg").model.raw_features().is_none());
}

/// CatBoost's ShapValues for output k: (rows, F) attributions and the expected value.
fn catboost_shap(case: &Case, k: usize) -> (Vec<f64>, f64) {
    let f = case.model.n_features();
    let k_outputs = case.model.n_outputs();
    let mut phi = Vec::new();
    let mut base = 0.0;
    for row in case.json["shap_values"].as_array().expect("rows") {
        let values = if k_outputs > 1 {
            flat(&row[k])
        } else {
            flat(row)
        };
        phi.extend_from_slice(&values[..f]);
        base = values[f];
    }
    (phi, base)
}

#[test]
fn path_dependent_matches_catboost_shap_values() {
    for name in CASES {
        let case = load(name);
        let x = encode(&case, &case.json["rows"]);
        for k in 0..case.model.n_outputs() {
            let e = tree_shap::explain(&case.model, x.view(), &vec![k; x.nrows()]).expect("shap");
            let got: Vec<f64> = e.iter().flat_map(|e| e.attributions.clone()).collect();
            let (want, base) = catboost_shap(&case, k);
            assert_close(&case, &format!("ShapValues, output {k}"), &got, &want);
            let scale = flat(&case.json["raw"])
                .iter()
                .fold(1.0f64, |m, v| m.max(v.abs()));
            assert!(
                (e[0].base_value - base).abs() <= RTOL * scale,
                "{name}: base {} vs CatBoost's {base}",
                e[0].base_value
            );
        }
        // CatBoost's trees are oblivious: every one was explained from its table.
        let tables = case
            .model
            .oblivious_built()
            .expect("built by the explain above");
        assert!(tables.trees.iter().all(Option::is_some), "{name}");
    }
}

#[test]
fn path_dependent_matches_shap_tree_explainer() {
    for name in CASES {
        let case = load(name);
        let want = &case.json["shap_tree_explainer"];
        if want.is_null() {
            continue;
        }
        let x = encode(&case, &case.json["rows"]);
        let (n, f, k_outputs) = (x.nrows(), x.ncols(), case.model.n_outputs());
        let want = flat(want);
        for k in 0..k_outputs {
            let e = tree_shap::explain(&case.model, x.view(), &vec![k; n]).expect("shap");
            let got: Vec<f64> = e.iter().flat_map(|e| e.attributions.clone()).collect();
            // shap's layout: (rows, F) for one output, (rows, F, outputs) for several.
            let want_k: Vec<f64> = (0..n * f).map(|i| want[i * k_outputs + k]).collect();
            assert_close(&case, &format!("shap φ, output {k}"), &got, &want_k);
        }
    }
}

#[test]
fn interventional_matches_enumeration_over_catboost() {
    // Every coalition of raw features, each hybrid row predicted by CatBoost itself:
    // the interventional Shapley values by their definition.
    for name in CASES {
        let case = load(name);
        let background = encode(&case, &case.json["background"]);
        let reference = Reference::new(&case.model, background.clone());
        let n = case.json["brute_rows"].as_u64().expect("count") as usize;
        let x = encode(&case, &case.json["rows"]).slice_move(ndarray::s![..n, ..]);
        let mean = case.model.predict(background.view(), OutputSpace::Raw);
        let raw = case.model.predict(x.view(), OutputSpace::Raw);
        let want_all = case.json["brute_interventional"]
            .as_array()
            .expect("outputs");
        for (k, want) in want_all.iter().enumerate() {
            let e = tree_interventional::explain(
                &case.model,
                &reference,
                x.view(),
                &vec![k; n],
                OutputSpace::Raw,
            )
            .expect("explain");
            let got: Vec<f64> = e.iter().flat_map(|e| e.attributions.clone()).collect();
            assert_close(
                &case,
                &format!("enumerated φ, output {k}"),
                &got,
                &flat(want),
            );
            // Efficiency: Σφ = prediction − mean prediction over the background.
            let mean_k = mean.column(k).mean().expect("rows");
            for (r, ex) in e.iter().enumerate() {
                let sum: f64 = ex.attributions.iter().sum();
                let gap = raw[[r, k]] - mean_k;
                assert!(
                    (sum - gap).abs() <= 1e-9 * (1.0 + gap.abs()),
                    "{name}: Σφ {sum} vs {gap}"
                );
            }
        }
    }
}

#[test]
fn a_ctr_model_is_refused_naming_the_feature_and_the_remedy() {
    let bytes = std::fs::read(dir().join("cb_ctr.json")).expect("fixture");
    let err = catboost::parse(&bytes).expect_err("CTR splits");
    let message = err.to_string();
    assert!(message.contains("'shop'"), "{message}");
    assert!(message.contains("one_hot_max_size"), "{message}");
    assert!(message.contains("OnlineCtr"), "{message}");
}

/// CatBoost's default feature importance (PredictionValuesChange), which its JSON
/// document does not store, computed from the expanded trees' leaf values and
/// weights, equals `get_feature_importance()` on every model (regression, Logloss
/// with one-hot categories, MultiClass summed over its outputs).
#[test]
fn prediction_values_change_equals_catboosts_feature_importance() {
    for name in CASES {
        let case = load(name);
        let got = prediction_values_change(&case.model).expect("oblivious trees");
        let want: Vec<f64> =
            serde_json::from_value(case.json["feature_importance"].clone()).unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        for (j, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= RTOL * 100.0,
                "{name} feature {j}: {g} vs {w}"
            );
        }
        assert!(
            want.iter().filter(|w| **w > 1.0).count() >= 3,
            "{name}: several features matter"
        );
    }
}
