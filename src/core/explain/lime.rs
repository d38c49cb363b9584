//! LIME for tabular data (Ribeiro, Singh and Guestrin 2016, "Why Should I Trust
//! You?"), as lime's `LimeTabularExplainer` does it with its defaults.
//!
//! 1. **Discretise.** Each feature's quartiles over the reference rows (numpy's
//!    linear-interpolation percentiles 25, 50, 75, duplicates dropped) cut it into
//!    up to four bins; a value falls in the bin numbered by how many boundaries lie
//!    strictly below it. Each bin keeps the mean, standard deviation (+1e-11), and
//!    bounds (the neighbouring boundaries, or the column's min / max) of the
//!    reference values in it, and the share of reference rows it holds.
//! 2. **Perturb.** Sample 0 is the row itself. For every other sample and feature a
//!    bin is drawn with the reference's bin frequencies, and a value from a normal
//!    with that bin's mean and standard deviation truncated to its bounds (where a
//!    bin's bounds coincide lime returns the bound's z-score, a quirk; explaind
//!    returns the bound itself). The surrogate sees only `z_j = 1` when the bin is
//!    the row's own, else 0. Draws go sample by sample, feature by feature, from
//!    a xoshiro256++ generator seeded by the row's generator (cheaper a draw than
//!    ChaCha); normals by the ziggurat method. A value that falls outside its bin's
//!    bounds is drawn again (rejection) once the sample's pass is over, so the pass
//!    itself has no branch on the draws.
//! 3. **Weigh.** The distance to the row is the Euclidean distance in `z`, i.e.
//!    √(number of features in another bin), and the weight is
//!    `√exp(−d² / w²)` with kernel width `w = 0.75 √F`.
//! 4. **Fit.** A weighted ridge regression (α = 1, with intercept, as
//!    scikit-learn's `Ridge`) of the model's outputs on `z`. The attributions are its
//!    coefficients, `base_value` is its intercept, `Quality::surrogate_r2` its
//!    weighted R², and `Quality::local_prediction` its value at the row
//!    (intercept + Σ coefficients); `additivity_residual` is then the surrogate's
//!    error at the row, `f(x) − local prediction`.
//!
//! # Categorical features
//! A categorical feature (its column holds category codes, see
//! [`crate::core::models::raw`]) is not discretised: as lime's
//! `categorical_features`, each category is its own bin, a sample takes the
//! category of a reference row drawn at random (so categories come with their
//! reference frequencies, missing included), and `z_j = 1` when it is the row's.
//!
//! All features are kept (lime's `num_features` = F, which makes its `"auto"`
//! feature selection keep them all). The discretiser uses every reference row, as
//! lime uses all of its training data.
//!
//! # Feature groups
//! With groups as players (an extension; lime has none), the surrogate has one
//! column per group, `z_g = 1` when every feature of the group is in the row's own
//! bin, and the kernel width is `0.75 √G` for `G` groups. A feature alone is drawn
//! as above. A group of several is perturbed as one, so that the columns of a
//! one-hot category stay a valid code: with probability `p_g`, the mean of its
//! members' own-bin shares (what a single feature's chance of keeping its bin is),
//! every member draws a value in its own bin (`z_g = 1`); otherwise one reference
//! row is drawn and every member draws a value in that row's bin (`z_g = 1` only if
//! those are all the row's own bins). Sampling whole reference rows alone would
//! almost never reproduce the row's combination of bins and leave the surrogate
//! nothing to fit.
//! Default budget: 5000 samples, lime's default, including the row itself.
//!
//! # Standard errors
//! The heteroskedasticity-robust ("sandwich", HC0) covariance of the weighted ridge
//! coefficients, `H⁻¹ (Σ_i w_i² e_i² z̃_i z̃_iᵀ) H⁻¹` with `H = Z̃ᵀWZ̃ + αI` on the
//! weight-centred design `Z̃` and residuals `e`: the spread of the coefficients
//! over reruns with other seeds, to first order.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

mod bins;
#[cfg(test)]
mod categorical_tests;
mod ridge;

use super::sampling::{check_inputs, per_row, row_rng, SamplingOptions, Stop, MAX_BATCH_VALUES};
use super::Explanation;
use crate::core::models::Model;
use crate::core::stats::Reference;
use crate::core::{CoreError, CoreResult};
#[cfg(test)]
use bins::percentile;
use bins::{Bins, Sampler};
use ridge::{weighted_ridge, Design};

