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

use super::cpu::has_v3;
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
    let v3 = has_v3();
    let add =
        |row: &[f64], k: usize, scratch: &mut Scratch, per_bg: Option<usize>, out: &mut [f64]| {
            let job = Job {
                groups: &groups,
                model,
                weights: &weights,
                per_background: per_bg,
            };
            #[cfg(target_arch = "x86_64")]
            if v3 {
                // SAFETY: `has_v3` found every feature `add_v3` is compiled with.
                return unsafe { add_v3(&job, row, k, scratch, out) };
            }
            let _ = v3;
            job.groups
                .add(job.model, row, k, scratch, job.weights, per_bg, out)
        };
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
                        add(&row, k, scratch, None, &mut phi);
                        phi.iter_mut().for_each(|p| *p /= n_bg);
                        phi
                    }
                    OutputSpace::Probability => {
                        let mut per_bg = vec![0.0; reference.rows() * f];
                        add(&row, k, scratch, Some(f), &mut per_bg);
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

/// One row's call of [`Groups::add`], less the row.
struct Job<'a> {
    groups: &'a Groups,
    model: &'a TreeEnsemble,
    weights: &'a Weights,
    per_background: Option<usize>,
}

/// [`Groups::add`] compiled for x86-64-v3 (see [`super::cpu`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,popcnt,lzcnt")]
fn add_v3(job: &Job, row: &[f64], k: usize, scratch: &mut Scratch, out: &mut [f64]) {
    let Job {
        groups,
        model,
        weights,
        per_background,
    } = *job;
    groups.add(model, row, k, scratch, weights, per_background, out)
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
    /// Per group: number of rows in it.
    count: Vec<f64>,
    /// Per group: start of its rows in `members`; one extra end entry.
    members_start: Vec<u32>,
    /// Background row indices, group after group.
    members: Vec<u32>,
    /// Per leaf: start of its follow sets in `follow`; one extra end entry.
    follow_start: Vec<u32>,
    /// Per leaf, slot-major: a bit set over the leaf's groups (⌈groups/64⌉ words per
    /// slot), bit g set when group g follows the path on the slot. A row reaches the
    /// leaf in a hybrid with group g only if g follows every slot the row leaves,
    /// so the candidates are the intersection of those slots' sets.
    follow: Vec<u64>,
    /// Most words of one leaf's sets.
    max_words: usize,
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
            count: Vec::new(),
            members_start: vec![0],
            members: Vec::new(),
            follow_start: vec![0],
            follow: Vec::new(),
            max_words: 0,
        };
        let mut scratch = Scratch::new(c);
        // Bits that hold a row index, for sorting (mask, row) packed in one word.
        let row_bits = usize::BITS - rows.len().saturating_sub(1).leading_zeros();
        let mut masks = Vec::new();
        let mut order: Vec<(u64, u32)> = Vec::with_capacity(rows.len());
        let mut packed: Vec<u64> = Vec::with_capacity(rows.len());
        // Per tree: masks[leaf - first][row].
        for t in 0..c.trees() {
            let (a, b) = (c.tree_leaves[t].0 as usize, c.tree_leaves[t].1 as usize);
            masks.clear();
            masks.resize((b - a) * rows.len(), 0u64);
            for (r, row) in rows.iter().enumerate() {
                scratch.decide(model, t, row);
                for l in a..b {
                    masks[(l - a) * rows.len() + r] = scratch.path_mask(c, l);
                }
            }
            for l in a..b {
                let leaf_masks = &masks[(l - a) * rows.len()..][..rows.len()];
                let slots = c.slot_start[l + 1] - c.slot_start[l];
                order.clear();
                if slots + row_bits <= 64 {
                    packed.clear();
                    packed.extend(
                        leaf_masks
                            .iter()
                            .enumerate()
                            .map(|(r, &m)| m << row_bits | r as u64),
                    );
                    packed.sort_unstable();
                    let low = (1u64 << row_bits) - 1;
                    order.extend(packed.iter().map(|&p| (p >> row_bits, (p & low) as u32)));
                } else {
                    order.extend(leaf_masks.iter().enumerate().map(|(r, &m)| (m, r as u32)));
                    order.sort_unstable();
                }
                let first = g.mask.len();
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
                let groups = g.mask.len() - first;
                for k in first..g.mask.len() {
                    let size = g.members_start[k + 1] - g.members_start[k];
                    g.count.push(f64::from(size));
                }
                let words = groups.div_ceil(64);
                g.max_words = g.max_words.max(words);
                let m = c.slot_start[l + 1] - c.slot_start[l];
                for s in 0..m {
                    let base = g.follow.len();
                    g.follow.resize(base + words, 0);
                    for (k, &mask) in g.mask[first..].iter().enumerate() {
                        if mask >> s & 1 == 1 {
                            g.follow[base + k / 64] |= 1u64 << (k % 64);
                        }
                    }
                }
                g.follow_start.push(g.follow.len() as u32);
            }
        }
        g
    }

    /// Add the raw contributions of the trees of output `k` to row `row`'s
    /// attributions into `out`: `out[j]` for feature j, or with `per_background`
    /// = Some(F), `out[r · F + j]` for background row r.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn add(
        &self,
        model: &TreeEnsemble,
        row: &[f64],
        k: usize,
        scratch: &mut Scratch,
        w: &Weights,
        per_background: Option<usize>,
        out: &mut [f64],
    ) {
        let c = model.compiled();
        let mut cand = vec![0u64; self.max_words];
        for t in trees_of(c, k) {
            scratch.decide(model, t, row);
            let (a, b) = c.tree_leaves[t];
            for l in a as usize..b as usize {
                let (features, _) = c.slots(l);
                let m = features.len();
                let (g0, g1) = (self.leaf_start[l] as usize, self.leaf_start[l + 1] as usize);
                if m == 0 || g0 == g1 {
                    continue;
                }
                let full = u64::MAX >> (64 - m);
                let x_mask = scratch.path_mask(c, l);
                // B: the slots x leaves, which a group must all follow.
                let miss = full & !x_mask;
                let words = (g1 - g0).div_ceil(64);
                let follow = &self.follow[self.follow_start[l] as usize..][..m * words];
                if words == 1 {
                    // Up to 64 groups (the usual case): one word, no buffer.
                    cand[0] = u64::MAX >> (64 - (g1 - g0));
                    for_bits(miss, |s| cand[0] &= follow[s]);
                    if cand[0] == 0 {
                        continue;
                    }
                } else if !candidates(follow, g1 - g0, miss, &mut cand[..words]) {
                    continue;
                }
                let v = c.leaf_value[l];
                let nb = miss.count_ones() as usize;
                let mut neg_total = 0.0;
                for (word, &bits) in cand[..words].iter().enumerate() {
                    let mut bits = bits;
                    while bits != 0 {
                        let g = g0 + word * 64 + bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        // A: the slots only x follows.
                        let only_x = x_mask & !self.mask[g];
                        if only_x == 0 && nb == 0 {
                            continue;
                        }
                        let na = only_x.count_ones() as usize;
                        let (pos, neg) = (v * w.pos[na][nb], -v * w.neg[na][nb]);
                        match per_background {
                            None => {
                                let n = self.count[g];
                                neg_total += neg * n;
                                for_bits(only_x, |s| out[features[s] as usize] += pos * n);
                            }
                            Some(f) => {
                                let (r0, r1) = (self.members_start[g], self.members_start[g + 1]);
                                for &r in &self.members[r0 as usize..r1 as usize] {
                                    let at = r as usize * f;
                                    for_bits(only_x, |s| out[at + features[s] as usize] += pos);
                                    for_bits(miss, |s| out[at + features[s] as usize] += neg);
                                }
                            }
                        }
                    }
                }
                if neg_total != 0.0 {
                    for_bits(miss, |s| out[features[s] as usize] += neg_total);
                }
            }
        }
    }
}

