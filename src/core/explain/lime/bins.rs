//! LIME's discretiser and perturbation draws: each feature's quartile bins
//! (module doc of [`super`], steps 1 and 2) and the fixed-size samplers the
//! sampling loop reads.

use ndarray::ArrayView1;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// One feature's quartile bins and what lime keeps of each.
pub(super) struct Bins {
    /// Distinct quartile boundaries, ascending.
    boundaries: Vec<f64>,
    /// Per bin: mean of the reference values in it.
    means: Vec<f64>,
    /// Per bin: their standard deviation plus 1e-11.
    stds: Vec<f64>,
    /// Per bin: lower bound (previous boundary or the column minimum).
    lows: Vec<f64>,
    /// Per bin: upper bound (next boundary or the column maximum).
    highs: Vec<f64>,
    /// Per bin: cumulative share of reference rows, for drawing a bin.
    cumulative: Vec<f64>,
    /// A categorical feature: the distinct codes of the reference (NaN, missing,
    /// last), one bin each; `None` for quartile bins.
    levels: Option<Vec<f64>>,
}

impl Bins {
    /// Quartile bins of one reference column.
    pub(super) fn quartiles(column: ArrayView1<f64>) -> Self {
        let mut sorted: Vec<f64> = column.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut boundaries: Vec<f64> = [25.0, 50.0, 75.0]
            .iter()
            .map(|&q| percentile(&sorted, q))
            .collect();
        boundaries.dedup();
        let n_bins = boundaries.len() + 1;
        let mut members = vec![Vec::new(); n_bins];
        let mut bins = Bins {
            boundaries,
            means: vec![0.0; n_bins],
            stds: vec![1e-11; n_bins],
            lows: Vec::with_capacity(n_bins),
            highs: Vec::with_capacity(n_bins),
            cumulative: Vec::with_capacity(n_bins),
            levels: None,
        };
        for &v in &sorted {
            members[bins.bin_of(v)].push(v);
        }
        for (b, m) in members.iter().enumerate() {
            if !m.is_empty() {
                let mean = m.iter().sum::<f64>() / m.len() as f64;
                let var = m.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m.len() as f64;
                bins.means[b] = mean;
                bins.stds[b] = var.sqrt() + 1e-11;
            }
        }
        let (first, last) = (sorted[0], sorted[sorted.len() - 1]);
        bins.lows.push(first);
        bins.lows.extend(bins.boundaries.iter().copied());
        bins.highs.extend(bins.boundaries.iter().copied());
        bins.highs.push(last);
        let mut acc = 0.0;
        for m in &members {
            acc += m.len() as f64 / sorted.len() as f64;
            bins.cumulative.push(acc);
        }
        bins
    }

    /// The bins of a categorical reference column (lime's `categorical_features`):
    /// each category is its own bin, drawn with its share of the reference rows
    /// and never mixed with another; missing values (NaN) are a category too.
    pub(super) fn categories(column: ArrayView1<f64>) -> Self {
        let mut levels: Vec<f64> = column.to_vec();
        levels.sort_by(f64::total_cmp);
        levels.dedup_by(|a, b| a.total_cmp(b).is_eq());
        let mut bins = Bins {
            boundaries: Vec::new(),
            means: levels.clone(),
            stds: vec![0.0; levels.len()],
            lows: levels.clone(),
            highs: levels.clone(),
            cumulative: Vec::with_capacity(levels.len()),
            levels: Some(levels),
        };
        let mut counts = vec![0usize; bins.means.len() + 1];
        for &v in column {
            counts[bins.bin_of(v)] += 1;
        }
        let mut acc = 0.0;
        for c in &counts[..bins.means.len()] {
            acc += *c as f64 / column.len() as f64;
            bins.cumulative.push(acc);
        }
        bins
    }

    /// Whether the feature is categorical (drawn from reference rows, not sampled).
    pub(super) fn is_categorical(&self) -> bool {
        self.levels.is_some()
    }

    /// The bin of `v`: how many boundaries lie strictly below it; a category's own
    /// bin, or one past the last for a category the reference does not hold.
    pub(super) fn bin_of(&self, v: f64) -> usize {
        match &self.levels {
            None => self.boundaries.iter().take_while(|&&b| b < v).count(),
            Some(levels) => levels
                .iter()
                .position(|l| l.total_cmp(&v).is_eq())
                .unwrap_or(levels.len()),
        }
    }

    /// The reference's share of rows in bin `b` (0 past the last bin).
    pub(super) fn share(&self, b: usize) -> f64 {
        if b >= self.cumulative.len() {
            return 0.0;
        }
        self.cumulative[b] - if b == 0 { 0.0 } else { self.cumulative[b - 1] }
    }

