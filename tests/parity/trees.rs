//! Parity of tree ensembles with the libraries users know.
//!
//! Each `tests/fixtures/trees/<name>.case.json` was written by
//! `tests/fixtures/gen_trees.py` from XGBoost, LightGBM and shap: test rows (NaN as
//! null), the library's own predictions, and shap TreeExplainer values. XGBoost works
//! in float32, so its numbers are matched to 1e-5 relative; LightGBM's to 1e-9.

use std::path::PathBuf;

use explaind::core::explain::{tree_interventional, tree_shap};
use explaind::core::models::{Model, OutputSpace, TreeEnsemble};
use explaind::core::stats::Reference;
use explaind::formats::{lightgbm, xgboost};
use ndarray::Array2;
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trees")
}

struct Case {
    name: String,
    json: Value,
    model: TreeEnsemble,
    rtol: f64,
}

fn load(name: &str) -> Case {
    let json: Value = serde_json::from_slice(
        &std::fs::read(dir().join(format!("{name}.case.json"))).expect("case file"),
    )
    .expect("case json");
    let file = dir().join(json["model"].as_str().expect("model file name"));
    let bytes = std::fs::read(&file).expect("model file");
    let (model, rtol) = match json["kind"].as_str() {
        Some("xgboost") => (xgboost::parse(&bytes).expect("parse xgboost"), 1e-5),
        _ => (
            lightgbm::parse(std::str::from_utf8(&bytes).expect("utf8")).expect("parse lightgbm"),
            1e-9,
        ),
    };
    Case {
        name: name.to_string(),
        json,
        model,
        rtol,
    }
}

/// A JSON matrix with null as NaN.
fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v
        .as_array()
        .expect("matrix")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|x| x.as_f64().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let n = rows.len();
    let f = rows.first().map_or(0, Vec::len);
    Array2::from_shape_vec((n, f), rows.into_iter().flatten().collect()).expect("rectangular")
}

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(flat).collect(),
        other => vec![other.as_f64().unwrap_or(f64::NAN)],
    }
}

/// |got − want| ≤ rtol (|want| + scale), scale the largest |want| of the set, so
/// values near zero are judged against the size of their neighbours.
fn assert_close(case: &Case, what: &str, got: &[f64], want: &[f64]) {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
    assert_within(case, what, got, want, case.rtol, scale);
}

/// As [`assert_close`] with an explicit tolerance and scale.
fn assert_within(case: &Case, what: &str, got: &[f64], want: &[f64], rtol: f64, scale: f64) {
    assert_eq!(got.len(), want.len(), "{}: {what}: lengths", case.name);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = rtol * (w.abs() + scale);
        assert!(
            (g - w).abs() <= tol,
            "{}: {what}[{i}]: got {g}, want {w} (tol {tol})",
            case.name
        );
    }
}

const ALL: &[&str] = &[
    "xgb_reg",
    "xgb_bin",
    "xgb_bin_cat",
    "xgb_multi",
    "xgb_softmax",
    "xgb_logistic",
    "xgb_poisson",
    "lgb_reg",
    "lgb_bin",
    "lgb_bin_cat",
    "lgb_multi",
];

#[test]
fn predictions_match_the_library() {
    for name in ALL {
        let case = load(name);
        let x = matrix(&case.json["rows"]);
        let raw = case.model.predict(x.view(), OutputSpace::Raw);
        assert_close(&case, "raw", &flat_arr(&raw), &flat(&case.json["raw"]));
        let prob = case.model.predict(x.view(), OutputSpace::Probability);
        if case.json["objective"] == "multi:softmax" {
            // XGBoost's multi:softmax predicts the class index, not probabilities.
            let classes: Vec<f64> = prob
                .rows()
                .into_iter()
                .map(|r| {
                    let best = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    r.iter().position(|&v| v == best).unwrap_or(0) as f64
                })
                .collect();
            assert_eq!(classes, flat(&case.json["transformed"]), "{name}: classes");
        } else {
            assert_close(
                &case,
                "transformed",
                &flat_arr(&prob),
                &flat(&case.json["transformed"]),
            );
        }
    }
}

/// The base value shap's own attributions imply: mean of raw − Σφ over the rows.
///
/// shap 0.51's `expected_value` attribute disagrees with its attributions for
/// XGBoost models (it reads only the first entry of a per-class base_score and is
/// off by a float32 rounding of the root for regression), while its attributions
/// add up to XGBoost's margins; the implied base is what they start from.
fn implied_base(case: &Case, k: usize, values: &Value) -> f64 {
    let raw = matrix(&case.json["raw"]);
    let rows = values.as_array().expect("rows");
    let sum: f64 = rows
        .iter()
        .enumerate()
        .map(|(r, phi)| raw[[r, k]] - flat(phi).iter().sum::<f64>())
        .sum();
    sum / rows.len() as f64
}

