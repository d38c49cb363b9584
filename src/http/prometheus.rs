//! Live statistics in the Prometheus text format, as counters since the version
//! was loaded, so that `rate()`/`increase()` give any window and `sum by` adds
//! replicas. The PromQL for the mean |φ| and the PSI across replicas is in
//! docs/operations.md.

use std::fmt::Write;
use std::sync::Arc;

use crate::live::{now_ms, Snapshot};
use crate::metrics::{escape, Sample};
use crate::registry::ModelEntry;

/// A per-feature family: name, type, help, and which sums it shows.
type SumFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Snapshot) -> &[f64],
);

/// One model version's labels and totals.
struct Series<'a> {
    entry: &'a ModelEntry,
    labels: String,
    total: Snapshot,
}

/// Append the `explaind_live_*` families for every model in `entries`. Models with
/// more than `max_features` features export only their totals (per-feature
/// series would swamp Prometheus); the JSON summary still has everything.
pub fn render(out: &mut String, entries: &[Arc<ModelEntry>], max_features: usize) {
    let now = now_ms();
    let all: Vec<Series> = entries
        .iter()
        .map(|entry| Series {
            labels: format!(
                "model=\"{}\",version=\"{}\"",
                escape(&entry.name),
                entry.version
            ),
            total: entry.live.snapshot_at(now).0,
            entry,
        })
        .collect();
    family(
        out,
        "attributions_total",
        "counter",
        "Attribution vectors served in raw space, per explained output.",
    );
    for s in &all {
        for (k, n) in s.total.by_output.iter().enumerate() {
            let output = escape(&s.entry.built.output_names[k]);
            let _ = writeln!(
                out,
                "explaind_live_attributions_total{{{},output=\"{output}\"}} {n}",
                s.labels
            );
        }
    }
    family(
        out,
        "attributions_out_of_range_total",
        "counter",
        "Attribution vectors left out of the sums: a value beyond +-1e280 or not finite.",
    );
    for s in &all {
        let _ = writeln!(
            out,
            "explaind_live_attributions_out_of_range_total{{{}}} {}",
            s.labels, s.total.out_of_range
        );
    }
    family(
        out,
        "rows_total",
        "counter",
        "Instances explained whose feature values were counted for drift.",
    );
    for s in &all {
        let _ = writeln!(
            out,
            "explaind_live_rows_total{{{}}} {}",
            s.labels, s.total.rows
        );
    }
    let detailed: Vec<&Series> = all
        .iter()
        .filter(|s| s.entry.built.feature_names.len() <= max_features)
        .collect();
    let sums: [SumFamily; 3] = [
        (
            "attribution_abs_sum",
            "counter",
            "Sum of |attribution| per feature (raw space).",
            |t| &t.abs_sum,
        ),
        (
            "attribution_positive_sum",
            "counter",
            "Sum of the positive attributions per feature (raw space).",
            |t| &t.positive_sum,
        ),
        (
            "attribution_sum",
            "gauge",
            "Sum of attributions per feature (raw space; not monotonic, use delta()).",
            |t| &t.sum,
        ),
    ];
    for (name, kind, help, values) in sums {
        family(out, name, kind, help);
        for s in &detailed {
            for (feature, v) in s.entry.built.feature_names.iter().zip(values(&s.total)) {
                let _ = writeln!(
                    out,
                    "explaind_live_{name}{{{},feature=\"{}\"}} {}",
                    s.labels,
                    escape(feature),
                    Sample(*v)
                );
            }
        }
    }
    family(
        out,
        "feature_bin_total",
        "counter",
        "Served feature values per PSI bin (background quantile bins; bin \"missing\" for null).",
    );
    bins(out, &detailed, "feature_bin_total", |s, j, b| {
        s.total.bin_counts[j][b].to_string()
    });
    family(
        out,
        "feature_bin_expected_ratio",
        "gauge",
        "The background's share of each PSI bin.",
    );
    bins(out, &detailed, "feature_bin_expected_ratio", |s, j, b| {
        Sample(s.entry.live.bins().map_or(0.0, |all| all[j].expected()[b])).to_string()
    });
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP explaind_live_{name} {help}");
    let _ = writeln!(out, "# TYPE explaind_live_{name} {kind}");
}

/// One line per feature and bin of the models that have bins.
fn bins(
    out: &mut String,
    all: &[&Series],
    name: &str,
    value: impl Fn(&Series, usize, usize) -> String,
) {
    for s in all {
        let Some(bins) = s.entry.live.bins() else {
            continue;
        };
        for (j, (feature, b)) in s.entry.built.feature_names.iter().zip(bins).enumerate() {
            for bin in 0..b.len() {
                let label = if bin + 1 == b.len() {
                    "missing".to_string()
                } else {
                    bin.to_string()
                };
                let _ = writeln!(
                    out,
                    "explaind_live_{name}{{{},feature=\"{}\",bin=\"{label}\"}} {}",
                    s.labels,
                    escape(feature),
                    value(s, j, bin)
                );
            }
        }
    }
}
