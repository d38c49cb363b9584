//! The goal on a model's outputs and the check every candidate passes before it is
//! returned.

use ndarray::Array2;

use super::{same, Found, Goal, Problem};
use crate::core::models::{Link, Model, OutputSpace};

/// The goal as a closed interval on one raw output, when the link allows (a
/// monotone link on one output). Used by the exact solvers.
pub fn raw_range(goal: &Goal, link: Link, n_outputs: usize) -> Option<(usize, f64, f64)> {
    let Goal::Range {
        output,
        space,
        lo,
        hi,
    } = *goal
    else {
        return None;
    };
    if space == OutputSpace::Raw || link == Link::Identity {
        return Some((output, lo, hi));
    }
    let inverse = |p: f64| match link {
        Link::Logistic if n_outputs == 1 => Some(if p <= 0.0 {
            f64::NEG_INFINITY
        } else if p >= 1.0 {
            f64::INFINITY
        } else {
            (p / (1.0 - p)).ln()
        }),
        Link::Exp => Some(if p <= 0.0 { f64::NEG_INFINITY } else { p.ln() }),
        _ => None,
    };
    Some((output, inverse(lo)?, inverse(hi)?))
}

/// Whether outputs `raw` (one row of raw outputs) meet the goal.
pub fn meets(goal: &Goal, link: Link, raw: &[f64]) -> bool {
    match *goal {
        Goal::Range {
            output,
            space,
            lo,
            hi,
        } => {
            let mut row = Array2::from_shape_vec((1, raw.len()), raw.to_vec()).expect("one row");
            if space == OutputSpace::Probability {
                link.apply(&mut row);
            }
            let v = row[[0, output]];
            lo <= v && v <= hi
        }
        Goal::Class(c) => argmax_first(raw) == c,
    }
}

/// The index of the first largest value.
pub fn argmax_first(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// Check a candidate against every constraint and, by predicting it, the goal.
///
/// # Errors
/// A sentence naming the constraint broken.
pub fn check(model: &dyn Model, p: &Problem, values: &[f64]) -> Result<Found, String> {
    let mut changes = 0;
    for (j, (&v, &own)) in values.iter().zip(&p.instance).enumerate() {
        if !p.domains[j].allows(v, own) {
            return Err(format!("feature {j} takes {v}, outside its constraints"));
        }
        changes += usize::from(!same(v, own));
    }
    if p.max_changes.is_some_and(|m| changes > m) {
        return Err(format!("{changes} features changed"));
    }
    let row = Array2::from_shape_vec((1, values.len()), values.to_vec()).expect("one row");
    let raw = model.predict_raw(row.view()).row(0).to_vec();
    if !meets(&p.goal, model.link(), &raw) {
        return Err("the prediction misses the target".into());
    }
    let space = match p.goal {
        Goal::Range { space, .. } => space,
        Goal::Class(_) => OutputSpace::Probability,
    };
    let found = Found {
        prediction: model.predict(row.view(), space).row(0).to_vec(),
        cost: p.cost.total(&p.domains, &p.instance, values),
        values: values.to_vec(),
    };
    if !found.cost.is_finite() || found.prediction.iter().any(|v| !v.is_finite()) {
        return Err("its prediction or cost is not a finite number".into());
    }
    Ok(found)
}

/// The model's outputs on the problem's instance, in the goal's space.
pub fn predict_in_goal_space(model: &dyn Model, p: &Problem) -> Vec<f64> {
    let row = Array2::from_shape_vec((1, p.instance.len()), p.instance.clone()).expect("one row");
    let space = match p.goal {
        Goal::Range { space, .. } => space,
        Goal::Class(_) => OutputSpace::Probability,
    };
    model.predict(row.view(), space).row(0).to_vec()
}
