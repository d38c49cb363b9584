//! A weighted summary of the background for the sampling explainers: `K` k-means
//! centres, each weighted by the share of background rows in its cluster, as
//! shap's `shap.kmeans` builds them.
//!
//! # Fit
//! Seeded and deterministic: k-means++ seeding (Arthur and Vassilvitskii 2007) from
//! a ChaCha8 generator seeded with the request's seed on stream `u64::MAX − 1` (the
//! background sample of [`super::sampling`] uses `u64::MAX`, rows use their index),
//! then Lloyd iterations until no row changes cluster (at most
//! [`MAX_ITERATIONS`]); ties go to the lower centre. `K` is at most the number of
//! distinct rows: with `K` equal to it every distinct row is its own centre, weighted
//! by how often it occurs, and every explainer gives the values of the full
//! background.
//!
//! # Snapping and weights
//! As shap does (`round_values=True`), each centre's value of each feature is then
//! replaced by the background value of that feature nearest to it, so a summary of
//! a categorical or integer column holds only values the column holds; the weights
//! are the cluster sizes of the fit over the total, so they sum to 1. Centres are
//! never part of an answer; the answer names the summary (`Quality::background`).
//! The expectation over the weighted centres is not the expectation over the rows:
//! like shap's, this summary trades bias for `n / K` times fewer model rows.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::stop::Stop;
use crate::core::{CoreError, CoreResult};

/// Lloyd iterations at most; each is a pass over `rows × K` distances.
pub const MAX_ITERATIONS: usize = 100;

/// A weighted background: the rows the explainers integrate over and the
/// probability of each.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedBackground {
    /// The centres, (K, n_features).
    pub rows: Array2<f64>,
    /// One weight per centre, summing to 1.
    pub weights: Array1<f64>,
    /// What the answer says of it, e.g. "kmeans: 10 weighted centres of 100 rows …".
    pub note: String,
}

/// The weighted k-means summary of `data` with at most `k` centres (see the module
/// doc), seeded by `seed`, checking `stop` before each pass over the rows.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for `k = 0`, no rows, or a missing (non-finite)
/// background value, which has no distance; what `stop` reports.
pub(crate) fn kmeans(
    data: ArrayView2<f64>,
    k: usize,
    seed: u64,
    stop: &Stop,
) -> CoreResult<WeightedBackground> {
    if k == 0 || data.nrows() == 0 {
        return Err(CoreError::InvalidArgument(format!(
            "background.kmeans needs at least 1 centre and 1 background row, got {k} \
             centres of {} rows",
            data.nrows()
        )));
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(CoreError::InvalidArgument(
            "background.kmeans needs a background without missing values; use \
             max_background instead"
                .into(),
        ));
    }
    let distinct = distinct_rows(data);
    let k = k.min(distinct);
    let mut centres = seed_centres(data, k, seed);
    let mut labels = vec![usize::MAX; data.nrows()];
    for _ in 0..MAX_ITERATIONS {
        stop.check()?;
        let mut moved = false;
        for (i, row) in data.axis_iter(Axis(0)).enumerate() {
            let (nearest, _) = nearest(&centres, row);
            moved |= labels[i] != nearest;
            labels[i] = nearest;
        }
        if !moved {
            break;
        }
        update_centres(data, &labels, &mut centres);
    }
    let mut counts = vec![0usize; k];
    for &l in &labels {
        counts[l] += 1;
    }
    snap(data, &mut centres);
    let n = data.nrows() as f64;
    let weights = counts.iter().map(|&c| c as f64 / n).collect();
    Ok(WeightedBackground {
        rows: centres,
        weights,
        note: format!(
            "kmeans: {k} centres of {} background rows, weighted by cluster size, each \
             value snapped to the nearest background value of its feature (as shap.kmeans)",
            data.nrows()
        ),
    })
}

