//! Exact path-dependent TreeSHAP and SHAP interaction values of tree ensembles.
//!
//! The values are those of Lundberg et al. 2020 ("From local explanations to global
//! understanding with explainable AI for trees", Nature Machine Intelligence,
//! Algorithm 2 and the interaction values of its Methods): a feature outside the
//! coalition follows both branches weighted by training cover. They are computed
//! here leaf by leaf, in the spirit of Linear TreeShap (Yu et al., NeurIPS 2022):
//! with oⱼ ∈ {0, 1} whether the row follows the leaf's path on feature j and zⱼ the
//! path's cover fraction for j, a leaf of value v adds
//! `v (oᵢ − zᵢ) ∫₀¹ Π_{j≠i} (zⱼ(1−t) + oⱼ t) dt` to φᵢ, because the Shapley weights
//! are Beta integrals. The integrand is a polynomial of degree m − 1 (m distinct
//! features on the path), so ⌈m/2⌉ Gauss–Legendre points give it exactly: O(m²/2)
//! work per leaf with no recursion, on the flat layout of
//! [`crate::core::models::trees::compiled`]. Interactions use
//! `Φᵢⱼ = v/2 (oᵢ − zᵢ)(oⱼ − zⱼ) ∫₀¹ Π_{l≠i,j} (…) dt` and `Φᵢᵢ = φᵢ − Σ_{j≠i} Φᵢⱼ`.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::Explanation;
use crate::core::models::trees::compiled::{Quadrature, MAX_PATH_FEATURES};
use crate::core::models::trees::{Compiled, TreeEnsemble};
use crate::core::models::{check_rows, Model};
use crate::core::{CoreError, CoreResult};

/// Explain each row of `x` (NaN means missing) for the output chosen for it in
/// `outputs`, in raw (margin) space. `base_value` is the cover-weighted mean output.
///
/// # Errors
/// [`CoreError::Shape`] or [`CoreError::NonFinite`] (infinities) for bad rows,
/// [`CoreError::InvalidArgument`] for an output out of range or a length mismatch,
/// [`CoreError::MethodNotSupported`] when a path has more than 64 distinct features.
pub fn explain(
    model: &TreeEnsemble,
    x: ArrayView2<f64>,
    outputs: &[usize],
) -> CoreResult<Vec<Explanation>> {
    let prepared = Prepared::new(model, x, outputs)?;
    let c = model.compiled();
    let f = model.n_features();
    // Rows go in blocks, and each block walks the trees in the outer loop, so a
    // tree's leaf records stay in cache while every row of the block uses them.
    let starts: Vec<usize> = (0..x.nrows()).step_by(BLOCK).collect();
    let blocks: Vec<Vec<(f64, Vec<f64>)>> = starts
        .into_par_iter()
        .map(|start| {
            let end = (start + BLOCK).min(x.nrows());
            let rows: Vec<Vec<f64>> = (start..end).map(|r| x.row(r).to_vec()).collect();
            let mut phis = vec![vec![0.0; f]; rows.len()];
            // Raw predictions, from the leaf each row follows all the way.
            let mut margins: Vec<f64> = (start..end).map(|r| model.base()[outputs[r]]).collect();
            let mut scratch = Scratch::new(c);
            for t in 0..c.trees() {
                for (r, row) in rows.iter().enumerate() {
                    if outputs[start + r] == c.tree_output[t] {
                        scratch.decide(model, t, row);
                        margins[r] += row_tree_phi(&prepared, t, &mut scratch, &mut phis[r]);
                    }
                }
            }
            margins.into_iter().zip(phis).collect::<Vec<_>>()
        })
        .collect();
    Ok(outputs
        .iter()
        .zip(blocks.into_iter().flatten())
        .map(|(&k, (prediction, phi))| Explanation::new(k, prediction, prepared.expected[k], phi))
        .collect())
}

/// Rows explained together, tree by tree.
pub(crate) const BLOCK: usize = 16;

