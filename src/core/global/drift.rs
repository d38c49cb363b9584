//! Drift of served feature values against the background: quantile bins fixed at
//! registration and the population stability index (PSI).
//!
//! # Bins
//! Each feature's bin edges are the distinct quantiles at `i / B` (`i = 1 … B−1`,
//! linearly interpolated as [`private_quantile`] does, so that no edge is a single
//! background row's value) of its finite background values; `B` is at most the
//! background's rows over `min_rows`, so a served value's bin, which a client can
//! probe, tells about groups of rows, never about one; a value
//! falls in the bin numbered by how many edges lie strictly below it, so there are
//! at most `B` value bins. Missing values (NaN) have a bin of their own, the last.
//! The expected share of each bin is measured on the background with the same
//! rule, so features with few distinct values (0/1 flags, counts) get fewer, uneven
//! bins and still compare like with like.
//!
//! A categorical feature (see [`crate::core::models::raw`]) has a bin per category
//! held by at least `min_rows` background rows, in code order, then one bin for
//! every other category (rarer ones and those the model never saw), then missing:
//! its bins are named by the model file, and none follows fewer rows than a
//! numeric bin may.
//!
//! # PSI
//! `PSI = Σ_i (a_i − e_i) · ln(a_i / e_i)` over the bins, with `a_i` the served
//! share and `e_i` the background share of bin `i`; a share of zero is replaced by
//! [`PSI_EPSILON`] so an empty bin gives a large but finite term. This is the
//! symmetrised Kullback–Leibler divergence of the two binned distributions
//! (Yurdakul 2018, "Statistical Properties of Population Stability Index", PhD
//! thesis, Western Michigan University; the rule of thumb there and in Siddiqi 2006,
//! "Credit Risk Scorecards", ch. 8: below 0.1 no real change, 0.1–0.25 a moderate
//! shift, above 0.25 a significant one).

use ndarray::ArrayView1;

use super::dependence::private_quantile;

/// Share substituted for an empty bin, on either side, so that `ln` stays finite.
pub const PSI_EPSILON: f64 = 1e-4;

/// One feature's bins: edges from background quantiles and the background's share
/// of each bin.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureBins {
    /// Distinct quantile edges, ascending.
    edges: Vec<f64>,
    /// Background share of each bin: `edges.len() + 1` value bins (categorical:
    /// one per kept category and the "other" bin), then missing.
    expected: Vec<f64>,
    /// A categorical feature: the bin of each category's code (`None` for the
    /// numeric rule on `edges`).
    codes: Option<Vec<usize>>,
}

impl FeatureBins {
    /// Bins of one background column, with at most `bins` value bins and at most
    /// one per `min_rows` finite values of the column (at least 1 either way). A column with
    /// no finite value gets a single value bin.
    pub fn from_background(column: ArrayView1<f64>, bins: usize, min_rows: usize) -> Self {
        let mut finite: Vec<f64> = column.iter().copied().filter(|v| !v.is_nan()).collect();
        finite.sort_by(f64::total_cmp);
        let bins = bins.min(finite.len() / min_rows.max(1)).max(1);
        let mut edges: Vec<f64> = if finite.is_empty() {
            Vec::new()
        } else {
            (1..bins)
                .map(|i| private_quantile(&finite, i as f64 / bins as f64))
                .collect()
        };
        edges.dedup();
        FeatureBins {
            expected: vec![0.0; edges.len() + 2],
            edges,
            codes: None,
        }
        .measured(column)
    }

    /// Bins of one background column of a categorical feature with `categories`
    /// categories (its values are codes): one per category held by at least
    /// `min_rows` rows (at least 1), one for the others, one for missing values.
    pub fn from_categories(column: ArrayView1<f64>, categories: usize, min_rows: usize) -> Self {
        let mut held = vec![0usize; categories];
        for &v in column {
            if let Some(c) = code_of(v, categories) {
                held[c] += 1;
            }
        }
        let kept = held.iter().filter(|&&n| n >= min_rows.max(1)).count();
        let mut next = 0;
        let codes = held
            .iter()
            .map(|&n| {
                if n >= min_rows.max(1) {
                    next += 1;
                    next - 1
                } else {
                    kept
                }
            })
            .collect();
        FeatureBins {
            edges: Vec::new(),
            expected: vec![0.0; kept + 2],
            codes: Some(codes),
        }
        .measured(column)
    }