/// Squared Euclidean distance.
fn distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The nearest centre to `row` and its squared distance; ties to the lower index.
fn nearest(centres: &Array2<f64>, row: ArrayView1<f64>) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, centre) in centres.axis_iter(Axis(0)).enumerate() {
        let d = distance(centre, row);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

/// How many different rows `data` holds (bitwise equality).
fn distinct_rows(data: ArrayView2<f64>) -> usize {
    let mut rows: Vec<Vec<u64>> = data
        .axis_iter(Axis(0))
        .map(|r| r.iter().map(|v| (v + 0.0).to_bits()).collect())
        .collect();
    rows.sort_unstable();
    rows.dedup();
    rows.len()
}

/// k-means++: the first centre uniform, each next one a row drawn with probability
/// proportional to its squared distance to the nearest centre so far. `k` is at
/// most the number of distinct rows, so a row at positive distance always remains.
fn seed_centres(data: ArrayView2<f64>, k: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX - 1);
    let n = data.nrows();
    let mut centres = Array2::zeros((k, data.ncols()));
    centres.row_mut(0).assign(&data.row(rng.random_range(0..n)));
    let mut d2: Vec<f64> = data
        .axis_iter(Axis(0))
        .map(|r| distance(r, centres.row(0)))
        .collect();
    for c in 1..k {
        let total: f64 = d2.iter().sum();
        let mut u = rng.random::<f64>() * total;
        // The last row at positive distance, should rounding leave u past the end.
        let mut pick = d2.iter().rposition(|&d| d > 0.0).unwrap_or(0);
        for (i, &d) in d2.iter().enumerate() {
            if d > 0.0 && u < d {
                pick = i;
                break;
            }
            u -= d;
        }
        centres.row_mut(c).assign(&data.row(pick));
        for (i, row) in data.axis_iter(Axis(0)).enumerate() {
            d2[i] = d2[i].min(distance(row, centres.row(c)));
        }
    }
    centres
}

/// Each centre moves to the mean of its rows; a centre with none stays.
fn update_centres(data: ArrayView2<f64>, labels: &[usize], centres: &mut Array2<f64>) {
    let mut sums = Array2::<f64>::zeros(centres.dim());
    let mut counts = vec![0usize; centres.nrows()];
    for (row, &l) in data.axis_iter(Axis(0)).zip(labels) {
        sums.row_mut(l).scaled_add(1.0, &row);
        counts[l] += 1;
    }
    for (c, &count) in counts.iter().enumerate() {
        if count > 0 {
            centres.row_mut(c).assign(&(&sums.row(c) / count as f64));
        }
    }
}