/// SHAP interaction values of each row for its chosen output: an F×F symmetric
/// matrix whose row i sums to φᵢ (raw space, path-dependent).
///
/// # Errors
/// As [`explain`].
pub fn interactions(
    model: &TreeEnsemble,
    x: ArrayView2<f64>,
    outputs: &[usize],
) -> CoreResult<Vec<Array2<f64>>> {
    let prepared = Prepared::new(model, x, outputs)?;
    let f = model.n_features();
    Ok(x.axis_iter(Axis(0))
        .into_par_iter()
        .zip(outputs.par_iter())
        .map_init(
            || Scratch::new(model.compiled()),
            |scratch, (row, &k)| {
                let row = row.to_vec();
                let mut phi = vec![0.0; f];
                let mut inter = Array2::zeros((f, f));
                for t in trees_of(model.compiled(), k) {
                    scratch.decide(model, t, &row);
                    row_tree_phi(&prepared, t, scratch, &mut phi);
                    row_tree_pairs(&prepared, t, scratch, &mut inter);
                }
                for i in 0..f {
                    let off: f64 = (0..f).filter(|&j| j != i).map(|j| inter[[i, j]]).sum();
                    inter[[i, i]] = phi[i] - off;
                }
                inter
            },
        )
        .collect())
}

/// The cover-weighted expected raw output of each output: what path-dependent
/// attributions start from (shap's `expected_value`).
pub fn expected_values(model: &TreeEnsemble) -> Vec<f64> {
    let c = model.compiled();
    let mut out = model.base().to_vec();
    for t in 0..c.trees() {
        let (a, b) = c.tree_leaves[t];
        for l in a as usize..b as usize {
            let (_, z) = c.slots(l);
            out[c.tree_output[t]] += c.leaf_value[l] * z.iter().product::<f64>();
        }
    }
    out
}

/// What every row shares: the layout, the quadratures, the expected values.
struct Prepared<'a> {
    c: &'a Compiled,
    quad: &'a [Quadrature],
    expected: Vec<f64>,
}

impl<'a> Prepared<'a> {
    fn new(model: &'a TreeEnsemble, x: ArrayView2<f64>, outputs: &[usize]) -> CoreResult<Self> {
        check_request(model, x, outputs)?;
        let c = model.compiled();
        Ok(Prepared {
            c,
            quad: &c.quad,
            expected: expected_values(model),
        })
    }
}

/// Validate rows, outputs and path lengths, shared by the tree explainers.
pub(crate) fn check_request(
    model: &TreeEnsemble,
    x: ArrayView2<f64>,
    outputs: &[usize],
) -> CoreResult<()> {
    check_rows(x, model.n_features(), true)?;
    if outputs.len() != x.nrows() {
        return Err(CoreError::InvalidArgument(format!(
            "{} output indices for {} rows",
            outputs.len(),
            x.nrows()
        )));
    }
    if let Some(&k) = outputs.iter().find(|&&k| k >= model.n_outputs()) {
        return Err(CoreError::InvalidArgument(format!(
            "output {k} out of range: the model has {} output(s)",
            model.n_outputs()
        )));
    }
    if model.compiled().max_slots > MAX_PATH_FEATURES {
        return Err(CoreError::MethodNotSupported {
            method: format!(
                "TreeSHAP on paths with more than {MAX_PATH_FEATURES} distinct features"
            ),
            kind: model.kind(),
        });
    }
    Ok(())
}

/// Indices of the trees that add to output `k`.
pub(crate) fn trees_of(c: &Compiled, k: usize) -> impl Iterator<Item = usize> + '_ {
    (0..c.trees()).filter(move |&t| c.tree_output[t] == k)
}

/// Per-thread buffers: split decisions of the current tree, one fractions of a leaf.
pub(crate) struct Scratch {
    /// Whether the row goes left at each node of the current tree (trees with more
    /// than 64 splits only).
    left: Vec<bool>,
    /// Bit b set when the row goes left at split b (trees with at most 64 splits).
    bits: u64,
    /// Whether the current tree uses `bits`.
    use_bits: bool,
    /// o ∈ {0, 1} for each slot of the current leaf.
    one: Vec<f64>,
    /// Π (z + o·u) at each quadrature point.
    prod: Vec<f64>,
}