    /// The feature as the sampling loop reads it.
    pub(super) fn sampler(&self) -> Sampler {
        let n = self.cumulative.len();
        let pad = |v: &[f64], fill: f64| -> [f64; MAX_BINS] {
            std::array::from_fn(|b| v.get(b).copied().unwrap_or(fill))
        };
        Sampler {
            thresholds: std::array::from_fn(|b| {
                if b + 1 < n {
                    self.cumulative[b]
                } else {
                    f64::INFINITY
                }
            }),
            total: self.cumulative.last().copied().unwrap_or(1.0),
            means: pad(&self.means, 0.0),
            stds: pad(&self.stds, 0.0),
            lows: pad(&self.lows, 0.0),
            highs: pad(&self.highs, 0.0),
        }
    }
}

/// At most this many bins per feature: three quartile boundaries.
const MAX_BINS: usize = 4;

/// One feature's bins in fixed-size arrays, so the sampling loop chases no
/// pointers; unused bins are never drawn.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sampler {
    /// Cumulative share of bins `0..b`, for the bins but the last (+∞ beyond).
    thresholds: [f64; MAX_BINS - 1],
    /// The cumulative share of all bins (1 up to rounding).
    total: f64,
    /// Per bin: mean, standard deviation and bounds, as in [`Bins`].
    means: [f64; MAX_BINS],
    stds: [f64; MAX_BINS],
    lows: [f64; MAX_BINS],
    highs: [f64; MAX_BINS],
}

impl Sampler {
    /// A bin drawn with the reference's bin frequencies.
    #[inline(always)]
    pub(super) fn draw_bin(&self, rng: &mut impl Rng) -> usize {
        let u = rng.random::<f64>() * self.total;
        // The first bin whose cumulative share exceeds u, counted without branches
        // (the bins are drawn at random, so a search's branches would mispredict).
        self.thresholds.iter().map(|&c| usize::from(c <= u)).sum()
    }

    /// The first try of [`Sampler::draw_value`], without a branch on the draw:
    /// the value, and whether it stands (it is in bounds). When it does not, the
    /// value is a fresh [`Sampler::draw_value`], which rejection sampling makes the
    /// same distribution.
    #[inline(always)]
    pub(super) fn try_value(&self, bin: usize, rng: &mut impl Rng) -> (f64, bool) {
        let (low, high) = (self.lows[bin], self.highs[bin]);
        let v = self.means[bin] + self.stds[bin] * standard_normal(rng);
        let point = low >= high;
        let inside = (v >= low) & (v <= high);
        (if point { low } else { v }, point | inside)
    }

    /// A value from the bin's normal truncated to its bounds (by rejection, falling
    /// back to a uniform draw on the bounds after 64 misses).
    pub(super) fn draw_value(&self, bin: usize, rng: &mut impl Rng) -> f64 {
        let (low, high) = (self.lows[bin], self.highs[bin]);
        if low >= high {
            return low;
        }
        let (mean, sd) = (self.means[bin], self.stds[bin]);
        for _ in 0..64 {
            let v = mean + sd * standard_normal(rng);
            if (low..=high).contains(&v) {
                return v;
            }
        }
        low + (high - low) * rng.random::<f64>()
    }
}

/// numpy's default (linear interpolation) percentile `q` of sorted values.
pub(super) fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}

/// A standard normal draw (the ziggurat method of Marsaglia and Tsang 2000, as
/// `rand_distr` implements it: one uniform draw and a table look-up nearly always).
#[inline(always)]
fn standard_normal(rng: &mut impl Rng) -> f64 {
    Distribution::<f64>::sample(&StandardNormal, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn a_first_try_stands_exactly_when_it_is_in_bounds() {
        // Quartile bins of 0, 1, …, 99, and a column whose upper bins collapse to a
        // point (every value above the median is 5).
        let spread = Array1::from_shape_fn(100, |i| i as f64);
        let point = Array1::from_shape_fn(100, |i| if i < 40 { i as f64 / 10.0 } else { 5.0 });
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let (mut misses, mut tries) = (0, 0);
        for column in [spread, point] {
            let bins = Bins::quartiles(column.view());
            let s = bins.sampler();
            for bin in 0..bins.cumulative.len() {
                let (low, high) = (s.lows[bin], s.highs[bin]);
                for _ in 0..2000 {
                    let (v, stands) = s.try_value(bin, &mut rng);
                    tries += 1;
                    if low >= high {
                        assert!(stands && v == low, "a point bin gives its bound");
                    } else {
                        assert_eq!(stands, (low..=high).contains(&v), "{v} in [{low}, {high}]");
                    }
                    misses += usize::from(!stands);
                    let again = s.draw_value(bin, &mut rng);
                    assert!((low.min(high)..=high.max(low)).contains(&again));
                }
            }
        }
        // The bins' normals reach past their bounds now and then, so both branches
        // of the sampling loop are exercised.
        assert!(misses > 0 && misses < tries / 2, "{misses} of {tries}");
    }
}
