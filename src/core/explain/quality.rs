//! Scores of how well an attribution describes the model at a row, computed on
//! request. Each takes the model, the background and the attributions of one row.
//!
//! "Removing" a player (feature or group) always means what the SHAP game of
//! [`super::sampling`] means: its columns take each background row's values and the
//! output is averaged over the background (an interventional expectation, not the
//! background mean plugged in once, which would score a non-linear model at a point
//! no data lies near).
//!
//! - [`deletion_insertion`]: players removed (deletion) or restored from a fully
//!   removed row (insertion) one by one in decreasing order of attribution, and the
//!   normalised area under each curve (Petsiuk, Das and Saenko 2018, "RISE", on
//!   images; the same curves on tabular data). Deletion: **lower is better** (the
//!   output falls fastest when the features credited most leave first). Insertion:
//!   **higher is better**.
//! - [`faithfulness_correlation`]: Pearson correlation, over random subsets `S` of a
//!   fixed size, between `Σ_{i∈S} φ_i` and the output's drop when `S` is removed
//!   (Bhatt, Weller and Moura 2020, "Evaluating and Aggregating Feature-based Model
//!   Explanations"). In [−1, 1]; **higher is better**.
//! - [`max_sensitivity`]: the largest relative change of the attributions,
//!   `max ‖φ(x') − φ(x)‖₂ / ‖φ(x)‖₂`, over inputs `x'` drawn uniformly from a box of
//!   half-width `radius × background standard deviation` around `x` (Yeh et al.
//!   2019, "On the (In)fidelity and Sensitivity of Explanations"). **Lower is
//!   better**. It re-runs an explainer, given as a closure; a sampling explainer
//!   should keep one seed so that only the input moves. In [`score`], categorical
//!   features (see [`crate::core::models::raw`]) keep their category.

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand::seq::index;
use rand::Rng;

use super::sampling::{row_rng, FeatureGroups, Game};
use crate::core::models::{Model, OutputSpace};
use crate::core::{CoreError, CoreResult};

/// The row, model and background a score is computed for.
#[derive(Clone, Copy)]
pub struct Subject<'a> {
    /// The model explained.
    pub model: &'a dyn Model,
    /// The background rows that stand in for removed players, (n, n_features).
    pub background: ArrayView2<'a, f64>,
    /// The row explained.
    pub x: ArrayView1<'a, f64>,
    /// The output index explained.
    pub output: usize,
    /// The space the attributions are in.
    pub space: OutputSpace,
    /// The players the attributions belong to (one per attribution).
    pub groups: &'a FeatureGroups,
}

impl<'a> Subject<'a> {
    fn game(&self) -> Game<'a> {
        Game {
            model: self.model,
            background: self.background,
            weights: None,
            x: self.x,
            groups: self.groups,
            output: self.output,
            space: self.space,
            stop: &super::sampling::NEVER,
            memo: Default::default(),
        }
    }

    fn check(&self, attributions: &[f64]) -> CoreResult<()> {
        if attributions.len() != self.groups.len() {
            return Err(CoreError::Shape {
                what: "attributions",
                expected: self.groups.len(),
                got: attributions.len(),
            });
        }
        if self.background.nrows() == 0 {
            return Err(CoreError::InvalidArgument(
                "quality metrics need at least one background row".into(),
            ));
        }
        Ok(())
    }
}

/// A curve of outputs after 0, 1, …, P players have been moved, and its area.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Output after k players moved, k = 0..=P.
    pub values: Vec<f64>,
    /// Trapezoidal area with the x axis scaled to [0, 1], in output units.
    pub area: f64,
}

/// The deletion and insertion curves of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct DeletionInsertion {
    /// Removing players, most positive attribution first; lower area is better.
    pub deletion: Curve,
    /// Restoring players to a fully removed row in the same order; higher is better.
    pub insertion: Curve,
}

