//! Times what live importance adds to each explanation served: one
//! `LiveStats::record` of a one-row answer of the embedded house-price model (11
//! features, 1 output, PSI bins from its 546 background rows), on 1 and on 2
//! threads at once (each thread on its own shard, as the server's workers are),
//! and the assembly of the `live` section of `/global` (summary and JSON).
//!
//! Usage: `bench_live [RECORDS]` (default 5,000,000 per thread). Prints one JSON
//! line per measurement, each the best of 5 rounds, as wall time and as CPU time
//! (the process's user + system time from /proc/self/stat, 10 ms ticks): on a
//! loaded machine the wall figure includes time spent waiting for a core.

use std::time::Instant;

use explaind::core::explain::{Explanation, Method};
use explaind::core::models::OutputSpace;
use explaind::explainer::Outcome;
use explaind::live::{LiveConfig, LiveStats};
use explaind::registry::Registry;
use explaind::summary::live as view;
use ndarray::array;

/// The process's user + system CPU time in seconds (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(5_000_000, |s| s.parse().expect("a count"));
    let registry = Registry::new(None);
    let spec = explaind::demo::house_prices_spec().expect("demo model");
    registry
        .insert_ephemeral("house-prices", &spec)
        .expect("demo registers");
    let entry = registry.get("house-prices").expect("registered");
    let built = &entry.built;
    let live = LiveStats::new(
        built.feature_names.len(),
        built.output_names.len(),
        built.reference.as_ref().map(|r| r.data.view()),
        built.model.raw_features(),
        LiveConfig::default(),
    );
    let x = array![[5850.0, 3.0, 1.0, 2.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]];
    let phi = vec![
        -1200.0, 300.0, -2000.0, 900.0, 1500.0, -400.0, 2100.0, -300.0, -3000.0, 1800.0, -1900.0,
    ];
    let outcome = Outcome {
        method: Method::LinearShap,
        explanations: vec![Explanation::new(0, 60000.0, 68000.0, phi)],
        interactions: None,
        grouped: false,
        instances: None,
        anchors: None,
    };
    for threads in [1usize, 2] {
        let (best, best_cpu) = (0..5)
            .map(|_| {
                let start = Instant::now();
                let cpu = cpu_seconds();
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        s.spawn(|| {
                            for _ in 0..n {
                                live.record(x.view(), &outcome, OutputSpace::Raw);
                            }
                        });
                    }
                });
                (start.elapsed().as_secs_f64(), cpu_seconds() - cpu)
            })
            .fold((f64::INFINITY, f64::INFINITY), |(w, c), (a, b)| {
                (w.min(a), c.min(b))
            });
        println!(
            "{{\"what\":\"record one row\",\"threads\":{threads},\"records_per_thread\":{n},\"wall_ns_per_record\":{:.1},\"cpu_ns_per_record\":{:.1}}}",
            best * 1e9 / n as f64,
            best_cpu * 1e9 / (n * threads) as f64
        );
    }
    let baseline = explaind::summary::global_summary(&entry.as_version(), 1000)
        .expect("the demo has a background");
    let rounds = 2000;
    let best = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..rounds {
                let section = view::summarise(
                    &live,
                    &built.feature_names,
                    &baseline,
                    explaind::live::now_ms(),
                );
                std::hint::black_box(serde_json::to_vec(&section).expect("serialises"));
            }
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    println!(
        "{{\"what\":\"live section of /global\",\"us_per_answer\":{:.1}}}",
        best * 1e6 / rounds as f64
    );
}
