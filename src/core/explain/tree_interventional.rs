//! Exact interventional TreeSHAP of tree ensembles against background rows.
//!
//! For one row x and one background row r, the game is v(S) = f(x_S, r_S̄): features
//! in S take x's value, the rest r's (Lundberg et al. 2020, Methods, "interventional
//! TreeSHAP"; Janzing et al. 2020 on why this is the causal reading). A leaf is
//! reached in the hybrid exactly when, for every distinct feature j on its path, x
//! or r follows the path on j. With A the path features only x follows and B those
//! only r follows (|A| = a, |B| = b), the leaf's value v is counted iff A ⊆ S and
//! B ∩ S = ∅, whose Shapley values are v (a−1)! b! / (a+b)! for i ∈ A and
//! −v a! (b−1)! / (a+b)! for i ∈ B. A leaf's background rows are grouped by which
//! path features they follow (a bit mask), once per call, so a row costs one mask
//! test per distinct group rather than one tree walk per background row.
//!
//! Probability space (binary models) follows shap's `TreeExplainer(model_output=
//! "probability")`: each background row's raw attributions are rescaled by
//! (σ(f(x)) − σ(f(r))) / (f(x) − f(r)) (by 1 where the margins are equal) before
//! averaging, so they add up to σ(f(x)) − E[σ(f(R))].

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

