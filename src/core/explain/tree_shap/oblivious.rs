//! Path-dependent TreeSHAP of oblivious trees by table look-up.
//!
//! In an oblivious tree ([`crate::core::models::trees::oblivious`]) a row's
//! decisions are one bit per level, and the tree's attributions for the row depend on
//! the row only through them. So, once per model, every pattern of d bits is put
//! through the general kernel ([`super::row_tree_phi`], the one definition of the
//! values) and its attributions are stored; explaining a row then costs d
//! comparisons and d additions per tree instead of a walk over its 2^d leaves.

use rayon::prelude::*;

use super::{row_tree_phi, Block, Prepared};
use crate::core::explain::tree_walk::Scratch;
use crate::core::models::trees::budget::LayoutSize;
use crate::core::models::trees::oblivious::{levels, Oblivious, ObliviousTree, MAX_TABLE_BYTES};
use crate::core::models::trees::TreeEnsemble;
use crate::core::models::Model;
use crate::core::{Cancel, CoreResult};

/// The model's tables, built on the first request that needs them (unless `cancel`
/// stops the build: then nothing is kept, and the next request builds them).
pub(super) fn tables<'m>(
    model: &'m TreeEnsemble,
    pr: &Prepared,
    cancel: &Cancel,
) -> CoreResult<&'m Oblivious> {
    model.oblivious(|| build(model, pr, cancel))
}

/// Tables for every oblivious tree within [`MAX_TABLE_BYTES`] and what the model's
/// memory budget ([`crate::core::models::trees::TreeLimits::max_memory_bytes`],
/// `--max-model-memory-mb`) leaves beside its layout, in tree order; the trees past
/// it keep the kernel. `cancel` is checked before each tree's table.
///
/// # Errors
/// [`CoreError::Cancelled`](crate::core::CoreError::Cancelled) once `cancel` is tripped.
pub(super) fn build(model: &TreeEnsemble, pr: &Prepared, cancel: &Cancel) -> CoreResult<Oblivious> {
    let layout = LayoutSize::of(model.trees(), model.n_features()).bytes();
    let budget = model.limits().max_memory_bytes.saturating_sub(layout);
    let mut left = MAX_TABLE_BYTES.min(budget);
    let shapes: Vec<Option<(ObliviousTree, Vec<u8>)>> = model
        .trees()
        .iter()
        .enumerate()
        .map(|(t, tree)| {
            let levels = levels(tree)?;
            let shape = ObliviousTree::shape(pr.c, t, &levels, &tree.nodes);
            left = left.checked_sub(shape.bytes())?;
            let mut level_of = vec![0u8; tree.nodes.len()];
            for (k, level) in levels.iter().enumerate() {
                level.iter().for_each(|&n| level_of[n] = k as u8);
            }
            Some((shape, level_of))
        })
        .collect();
    let f = model.n_features();
    let trees = shapes
        .into_par_iter()
        .enumerate()
        .map(|(t, s)| {
            cancel.check()?;
            Ok(s.map(|(shape, level_of)| fill(pr, f, t, shape, &level_of)))
        })
        .collect::<CoreResult<_>>()?;
    Ok(Oblivious { trees })
}

/// Fill `table` for tree `t`: each pattern's leaf value and attributions, from the
/// general kernel given the decisions the pattern stands for (`level_of`: each
/// node's level).
fn fill(
    pr: &Prepared,
    f: usize,
    t: usize,
    mut table: ObliviousTree,
    level_of: &[u8],
) -> ObliviousTree {
    let mut s = Scratch::new(pr.c);
    let mut phi = vec![0.0; f];
    let patterns = 1usize << table.cuts.len();
    table.values.reserve(patterns * (1 + table.features.len()));
    for p in 0..patterns {
        s.assume(pr.c, t, |n| p >> level_of[n] & 1 == 1);
        let reached = row_tree_phi(pr, t, &mut s, &mut phi);
        table.values.push(reached);
        // The tree's paths read only its level features, so `phi` is zero again after.
        for &j in &table.features {
            table.values.push(std::mem::take(&mut phi[j as usize]));
        }
    }
    table
}

/// Add tree `t`'s part to the rows of the block whose output it writes, from its
/// table; returns false (and adds nothing) when the tree has none.
#[inline(always)]
pub(super) fn add_tree(
    b: &Block,
    t: usize,
    start: usize,
    xs: &[Vec<f64>],
    parts: (&mut [f64], &mut [Vec<f64>]),
) -> bool {
    let Some(Some(table)) = b.tables.trees.get(t) else {
        return false;
    };
    let c = b.pr.c;
    let nodes = &b.model.trees()[t].nodes;
    let stride = 1 + table.features.len();
    let (margins, phis) = parts;
    for (r, row) in xs.iter().enumerate() {
        if b.outputs[start + r] == c.tree_output[t] {
            let v = &table.values[table.pattern(c, nodes, row) * stride..][..stride];
            margins[r] += v[0];
            for (&j, &x) in table.features.iter().zip(&v[1..]) {
                phis[r][j as usize] += x;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests;
