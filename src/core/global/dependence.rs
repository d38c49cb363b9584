//! Partial dependence (Friedman 2001, "Greedy function approximation: a gradient
//! boosting machine", Annals of Statistics 29(5), §8.2) and individual conditional
//! expectation curves (Goldstein, Kapelner, Bleich and Pitkin 2015, "Peeking Inside
//! the Black Box", JCGS 24(1)).
//!
//! For a feature j and a grid value v, every row of the data gets x_j = v and the
//! model predicts: the ICE curve of row i is f(v, x_{i,−j}) over the grid, and the
//! partial dependence is their average, PD(v) = (1/n) Σ_i f(v, x_{i,−j}) (what
//! scikit-learn's `partial_dependence(method="brute")` computes).
//!
//! # Grid
//! [`grid`] is scikit-learn's (`sklearn.inspection.partial_dependence`,
//! `percentiles=(0.05, 0.95)`, `grid_resolution` = `points`): the column's distinct
//! finite values when there are fewer than `points` of them, otherwise `points`
//! values evenly spaced (`np.linspace`) between its 5% and 95% quantiles as
//! scikit-learn takes them, scipy's `mquantiles` with its default plotting
//! positions (alphap = betap = 0.4; [`grid_quantile`]), so the sparse tails do not
//! stretch it. Checked against scikit-learn's own grids in
//! `tests/parity/dependence.rs` (fixture from `tests/fixtures/gen_dependence_grid.py`).
//!
//! Where it departs, privacy decides (issue 15: background and data-set rows never
//! leave the server): distinct values are shown as they are only when each is held
//! by at least `min_count` rows (else the quantile grid), and a quantile whose
//! position is a whole rank moves half a rank, as [`private_quantile`]s do. At 5%
//! and 95% that happens only for 11 rows or fewer, where scipy's position clamps
//! to the smallest or largest value. Equal quantiles give one point (scikit-learn
//! refuses them).
//!
//! A categorical feature (see [`crate::core::models::raw`]) has [`category_grid`]
//! instead: every category the model knows, in code order, whatever the data holds
//! (the categories come from the model file, so the grid shows no row).

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

use crate::core::models::{check_space, Model, OutputSpace};
use crate::core::{Cancel, CoreError, CoreResult};

/// Lowest probability of the quantile grid.
pub const GRID_LOW: f64 = 0.05;
/// Highest probability of the quantile grid.
pub const GRID_HIGH: f64 = 0.95;

/// Partial dependence and ICE curves of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependence {
    /// `average[k][g]`: output k's partial dependence at grid point g.
    pub average: Vec<Vec<f64>>,
    /// `ice[k][r][g]`: output k's prediction for the r-th ICE row with the feature
    /// set to grid point g.
    pub ice: Vec<Vec<Vec<f64>>>,
}

/// The grid of `points` (at least 2) values for a column (see the module doc);
/// missing values (NaN) are skipped. `min_count` (0 acts as 1) is the fewest rows
/// that must hold a value for the grid to show it exactly.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for fewer than 2 points or a column without a
/// finite value.
pub fn grid(column: ArrayView1<f64>, points: usize, min_count: usize) -> CoreResult<Vec<f64>> {
    if points < 2 {
        return Err(CoreError::InvalidArgument(
            "a grid needs at least 2 points".into(),
        ));
    }
    let mut values: Vec<f64> = column.iter().copied().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return Err(CoreError::InvalidArgument(
            "the feature has no finite value in the data".into(),
        ));
    }
    values.sort_by(f64::total_cmp);
    let runs: Vec<&[f64]> = values.chunk_by(|a, b| a == b).collect();
    if runs.len() < points && runs.iter().all(|r| r.len() >= min_count.max(1)) {
        return Ok(runs.iter().map(|r| r[0]).collect());
    }
    let low = grid_quantile(&values, GRID_LOW);
    let high = grid_quantile(&values, GRID_HIGH);
    if low >= high {
        return Ok(vec![low]);
    }
    // Weighted means rather than `low + i * step`: the span of a column whose values
    // lie near ±f64::MAX is not finite, its weighted ends are.
    let last = (points - 1) as f64;
    Ok((0..points)
        .map(|i| {
            if i + 1 == points {
                high
            } else {
                let t = i as f64 / last;
                low * (1.0 - t) + high * t
            }
        })
        .collect())
}

/// The grid of a categorical feature with `categories` categories: their codes,
/// 0, 1, …, in code order (no point for unseen categories).
///
/// # Errors
/// [`CoreError::InvalidArgument`] naming `max` when there are more categories than
/// a grid may hold.
pub fn category_grid(categories: usize, max: usize) -> CoreResult<Vec<f64>> {
    if categories > max {
        return Err(CoreError::InvalidArgument(format!(
            "the feature has {categories} categories; a grid holds at most {max} (--global-max-grid)"
        )));
    }
    Ok((0..categories).map(|c| c as f64).collect())
}