/// Replace each centre value by the nearest value of its feature in `data` (the
/// first such row on a tie), as shap does.
fn snap(data: ArrayView2<f64>, centres: &mut Array2<f64>) {
    for (j, column) in data.axis_iter(Axis(1)).enumerate() {
        for mut centre in centres.axis_iter_mut(Axis(0)) {
            let target = centre[j];
            let mut best = (f64::INFINITY, target);
            for &v in column {
                let d = (v - target).abs();
                if d < best.0 {
                    best = (d, v);
                }
            }
            centre[j] = best.1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::explain::sampling::{SamplingOptions, SamplingParams};
    use crate::core::explain::tests_support::Mixed;
    use crate::core::explain::Explanation;
    use crate::core::models::{LinearModel, Model};
    use crate::core::stats::Reference;
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    #[test]
    fn k_equal_to_the_distinct_rows_gives_each_row_its_multiplicity() {
        // Rows a, b, a, c, a: 3 distinct, a three times.
        let data = array![[1.0, 2.0], [5.0, 0.0], [1.0, 2.0], [-3.0, 4.0], [1.0, 2.0]];
        let s = kmeans(data.view(), 10, 0, &Stop::default()).unwrap();
        assert_eq!(s.rows.nrows(), 3, "K is capped by the distinct rows");
        assert_abs_diff_eq!(s.weights.sum(), 1.0, epsilon = 1e-12);
        for (centre, &w) in s.rows.axis_iter(Axis(0)).zip(&s.weights) {
            let copies = data.axis_iter(Axis(0)).filter(|r| *r == centre).count();
            assert_eq!(w, copies as f64 / 5.0);
        }
    }

    #[test]
    fn centres_are_seeded_snapped_and_weighted_by_cluster_size() {
        // Two clumps on a line: 0, 1, 2 (one of them twice) and 100, 101.
        let data = array![[0.0], [1.0], [2.0], [1.0], [100.0], [101.0]];
        let s = kmeans(data.view(), 2, 7, &Stop::default()).unwrap();
        assert_eq!(
            s,
            kmeans(data.view(), 2, 7, &Stop::default()).unwrap(),
            "seeded"
        );
        let mut pairs: Vec<(f64, f64)> = s.rows.column(0).iter().copied().zip(s.weights).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Means 1 and 100.5: the first is a data value, the second snaps to 100
        // (the first of the two equally near values).
        assert_eq!(pairs, vec![(1.0, 4.0 / 6.0), (100.0, 2.0 / 6.0)]);
        assert!(s.note.contains("2 centres of 6"));
    }

    /// Every estimator that reads the background, with and without the summary.
    fn both_ways(model: &dyn Model, k: usize) -> Vec<(Explanation, Explanation)> {
        use crate::core::explain::{exact_shapley, kernel_shap, permutation_shap};
        // 12 rows, 3 distinct (i² mod 5 is 0, 1 or 4), 3, 5 and 4 times.
        let data = Array2::from_shape_fn((12, 5), |(i, j)| ((i * i % 5) * 3 + j * j) as f64 / 4.0);
        let reference = Reference::new(model, data);
        let x = array![[1.0, -2.0, 0.5, 2.0, -1.0]];
        let explainers: [Explain; 3] = [
            kernel_shap::explain,
            permutation_shap::explain,
            exact_shapley::explain,
        ];
        let with = |kmeans| {
            SamplingParams {
                n_samples: Some(24),
                seed: 5,
                kmeans,
                ..SamplingParams::default()
            }
            .check(model)
            .unwrap()
        };
        explainers
            .iter()
            .map(|explain| {
                let full = explain(model, &reference, x.view(), &[0], &with(None)).unwrap();
                let summary = explain(model, &reference, x.view(), &[0], &with(Some(k))).unwrap();
                (full[0].clone(), summary[0].clone())
            })
            .collect()
    }

    type Explain = fn(
        &dyn Model,
        &Reference,
        ArrayView2<f64>,
        &[usize],
        &SamplingOptions,
    ) -> CoreResult<Vec<Explanation>>;

    #[test]
    fn a_summary_of_every_distinct_row_gives_the_values_of_the_full_background() {
        // The centres are the 3 distinct rows, of weights 3/12, 5/12 and 4/12: the
        // weighted expectation over them is the mean over the 12 rows, for any
        // coalition (an unweighted mean over the centres would not be).
        let linear = LinearModel::regression(array![[1.0, -2.0, 0.0, 4.0, 0.5]], array![1.0]);
        let models: [&dyn Model; 2] = [&Mixed { n_features: 5 }, &linear.unwrap()];
        for model in models {
            for (full, summary) in both_ways(model, 3) {
                assert_abs_diff_eq!(full.base_value, summary.base_value, epsilon = 1e-12);
                for (a, b) in full.attributions.iter().zip(&summary.attributions) {
                    assert_abs_diff_eq!(a, b, epsilon = 1e-9);
                }
                assert_eq!(full.quality.background, None);
                let note = summary.quality.background.unwrap();
                assert!(note.starts_with("kmeans: 3 centres of 12"), "{note}");
            }
        }
        // Fewer centres than distinct rows: a different (summarised) game.
        let (full, fewer) = both_ways(&Mixed { n_features: 5 }, 2).remove(2);
        assert!((full.base_value - fewer.base_value).abs() > 1e-6);
    }

    #[test]
    fn missing_values_and_zero_centres_are_refused() {
        let data = array![[0.0], [f64::NAN]];
        assert!(kmeans(data.view(), 1, 0, &Stop::default()).is_err());
        assert!(kmeans(array![[0.0]].view(), 0, 0, &Stop::default()).is_err());
    }
}
