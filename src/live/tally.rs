//! The sums one shard keeps for one stretch of time, in flat pre-allocated arrays.

use ndarray::ArrayView1;

use super::Snapshot;
use crate::core::explain::Explanation;
use crate::core::global::drift::FeatureBins;

/// Largest |φ| added to the sums. A sum of 2⁶⁴ values (more than a `u64` count
/// holds) each at most this is below 2·10²⁹⁹, far from `f64::MAX` (1.8·10³⁰⁸) even
/// with rounding, so no sum, bucket or merge of them ever overflows: one request of
/// huge finite attributions (1e308 is a finite input) cannot make the totals
/// infinite for the rest of the version's life.
pub(super) const MAX_COUNTED: f64 = 1e280;

/// Sizes every tally of a version shares.
#[derive(Debug)]
pub(super) struct Layout {
    /// Input features.
    pub n_features: usize,
    /// Model outputs.
    pub n_outputs: usize,
    /// PSI bins per feature, when the version has a background.
    pub bins: Option<Vec<FeatureBins>>,
    /// Start of each feature's bins in [`Tally::bins`]; one extra end entry.
    offsets: Vec<usize>,
}

impl Layout {
    pub fn new(n_features: usize, n_outputs: usize, bins: Option<Vec<FeatureBins>>) -> Self {
        let mut offsets = vec![0];
        if let Some(bins) = &bins {
            for b in bins {
                offsets.push(offsets.last().copied().unwrap_or(0) + b.len());
            }
        }
        Layout {
            n_features,
            n_outputs,
            bins,
            offsets,
        }
    }

    /// A zeroed tally of this layout.
    pub fn tally(&self) -> Tally {
        Tally {
            explanations: 0,
            out_of_range: 0,
            by_output: vec![0; self.n_outputs],
            abs_sum: vec![0.0; self.n_features],
            sum: vec![0.0; self.n_features],
            positive_sum: vec![0.0; self.n_features],
            rows: 0,
            bins: vec![0; self.offsets.last().copied().unwrap_or(0)],
        }
    }
}

/// Counts and sums of one stretch of time.
#[derive(Debug, Clone)]
pub(super) struct Tally {
    explanations: u64,
    /// Explanations left out of the sums: an attribution not finite or beyond
    /// ±[`MAX_COUNTED`].
    out_of_range: u64,
    by_output: Vec<u64>,
    abs_sum: Vec<f64>,
    sum: Vec<f64>,
    positive_sum: Vec<f64>,
    rows: u64,
    /// Counts of served values per bin, all features' bins end to end.
    bins: Vec<u64>,
}

impl Tally {
    /// Back to zero, keeping the allocations.
    pub fn clear(&mut self) {
        self.explanations = 0;
        self.out_of_range = 0;
        self.rows = 0;
        self.by_output.fill(0);
        self.abs_sum.fill(0.0);
        self.sum.fill(0.0);
        self.positive_sum.fill(0.0);
        self.bins.fill(0);
    }

    /// Count one served instance's values in their bins.
    pub fn add_row(&mut self, layout: &Layout, row: ArrayView1<f64>) {
        self.rows += 1;
        if let Some(bins) = &layout.bins {
            for ((b, &v), start) in bins.iter().zip(row).zip(&layout.offsets) {
                self.bins[start + b.bin_of(v)] += 1;
            }
        }
    }

    /// Add one explanation's per-feature attributions; one of the wrong length is
    /// skipped, one with a value not finite or beyond ±[`MAX_COUNTED`] is counted as
    /// out of range instead.
    pub fn add_explanation(&mut self, layout: &Layout, e: &Explanation) {
        let phi = &e.attributions;
        if phi.len() != layout.n_features || e.output >= layout.n_outputs {
            return;
        }
        if !phi.iter().all(|v| v.abs() <= MAX_COUNTED) {
            self.out_of_range += 1;
            return;
        }
        self.explanations += 1;
        self.by_output[e.output] += 1;
        for (j, &v) in phi.iter().enumerate() {
            self.abs_sum[j] += v.abs();
            self.sum[j] += v;
            self.positive_sum[j] += v.max(0.0);
        }
    }

    /// Add another tally of the same layout.
    pub fn merge(&mut self, other: &Tally) {
        self.explanations += other.explanations;
        self.out_of_range += other.out_of_range;
        self.rows += other.rows;
        add(&mut self.by_output, &other.by_output);
        add(&mut self.bins, &other.bins);
        for (a, b) in [
            (&mut self.abs_sum, &other.abs_sum),
            (&mut self.sum, &other.sum),
            (&mut self.positive_sum, &other.positive_sum),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }

    /// The tally as a [`Snapshot`], bins split per feature.
    pub fn snapshot(self, layout: &Layout) -> Snapshot {
        let bin_counts = layout
            .offsets
            .windows(2)
            .map(|w| self.bins[w[0]..w[1]].to_vec())
            .collect();
        Snapshot {
            explanations: self.explanations,
            out_of_range: self.out_of_range,
            by_output: self.by_output,
            abs_sum: self.abs_sum,
            sum: self.sum,
            positive_sum: self.positive_sum,
            rows: self.rows,
            bin_counts,
        }
    }
}

fn add(a: &mut [u64], b: &[u64]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}