/// lime's default number of samples.
pub const DEFAULT_SAMPLES: usize = 5000;
/// lime's kernel width factor: `w = 0.75 √F`.
const KERNEL_WIDTH_FACTOR: f64 = 0.75;
/// Ridge penalty of the surrogate, as lime's default `Ridge(alpha=1)`.
const RIDGE_ALPHA: f64 = 1.0;
/// Samples drawn between two checks of the call's [`Stop`] (well under a millisecond).
const CHECK_EVERY: usize = 4096;

/// Explain each row of `x` for the output chosen for it in `outputs`.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for a budget below 2 or an output
/// out of range; [`CoreError::Shape`] for a wrong width; [`CoreError::Timeout`]
/// past the options' time limit (checked before each row's predict call).
pub fn explain(
    model: &dyn Model,
    reference: &Reference,
    x: ArrayView2<f64>,
    outputs: &[usize],
    options: &SamplingOptions,
) -> CoreResult<Vec<Explanation>> {
    let stop = Stop::of(options);
    let n = options.n_samples().unwrap_or(DEFAULT_SAMPLES);
    if n < 2 {
        return Err(CoreError::InvalidArgument(
            "lime needs n_samples of at least 2".into(),
        ));
    }
    check_inputs(model, reference, x, outputs)?;
    let categorical = |j: usize| {
        model
            .categories()
            .is_some_and(|r| r.categories(j).is_some())
    };
    let bins: Vec<Bins> = (reference.data.axis_iter(Axis(1)).enumerate())
        .map(|(j, c)| match categorical(j) {
            true => Bins::categories(c),
            false => Bins::quartiles(c),
        })
        .collect();
    let samplers: Vec<Sampler> = bins.iter().map(Bins::sampler).collect();
    let predictions = model.predict(x, options.output_space());
    let f = x.ncols();
    let groups = options.groups();
    let players = groups.len();
    let width = KERNEL_WIDTH_FACTOR * (players as f64).sqrt();
    per_row(x.nrows(), |i| {
        let row = x.row(i);
        let k = outputs[i];
        let mut rng = Xoshiro256PlusPlus::from_rng(&mut row_rng(options.seed(), i));
        let own: Vec<usize> = bins.iter().zip(row).map(|(b, &v)| b.bin_of(v)).collect();
        let mut samples = vec![0.0; n * f];
        samples[..f].iter_mut().zip(row).for_each(|(v, &x)| *v = x);
        let mut z = Design::new(players, n);
        // One sample's ones, written without branches (whether a player keeps its
        // bin is a coin flip).
        let mut kept: Vec<u32> = (0..players as u32).collect();
        z.push(&kept);
        if groups.is_singletons() && !bins.iter().any(Bins::is_categorical) {
            // Sample by sample, feature by feature: each sample's row is written in
            // order.
            // A value out of its bin's bounds (about one in nine) is drawn again
            // after the sample's pass, so the pass has no branch on the draws.
            let mut redo: Vec<(u32, u8)> = vec![(0, 0); f];
            for (s, sample) in samples.chunks_exact_mut(f).skip(1).enumerate() {
                if s % CHECK_EVERY == 0 {
                    stop.check()?;
                }
                let (mut count, mut misses) = (0, 0);
                for (j, ((b, &own), value)) in
                    samplers.iter().zip(&own).zip(&mut *sample).enumerate()
                {
                    let bin = b.draw_bin(&mut rng);
                    let (v, stands) = b.try_value(bin, &mut rng);
                    *value = v;
                    kept[count] = j as u32;
                    count += usize::from(bin == own);
                    redo[misses] = (j as u32, bin as u8);
                    misses += usize::from(!stands);
                }
                for &(j, bin) in &redo[..misses] {
                    sample[j as usize] =
                        samplers[j as usize].draw_value(usize::from(bin), &mut rng);
                }
                z.push(&kept[..count]);
            }
        } else {
            let sample = GroupSample {
                bins: &bins,
                samplers: &samplers,
                reference,
                row,
            };
            for (s, values) in samples.chunks_exact_mut(f).skip(1).enumerate() {
                if s % CHECK_EVERY == 0 {
                    stop.check()?;
                }
                let mut count = 0;
                for g in 0..players {
                    kept[count] = g as u32;
                    count += usize::from(sample.draw(groups.members(g), values, &mut rng));
                }
                z.push(&kept[..count]);
            }
        }
        let samples = Array2::from_shape_vec((n, f), samples).expect("n × f values");
        let y = predict_in_batches(model, samples.view(), options, &stop)?;
        // The weight depends only on how many players keep their bin.
        let kernel: Vec<f64> = (0..=players)
            .map(|kept| {
                let d2 = (players - kept) as f64;
                (-d2 / (width * width)).exp().sqrt()
            })
            .collect();
        let weights: Vec<f64> = (0..n).map(|s| kernel[z.count(s)]).collect();
        stop.check()?;
        let surrogate = weighted_ridge(&z, y.column(k), &weights, RIDGE_ALPHA)?;
        let local = surrogate.intercept + surrogate.coefficients.sum();
        let mut e = Explanation::new(
            k,
            predictions[[i, k]],
            surrogate.intercept,
            surrogate.coefficients.to_vec(),
        );
        e.quality.samples = Some(n);
        e.quality.standard_errors = Some(surrogate.standard_errors);
        e.quality.surrogate_r2 = Some(surrogate.r2);
        e.quality.local_prediction = Some(local);
        Ok(e)
    })
}