/// Fill `cand` (⌈groups/64⌉ words) with the groups of a leaf (of `groups` groups,
/// follow sets `follow`) that follow every slot in `miss`; false when there are none.
#[inline(always)]
fn candidates(follow: &[u64], groups: usize, miss: u64, cand: &mut [u64]) -> bool {
    let words = cand.len();
    cand.fill(u64::MAX);
    if groups % 64 != 0 {
        cand[words - 1] = u64::MAX >> (64 - groups % 64);
    }
    let mut rest = miss;
    while rest != 0 {
        let s = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        let mut any = 0;
        for (c, f) in cand.iter_mut().zip(&follow[s * words..(s + 1) * words]) {
            *c &= f;
            any |= *c;
        }
        if any == 0 {
            return false;
        }
    }
    true
}

/// Call `f(s)` for each set bit s of `bits`, lowest first.
#[inline]
fn for_bits(mut bits: u64, mut f: impl FnMut(usize)) {
    while bits != 0 {
        f(bits.trailing_zeros() as usize);
        bits &= bits - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::explain::tests_support::random_ensemble;

    #[test]
    fn the_v3_copy_gives_the_same_bits() {
        let model = random_ensemble(3, 10, 8, 9);
        let grid = |n: usize, salt: usize| {
            ndarray::Array2::from_shape_fn((n, 9), |(r, j)| {
                ((r * 37 + j * 11 + salt) % 29) as f64 / 29.0 - 0.5
            })
        };
        let reference = Reference::new(&model, grid(150, 5));
        let groups = Groups::new(&model, &reference);
        let weights = Weights::new(model.compiled().max_slots);
        let mut scratch = Scratch::new(model.compiled());
        for row in grid(6, 1).rows() {
            let row = row.to_vec();
            for per_background in [None, Some(9)] {
                let len = per_background.map_or(9, |f| f * reference.rows());
                let mut base = vec![0.0; len];
                groups.add(
                    &model,
                    &row,
                    0,
                    &mut scratch,
                    &weights,
                    per_background,
                    &mut base,
                );
                #[cfg(target_arch = "x86_64")]
                if has_v3() {
                    let job = Job {
                        groups: &groups,
                        model: &model,
                        weights: &weights,
                        per_background,
                    };
                    let mut v3 = vec![0.0; len];
                    // SAFETY: the features were detected just now.
                    unsafe { add_v3(&job, &row, 0, &mut scratch, &mut v3) };
                    assert!(base
                        .iter()
                        .zip(&v3)
                        .all(|(a, b)| a.to_bits() == b.to_bits()));
                }
            }
        }
    }
}
