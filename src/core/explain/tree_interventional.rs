//! Exact interventional TreeSHAP of tree ensembles against background rows.
//!
//! For one row x and one background row r, the game is v(S) = f(x_S, r_S̄): features
//! in S take x's value, the rest r's (Lundberg et al. 2020, Methods, "interventional
//! TreeSHAP"; Janzing et al. 2020 on why this is the causal reading). A leaf is
//! reached in the hybrid exactly when, for every distinct feature j on its path, x
//! or r follows the path on j. With A the path features only x follows and B those
//! only r follows (|A| = a, |B| = b), the leaf's value v is counted iff A ⊆ S and
//! B ∩ S = ∅, whose Shapley values are v (a−1)! b! / (a+b)! for i ∈ A and
//! −v a! (b−1)! / (a+b)! for i ∈ B. The (leaf, A, B) a row reaches with each
//! background row are found, per tree, in one of two ways prepared once per model
//! and background ([`Background`]): a walk down the tree for 128 background rows
//! at once, from the rows' directions at every split (`hybrid`, for trees of more
//! than 64 splits and small backgrounds), or the rows grouped per leaf by the path
//! features they follow (`groups`).
//!
//! Probability space (binary models) follows shap's `TreeExplainer(model_output=
//! "probability")`: each background row's raw attributions are rescaled by
//! (σ(f(x)) − σ(f(r))) / (f(x) − f(r)) (by 1 where the margins are equal) before
//! averaging, so they add up to σ(f(x)) − E[σ(f(R))].

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::cpu::has_v3;
use super::tree_walk::check_request;
use super::Explanation;
use crate::core::models::trees::{budget, TreeEnsemble};
use crate::core::models::{check_rows, sigmoid, Link, Model, OutputSpace};
use crate::core::stats::Reference;
use crate::core::{Cancel, CoreError, CoreResult};
use hybrid::{Hybrid, Rows, Work};

mod groups;
mod hybrid;
mod weights;

/// Explain each row of `x` (NaN means missing) for the output chosen for it in
/// `outputs`, against the background rows of `reference`.
///
/// # Errors
/// As [`super::tree_shap::explain`]; also [`CoreError::InvalidArgument`] for an
/// empty background, or probability space on a model without a logistic link.
pub fn explain(
    model: &TreeEnsemble,
    reference: &Reference,
    x: ArrayView2<f64>,
    outputs: &[usize],
    space: OutputSpace,
) -> CoreResult<Vec<Explanation>> {
    check_request(model, x, outputs)?;
    let background = Background::new(model, reference)?;
    explain_with(
        model,
        reference,
        &background,
        x,
        outputs,
        space,
        &Cancel::never(),
    )
}

/// The background rows of one model as the explainer reads them (for walked trees
/// each row's direction at every split, a bit per row; for the others the rows
/// grouped per leaf), what every interventional request against that background
/// starts from: build it once per (model, reference) pair and keep it with them,
/// and a one-row request skips the grouping (which costs about as much as
/// explaining the background rows).
#[derive(Debug)]
pub struct Background {
    /// The trees laid out for the walk, with the rows' direction at every split.
    hybrid: Hybrid,
    /// Raw outputs of the background rows.
    raw: Array2<f64>,
}

impl Background {
    /// Record `reference`'s rows for `model`, within the model's memory budget
    /// ([`crate::core::models::trees::TreeLimits::max_memory_bytes`]).
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for an empty background, or bad rows, or when
    /// [`Background::estimate_bytes`] exceeds the budget (naming both and the flag);
    /// [`CoreError::MethodNotSupported`] for paths of more than 64 distinct features.
    pub fn new(model: &TreeEnsemble, reference: &Reference) -> CoreResult<Self> {
        Self::new_until(model, reference, &Cancel::never())
    }

    /// [`Background::new`], giving up with [`CoreError::Cancelled`] once `cancel`
    /// is tripped (checked before each tree).
    ///
    /// # Errors
    /// As [`Background::new`]; also [`CoreError::Cancelled`].
    pub fn new_until(
        model: &TreeEnsemble,
        reference: &Reference,
        cancel: &Cancel,
    ) -> CoreResult<Self> {
        check_rows(reference.data.view(), model.n_features(), true)?;
        if reference.rows() == 0 {
            return Err(CoreError::InvalidArgument(
                "interventional TreeSHAP needs at least one background row".into(),
            ));
        }
        check_request(model, reference.data.view(), &vec![0; reference.rows()])?;
        let need = Self::estimate_bytes(model, reference.rows());
        let limit = model.limits().max_memory_bytes;
        if need > limit {
            let (splits, leaves) = Hybrid::kept_at(model, reference.rows());
            return Err(CoreError::InvalidArgument(format!(
                "recording the {} background rows for tree_interventional would take about {}, \
                 beyond the limit of {} (--max-model-memory-mb, EXPLAIND_MAX_MODEL_MEMORY_MB): \
                 every row is kept as a bit at each of {} splits and as an index under each \
                 of {} leaves; register a smaller background, or use tree_path_dependent, \
                 which reads none",
                reference.rows(),
                budget::mib(need),
                budget::mib(limit),
                splits,
                leaves
            )));
        }
        Ok(Background {
            hybrid: Hybrid::new(model, reference.data.view(), cancel)?,
            raw: model.predict_raw(reference.data.view()),
        })
    }
}

