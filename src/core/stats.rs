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