/// The largest |raw output| of a case: the scale of errors in values derived from it.
fn raw_scale(case: &Case) -> f64 {
    flat(&case.json["raw"])
        .iter()
        .fold(1e-12, |m, v| m.max(v.abs()))
}

fn flat_arr(a: &Array2<f64>) -> Vec<f64> {
    a.iter().copied().collect()
}

/// Cases for which shap produced values (it cannot read XGBoost categorical splits).
fn shap_cases() -> Vec<Case> {
    ALL.iter()
        .map(|n| load(n))
        .filter(|c| c.json.get("shap").is_some())
        .collect()
}

#[test]
fn path_dependent_matches_shap() {
    for case in shap_cases() {
        let x = matrix(&case.json["rows"]);
        let s = &case.json["shap"]["path_dependent"];
        let values = s["values"].as_array().expect("per output");
        for (k, want) in values.iter().enumerate() {
            let e =
                tree_shap::explain(&case.model, x.view(), &vec![k; x.nrows()]).expect("explain");
            let got: Vec<f64> = e.iter().flat_map(|e| e.attributions.clone()).collect();
            assert_close(&case, &format!("path φ, output {k}"), &got, &flat(want));
            let base = implied_base(&case, k, want);
            let scale = raw_scale(&case);
            assert_within(&case, "base", &[e[0].base_value], &[base], case.rtol, scale);
            for ex in &e {
                // Efficiency: base + Σφ is the raw prediction.
                assert!(ex.quality.additivity_residual.abs() < 1e-9 * (1.0 + ex.prediction.abs()));
            }
        }
    }
}

#[test]
fn interactions_match_shap() {
    for case in shap_cases() {
        let Some(want_all) = case.json["shap"].get("interactions") else {
            continue;
        };
        for (k, want) in want_all.as_array().expect("per output").iter().enumerate() {
            let n = want.as_array().expect("rows").len();
            let x = matrix(&case.json["rows"]).slice_move(ndarray::s![..n, ..]);
            let got = tree_shap::interactions(&case.model, x.view(), &vec![k; n]).expect("inter");
            let got: Vec<f64> = got.iter().flat_map(|m| m.iter().copied()).collect();
            assert_close(
                &case,
                &format!("interactions, output {k}"),
                &got,
                &flat(want),
            );
        }
    }
}

#[test]
fn interventional_matches_shap() {
    for case in shap_cases() {
        let x = matrix(&case.json["rows"]);
        let reference = Reference::new(&case.model, matrix(&case.json["background"]));
        for (key, space) in [
            ("interventional_raw", OutputSpace::Raw),
            ("interventional_probability", OutputSpace::Probability),
        ] {
            let Some(s) = case.json["shap"].get(key) else {
                continue;
            };
            for (k, want) in s["values"]
                .as_array()
                .expect("per output")
                .iter()
                .enumerate()
            {
                let e = tree_interventional::explain(
                    &case.model,
                    &reference,
                    x.view(),
                    &vec![k; x.nrows()],
                    space,
                )
                .expect("explain");
                let got: Vec<f64> = e.iter().flat_map(|e| e.attributions.clone()).collect();
                // shap's interventional code is itself only good to ~1e-8 relative on
                // LightGBM models (a brute-force enumeration over LightGBM's own predict
                // agrees with explaind, not shap, at that digit); the exact check is the
                // brute-force test in tree_exactness.rs.
                let want = flat(want);
                let scale = want.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
                let rtol = case.rtol.max(1e-7);
                assert_within(
                    &case,
                    &format!("{key} φ, output {k}"),
                    &got,
                    &want,
                    rtol,
                    scale,
                );
                let base = if space == OutputSpace::Raw {
                    implied_base(&case, k, &s["values"][k])
                } else {
                    flat(&s["expected"])[k]
                };
                let scale = raw_scale(&case);
                assert_within(&case, "base", &[e[0].base_value], &[base], rtol, scale);
                for ex in &e {
                    assert!(ex.quality.additivity_residual.abs() < 1e-9);
                }
            }
        }
    }
}

#[test]
fn interventional_matches_enumeration_over_the_library() {
    // The fixture enumerates all 2^F coalitions per background row and evaluates each
    // hybrid row with XGBoost's / LightGBM's own predict: the definition itself.
    for name in ALL {
        let case = load(name);
        let want_all = case.json["brute_interventional_raw"]
            .as_array()
            .expect("per output");
        let reference = Reference::new(&case.model, matrix(&case.json["background"]));
        for (k, want) in want_all.iter().enumerate() {
            let n = want.as_array().expect("rows").len();
            let x = matrix(&case.json["rows"]).slice_move(ndarray::s![..n, ..]);
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
        }
    }
}
