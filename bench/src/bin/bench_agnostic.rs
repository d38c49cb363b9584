//! Times explaind's model-agnostic explainers for `bench/compare_agnostic.py`, which
//! writes the input and compares with shap and lime.
//!
//! Usage: `bench_agnostic INPUT.json`. The input holds `model`: either
//! `{"kind": "logistic", "coefficients": [...], "intercept": b}` or
//! `{"kind": "mlp", "params": <the MLP parameters of a registration>}`;
//! `background` and `rows` (arrays of rows); the budgets `kernel_nsamples`,
//! `permutation_nsamples`, `lime_samples`; `repeats`; and optionally `only` (method
//! names) and `paths` (`affine`, `generic`) to time fewer, e.g. under a profiler.
//!
//! Prints one JSON line `{"predictions": [...]}` (the rows' probabilities, so the
//! caller can check it built the same model), one `{"gflops", "sigmoids_per_s"}`
//! (this machine's one-thread rates of a matrix product and of the logistic
//! function, for the arithmetic-limit estimate), then one line per method and path:
//! `{"method", "path", "rows", "seconds", "rows_per_s"}`, where `path` is `affine`
//! (the model as registered, using its affine first step) or `generic` (the same
//! model seen only through batch predict, as any other model kind is; LIME, which
//! calls predict once per row either way, runs on the first only). Each method
//! runs once on the first row (warm-up), then `repeats` times on all rows, timed;
//! the best time counts. Threads: rayon's default (all cores) unless
//! `RAYON_NUM_THREADS` says otherwise.

use std::time::Instant;

use explaind::core::explain::sampling::SamplingParams;
use explaind::core::explain::{explain_agnostic, Method};
use explaind::core::models::mlp::MlpParams;
use explaind::core::models::{LinearModel, Link, Model, OutputSpace};
use explaind::core::stats::Reference;
use ndarray::{Array1, Array2, ArrayView2};
use serde_json::{json, Value};

/// A model seen only through its batch predict: the explainers' generic path.
struct Opaque<'a>(&'a dyn Model);

impl Model for Opaque<'_> {
    fn n_features(&self) -> usize {
        self.0.n_features()
    }
    fn n_outputs(&self) -> usize {
        self.0.n_outputs()
    }
    fn link(&self) -> Link {
        self.0.link()
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.0.predict_raw(x)
    }
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).expect("a matrix");
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).expect("rectangular rows")
}

fn build(spec: &Value) -> Box<dyn Model> {
    match spec["kind"].as_str() {
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

/// This machine's arithmetic rates on one thread, best of 5: GFLOP/s of a matrix
/// product the size of a batch through a 64-wide first layer (4096 × 64 by
/// 64 × 32, matrixmultiply as explaind's models use it), and logistic functions
/// per second (one per masked row in probability space).
fn machine_rates() -> (f64, f64) {
    let x = Array2::from_shape_fn((4096, 64), |(i, j)| ((i * 31 + j * 7) % 13) as f64 / 13.0);
    let w = Array2::from_shape_fn((64, 32), |(i, j)| ((i * 5 + j * 3) % 7) as f64 / 7.0);
    let flops = 2.0 * 4096.0 * 64.0 * 32.0;
    let (mut gemm, mut link) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..5 {
        let start = Instant::now();
        std::hint::black_box(x.dot(&w));
        gemm = gemm.min(start.elapsed().as_secs_f64());
        let mut z = x.clone();
        let start = Instant::now();
        Link::Logistic.apply(&mut z);
        link = link.min(start.elapsed().as_secs_f64());
        std::hint::black_box(z);
    }
    (flops / gemm / 1e9, x.len() as f64 / link)
}

/// Whether `name` is in the optional list `filter` (no list: everything).
fn wanted(filter: &Value, name: &str) -> bool {
    filter
        .as_array()
        .map_or(true, |names| names.iter().any(|n| n == name))
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: bench_agnostic INPUT.json");
    let text = std::fs::read_to_string(path).expect("readable input");
    let input: Value = serde_json::from_str(&text).expect("JSON input");
    let model = build(&input["model"]);
    let reference = Reference::new(model.as_ref(), matrix(&input["background"]));
    let rows = matrix(&input["rows"]);
    let outputs = vec![0; rows.nrows()];
    let repeats = input["repeats"].as_u64().unwrap_or(1).max(1);
    let budget = |key: &str| input[key].as_u64().map(|v| v as usize);
    let predictions = model.predict(rows.view(), OutputSpace::Probability);
    println!(
        "{}",
        json!({ "predictions": predictions.column(0).to_vec() })
    );
    let (gflops, sigmoids) = machine_rates();
    println!(
        "{}",
        json!({ "gflops": gflops, "sigmoids_per_s": sigmoids })
    );
    let opaque = Opaque(model.as_ref());
    for (name, subject) in [
        ("affine", model.as_ref()),
        ("generic", &opaque as &dyn Model),
    ] {
        for (method, n_samples) in [
            (Method::KernelShap, budget("kernel_nsamples")),
            (Method::PermutationShap, budget("permutation_nsamples")),
            (Method::Lime, budget("lime_samples")),
        ] {
            if name == "generic" && method == Method::Lime {
                continue; // LIME predicts its samples once per row, the same on both paths
            }
            if !wanted(&input["only"], method.as_str()) || !wanted(&input["paths"], name) {
                continue;
            }
            let options = SamplingParams {
                seed: 1,
                n_samples,
                output_space: OutputSpace::Probability,
                ..SamplingParams::default()
            }
            .check(subject)
            .expect("valid options");
            let warm = rows.slice(ndarray::s![..1, ..]);
            explain_agnostic(method, subject, &reference, warm, &outputs[..1], &options)
                .expect("warm-up");
            let mut seconds = f64::INFINITY;
            for _ in 0..repeats {
                let start = Instant::now();
                explain_agnostic(method, subject, &reference, rows.view(), &outputs, &options)
                    .expect("explanations");
                seconds = seconds.min(start.elapsed().as_secs_f64());
            }
            println!(
                "{}",
                json!({
                    "method": method.as_str(),
                    "path": name,
                    "rows": rows.nrows(),
                    "seconds": seconds,
                    "rows_per_s": rows.nrows() as f64 / seconds,
                })
            );
        }
    }
}