/// The model's outputs for `samples`, predicted at most [`MAX_BATCH_VALUES`] values
/// at a time with a check of `stop` before each batch (rows are independent, so
/// the numbers are those of one call).
fn predict_in_batches(
    model: &dyn Model,
    samples: ArrayView2<f64>,
    options: &SamplingOptions,
    stop: &Stop,
) -> CoreResult<Array2<f64>> {
    let rows = (MAX_BATCH_VALUES / samples.ncols().max(1)).max(1);
    let mut parts = Vec::with_capacity(samples.nrows().div_ceil(rows));
    for part in samples.axis_chunks_iter(Axis(0), rows) {
        stop.check()?;
        parts.push(model.predict(part, options.output_space()));
    }
    let views: Vec<_> = parts.iter().map(Array2::view).collect();
    ndarray::concatenate(Axis(0), &views)
        .map_err(|e| CoreError::InvalidModel(format!("predictions of unequal width: {e}")))
}

/// What drawing a group's values for one sample needs (module doc, feature groups).
struct GroupSample<'a> {
    /// Every feature's bins.
    bins: &'a [Bins],
    /// The same, as the sampling loop reads them.
    samplers: &'a [Sampler],
    /// The reference rows a group's bins are drawn from.
    reference: &'a Reference,
    /// The row explained.
    row: ArrayView1<'a, f64>,
}

