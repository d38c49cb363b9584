//! What an explanation is asked of: which outputs of which rows, and which
//! feature groups play.

use ndarray::{Array2, ArrayView2, Axis};

use super::{Method, OutputChoice, Players};
use crate::core::explain::groups::FeatureGroups;
use crate::core::models::Model;
use crate::core::{CoreError, CoreResult};
use crate::spec::BuiltModel;

/// The model's groups when `players` asks for them, checked against the method.
///
/// # Errors
/// [`CoreError::InvalidArgument`] when the model declares no groups, or when groups
/// are to be players of a method that does not sample coalitions.
pub(super) fn player_groups(
    model: &BuiltModel,
    method: Method,
    players: Players,
) -> CoreResult<Option<&FeatureGroups>> {
    if players == Players::Features {
        return Ok(None);
    }
    let groups = model.groups.as_ref().ok_or_else(|| {
        CoreError::InvalidArgument(
            "this model declares no feature groups; register it with `groups` to explain by group"
                .into(),
        )
    })?;
    if players == Players::Groups && !method.is_model_agnostic() {
        return Err(CoreError::InvalidArgument(format!(
            "groups can be players of kernel_shap, permutation_shap, exact_shapley and lime, \
             not {method}; use \"group_by\": \"groups\" to sum its per-feature attributions"
        )));
    }
    Ok(Some(&groups.groups))
}

/// Each group's feature indices, as [`SamplingParams::groups`] takes them.
pub(super) fn members(groups: &FeatureGroups) -> Vec<Vec<usize>> {
    (0..groups.len())
        .map(|g| groups.members(g).to_vec())
        .collect()
}

pub(super) fn argmax_rows(raw: &Array2<f64>) -> Vec<usize> {
    raw.axis_iter(Axis(0))
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (k, &v)| {
                    if v > best.1 {
                        (k, v)
                    } else {
                        best
                    }
                })
                .0
        })
        .collect()
}

/// The output(s) to explain for each row: without expansion, one output per row
/// of `x`; with [`OutputChoice::All`] or [`OutputChoice::Top`], the rows to explain
/// (instance indices, each repeated once per output) and their outputs.
pub(super) fn resolve_outputs(
    model: &dyn Model,
    x: ArrayView2<f64>,
    choice: OutputChoice,
) -> CoreResult<(Option<Vec<usize>>, Vec<usize>)> {
    let n_out = model.n_outputs();
    let per_row = |k: usize| -> (Option<Vec<usize>>, Vec<usize>) {
        let rows = (0..x.nrows())
            .flat_map(|i| std::iter::repeat_n(i, k))
            .collect();
        (Some(rows), Vec::with_capacity(x.nrows() * k))
    };
    match choice {
        OutputChoice::Index(k) if k < n_out => Ok((None, vec![k; x.nrows()])),
        OutputChoice::Index(k) => Err(CoreError::InvalidArgument(format!(
            "output {k} out of range: the model has {n_out} output(s)"
        ))),
        OutputChoice::Predicted if n_out == 1 => Ok((None, vec![0; x.nrows()])),
        OutputChoice::Predicted => Ok((None, argmax_rows(&model.predict_raw(x)))),
        OutputChoice::All => {
            let (rows, mut outputs) = per_row(n_out);
            for _ in 0..x.nrows() {
                outputs.extend(0..n_out);
            }
            Ok((rows, outputs))
        }
        OutputChoice::Top(k) if k == 0 || k > n_out => Err(CoreError::InvalidArgument(format!(
            "top:{k} needs k between 1 and the number of outputs ({n_out})"
        ))),
        OutputChoice::Top(k) => {
            let raw = model.predict_raw(x);
            let (rows, mut outputs) = per_row(k);
            for row in raw.rows() {
                let mut order: Vec<usize> = (0..n_out).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
                outputs.extend(&order[..k]);
            }
            Ok((rows, outputs))
        }
    }
}
