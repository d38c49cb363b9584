//! Times explaind's Shapley estimators at several budgets and seeds, for
//! `bench/compare_convergence.py`, which writes the input, computes the exact values
//! and shap's, and turns both into RMSE per millisecond.
//!
//! Usage: `bench_convergence INPUT.json`. The input holds `model`: `{"kind":
//! "xgboost" | "lightgbm", "path": FILE}`, `{"kind": "logistic", "coefficients",
//! "intercept"}` or `{"kind": "mlp", "params": <an MLP registration's params>}`;
//! `space` (`raw` or `probability`); `background` and `rows` (arrays of rows);
//! `configs`, each `{"method": "kernel_shap" | "permutation_shap" | "exact_shapley",
//! "estimator": "kernel" | "leverage" | "regression_adjusted" | "per_baseline", "n_samples": N}` (with
//! `"tolerance": ε`, N is the cap of its rounds) or
//! `{"method": "tree_interventional"}` (tree models in raw space: what `kernel_shap`
//! and `permutation_shap` with a `tolerance` answer there, `src/explainer/exact_game.rs`);
//! and `seed`.
//!
//! Runs on one thread (a rayon pool of 1). Each configuration explains the first
//! row untimed (warm-up), then every row, timed. Prints one JSON line per
//! configuration: `{"config": index, "seconds": all rows, "attributions": [[per
//! feature] per row], "samples": [per row], "standard_errors": [per feature, or null,
//! per row]}`. For `tree_interventional` the recorded
//! background (built once per model and background, then kept with the model, as the
//! server keeps it) is built before the warm-up, and its seconds are `setup_seconds`.

use std::time::Instant;

use explaind::core::explain::kernel_shap::Estimator;
use explaind::core::explain::sampling::SamplingParams;
use explaind::core::explain::{explain_agnostic, tree_interventional, Method};
use explaind::core::models::mlp::MlpParams;
use explaind::core::models::{LinearModel, Model, OutputSpace, TreeEnsemble};
use explaind::core::stats::Reference;
use explaind::core::Cancel;
use explaind::formats::{lightgbm, xgboost};
use ndarray::ArrayView2;
use ndarray::{s, Array1, Array2};
use serde_json::{json, Value};

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).expect("a matrix");
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).expect("rectangular rows")
}

fn build(spec: &Value) -> Box<dyn Model> {
    let file = || std::fs::read(spec["path"].as_str().expect("path")).expect("model file");
    match spec["kind"].as_str() {
        Some("xgboost") => Box::new(xgboost::parse(&file()).expect("an XGBoost model")),
        Some("lightgbm") => {
            let text = String::from_utf8(file()).expect("text");
            let model: TreeEnsemble = lightgbm::parse(&text).expect("a LightGBM model");
            Box::new(model)
        }
        Some("logistic") => {
            let w: Vec<f64> =
                serde_json::from_value(spec["coefficients"].clone()).expect("weights");
            let b = spec["intercept"].as_f64().expect("intercept");
            let coefficients = Array2::from_shape_vec((1, w.len()), w).expect("one row");
            Box::new(LinearModel::logistic(coefficients, Array1::from(vec![b])).expect("valid"))
        }
        Some("mlp") => {
            let params: MlpParams =
                serde_json::from_value(spec["params"].clone()).expect("MLP parameters");
            Box::new(params.validate().expect("a valid MLP"))
        }
        other => panic!("unknown model kind {other:?}"),
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: bench_convergence INPUT.json");
    let input: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("input")).expect("JSON");
    let model = build(&input["model"]);
    let reference = Reference::new(model.as_ref(), matrix(&input["background"]));
    let rows = matrix(&input["rows"]);
    let outputs = vec![0; rows.nrows()];
    let space = match input["space"].as_str() {
        Some("probability") => OutputSpace::Probability,
        _ => OutputSpace::Raw,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a pool");
    let configs = input["configs"].as_array().expect("configs");
    for (index, config) in configs.iter().enumerate() {
        let method: Method = config["method"]
            .as_str()
            .expect("method")
            .parse()
            .expect("a method");
        if method == Method::TreeInterventional {
            let trees = model
                .tree_ensemble()
                .expect("tree_interventional needs trees");
            pool.install(|| exact_trees(index, trees, &reference, rows.view(), &outputs));
            continue;
        }
        let estimator = match config["estimator"].as_str() {
            Some("leverage") => Estimator::Leverage,
            Some("regression_adjusted") => Estimator::RegressionAdjusted,
            Some("per_baseline") => Estimator::PerBaseline,
            _ => Estimator::Kernel,
        };
        let options = SamplingParams {
            seed: input["seed"].as_u64().unwrap_or(0),
            n_samples: config["n_samples"].as_u64().map(|n| n as usize),
            tolerance: config["tolerance"].as_f64(),
            output_space: space,
            estimator,
            ..SamplingParams::default()
        }
        .check(model.as_ref())
        .expect("valid options");
        let run = |x| {
            explain_agnostic(
                method,
                model.as_ref(),
                &reference,
                x,
                &outputs[..x.nrows()],
                &options,
            )
        };
        pool.install(|| run(rows.slice(s![..1, ..])).expect("warm-up"));
        let start = Instant::now();
        let explanations = pool.install(|| run(rows.view())).expect("explanations");
        let seconds = start.elapsed().as_secs_f64();
        let attributions: Vec<&Vec<f64>> = explanations.iter().map(|e| &e.attributions).collect();
        let samples: Vec<Option<usize>> = explanations.iter().map(|e| e.quality.samples).collect();
        let errors: Vec<&Option<Vec<f64>>> = (explanations.iter())
            .map(|e| &e.quality.standard_errors)
            .collect();
        println!(
            "{}",
            json!({"config": index, "seconds": seconds, "attributions": attributions,
                   "samples": samples, "standard_errors": errors})
        );
    }
}

/// Time exact interventional TreeSHAP on `rows` (raw space), as configuration `index`.
fn exact_trees(
    index: usize,
    trees: &TreeEnsemble,
    reference: &Reference,
    rows: ArrayView2<f64>,
    outputs: &[usize],
) {
    let start = Instant::now();
    let background = tree_interventional::Background::new(trees, reference).expect("fits");
    let setup = start.elapsed().as_secs_f64();
    let run = |x: ArrayView2<f64>| {
        let outputs = &outputs[..x.nrows()];
        tree_interventional::explain_with(
            trees,
            reference,
            &background,
            x,
            outputs,
            OutputSpace::Raw,
            &Cancel::never(),
        )
        .expect("explanations")
    };
    run(rows.slice(s![..1, ..]));
    let start = Instant::now();
    let explanations = run(rows);
    let seconds = start.elapsed().as_secs_f64();
    let attributions: Vec<&Vec<f64>> = explanations.iter().map(|e| &e.attributions).collect();
    println!(
        "{}",
        json!({"config": index, "seconds": seconds, "attributions": attributions,
               "samples": vec![0; rows.nrows()], "setup_seconds": setup})
    );
}