impl Background {
    /// Upper bound on the bytes recording `rows` background rows for `model` takes
    /// at its peak (a bit per row and split of the walked trees; per leaf of the
    /// grouped trees, leaves × rows × 4 bytes kept and a tree's leaves × rows × 8
    /// while it is grouped), estimated from the model before anything is built.
    pub fn estimate_bytes(model: &TreeEnsemble, rows: usize) -> usize {
        Hybrid::estimate(model, rows)
            .saturating_add(rows * model.n_outputs() * std::mem::size_of::<f64>())
    }

    /// Bytes the recorded background holds.
    pub fn bytes(&self) -> usize {
        self.hybrid.bytes() + std::mem::size_of_val(self.raw.as_slice().unwrap_or(&[]))
    }
}

/// [`explain`] with the background already recorded by [`Background::new`] for
/// this `model` and `reference`, giving up once `cancel` is tripped (checked
/// before each tree of each block of rows).
///
/// # Errors
/// As [`explain`]; also [`CoreError::InvalidArgument`] when `background` was built
/// for another model or reference, and [`CoreError::Cancelled`].
pub fn explain_with(
    model: &TreeEnsemble,
    reference: &Reference,
    background: &Background,
    x: ArrayView2<f64>,
    outputs: &[usize],
    space: OutputSpace,
    cancel: &Cancel,
) -> CoreResult<Vec<Explanation>> {
    check_request(model, x, outputs)?;
    let hybrid = &background.hybrid;
    if !hybrid.fits(model) || hybrid.rows() != reference.rows() {
        return Err(CoreError::InvalidArgument(
            "the recorded background belongs to another model or reference".into(),
        ));
    }
    if space == OutputSpace::Probability && model.link() != Link::Logistic {
        return Err(CoreError::InvalidArgument(
            "output_space 'probability' for interventional TreeSHAP needs a binary (logistic) \
             model"
                .into(),
        ));
    }
    let bg_raw = &background.raw;
    let n_bg = reference.rows() as f64;
    let f = model.n_features();
    let per_background = (space == OutputSpace::Probability).then_some(f);
    let width = per_background.map_or(f, |f| f * reference.rows());
    // Rows explained together, tree after tree: the more, the fewer times each
    // tree's nodes come back into cache (a fifth of the time at 16 rows, measured
    // on 500 trees), but at least two tasks per thread, and sums of at most 8 MiB.
    let threads = rayon::current_num_threads();
    let chunk = (x.nrows().div_ceil(2 * threads))
        .min(ROWS_TOGETHER)
        .min((1 << 20) / width)
        .max(1);
    let starts: Vec<usize> = (0..x.nrows()).step_by(chunk).collect();
    let v3 = has_v3();
    let answers: Vec<Vec<Vec<f64>>> = starts
        .into_par_iter()
        .map_init(
            || hybrid.work(model.compiled()),
            |work, start| {
                let end = (start + chunk).min(x.nrows());
                let rows: Vec<Vec<f64>> = (start..end).map(|i| x.row(i).to_vec()).collect();
                let mut outs = vec![vec![0.0; width]; rows.len()];
                let job = Rows {
                    rows: &rows,
                    outputs: &outputs[start..end],
                    outs: &mut outs,
                    per_background,
                };
                #[cfg(target_arch = "x86_64")]
                if v3 {
                    // SAFETY: `has_v3` found every feature `add_v3` is compiled with.
                    unsafe { add_v3(hybrid, model, job, work, cancel)? };
                } else {
                    hybrid.add(model, job, work, cancel)?;
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let _ = v3;
                    hybrid.add(model, job, work, cancel)?;
                }
                let rows = rows.iter().zip(&outputs[start..end]);
                Ok(rows
                    .zip(outs)
                    .map(|((row, &k), out)| match space {
                        OutputSpace::Raw => out.iter().map(|p| p / n_bg).collect(),
                        OutputSpace::Probability => {
                            let fx = model.margin_of(row, k);
                            let mut phi = vec![0.0; f];
                            for (r, acc) in out.chunks(f).enumerate() {
                                let fr = bg_raw[[r, k]];
                                let scale = if fx == fr {
                                    1.0
                                } else {
                                    (sigmoid(fx) - sigmoid(fr)) / (fx - fr)
                                };
                                for (p, a) in phi.iter_mut().zip(acc) {
                                    *p += a * scale / n_bg;
                                }
                            }
                            phi
                        }
                    })
                    .collect::<Vec<Vec<f64>>>())
            },
        )
        .collect::<CoreResult<_>>()?;
    Ok(x.axis_iter(Axis(0))
        .zip(outputs)
        .zip(answers.into_iter().flatten())
        .map(|((row, &k), phi)| {
            let raw = model.margin_of(&row.to_vec(), k);
            match space {
                OutputSpace::Raw => Explanation::new(k, raw, reference.mean_raw[k], phi),
                OutputSpace::Probability => {
                    Explanation::new(k, sigmoid(raw), reference.mean_transformed[k], phi)
                }
            }
        })
        .collect())
}

/// Most rows one task explains together (see [`Hybrid::add`]).
const ROWS_TOGETHER: usize = 256;

/// [`Hybrid::add`] compiled for x86-64-v3 (see [`super::cpu`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,popcnt,lzcnt")]
fn add_v3(
    hybrid: &Hybrid,
    model: &TreeEnsemble,
    job: Rows,
    work: &mut Work,
    cancel: &Cancel,
) -> CoreResult<()> {
    hybrid.add(model, job, work, cancel)
}

#[cfg(test)]
mod tests;