use super::tree_shap::{check_request, trees_of, Scratch};
use super::Explanation;
use crate::core::models::trees::TreeEnsemble;
use crate::core::models::{check_rows, sigmoid, Link, Model, OutputSpace};
use crate::core::stats::Reference;
use crate::core::{CoreError, CoreResult};

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
    check_rows(reference.data.view(), model.n_features(), true)?;
    if reference.rows() == 0 {
        return Err(CoreError::InvalidArgument(
            "interventional TreeSHAP needs at least one background row".into(),
        ));
    }
    if space == OutputSpace::Probability && model.link() != Link::Logistic {
        return Err(CoreError::InvalidArgument(
            "output_space 'probability' for interventional TreeSHAP needs a binary (logistic) \
             model"
                .into(),
        ));
    }
    let groups = Groups::new(model, reference);
    let bg_raw = model.predict_raw(reference.data.view());
    let n_bg = reference.rows() as f64;
    let weights = Weights::new(model.compiled().max_slots);
    let f = model.n_features();
    let answers: Vec<Vec<f64>> = x
        .axis_iter(Axis(0))
        .into_par_iter()
        .zip(outputs.par_iter())
        .map_init(
            || Scratch::new(model.compiled()),
            |scratch, (row, &k)| {
                let row = row.to_vec();
                match space {
                    OutputSpace::Raw => {
                        let mut phi = vec![0.0; f];
                        groups.add(model, &row, k, scratch, &weights, false, &mut |_, j, d| {
                            phi[j] += d
                        });
                        phi.iter_mut().for_each(|p| *p /= n_bg);
                        phi
                    }
                    OutputSpace::Probability => {
                        let mut per_bg = vec![0.0; reference.rows() * f];
                        groups.add(model, &row, k, scratch, &weights, true, &mut |r, j, d| {
                            per_bg[r * f + j] += d
                        });
                        let fx = model.margin_of(&row, k);
                        let mut phi = vec![0.0; f];
                        for (r, acc) in per_bg.chunks(f).enumerate() {
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
                }
            },
        )
        .collect();
    Ok(x.axis_iter(Axis(0))
        .zip(outputs)
        .zip(answers)
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

/// Shapley weights of a leaf game: `pos[a][b]` = (a−1)! b! / (a+b)!, `neg[a][b]` =
/// a! (b−1)! / (a+b)!.
struct Weights {
    pos: Vec<Vec<f64>>,
    neg: Vec<Vec<f64>>,
}

impl Weights {
    fn new(max: usize) -> Self {
        // (a−1)! b! / (a+b)! = 1 / (a · C(a+b, a)); binomials from Pascal's triangle.
        let mut binom = vec![vec![1.0f64; 2 * max + 2]; 2 * max + 2];
        for n in 1..binom.len() {
            for k in 1..n {
                binom[n][k] = binom[n - 1][k - 1] + binom[n - 1][k];
            }
        }
        let weight = |own: usize, other: usize| {
            if own == 0 {
                0.0
            } else {
                1.0 / (own as f64 * binom[own + other][own])
            }
        };
        let table = |first: bool| -> Vec<Vec<f64>> {
            (0..=max)
                .map(|a| {
                    (0..=max)
                        .map(|b| if first { weight(a, b) } else { weight(b, a) })
                        .collect()
                })
                .collect()
        };
        Weights {
            pos: table(true),
            neg: table(false),
        }
    }
}

/// Background rows grouped, per leaf, by the mask of path features they follow.
struct Groups {
    /// Per leaf: start of its groups in `mask`/`members_start`; one extra end entry.
    leaf_start: Vec<u32>,
    /// Per group: bit s set when the rows follow the leaf's path on slot s.
    mask: Vec<u64>,
    /// Per group: start of its rows in `members`; one extra end entry.
    members_start: Vec<u32>,
    /// Background row indices, group after group.
    members: Vec<u32>,
}

impl Groups {
    fn new(model: &TreeEnsemble, reference: &Reference) -> Self {
        let c = model.compiled();
        let rows: Vec<Vec<f64>> = reference
            .data
            .axis_iter(Axis(0))
            .map(|r| r.to_vec())
            .collect();
        let mut g = Groups {
            leaf_start: vec![0],
            mask: Vec::new(),
            members_start: vec![0],
            members: Vec::new(),
        };
        let mut scratch = Scratch::new(c);
        // Per tree: masks[leaf - first][row].
        for t in 0..c.trees() {
            let (a, b) = (c.tree_leaves[t].0 as usize, c.tree_leaves[t].1 as usize);
            let mut masks = vec![0u64; (b - a) * rows.len()];
            for (r, row) in rows.iter().enumerate() {
                scratch.decide(model, t, row);
                for l in a..b {
                    masks[(l - a) * rows.len() + r] = scratch.path_mask(c, l);
                }
            }
            for l in a..b {
                let mut order: Vec<(u64, u32)> = masks[(l - a) * rows.len()..][..rows.len()]
                    .iter()
                    .enumerate()
                    .map(|(r, &m)| (m, r as u32))
                    .collect();
                order.sort_unstable();
                for (i, &(m, r)) in order.iter().enumerate() {
                    if i == 0 || order[i - 1].0 != m {
                        if i > 0 {
                            g.members_start.push(g.members.len() as u32);
                        }
                        g.mask.push(m);
                    }
                    g.members.push(r);
                }
                g.members_start.push(g.members.len() as u32);
                g.leaf_start.push(g.mask.len() as u32);
            }
        }
        g
    }

    /// Call `out(background row, feature, raw contribution)` for every nonzero
    /// contribution of the trees of output `k` to row `row`'s attributions; with
    /// `per_background` false, once per group with the sum over its rows and the
    /// row index 0.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        model: &TreeEnsemble,
        row: &[f64],
        k: usize,
        scratch: &mut Scratch,
        w: &Weights,
        per_background: bool,
        out: &mut dyn FnMut(usize, usize, f64),
    ) {
        let c = model.compiled();
        for t in trees_of(c, k) {
            scratch.decide(model, t, row);
            let (a, b) = c.tree_leaves[t];
            for l in a as usize..b as usize {
                let (features, _) = c.slots(l);
                let m = features.len();
                if m == 0 {
                    continue;
                }
                let full = u64::MAX >> (64 - m);
                let x_mask = scratch.path_mask(c, l);
                let v = c.leaf_value[l];
                let (g0, g1) = (self.leaf_start[l] as usize, self.leaf_start[l + 1] as usize);
                for g in g0..g1 {
                    let r_mask = self.mask[g];
                    if x_mask | r_mask != full || x_mask == r_mask {
                        continue;
                    }
                    let only_x = x_mask & !r_mask;
                    let only_r = r_mask & !x_mask;
                    let (na, nb) = (only_x.count_ones() as usize, only_r.count_ones() as usize);
                    let (pos, neg) = (v * w.pos[na][nb], -v * w.neg[na][nb]);
                    let members = &self.members
                        [self.members_start[g] as usize..self.members_start[g + 1] as usize];
                    for (s, &feature) in features.iter().enumerate() {
                        let bit = 1u64 << s;
                        let d = if only_x & bit != 0 {
                            pos
                        } else if only_r & bit != 0 {
                            neg
                        } else {
                            continue;
                        };
                        let j = feature as usize;
                        if per_background {
                            for &r in members {
                                out(r as usize, j, d);
                            }
                        } else {
                            out(0, j, d * members.len() as f64);
                        }
                    }
                }
            }
        }
    }
}
