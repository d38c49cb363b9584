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
//! [`crate::core::models::trees::compiled`]. Sibling leaves are handled as one
//! unit ([`crate::core::models::trees::units`]), which halves that work for the
//! two leaves in three of a deep LightGBM tree that have a leaf sibling. Rows go
//! in blocks over the threads; a request of one block is also split over chunks
//! of trees, so a single row uses every thread. Interactions use
//! `Φᵢⱼ = v/2 (oᵢ − zᵢ)(oⱼ − zⱼ) ∫₀¹ Π_{l≠i,j} (…) dt` and `Φᵢᵢ = φᵢ − Σ_{j≠i} Φᵢⱼ`.

use std::ops::Range;

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::cpu::has_v3;
use super::tree_walk::{check_request, for_bits, trees_of, Scratch};
use super::Explanation;
use crate::core::models::trees::compiled::{Quadrature, MAX_PATH_FEATURES};
use crate::core::models::trees::oblivious::Oblivious;
use crate::core::models::trees::units::{Head, Slot, INV_MAX_SLOTS};
use crate::core::models::trees::{Compiled, TreeEnsemble};
use crate::core::models::Model;
use crate::core::{Cancel, CoreResult};

/// Explain each row of `x` (NaN means missing) for the output chosen for it in
/// `outputs`, in raw (margin) space. `base_value` is the cover-weighted mean output.
///
/// # Errors
/// [`CoreError::Shape`](crate::core::CoreError::Shape) or
/// [`CoreError::NonFinite`](crate::core::CoreError::NonFinite) (infinities) for bad rows,
/// [`CoreError::InvalidArgument`](crate::core::CoreError::InvalidArgument) for an output out of range or a length mismatch,
/// [`CoreError::MethodNotSupported`](crate::core::CoreError::MethodNotSupported) when a path has more than 64 distinct features.
pub fn explain(
    model: &TreeEnsemble,
    x: ArrayView2<f64>,
    outputs: &[usize],
) -> CoreResult<Vec<Explanation>> {
    explain_until(model, x, outputs, &Cancel::never())
}

/// [`explain`], giving up with [`CoreError::Cancelled`](crate::core::CoreError::Cancelled)
/// once `cancel` is tripped (checked before each block of rows and trees).
///
/// # Errors
/// As [`explain`]; also [`CoreError::Cancelled`](crate::core::CoreError::Cancelled).
pub fn explain_until(
    model: &TreeEnsemble,
    x: ArrayView2<f64>,
    outputs: &[usize],
    cancel: &Cancel,
) -> CoreResult<Vec<Explanation>> {
    let prepared = Prepared::new(model, x, outputs)?;
    let tables = oblivious::tables(model, &prepared, cancel)?;
    let v3 = has_v3();
    // Rows go in blocks, and each block walks the trees in the outer loop, so a
    // tree's leaf records stay in cache while every row of the block uses them.
    let block = Block {
        pr: &prepared,
        model,
        x: x.view(),
        outputs,
        tables,
    };
    // A request of one block is also split over the trees, so one row uses every
    // thread; the chunks do not depend on the thread count, nor do the sums.
    let n = x.nrows();
    let chunk = if n <= BLOCK { TREE_CHUNK } else { usize::MAX };
    let tasks: Vec<Task> = (0..n)
        .step_by(BLOCK)
        .flat_map(|start| {
            let rows = start..(start + BLOCK).min(n);
            (0..model.compiled().trees())
                .step_by(chunk)
                .map(move |t| (rows.clone(), t..t.saturating_add(chunk)))
        })
        .collect();
    let parts: Vec<(Task, Vec<RowPart>)> = tasks
        .into_par_iter()
        .map(|(rows, trees)| {
            cancel.check()?;
            let block = &block;
            let trees = trees.start..trees.end.min(model.compiled().trees());
            #[cfg(target_arch = "x86_64")]
            if v3 {
                // SAFETY: `has_v3` found every feature `explain_block_v3` is compiled with.
                let part = unsafe { explain_block_v3(block, rows.clone(), trees.clone()) };
                return Ok(((rows, trees), part));
            }
            let _ = v3;
            let part = explain_block(block, rows.clone(), trees.clone());
            Ok(((rows, trees), part))
        })
        .collect::<CoreResult<_>>()?;
    // Sum the tree chunks of each row, in tree order.
    let mut sums: Vec<(f64, Vec<f64>)> = outputs
        .iter()
        .map(|&k| (model.base()[k], vec![0.0; model.n_features()]))
        .collect();
    for ((rows, _), part) in parts {
        for (sum, (margin, phi)) in sums[rows].iter_mut().zip(part) {
            sum.0 += margin;
            sum.1.iter_mut().zip(&phi).for_each(|(a, b)| *a += b);
        }
    }
    Ok(outputs
        .iter()
        .zip(sums)
        .map(|(&k, (prediction, phi))| Explanation::new(k, prediction, prepared.expected[k], phi))
        .collect())
}