/// Deletion and insertion curves of `attributions` (module doc).
///
/// # Errors
/// [`CoreError::Shape`] when there is not one attribution per player,
/// [`CoreError::InvalidArgument`] for an empty background.
pub fn deletion_insertion(
    subject: &Subject,
    attributions: &[f64],
) -> CoreResult<DeletionInsertion> {
    subject.check(attributions)?;
    let p = attributions.len();
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&a, &b| attributions[b].total_cmp(&attributions[a]));
    let mut masks = Vec::with_capacity(2 * (p + 1) * p);
    for removing in [true, false] {
        let mut mask = vec![removing; p];
        masks.extend(mask.iter().copied());
        for &g in &order {
            mask[g] = !removing;
            masks.extend(mask.iter().copied());
        }
    }
    let values = subject.game().values(&masks)?;
    let (deletion, insertion) = values.split_at(p + 1);
    Ok(DeletionInsertion {
        deletion: curve(deletion.to_vec()),
        insertion: curve(insertion.to_vec()),
    })
}

fn curve(values: Vec<f64>) -> Curve {
    let steps = (values.len() - 1).max(1) as f64;
    let area = values.windows(2).map(|w| (w[0] + w[1]) / 2.0).sum::<f64>() / steps;
    Curve { values, area }
}

/// Settings of [`faithfulness_correlation`].
#[derive(Debug, Clone, Copy)]
pub struct FaithfulnessParams {
    /// Players removed together in each run (at least 1, below P).
    pub subset_size: usize,
    /// Random subsets drawn (at least 2).
    pub runs: usize,
    /// Seeds the subsets.
    pub seed: u64,
}

/// Faithfulness correlation of `attributions` (module doc); `None` when either the
/// attribution sums or the output drops do not vary over the subsets drawn.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for a subset size of 0 or not below P, fewer than
/// 2 runs or an empty background; [`CoreError::Shape`] for a wrong length.
pub fn faithfulness_correlation(
    subject: &Subject,
    attributions: &[f64],
    params: &FaithfulnessParams,
) -> CoreResult<Option<f64>> {
    subject.check(attributions)?;
    let p = attributions.len();
    if params.subset_size == 0 || params.subset_size >= p || params.runs < 2 {
        return Err(CoreError::InvalidArgument(format!(
            "faithfulness needs 1 <= subset_size < {p} and runs >= 2, got subset_size {} and \
             runs {}",
            params.subset_size, params.runs
        )));
    }
    let mut rng = row_rng(params.seed, 0);
    let mut masks = Vec::with_capacity((params.runs + 1) * p);
    masks.resize(p, true);
    let mut sums = Vec::with_capacity(params.runs);
    for _ in 0..params.runs {
        let mut mask = vec![true; p];
        let mut sum = 0.0;
        for g in index::sample(&mut rng, p, params.subset_size) {
            mask[g] = false;
            sum += attributions[g];
        }
        masks.extend(mask);
        sums.push(sum);
    }
    let values = subject.game().values(&masks)?;
    let drops: Vec<f64> = values[1..].iter().map(|v| values[0] - v).collect();
    Ok(pearson(&sums, &drops))
}

/// Pearson correlation, or `None` when either side is constant.
fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    let scale = (va * vb).sqrt();
    (scale > 1e-300).then(|| (cov / scale).clamp(-1.0, 1.0))
}

/// Settings of [`max_sensitivity`].
#[derive(Debug, Clone, Copy)]
pub struct SensitivityParams {
    /// Half-width of the box, in background standard deviations of each feature.
    pub radius: f64,
    /// Perturbed inputs drawn (at least 1).
    pub samples: usize,
    /// Seeds the perturbations.
    pub seed: u64,
}

