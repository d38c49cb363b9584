//! In-process timing of tree explanations, for `bench/compare_trees.py`.
//!
//! ```text
//! bench_trees <xgboost|lightgbm|catboost|onnx> <model file> <rows.f64> <n_features> <threads>
//!             <path|interventional|interactions|predict|predict_nodes>
//!             [background.f64] [repeats]
//! ```
//! Row files are raw little-endian f64, row-major (numpy's `astype("<f8").tofile`).
//! Loading and compiling the model are not timed; each repeat explains every row of
//! every output on a rayon pool of `threads`. Prints one JSON line with the best,
//! median and worst seconds, the first run's seconds (which include anything built
//! on first use, such as the oblivious trees' TreeSHAP tables) and rows per second (best). `GAP_US=N` in the environment
//! sleeps N microseconds before each repeat, as the idle gaps between requests do
//! (threads and cores that fall asleep in them are slow to wake).
//!
//! `predict` is `Model::predict` (raw outputs); `predict_nodes` is the node-by-node
//! walk it replaced (`TreeEnsemble::margin_of` per row and output, rows in parallel),
//! kept for before/after figures. `BLOCK_ROWS=N` makes either predict the rows in
//! calls of N rows, as the coalition games send background-sized blocks.

use std::time::{Duration, Instant};

use explaind::core::explain::{tree_interventional, tree_shap};
use explaind::core::models::{Model, OutputSpace, TreeEnsemble};
use explaind::core::stats::Reference;
use explaind::formats::{catboost, lightgbm, onnx, xgboost};
use ndarray::{s, Array2, Axis};
use rayon::prelude::*;

fn read_rows(path: &str, n_features: usize) -> Array2<f64> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    let values: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    let n = values.len() / n_features;
    Array2::from_shape_vec((n, n_features), values).unwrap_or_else(|e| fail(&e.to_string()))
}

fn fail(message: &str) -> ! {
    eprintln!("bench_trees: {message}");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 7 {
        fail("usage: bench_trees KIND MODEL ROWS N_FEATURES THREADS METHOD [BACKGROUND] [REPEATS]");
    }
    let n_features: usize = args[4].parse().unwrap_or_else(|_| fail("bad N_FEATURES"));
    let threads: usize = args[5].parse().unwrap_or_else(|_| fail("bad THREADS"));
    let method = args[6].as_str();
    let repeats: usize = args.get(8).and_then(|r| r.parse().ok()).unwrap_or(3);
    let bytes = std::fs::read(&args[2]).unwrap_or_else(|e| fail(&e.to_string()));
    let model: TreeEnsemble = match args[1].as_str() {
        "xgboost" => xgboost::parse(&bytes),
        "catboost" => catboost::parse(&bytes).map(|m| m.ensemble),
        "onnx" => match onnx::read(&bytes) {
            Ok(onnx::OnnxModel::Ml(onnx::MlModel::Trees { spec, .. })) => TreeEnsemble::new(spec),
            Ok(_) => fail("the ONNX file is not a tree ensemble"),
            Err(e) => Err(e),
        },
        _ => lightgbm::parse(&String::from_utf8_lossy(&bytes)),
    }
    .unwrap_or_else(|e| fail(&e.to_string()));
    let x = read_rows(&args[3], n_features);
    let reference = args
        .get(7)
        .filter(|p| *p != "-")
        .map(|p| Reference::new(&model, read_rows(p, n_features)));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let mut times = Vec::new();
    let mut checksum = 0.0;
    let gap = std::env::var("GAP_US")
        .ok()
        .and_then(|g| g.parse().ok())
        .map_or(Duration::ZERO, Duration::from_micros);
    for _ in 0..repeats.max(1) {
        std::thread::sleep(gap);
        let start = Instant::now();
        checksum = pool.install(|| run(&model, &x, method, reference.as_ref()));
        times.push(start.elapsed().as_secs_f64());
    }
    // The first run also builds what is built on first use (oblivious trees' tables).
    let first = times[0];
    times.sort_by(f64::total_cmp);
    let best = times[0];
    println!(
        "{{\"method\":\"{method}\",\"threads\":{threads},\"rows\":{},\"outputs\":{},\"best_s\":{best},\"median_s\":{},\"worst_s\":{},\"first_s\":{first},\"rows_per_s\":{},\"checksum\":{checksum}}}",
        x.nrows(),
        model.n_outputs(),
        times[times.len() / 2],
        times[times.len() - 1],
        x.nrows() as f64 / best
    );
}

/// Explain every row for every output; returns a sum so the work cannot be skipped.
fn run(model: &TreeEnsemble, x: &Array2<f64>, method: &str, reference: Option<&Reference>) -> f64 {
    let mut sum = 0.0;
    for k in 0..model.n_outputs() {
        let outputs = vec![k; x.nrows()];
        sum += match method {
            "path" => tree_shap::explain(model, x.view(), &outputs)
                .unwrap_or_else(|e| fail(&e.to_string()))
                .iter()
                .map(|e| e.attributions.iter().sum::<f64>())
                .sum::<f64>(),
            "interactions" => tree_shap::interactions(model, x.view(), &outputs)
                .unwrap_or_else(|e| fail(&e.to_string()))
                .iter()
                .map(|m| m.sum())
                .sum(),
            "interventional" => {
                let reference =
                    reference.unwrap_or_else(|| fail("interventional needs BACKGROUND"));
                tree_interventional::explain(model, reference, x.view(), &outputs, OutputSpace::Raw)
                    .unwrap_or_else(|e| fail(&e.to_string()))
                    .iter()
                    .map(|e| e.attributions.iter().sum::<f64>())
                    .sum()
            }
            "predict" | "predict_nodes" => {
                let block = std::env::var("BLOCK_ROWS")
                    .ok()
                    .and_then(|b| b.parse().ok())
                    .unwrap_or(x.nrows())
                    .max(1);
                let mut total = 0.0;
                for start in (0..x.nrows()).step_by(block) {
                    let rows = x.slice(s![start..(start + block).min(x.nrows()), ..]);
                    total += if method == "predict" {
                        model.predict(rows, OutputSpace::Raw).sum()
                    } else {
                        node_walk(model, rows, k)
                    };
                }
                total
            }
            other => fail(&format!("unknown method {other}")),
        };
    }
    sum
}

/// The prediction path before the flat layout: each row walks every tree node by node.
fn node_walk(model: &TreeEnsemble, rows: ndarray::ArrayView2<f64>, k: usize) -> f64 {
    rows.axis_iter(Axis(0))
        .into_par_iter()
        .map(|row| model.margin_of(&row.to_vec(), k))
        .sum()
}