impl Scratch {
    pub(crate) fn new(c: &Compiled) -> Self {
        Scratch {
            left: vec![false; c.max_nodes],
            bits: 0,
            use_bits: false,
            one: vec![0.0; c.max_slots],
            prod: vec![0.0; c.max_slots.div_ceil(2).max(1)],
        }
    }

    /// Record the row's direction at every split of tree `t`.
    pub(crate) fn decide(&mut self, model: &TreeEnsemble, t: usize, row: &[f64]) {
        let c = model.compiled();
        let nodes = &model.trees()[t].nodes;
        let (a, b) = c.tree_splits[t];
        self.use_bits = c.tree_bits[t];
        if self.use_bits {
            let mut bits = 0u64;
            for (bit, &n) in c.split_node[a as usize..b as usize].iter().enumerate() {
                let node = &nodes[n as usize];
                let f = node.feature.unwrap_or(0);
                bits |= u64::from(node.goes_left(row[f])) << bit;
            }
            self.bits = bits;
        } else {
            for &n in &c.split_node[a as usize..b as usize] {
                let node = &nodes[n as usize];
                self.left[n as usize] = node.goes_left(row[node.feature.unwrap_or(0)]);
            }
        }
    }

    /// Bit s set when the row follows leaf `l`'s path on its slot s.
    #[inline]
    pub(crate) fn path_mask(&self, c: &Compiled, l: usize) -> u64 {
        let (a, b) = (c.slot_start[l] as usize, c.slot_start[l + 1] as usize);
        if self.use_bits {
            let d = self.bits;
            let mut mask = 0u64;
            for (s, (&left, &care)) in c.slot_left[a..b].iter().zip(&c.slot_care[a..b]).enumerate()
            {
                mask |= u64::from(d & care == left) << s;
            }
            mask
        } else {
            let mut mask = if b == a {
                0
            } else {
                u64::MAX >> (64 - (b - a))
            };
            for s in c.leaf_steps(l) {
                if self.left[s.node as usize] != s.left {
                    mask &= !(1u64 << s.slot);
                }
            }
            mask
        }
    }

    /// Fill `one` for leaf `l` and return its slots (features, zero fractions).
    #[inline]
    fn follow<'c>(&mut self, c: &'c Compiled, l: usize) -> (&'c [u32], &'c [f64]) {
        let (features, z) = c.slots(l);
        let mask = self.path_mask(c, l);
        for (s, o) in self.one[..features.len()].iter_mut().enumerate() {
            *o = (mask >> s & 1) as f64;
        }
        (features, z)
    }

    /// Π_j (z_j + o_j u_p) at each point of `q`.
    #[inline]
    fn products(&mut self, q: &Quadrature, z: &[f64]) {
        for (p, &u) in q.u.iter().enumerate() {
            let mut prod = 1.0;
            for (&zj, &oj) in z.iter().zip(&self.one) {
                prod *= zj + oj * u;
            }
            self.prod[p] = prod;
        }
    }
}

