//! The `live` section of `/models/{name}/global`: the served statistics beside the
//! background baseline, with a drift score per feature.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::GlobalSummary;
use crate::live::{LiveStats, Snapshot};

/// Attributions served by this process for this model version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LiveSummary {
    /// Space of the attributions counted: always `raw` (probability-space and
    /// grouped answers add only their rows, for drift).
    pub output_space: String,
    /// Length of the sliding window, in seconds.
    pub window_secs: u64,
    /// Resolution of the window, in seconds: it covers the last `window_secs`,
    /// counted in whole buckets, the current partial one included.
    pub bucket_secs: u64,
    /// The sliding window.
    pub window: LiveWindow,
    /// Since this version was loaded by this process.
    pub since_start: LiveWindow,
}

/// Served statistics over one stretch of time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LiveWindow {
    /// Attribution vectors counted (one per explained row and output).
    pub explanations: u64,
    /// Attribution vectors left out of `explanations` and the means: one of their
    /// values was beyond ±10²⁸⁰ (huge finite inputs), where sums could overflow.
    pub out_of_range: u64,
    /// Instances whose feature values were counted for drift.
    pub rows: u64,
    /// Explanations per output, aligned with the summary's `outputs`.
    pub by_output: Vec<u64>,
    /// One entry per feature, in input order.
    pub features: Vec<LiveFeature>,
}

/// One feature's served statistics and drift.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LiveFeature {
    /// Feature name.
    pub name: String,
    /// Mean |φ| over the explanations counted (null when none).
    pub mean_abs: Option<f64>,
    /// Mean φ over them (null when none).
    pub mean: Option<f64>,
    /// The background's mean |φ| for the same mix of outputs: Σ_k n_k·baseline_k / n,
    /// with `baseline_k` the summary's `importance_by_output` (null when none counted).
    pub baseline_mean_abs: Option<f64>,
    /// `(mean_abs − baseline_mean_abs) / baseline_mean_abs`: +0.5 means served rows
    /// lean 50% more on this feature than the background does (null when either is
    /// missing or the baseline is 0).
    pub importance_shift: Option<f64>,
    /// Population stability index of the served values against the background's
    /// quantile bins (below 0.1 stable, 0.1–0.25 moderate, above 0.25 a significant
    /// shift; see the operations guide). Null without a background or rows.
    pub psi: Option<f64>,
}

/// The `live` section for `stats` at `now_ms`, against the background summary;
/// `names` are the model's feature names in input order.
pub fn summarise(
    stats: &LiveStats,
    names: &[String],
    baseline: &GlobalSummary,
    now_ms: u64,
) -> LiveSummary {
    let (total, window) = stats.snapshot_at(now_ms);
    let by_name: HashMap<&str, &[f64]> = baseline
        .features
        .iter()
        .map(|f| (f.name.as_str(), f.importance_by_output.as_slice()))
        .collect();
    let section = |s: Snapshot| window_view(stats, s, names, &by_name);
    let config = stats.config();
    LiveSummary {
        output_space: "raw".into(),
        window_secs: config.window_secs,
        bucket_secs: config.bucket_secs,
        window: section(window),
        since_start: section(total),
    }
}

fn window_view(
    stats: &LiveStats,
    s: Snapshot,
    names: &[String],
    baseline: &HashMap<&str, &[f64]>,
) -> LiveWindow {
    let n = s.explanations as f64;
    let features = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let counted = s.explanations > 0;
            let mean_abs = counted.then(|| s.abs_sum[j] / n);
            let base = baseline.get(name.as_str()).filter(|_| counted).map(|b| {
                s.by_output
                    .iter()
                    .zip(b.iter())
                    .map(|(&c, &v)| c as f64 * v)
                    .sum::<f64>()
                    / n
            });
            let shift = match (mean_abs, base) {
                (Some(m), Some(b)) if b > 0.0 => Some((m - b) / b),
                _ => None,
            };
            LiveFeature {
                name: name.clone(),
                mean_abs,
                mean: counted.then(|| s.sum[j] / n),
                baseline_mean_abs: base,
                importance_shift: shift,
                psi: stats.bins().and_then(|b| b[j].psi(&s.bin_counts[j])),
            }
        })
        .collect();
    LiveWindow {
        explanations: s.explanations,
        out_of_range: s.out_of_range,
        rows: s.rows,
        by_output: s.by_output,
        features,
    }
}

#[cfg(test)]
mod tests;
