//! Times explaind's model-agnostic explainers on a logistic model, for
//! `bench/compare_agnostic.py`, which writes the input and compares with shap and lime.
//!
//! Usage: `bench_agnostic INPUT.json`, where the input holds `coefficients` (one per
//! feature), `intercept`, `background` and `rows` (arrays of rows), and the budgets
//! `kernel_nsamples`, `permutation_nsamples`, `lime_samples`. Prints one JSON line per
//! method: `{"method", "rows", "seconds", "rows_per_s"}`. Each method runs once on
//! the first row (warm-up), then once on all rows, timed. Threads: rayon's default
//! (all cores) unless `RAYON_NUM_THREADS` says otherwise.

use std::time::Instant;

use explaind::core::explain::sampling::SamplingParams;
use explaind::core::explain::{explain_agnostic, Method};
use explaind::core::models::{LinearModel, OutputSpace};
use explaind::core::stats::Reference;
use ndarray::{Array1, Array2};
use serde_json::{json, Value};

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).expect("a matrix");
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).expect("rectangular rows")
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: bench_agnostic INPUT.json");
    let text = std::fs::read_to_string(path).expect("readable input");
    let input: Value = serde_json::from_str(&text).expect("JSON input");
    let w: Vec<f64> = serde_json::from_value(input["coefficients"].clone()).expect("weights");
    let b = input["intercept"].as_f64().expect("intercept");
    let model = LinearModel::logistic(
        Array2::from_shape_vec((1, w.len()), w).expect("one row"),
        Array1::from(vec![b]),
    )
    .expect("a valid model");
    let reference = Reference::new(&model, matrix(&input["background"]));
    let rows = matrix(&input["rows"]);
    let outputs = vec![0; rows.nrows()];
    let budget = |key: &str| input[key].as_u64().map(|v| v as usize);
    for (method, n_samples) in [
        (Method::KernelShap, budget("kernel_nsamples")),
        (Method::PermutationShap, budget("permutation_nsamples")),
        (Method::Lime, budget("lime_samples")),
    ] {
        let options = SamplingParams {
            seed: 1,
            n_samples,
            output_space: OutputSpace::Probability,
            ..SamplingParams::default()
        }
        .check(&model)
        .expect("valid options");
        let warm = rows.slice(ndarray::s![..1, ..]);
        explain_agnostic(method, &model, &reference, warm, &outputs[..1], &options)
            .expect("warm-up");
        let start = Instant::now();
        explain_agnostic(method, &model, &reference, rows.view(), &outputs, &options)
            .expect("explanations");
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({
                "method": method.as_str(),
                "rows": rows.nrows(),
                "seconds": seconds,
                "rows_per_s": rows.nrows() as f64 / seconds,
            })
        );
    }
}