/// The p-quantile of sorted values, interpolating linearly between order
/// statistics at position p·(n − 1) (numpy's `method="linear"`).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = p * (sorted.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The p-quantile of sorted values as scikit-learn's partial dependence grid takes
/// it: scipy's `mquantiles(prob=p)` with alphap = betap = 0.4, the position
/// p·n + 0.4 + 0.2·p counted from 1 (clamped to the data), interpolated between its
/// two order statistics; kept off a single row's value ([`private_quantile_at`]).
pub fn grid_quantile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len() as f64;
    // scipy: m = alphap + p(1 − alphap − betap); aleph = n·p + m (1-based).
    let aleph = n * p + (0.4 + p * 0.2);
    private_quantile_at(sorted, aleph - 1.0)
}

pub use crate::core::stats::{private_quantile, private_quantile_at};

/// What to compute.
#[derive(Debug, Clone, Copy)]
pub struct DependenceParams<'a> {
    /// The feature's column index.
    pub feature: usize,
    /// The values it is set to.
    pub grid: &'a [f64],
    /// Rows of `x` whose ICE curves are returned.
    pub ice_rows: &'a [usize],
    /// Raw outputs or after the link.
    pub space: OutputSpace,
}

/// Partial dependence of every output on one feature over rows `x`, with the ICE
/// curves of `ice_rows`. `progress` is called with the share of grid points done;
/// `cancel` is checked before each grid point.
///
/// # Errors
/// [`CoreError::Cancelled`] once `cancel` is tripped;
/// [`CoreError::Shape`] when `x` does not fit the model; [`CoreError::InvalidArgument`]
/// for no rows, an empty grid, a feature or ICE row out of range, a non-finite grid
/// value, or probability space on a model without one.
pub fn partial_dependence(
    model: &dyn Model,
    x: ArrayView2<f64>,
    params: &DependenceParams<'_>,
    progress: &(dyn Fn(f64) + Sync),
    cancel: &Cancel,
) -> CoreResult<Dependence> {
    check(model, x, params)?;
    let done = AtomicUsize::new(0);
    let total = params.grid.len();
    // One prediction matrix (rows × outputs) per grid point.
    let per_point: Vec<ndarray::Array2<f64>> = params
        .grid
        .par_iter()
        .map(|&v| {
            cancel.check()?;
            let mut moved = x.to_owned();
            moved.column_mut(params.feature).fill(v);
            let p = model.predict(moved.view(), params.space);
            progress((done.fetch_add(1, Ordering::Relaxed) + 1) as f64 / total as f64);
            Ok(p)
        })
        .collect::<CoreResult<_>>()?;
    let outputs = model.n_outputs();
    let average = (0..outputs)
        .map(|k| {
            per_point
                .iter()
                .map(|p| p.column(k).mean().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let ice = (0..outputs)
        .map(|k| {
            params
                .ice_rows
                .iter()
                .map(|&r| per_point.iter().map(|p| p[[r, k]]).collect())
                .collect()
        })
        .collect();
    Ok(Dependence { average, ice })
}

fn check(model: &dyn Model, x: ArrayView2<f64>, params: &DependenceParams<'_>) -> CoreResult<()> {
    if x.ncols() != model.n_features() {
        return Err(CoreError::Shape {
            what: "features",
            expected: model.n_features(),
            got: x.ncols(),
        });
    }
    if x.len_of(Axis(0)) == 0 {
        return Err(CoreError::InvalidArgument(
            "partial dependence needs at least one row".into(),
        ));
    }
    if params.feature >= x.ncols() {
        return Err(CoreError::InvalidArgument(format!(
            "feature {} out of range: the model has {} features",
            params.feature,
            x.ncols()
        )));
    }
    if params.grid.is_empty() || params.grid.iter().any(|v| !v.is_finite()) {
        return Err(CoreError::InvalidArgument(
            "the grid must hold at least one value, all finite".into(),
        ));
    }
    if let Some(r) = params.ice_rows.iter().find(|&&r| r >= x.nrows()) {
        return Err(CoreError::InvalidArgument(format!(
            "ICE row {r} out of range: the data has {} rows",
            x.nrows()
        )));
    }
    check_space(model.link(), params.space)?;
    Ok(())
}

/// `count` row indices evenly spaced over `n` rows (all of them when `count >= n`):
/// the deterministic subset global summaries use.
pub fn evenly_spaced(n: usize, count: usize) -> Vec<usize> {
    let take = n.min(count);
    (0..take).map(|i| i * n / take).collect()
}