/// Rows and trees one parallel task explains.
type Task = (Range<usize>, Range<usize>);

/// One row's share from a task's trees: (raw prediction part, attributions).
type RowPart = (f64, Vec<f64>);

/// Trees per task when a request is split over trees.
const TREE_CHUNK: usize = 50;

/// What every block of rows reads.
struct Block<'a, 'p> {
    pr: &'a Prepared<'p>,
    model: &'a TreeEnsemble,
    x: ArrayView2<'a, f64>,
    outputs: &'a [usize],
    /// Tables of the oblivious trees ([`oblivious`]); other trees take the kernel.
    tables: &'a Oblivious,
}

/// (the trees' part of the raw prediction, attributions) of each row in `rows`,
/// from the trees in `trees`.
#[inline(always)]
fn explain_block(b: &Block, rows: Range<usize>, trees: Range<usize>) -> Vec<RowPart> {
    let (c, f, start) = (b.pr.c, b.model.n_features(), rows.start);
    let xs: Vec<Vec<f64>> = rows.map(|r| b.x.row(r).to_vec()).collect();
    let mut phis = vec![vec![0.0; f]; xs.len()];
    // Raw predictions, from the leaf each row follows all the way.
    let mut margins = vec![0.0; xs.len()];
    let mut scratch = Scratch::new(c);
    for t in trees {
        if oblivious::add_tree(b, t, start, &xs, (&mut margins, &mut phis)) {
            continue;
        }
        for (r, row) in xs.iter().enumerate() {
            if b.outputs[start + r] == c.tree_output[t] {
                scratch.decide(b.model, t, row);
                margins[r] += row_tree_phi(b.pr, t, &mut scratch, &mut phis[r]);
            }
        }
    }
    margins.into_iter().zip(phis).collect()
}

/// [`explain_block`] compiled for x86-64-v3 (see [`super::cpu`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,popcnt,lzcnt")]
fn explain_block_v3(b: &Block, rows: Range<usize>, trees: Range<usize>) -> Vec<RowPart> {
    explain_block(b, rows, trees)
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
    interactions_until(model, x, outputs, &Cancel::never())
}

/// [`interactions`], giving up with
/// [`CoreError::Cancelled`](crate::core::CoreError::Cancelled) once `cancel` is
/// tripped (checked before each row).
///
/// # Errors
/// As [`interactions`]; also [`CoreError::Cancelled`](crate::core::CoreError::Cancelled).
pub fn interactions_until(
    model: &TreeEnsemble,
    x: ArrayView2<f64>,
    outputs: &[usize],
    cancel: &Cancel,
) -> CoreResult<Vec<Array2<f64>>> {
    let prepared = Prepared::new(model, x, outputs)?;
    let f = model.n_features();
    x.axis_iter(Axis(0))
        .into_par_iter()
        .zip(outputs.par_iter())
        .map_init(
            || Scratch::new(model.compiled()),
            |scratch, (row, &k)| {
                cancel.check()?;
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
                Ok(inter)
            },
        )
        .collect()
}

/// What every row shares: the layout, the quadratures, the expected values.
struct Prepared<'a> {
    c: &'a Compiled,
    quad: &'a [Quadrature],
    expected: &'a [f64],
}

impl<'a> Prepared<'a> {
    fn new(model: &'a TreeEnsemble, x: ArrayView2<f64>, outputs: &[usize]) -> CoreResult<Self> {
        check_request(model, x, outputs)?;
        let c = model.compiled();
        Ok(Prepared {
            c,
            quad: &c.quad,
            expected: model.expected(),
        })
    }
}

/// Add tree `t`'s attributions for the row whose decisions are in `s`; returns
/// the value of the leaf the row reaches.
#[inline(always)]
fn row_tree_phi(pr: &Prepared, t: usize, s: &mut Scratch, phi: &mut [f64]) -> f64 {
    let units = &pr.c.units;
    let (a, b) = units.tree_units[t];
    let mut reached = 0.0;
    for head in &units.head[a as usize..b as usize] {
        let slots = units.slots_of(head);
        let m = slots.len();
        let mask = s.unit_mask(units, head, slots);
        let goes_left = head.pair && s.goes_left(head);
        if m == 0 || mask == u64::MAX >> (64 - m) {
            reached = if head.pair && !goes_left {
                head.value_right
            } else {
                head.value
            };
        }
        if m == 0 {
            continue;
        }
        let q = &pr.quad[m];
        let n = q.u.len();
        let shared = m - usize::from(head.pair);
        let unit = Unit {
            head,
            slots,
            mask,
            goes_left,
            inv: if m <= INV_MAX_SLOTS {
                &units.inv[head.inv as usize..][..shared * n]
            } else {
                &[]
            },
        };
        // Fixed point counts let the compiler keep the products in registers.
        match n {
            1 => unit_phi::<1>(&unit, q, phi),
            2 => unit_phi::<2>(&unit, q, phi),
            3 => unit_phi::<3>(&unit, q, phi),
            4 => unit_phi::<4>(&unit, q, phi),
            5 => unit_phi::<5>(&unit, q, phi),
            6 => unit_phi::<6>(&unit, q, phi),
            7 => unit_phi::<7>(&unit, q, phi),
            8 => unit_phi::<8>(&unit, q, phi),
            _ => unit_phi::<{ MAX_PATH_FEATURES / 2 }>(&unit, q, phi),
        }
    }
    reached
}