/// Add tree `t`'s attributions for the row whose decisions are in `s`; returns
/// the value of the leaf the row reaches.
fn row_tree_phi(pr: &Prepared, t: usize, s: &mut Scratch, phi: &mut [f64]) -> f64 {
    let c = pr.c;
    let (a, b) = c.tree_leaves[t];
    let mut reached = 0.0;
    for l in a as usize..b as usize {
        let m = (c.slot_start[l + 1] - c.slot_start[l]) as usize;
        let mask = s.path_mask(c, l);
        if m == 0 || mask == u64::MAX >> (64 - m) {
            reached = c.leaf_value[l];
        }
        if m == 0 {
            continue;
        }
        let leaf = Leaf {
            value: c.leaf_value[l],
            features: c.slots(l).0,
            z: c.slots(l).1,
            mask,
            inv: &c.slot_inv[c.inv_start[l] as usize..c.inv_start[l + 1] as usize],
        };
        let q = &pr.quad[m];
        // Fixed point counts let the compiler keep the products in registers.
        match q.u.len() {
            1 => leaf_phi::<1>(&leaf, q, phi),
            2 => leaf_phi::<2>(&leaf, q, phi),
            3 => leaf_phi::<3>(&leaf, q, phi),
            4 => leaf_phi::<4>(&leaf, q, phi),
            5 => leaf_phi::<5>(&leaf, q, phi),
            6 => leaf_phi::<6>(&leaf, q, phi),
            _ => leaf_phi::<{ MAX_PATH_FEATURES / 2 }>(&leaf, q, phi),
        }
    }
    reached
}

/// One leaf as a row sees it.
struct Leaf<'c> {
    /// Raw leaf value v.
    value: f64,
    /// Feature of each slot.
    features: &'c [u32],
    /// Zero fraction of each slot.
    z: &'c [f64],
    /// Bit s set when the row follows the path on slot s (o_s = 1).
    mask: u64,
    /// 1/(z_s + u_p), slot-major.
    inv: &'c [f64],
}

/// A leaf's attributions with up to N quadrature points (N ≥ the rule's length;
/// surplus points carry zero weight).
#[inline(always)]
fn leaf_phi<const N: usize>(leaf: &Leaf, q: &Quadrature, phi: &mut [f64]) {
    let n = q.u.len();
    let mut u = [0.0f64; N];
    let mut w = [0.0f64; N];
    u[..n].copy_from_slice(&q.u);
    w[..n].copy_from_slice(&q.w_phi);
    // w_p Π_s (z_s + o_s u_p).
    let mut wp = w;
    for (s, &zj) in leaf.z.iter().enumerate() {
        let o = (leaf.mask >> s & 1) as f64;
        for p in 0..N {
            wp[p] *= zj + o * u[p];
        }
    }
    // Features the row leaves the path on share one value: −v Σ_p w_p Π_p.
    let off = -leaf.value * wp.iter().sum::<f64>();
    for (s, (&feature, &zj)) in leaf.features.iter().zip(leaf.z).enumerate() {
        let add = if leaf.mask >> s & 1 == 1 {
            // Divide the slot's own factor out of Π_p.
            let inv = &leaf.inv[s * n..s * n + n];
            let sum: f64 = wp.iter().zip(inv).map(|(a, b)| a * b).sum();
            leaf.value * (1.0 - zj) * sum
        } else {
            off
        };
        phi[feature as usize] += add;
    }
}

/// Add tree `t`'s off-diagonal interaction values for the row in `s`.
fn row_tree_pairs(pr: &Prepared, t: usize, s: &mut Scratch, inter: &mut Array2<f64>) {
    let c = pr.c;
    let (a, b) = c.tree_leaves[t];
    for l in a as usize..b as usize {
        let (features, z) = s.follow(c, l);
        let m = features.len();
        if m < 2 {
            continue;
        }
        let q = &pr.quad[m];
        s.products(q, z);
        let half_v = c.leaf_value[l] / 2.0;
        for i in 0..m {
            let oi = s.one[i];
            if oi == z[i] {
                continue;
            }
            for j in i + 1..m {
                let oj = s.one[j];
                if oj == z[j] {
                    continue;
                }
                let sum: f64 = (0..q.u.len())
                    .map(|p| {
                        let ri = z[i] + oi * q.u[p];
                        let rj = z[j] + oj * q.u[p];
                        q.w_pair[p] * s.prod[p] / (ri * rj)
                    })
                    .sum();
                let value = half_v * (oi - z[i]) * (oj - z[j]) * sum;
                let (fi, fj) = (features[i] as usize, features[j] as usize);
                inter[[fi, fj]] += value;
                inter[[fj, fi]] += value;
            }
        }
    }
}
