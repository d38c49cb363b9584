//! Per-feature statistics of a reference (background) data set, and the summary
//! explainers need of it. The rows themselves never leave the process.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::models::{Model, OutputSpace};

/// Column statistics of a data set: what `/weights` reports instead of rows.
#[derive(Debug, Clone)]
pub struct FeatureStats {
    /// Column means.
    pub mean: Array1<f64>,
    /// Population standard deviations (divide by n), as shap and numpy's default use.
    pub std: Array1<f64>,
    /// Column minima.
    pub min: Array1<f64>,
    /// Column maxima.
    pub max: Array1<f64>,
    /// Column medians (the mean of the two middle values for an even count): a
    /// typical value to start from, e.g. to pre-fill a form.
    pub median: Array1<f64>,
}

impl FeatureStats {
    /// Statistics of the finite values of each column of `x` (NaN, "missing", is skipped).
    pub fn of(x: ArrayView2<f64>) -> Self {
        let f = x.ncols();
        let mut stats = FeatureStats {
            mean: Array1::zeros(f),
            std: Array1::zeros(f),
            min: Array1::from_elem(f, f64::NAN),
            max: Array1::from_elem(f, f64::NAN),
            median: Array1::from_elem(f, f64::NAN),
        };
        for (j, col) in x.axis_iter(Axis(1)).enumerate() {
            let mut finite: Vec<f64> = col.iter().copied().filter(|v| v.is_finite()).collect();
            if finite.is_empty() {
                stats.mean[j] = f64::NAN;
                stats.std[j] = f64::NAN;
                continue;
            }
            let n = finite.len() as f64;
            let mean = finite.iter().sum::<f64>() / n;
            let var = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            stats.mean[j] = mean;
            stats.std[j] = var.sqrt();
            stats.min[j] = finite.iter().copied().fold(f64::INFINITY, f64::min);
            stats.max[j] = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            finite.sort_by(f64::total_cmp);
            let mid = finite.len() / 2;
            stats.median[j] = if finite.len() % 2 == 1 {
                finite[mid]
            } else {
                (finite[mid - 1] + finite[mid]) / 2.0
            };
        }
        stats
    }
}

/// A quantile (linear interpolation of the sorted values, as numpy's default), except that it never lands on a single row: when the position
/// p·(n − 1) falls on a whole rank (within 10⁻⁹) it moves half a rank up (down from
/// the last), so the value lies strictly between two neighbouring order statistics
/// and equals a value of the data only where two or more rows hold it (or n = 1).
/// Moving every whole rank the same way keeps distinct positions apart. What
/// readers see of a column's spread is built from these (issue 15).
pub fn private_quantile(sorted: &[f64], p: f64) -> f64 {
    let last = sorted.len().saturating_sub(1) as f64;
    private_quantile_at(sorted, p.clamp(0.0, 1.0) * last)
}

/// The value at position `h` (0 = the smallest, n − 1 = the largest; clamped to
/// that range) of sorted values, interpolating linearly between the order
/// statistics around it, kept off a single row's value as [`private_quantile`]
/// keeps it: a whole rank moves half a rank up (down from the last).
pub fn private_quantile_at(sorted: &[f64], h: f64) -> f64 {
    let n = sorted.len();
    if n < 2 {
        return sorted[0];
    }
    let last = (n - 1) as f64;
    let mut h = h.clamp(0.0, last);
    let rank = h.round();
    if (h - rank).abs() < 1e-9 {
        h = if rank < last { rank + 0.5 } else { rank - 0.5 };
    }
    let lo = (h.floor() as usize).min(n - 2);
    let (a, b) = (sorted[lo], sorted[lo + 1]);
    // Weighted means, not `a + t * (b - a)`, whose span overflows near ±f64::MAX.
    let t = h - lo as f64;
    let q = a * (1.0 - t) + b * t;
    // Rounding can land on a neighbour when they are close: take the midpoint.
    if a != b && (q == a || q == b) {
        a * 0.5 + b * 0.5
    } else {
        q
    }
}

/// A model's background data with what explainers precompute from it once.
#[derive(Debug, Clone)]
pub struct Reference {
    /// The rows, (n, n_features). Used by interventional and sampling explainers;
    /// never serialised into an answer.
    pub data: Array2<f64>,
    /// Column statistics.
    pub stats: FeatureStats,
    /// Mean raw output over the rows, one per model output: E[f(X)].
    pub mean_raw: Array1<f64>,
    /// Mean prediction after the link, one per output: E[link(f(X))].
    pub mean_transformed: Array1<f64>,
}

impl Reference {
    /// Summarise `data` for `model`. Callers have checked its width and values.
    pub fn new(model: &dyn Model, data: Array2<f64>) -> Self {
        let stats = FeatureStats::of(data.view());
        let raw = model.predict(data.view(), OutputSpace::Raw);
        let transformed = model.predict(data.view(), OutputSpace::Probability);
        let n_out = model.n_outputs();
        let mean_raw = raw
            .mean_axis(Axis(0))
            .unwrap_or_else(|| Array1::zeros(n_out));
        let mean_transformed = transformed
            .mean_axis(Axis(0))
            .unwrap_or_else(|| Array1::zeros(n_out));
        Reference {
            data,
            stats,
            mean_raw,
            mean_transformed,
        }
    }

    /// Number of background rows.
    pub fn rows(&self) -> usize {
        self.data.nrows()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn medians_skip_missing_values() {
        let x = array![[1.0, 4.0], [9.0, f64::NAN], [2.0, 1.0], [3.0, 2.0]];
        let stats = FeatureStats::of(x.view());
        // Column 0 sorted: 1 2 3 9 -> (2 + 3) / 2; column 1: 1 2 4 -> 2.
        assert_eq!(stats.median.to_vec(), vec![2.5, 2.0]);
    }
}