/// One unit (a leaf or a sibling pair) as a row sees it.
struct Unit<'c> {
    /// Leaf values and, for a pair, the split's own fractions.
    head: &'c Head,
    /// The unit's slots (a pair's split feature last).
    slots: &'c [Slot],
    /// Bit s set when the row follows the path on slot s (o_s = 1); for a pair's
    /// last slot, on the splits above the pair's split.
    mask: u64,
    /// For a pair: whether the row goes left at the pair's split.
    goes_left: bool,
    /// 1/(z_s + u_p) over the shared slots, slot-major; empty for units longer than
    /// [`INV_MAX_SLOTS`], which divide instead.
    inv: &'c [f64],
}

/// A unit's attributions with up to N quadrature points (N ≥ the rule's length;
/// surplus points carry zero weight).
#[inline(always)]
fn unit_phi<const N: usize>(unit: &Unit, q: &Quadrature, phi: &mut [f64]) {
    // The specialised counts are exact (the compiler unrolls them); the last,
    // MAX_PATH_FEATURES / 2, holds any longer rule.
    let n = if N < MAX_PATH_FEATURES / 2 {
        N
    } else {
        q.u.len()
    };
    let head = unit.head;
    let (shared, own) = unit
        .slots
        .split_at(unit.slots.len() - usize::from(head.pair));
    let mut u = [0.0f64; N];
    let mut w = [0.0f64; N];
    u[..n].copy_from_slice(&q.u[..n]);
    w[..n].copy_from_slice(&q.w_phi[..n]);
    // w_p Π_s (z_s + o_s u_p) over the shared slots. A slot the row leaves the path
    // on (o_s = 0) has the constant factor z_s: those go into one scalar, `z_off`,
    // folded into the leaf values below, and only the slots the row follows (the
    // set bits of `ones`) take work at every point.
    let all = u64::MAX.checked_shr(64 - shared.len() as u32).unwrap_or(0);
    let ones = unit.mask & all;
    let mut z_off = 1.0;
    for (s, slot) in shared.iter().enumerate() {
        // z_s (1 − o_s) + o_s: exactly z_s or 1, without a branch to mispredict.
        let o = f64::from((ones >> s & 1) as u32);
        z_off *= slot.z * (1.0 - o) + o;
    }
    let mut wq = w;
    for_bits(ones, |s| {
        let z = shared[s].z;
        for p in 0..N {
            wq[p] *= z + u[p];
        }
    });
    // Times the leaf value, or the pair's v_L (z_L + o_L u) + v_R (z_R + o_R u).
    let mut wp = wq;
    if let Some(own) = own.first() {
        let above = unit.mask >> shared.len() & 1 == 1;
        let ol = f64::from(u8::from(above && unit.goes_left));
        let or = f64::from(u8::from(above && !unit.goes_left));
        let (vl, vr) = (head.value * z_off, head.value_right * z_off);
        let (zl, zr) = (head.z_left, head.z_right);
        let (c0, c1) = (vl * zl + vr * zr, vl * ol + vr * or);
        for p in 0..N {
            wp[p] *= c0 + c1 * u[p];
        }
        let value = vl * (ol - zl) + vr * (or - zr);
        phi[own.feature as usize] += value * wq.iter().sum::<f64>();
    } else {
        let value = head.value * z_off;
        for x in wp.iter_mut() {
            *x *= value;
        }
    }
    // Features the row leaves the path on share one value: −Σ_p w_p Π_p.
    let off = -wp.iter().sum::<f64>();
    for_bits(all & !ones, |s| phi[shared[s].feature as usize] += off);
    for_bits(ones, |s| {
        // Divide the slot's own factor out of Π_p.
        let mut sum = 0.0;
        if unit.inv.is_empty() {
            for p in 0..n {
                sum += wp[p] / (shared[s].z + u[p]);
            }
        } else {
            let inv = &unit.inv[s * n..][..n];
            for p in 0..n {
                sum += wp[p] * inv[p];
            }
        }
        phi[shared[s].feature as usize] += (1.0 - shared[s].z) * sum;
    });
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

mod oblivious;
#[cfg(test)]
mod tests;