    /// The background's share of each bin, measured on `column`.
    fn measured(mut self, column: ArrayView1<f64>) -> Self {
        let mut counts = vec![0u64; self.expected.len()];
        for &v in column {
            counts[self.bin_of(v)] += 1;
        }
        let n = column.len().max(1) as f64;
        for (e, c) in self.expected.iter_mut().zip(counts) {
            *e = c as f64 / n;
        }
        self
    }

    /// Number of bins, the missing-value bin included.
    pub fn len(&self) -> usize {
        self.expected.len()
    }

    /// Always false: there is at least one value bin and the missing bin.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The bin of `v`: how many edges lie strictly below it (a categorical feature:
    /// its category's bin, or the "other" bin); NaN goes to the last.
    pub fn bin_of(&self, v: f64) -> usize {
        let missing = self.expected.len() - 1;
        if v.is_nan() {
            return missing;
        }
        match &self.codes {
            None => self.edges.partition_point(|&e| e < v),
            Some(codes) => code_of(v, codes.len()).map_or(missing - 1, |c| codes[c]),
        }
    }

    /// The quantile edges, ascending.
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// The background's share of each bin (summing to 1).
    pub fn expected(&self) -> &[f64] {
        &self.expected
    }

    /// PSI of served values, given as counts per bin, against the background
    /// (module doc); `None` when no value was counted.
    pub fn psi(&self, counts: &[u64]) -> Option<f64> {
        psi(&self.expected, counts)
    }
}

/// The category index `v` codes, when it is one of `categories` (not NaN, the
/// unseen code or a value that is no code).
fn code_of(v: f64, categories: usize) -> Option<usize> {
    (v >= 0.0 && v.fract() == 0.0 && v < categories as f64).then_some(v as usize)
}