impl GroupSample<'_> {
    /// Fill the group's features of `sample` from the bins of one reference row;
    /// returns whether every feature landed in the explained row's own bin.
    fn draw(&self, members: &[usize], sample: &mut [f64], rng: &mut impl Rng) -> bool {
        if let [j] = members {
            let b = &self.bins[*j];
            if b.is_categorical() {
                // lime's categorical features: the category of a reference row.
                let r = rng.random_range(0..self.reference.rows());
                sample[*j] = self.reference.data[[r, *j]];
                return b.bin_of(sample[*j]) == b.bin_of(self.row[*j]);
            }
            let bin = self.samplers[*j].draw_bin(rng);
            sample[*j] = self.samplers[*j].draw_value(bin, rng);
            return bin == b.bin_of(self.row[*j]);
        }
        let keep = members
            .iter()
            .map(|&j| self.bins[j].share(self.bins[j].bin_of(self.row[j])))
            .sum::<f64>()
            / members.len() as f64;
        let from =
            (rng.random::<f64>() >= keep).then(|| rng.random_range(0..self.reference.rows()));
        let mut own = true;
        for &j in members {
            let b = &self.bins[j];
            let mine = b.bin_of(self.row[j]);
            let bin = from.map_or(mine, |r| b.bin_of(self.reference.data[[r, j]]));
            sample[j] = match (b.is_categorical(), from) {
                (true, Some(r)) => self.reference.data[[r, j]],
                (true, None) => self.row[j],
                (false, _) => self.samplers[j].draw_value(bin, rng),
            };
            own &= bin == mine;
        }
        own
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::explain::sampling::SamplingParams;
    use crate::core::models::LinearModel;
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    #[test]
    fn percentiles_match_numpy() {
        // np.percentile([1, 2, 3, 4, 10], [25, 50, 75]) == [2, 3, 4].
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(percentile(&v, 25.0), 2.0);
        assert_eq!(percentile(&v, 50.0), 3.0);
        assert_eq!(percentile(&v, 75.0), 4.0);
        // np.percentile([0, 1], 25) == 0.25.
        assert_eq!(percentile(&[0.0, 1.0], 25.0), 0.25);
    }

    #[test]
    fn ridge_without_penalty_recovers_an_exact_fit() {
        // y = 2 + 3 z0 − z1 exactly, so even a tiny penalty gives nearly (3, −1).
        // z = [[0, 0], [1, 0], [0, 1], [1, 1], [1, 0]], by its ones.
        let mut z = Design::new(2, 5);
        for ones in [&[][..], &[0], &[1], &[0, 1], &[0]] {
            z.push(ones);
        }
        let y = array![2.0, 5.0, 1.0, 4.0, 5.0];
        let w = [1.0, 0.5, 2.0, 1.0, 1.0];
        let r = weighted_ridge(&z, y.view(), &w, 1e-9).unwrap();
        assert_abs_diff_eq!(r.coefficients[0], 3.0, epsilon = 1e-6);
        assert_abs_diff_eq!(r.coefficients[1], -1.0, epsilon = 1e-6);
        assert_abs_diff_eq!(r.intercept, 2.0, epsilon = 1e-6);
        assert_abs_diff_eq!(r.r2, 1.0, epsilon = 1e-9);
    }

    #[test]
    fn lime_ranks_the_heavy_feature_first_and_is_seeded() {
        let model = LinearModel::regression(array![[5.0, 0.5, 0.0]], array![0.0]).unwrap();
        let data = Array2::from_shape_fn((80, 3), |(i, j)| ((i * 7 + j * 5) % 17) as f64);
        let reference = Reference::new(&model, data);
        let x = array![[16.0, 16.0, 16.0]];
        let options = SamplingParams {
            seed: 5,
            n_samples: Some(2000),
            ..SamplingParams::default()
        }
        .check(&model)
        .unwrap();
        let a = explain(&model, &reference, x.view(), &[0], &options).unwrap();
        assert_eq!(
            a,
            explain(&model, &reference, x.view(), &[0], &options).unwrap()
        );
        let phi = &a[0].attributions;
        assert!(phi[0] > 5.0 * phi[1].abs(), "{phi:?}");
        assert!(phi[2].abs() < 3.0 * a[0].quality.standard_errors.as_ref().unwrap()[2] + 0.5);
        let q = &a[0].quality;
        assert_abs_diff_eq!(
            q.local_prediction.unwrap(),
            a[0].base_value + phi.iter().sum::<f64>(),
            epsilon = 1e-9
        );
        assert!(q.surrogate_r2.unwrap() > 0.5);
    }

    #[test]
    fn groups_are_perturbed_and_weighed_as_one() {
        // y = 5·x0 + 5·x1 + 0.1·x2 with {x0, x1} one player: one coefficient for the
        // group, which dwarfs x2's, and a surrogate that fits. (The two members of
        // this reference are never both in their top bin, so sampling whole
        // reference rows alone would leave z_group constant.)
        let model = LinearModel::regression(array![[5.0, 5.0, 0.1]], array![0.0]).unwrap();
        let data = Array2::from_shape_fn((80, 3), |(i, j)| ((i * 7 + j * 5) % 17) as f64);
        let reference = Reference::new(&model, data);
        let x = array![[16.0, 16.0, 16.0]];
        let grouped = SamplingParams {
            seed: 2,
            n_samples: Some(2000),
            groups: Some(vec![vec![0, 1], vec![2]]),
            ..SamplingParams::default()
        }
        .check(&model)
        .unwrap();
        let g = &explain(&model, &reference, x.view(), &[0], &grouped).unwrap()[0];
        assert_eq!(g.attributions.len(), 2);
        assert!(g.attributions[0] > 10.0 * g.attributions[1].abs(), "{g:?}");
        assert!(g.quality.surrogate_r2.unwrap() > 0.5, "{g:?}");
        assert_eq!(
            g,
            &explain(&model, &reference, x.view(), &[0], &grouped).unwrap()[0]
        );
    }
}