/// Max-sensitivity of `explainer` at `x` (module doc): `explainer` maps a row to
/// its attributions; `scale` is each feature's background standard deviation.
/// Where `‖φ(x)‖` is 0 the change is reported unnormalised.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for a non-positive or non-finite radius or no
/// samples, [`CoreError::Shape`] for a `scale` of the wrong width; and whatever the
/// explainer returns.
pub fn max_sensitivity(
    x: ArrayView1<f64>,
    scale: ArrayView1<f64>,
    params: &SensitivityParams,
    explainer: &dyn Fn(ArrayView1<f64>) -> CoreResult<Vec<f64>>,
) -> CoreResult<f64> {
    if !(params.radius.is_finite() && params.radius > 0.0) || params.samples == 0 {
        return Err(CoreError::InvalidArgument(
            "max_sensitivity needs a positive radius and at least one sample".into(),
        ));
    }
    if scale.len() != x.len() {
        return Err(CoreError::Shape {
            what: "feature scales",
            expected: x.len(),
            got: scale.len(),
        });
    }
    let phi = Array1::from(explainer(x)?);
    let norm = phi.dot(&phi).sqrt();
    let mut rng = row_rng(params.seed, 0);
    let mut worst = 0.0_f64;
    for _ in 0..params.samples {
        let perturbed: Array1<f64> = x
            .iter()
            .zip(scale.iter())
            .map(|(&v, &s)| v + params.radius * s * (2.0 * rng.random::<f64>() - 1.0))
            .collect();
        let other = Array1::from(explainer(perturbed.view())?);
        let diff = &other - &phi;
        worst = worst.max(diff.dot(&diff).sqrt());
    }
    Ok(if norm > 0.0 { worst / norm } else { worst })
}

#[cfg(test)]
mod tests;

/// Background rows the on-request scores average over (a seeded sample above this).
pub const SCORING_BACKGROUND: usize = 50;

/// All quality scores of one explanation, as `"quality": "full"` reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityScores {
    /// Output as features are removed in decreasing order of attribution, and its
    /// normalised area (lower is better).
    pub deletion: Curve,
    /// Output as features are restored in that order from a fully removed row, and
    /// its normalised area (higher is better).
    pub insertion: Curve,
    /// Faithfulness correlation (higher is better); `None` when undefined (constant
    /// sums or drops), or with fewer than three features.
    pub faithfulness: Option<f64>,
    /// Max-sensitivity within 10% of each feature's background standard deviation
    /// (lower is better).
    pub max_sensitivity: f64,
}

/// Compute every score for one row: deletion and insertion curves, faithfulness
/// correlation over 20 random subsets of a quarter of the features (at least one),
/// and max-sensitivity over 10 perturbed inputs, re-running `explainer`.
///
/// # Errors
/// Whatever the model evaluations or the explainer report.
pub fn score(
    subject: &Subject,
    attributions: &[f64],
    reference: &crate::core::stats::Reference,
    explainer: &dyn Fn(ArrayView1<f64>) -> CoreResult<Vec<f64>>,
) -> CoreResult<QualityScores> {
    let curves = deletion_insertion(subject, attributions)?;
    let p = attributions.len();
    let faithfulness = if p >= 3 {
        let params = FaithfulnessParams {
            subset_size: (p / 4).max(1),
            runs: 20,
            seed: 0,
        };
        faithfulness_correlation(subject, attributions, &params)?
    } else {
        None
    };
    // A categorical feature (its column holds codes) keeps its category: a code
    // moved by noise would be another category, or none, not a nearby input.
    let categorical =
        |j: usize| (subject.model.categories()).is_some_and(|r| r.categories(j).is_some());
    let scale = Array1::from_iter(reference.stats.std.iter().enumerate().map(|(j, &s)| {
        match (categorical(j), s.is_finite() && s > 0.0) {
            (true, _) => 0.0,
            (false, true) => s,
            (false, false) => 1.0,
        }
    }));
    let params = SensitivityParams {
        radius: 0.1,
        samples: 10,
        seed: 0,
    };
    let max_sensitivity = max_sensitivity(subject.x, scale.view(), &params, explainer)?;
    Ok(QualityScores {
        deletion: curves.deletion,
        insertion: curves.insertion,
        faithfulness,
        max_sensitivity,
    })
}