/// `Σ (a_i − e_i) ln(a_i / e_i)` with `a` the shares of `counts`, shares of zero
/// replaced by [`PSI_EPSILON`]; `None` when the counts are all zero. `expected`
/// and `counts` are aligned bin by bin.
pub fn psi(expected: &[f64], counts: &[u64]) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let psi = expected
        .iter()
        .zip(counts)
        .map(|(&e, &c)| {
            let a = (c as f64 / total as f64).max(PSI_EPSILON);
            let e = e.max(PSI_EPSILON);
            (a - e) * (a / e).ln()
        })
        .sum();
    Some(psi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::Array1;

    #[test]
    fn psi_matches_a_hand_computation() {
        // e = (0.25, 0.25, 0.5), a = (0.5, 0.3, 0.2):
        // 0.25·ln 2 + 0.05·ln 1.2 − 0.3·ln 0.4
        // = 0.1732868 + 0.0091161 + 0.2748872 = 0.4572901.
        let value = psi(&[0.25, 0.25, 0.5], &[50, 30, 20]).unwrap();
        assert_abs_diff_eq!(value, 0.457_290_1, epsilon = 1e-6);
        // The same distribution: zero.
        assert_abs_diff_eq!(psi(&[0.25, 0.75], &[1, 3]).unwrap(), 0.0);
        assert_eq!(psi(&[0.5, 0.5], &[0, 0]), None);
    }

    #[test]
    fn empty_bins_use_the_epsilon() {
        // e = (1, 0), a = (0, 1), zero shares floored at ε:
        // (ε − 1)·ln(ε / 1) + (1 − ε)·ln(1 / ε) = 2(1 − ε)·ln(1/ε).
        let value = psi(&[1.0, 0.0], &[0, 7]).unwrap();
        let expected = 2.0 * (1.0 - PSI_EPSILON) * (1.0 / PSI_EPSILON).ln();
        assert_abs_diff_eq!(value, expected, epsilon = 1e-9);
    }

    #[test]
    fn deciles_of_a_uniform_column_hold_a_tenth_each() {
        let column = Array1::from_iter((0..100).map(f64::from));
        let bins = FeatureBins::from_background(column.view(), 10, 1);
        assert_eq!(bins.edges().len(), 9);
        // Value bins hold 10 rows each, the missing bin none.
        for share in &bins.expected()[..10] {
            assert_abs_diff_eq!(*share, 0.1, epsilon = 1e-12);
        }
        assert_eq!(bins.expected()[10], 0.0);
        assert_eq!(bins.bin_of(-5.0), 0);
        assert_eq!(bins.bin_of(1e9), 9);
        assert_eq!(bins.bin_of(f64::NAN), 10);
        // Served values from the background's own distribution: PSI 0.
        let mut counts = vec![0u64; bins.len()];
        for &v in &column {
            counts[bins.bin_of(v)] += 1;
        }
        assert_abs_diff_eq!(bins.psi(&counts).unwrap(), 0.0, epsilon = 1e-12);
    }

    #[test]
    fn edges_are_no_row_and_small_backgrounds_get_few_bins() {
        // 11 distinct values: the deciles sit on whole ranks 1..9, so each edge moves
        // half a rank up and lies between two rows.
        let column = Array1::from_iter((0..11).map(|i| 100.0 + 1.5 * f64::from(i)));
        let bins = FeatureBins::from_background(column.view(), 10, 1);
        assert_eq!(bins.edges().len(), 9);
        assert!(bins.edges().iter().all(|e| !column.iter().any(|v| v == e)));
        // At most one bin per 5 rows: 11 rows, two bins, one edge (the median,
        // rank 5, moved between ranks 5 and 6).
        let few = FeatureBins::from_background(column.view(), 10, 5);
        assert_eq!(few.edges(), &[108.25]);
        // Fewer rows than the minimum: one value bin, no edge.
        assert!(FeatureBins::from_background(column.view(), 10, 12)
            .edges()
            .is_empty());
    }

    #[test]
    fn categories_get_a_bin_each_when_held_by_enough_rows() {
        // Codes of 3 categories: 0 ×3, 1 ×2, 2 ×1, unseen (3) ×1, missing ×1. With
        // min_rows 2, category 2 joins the unseen one in the "other" bin.
        let column = Array1::from(vec![0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 3.0, f64::NAN]);
        let bins = FeatureBins::from_categories(column.view(), 3, 2);
        assert_eq!(bins.len(), 4);
        assert_eq!(
            bins.expected(),
            &[3.0 / 8.0, 2.0 / 8.0, 2.0 / 8.0, 1.0 / 8.0]
        );
        let bin = |v: f64| bins.bin_of(v);
        assert_eq!((bin(0.0), bin(1.0), bin(2.0), bin(3.0)), (0, 1, 2, 2));
        assert_eq!((bin(-1.0), bin(0.5), bin(f64::NAN)), (2, 2, 3));
        // Every category common enough: one bin each, in code order.
        let each = FeatureBins::from_categories(column.view(), 3, 1);
        assert_eq!(each.len(), 5);
        assert_eq!((each.bin_of(2.0), each.bin_of(3.0)), (2, 3));
    }

    #[test]
    fn a_flag_gets_few_uneven_bins() {
        // 70 zeros and 30 ones: the deciles are 0 (×6), 0.3 (interpolated at 0.7)
        // and 1 (×2), so three distinct edges; zeros fall in bin 0, ones in bin 2.
        let column = Array1::from_iter((0..100).map(|i| if i < 70 { 0.0 } else { 1.0 }));
        let bins = FeatureBins::from_background(column.view(), 10, 1);
        assert_eq!(bins.edges().len(), 3);
        assert_eq!(bins.len(), 5);
        assert_abs_diff_eq!(bins.expected()[0], 0.7, epsilon = 1e-12);
        assert_eq!(bins.expected()[1], 0.0);
        assert_abs_diff_eq!(bins.expected()[2], 0.3, epsilon = 1e-12);
    }
}
