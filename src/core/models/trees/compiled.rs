//! The layout TreeSHAP reads, built once when a model is loaded.
//!
//! Every leaf is stored with its root-to-leaf path reduced to *slots*, one per
//! distinct feature on the path: the slot's feature, its zero fraction `z` (the
//! product of child-cover / parent-cover over the path's splits on that feature, the
//! share of training weight that follows the path when the feature is unknown) and
//! the path steps (node, direction) that decide its one fraction `o` for a row (1 if
//! the row follows every split on that feature along the path, else 0). All arrays
//! are flat and indexed by ranges, so a row's explanation walks memory in order.

use super::units::Units;
use super::{Cut, Tree};

/// One step of a leaf's path: the split at `node` must go `left` (or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Node index within the tree.
    pub node: u32,
    /// The slot (distinct path feature) this split belongs to.
    pub slot: u16,
    /// The direction the path takes.
    pub left: bool,
}

/// The leaf-path layout of a whole ensemble.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    /// Per tree: the range of its leaves in the leaf arrays.
    pub tree_leaves: Vec<(u32, u32)>,
    /// Per tree: the output it adds to.
    pub tree_output: Vec<usize>,
    /// Per leaf: its raw value.
    pub leaf_value: Vec<f64>,
    /// Per leaf: start of its slots in `slot_feature`/`slot_z`; one extra end entry.
    pub slot_start: Vec<u32>,
    /// Per leaf: start of its steps in `steps`; one extra end entry.
    pub step_start: Vec<u32>,
    /// Per slot: the feature index.
    pub slot_feature: Vec<u32>,
    /// Per slot: the zero fraction z ∈ [0, 1].
    pub slot_z: Vec<f64>,
    /// All path steps, leaf after leaf.
    pub steps: Vec<Step>,
    /// Per tree: the range of its splits in `split_node`.
    pub tree_splits: Vec<(u32, u32)>,
    /// Per tree: whether it has at most 64 splits, so a row's decisions fit one u64
    /// (bit b set when the row goes left at split b) and slots carry bit masks.
    pub tree_bits: Vec<bool>,
    /// Node index of each split, tree after tree, in bit order.
    pub split_node: Vec<u32>,
    /// The comparison of each split, in the order of `split_node`.
    pub cuts: Vec<Cut>,
    /// Per slot: bits of the splits where the path goes left on the slot's feature.
    pub slot_left: Vec<u64>,
    /// Per slot: bits of all the path's splits on the slot's feature; the row follows
    /// the path on the slot when `decisions & slot_care == slot_left`.
    pub slot_care: Vec<u64>,
    /// The leaves as path-dependent TreeSHAP visits them (sibling pairs merged).
    pub units: Units,
    /// Quadrature rules by number of slots (empty past [`MAX_PATH_FEATURES`]).
    pub quad: Vec<Quadrature>,
    /// Largest number of slots on any leaf's path.
    pub max_slots: usize,
    /// Largest number of nodes in a tree.
    pub max_nodes: usize,
}

impl Compiled {
    /// Compile validated trees.
    pub fn new(trees: &[Tree]) -> Self {
        let mut c = Compiled {
            slot_start: vec![0],
            step_start: vec![0],
            ..Compiled::default()
        };
        for tree in trees {
            let first = c.leaf_value.len() as u32;
            c.max_nodes = c.max_nodes.max(tree.nodes.len());
            let split_first = c.split_node.len() as u32;
            let mut bit_of = vec![u32::MAX; tree.nodes.len()];
            let mut pending = vec![0usize];
            while let Some(i) = pending.pop() {
                if let (Some(l), Some(r)) = (tree.nodes[i].left, tree.nodes[i].right) {
                    bit_of[i] = c.split_node.len() as u32 - split_first;
                    c.split_node.push(i as u32);
                    c.cuts.push(Cut::of(&tree.nodes[i]));
                    pending.push(r);
                    pending.push(l);
                }
            }
            let splits = c.split_node.len() as u32 - split_first;
            c.tree_splits.push((split_first, c.split_node.len() as u32));
            c.tree_bits.push(splits <= 64);
            // Depth-first walk keeping the path as (node, went_left); an explicit
            // stack, so a degenerate deep tree cannot overflow the thread's stack.
            let mut path: Vec<(usize, bool)> = Vec::new();
            let mut stack: Vec<Visit> = vec![(0, 0, None)];
            while let Some((i, depth, via)) = stack.pop() {
                path.truncate(depth.saturating_sub(1));
                if let Some(step) = via {
                    path.push(step);
                }
                let node = &tree.nodes[i];
                if let (Some(l), Some(r)) = (node.left, node.right) {
                    stack.push((r, depth + 1, Some((i, false))));
                    stack.push((l, depth + 1, Some((i, true))));
                } else {
                    push_leaf(tree, i, &path, &bit_of, &mut c);
                }
            }
            c.tree_leaves.push((first, c.leaf_value.len() as u32));
            c.tree_output.push(tree.output);
        }
        if c.max_slots <= MAX_PATH_FEATURES {
            c.quad = quadratures(c.max_slots);
        }
        c.units = Units::new(&c, &c.quad);
        c
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.tree_leaves.len()
    }

    /// Slots of leaf `l` as (features, zero fractions).
    #[inline]
    pub fn slots(&self, l: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.slot_start[l] as usize, self.slot_start[l + 1] as usize);
        (&self.slot_feature[a..b], &self.slot_z[a..b])
    }

    /// Each output's expected raw value when every feature is unknown: `base`
    /// plus, over every leaf, its value times the product of its path's zero
    /// fractions (the share of training cover that reaches it).
    pub fn expected_outputs(&self, base: &[f64]) -> Vec<f64> {
        let mut out = base.to_vec();
        for (t, &(a, b)) in self.tree_leaves.iter().enumerate() {
            for l in a as usize..b as usize {
                let (_, z) = self.slots(l);
                out[self.tree_output[t]] += self.leaf_value[l] * z.iter().product::<f64>();
            }
        }
        out
    }

    /// Path steps of leaf `l`.
    #[inline]
    pub fn leaf_steps(&self, l: usize) -> &[Step] {
        &self.steps[self.step_start[l] as usize..self.step_start[l + 1] as usize]
    }
}

/// A node to visit: (node, depth, the step from its parent).
type Visit = (usize, usize, Option<(usize, bool)>);

/// Append the record of leaf `i` reached by `path`.
fn push_leaf(tree: &Tree, i: usize, path: &[(usize, bool)], bit_of: &[u32], c: &mut Compiled) {
    let node = &tree.nodes[i];
    let slot_base = c.slot_feature.len();
    for &(n, left) in path.iter() {
        let split = &tree.nodes[n];
        let feature = split.feature.unwrap_or(0) as u32;
        let child = if left { split.left } else { split.right };
        let child_cover = child.map_or(0.0, |ch| tree.nodes[ch].cover);
        // A split no training weight reached: share evenly so the fractions still sum to 1.
        let ratio = if split.cover > 0.0 {
            child_cover / split.cover
        } else {
            0.5
        };
        let slot = match c.slot_feature[slot_base..]
            .iter()
            .position(|&f| f == feature)
        {
            Some(s) => {
                c.slot_z[slot_base + s] *= ratio;
                s
            }
            None => {
                c.slot_feature.push(feature);
                c.slot_z.push(ratio);
                c.slot_left.push(0);
                c.slot_care.push(0);
                c.slot_feature.len() - 1 - slot_base
            }
        };
        let bit = bit_of[n];
        if bit < 64 {
            c.slot_care[slot_base + slot] |= 1u64 << bit;
            if left {
                c.slot_left[slot_base + slot] |= 1u64 << bit;
            }
        }
        c.steps.push(Step {
            node: n as u32,
            slot: slot as u16,
            left,
        });
    }
    c.max_slots = c.max_slots.max(c.slot_feature.len() - slot_base);
    c.leaf_value.push(node.value);
    c.slot_start.push(c.slot_feature.len() as u32);
    c.step_start.push(c.steps.len() as u32);
}

/// Most distinct features one leaf path may have for TreeSHAP (bit masks are u64,
/// and the quadrature's products stay within f64's range).
pub const MAX_PATH_FEATURES: usize = 64;

/// Gauss–Legendre quadrature on [0, 1] prepared for a leaf with `m` path features.
///
/// The Shapley weight |S|!(m−|S|−1)!/m! is the Beta integral ∫₀¹ tˢ(1−t)^{m−1−s} dt,
/// so a leaf's contribution to φᵢ is v(oᵢ − zᵢ)∫₀¹ Π_{j≠i} (zⱼ(1−t) + oⱼt) dt: the
/// integral of a polynomial of degree m−1, which ⌈m/2⌉ Gauss points integrate
/// exactly. Writing the factor as (1−t)(zⱼ + oⱼu) with u = t/(1−t) moves every
/// (1−t) power into the weights.
#[derive(Debug, Clone, Default)]
pub struct Quadrature {
    /// u_p = t_p / (1 − t_p) at each point.
    pub u: Vec<f64>,
    /// w_p (1 − t_p)^{m−1}: weights for attributions (degree m − 1).
    pub w_phi: Vec<f64>,
    /// w_p (1 − t_p)^{m−2}: weights for interactions (degree m − 2).
    pub w_pair: Vec<f64>,
}

/// Quadrature rules for m = 0..=max_m path features (index m).
pub fn quadratures(max_m: usize) -> Vec<Quadrature> {
    (0..=max_m)
        .map(|m| {
            if m == 0 {
                return Quadrature::default();
            }
            let (t, w) = gauss_legendre(m.div_ceil(2));
            let mut q = Quadrature::default();
            for (&t, &w) in t.iter().zip(&w) {
                q.u.push(t / (1.0 - t));
                q.w_phi.push(w * (1.0 - t).powi(m as i32 - 1));
                q.w_pair.push(w * (1.0 - t).powi(m as i32 - 2));
            }
            q
        })
        .collect()
}

/// Nodes and weights of the n-point Gauss–Legendre rule mapped to [0, 1]: Newton's
/// iteration on the Legendre polynomial from the usual cosine guesses.
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    for i in 0..n {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            // P_n(x) and its derivative by the three-term recurrence.
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=n {
                let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
            let dx = p1 / dp;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        nodes.push((1.0 - x) / 2.0);
        weights.push(1.0 / ((1.0 - x * x) * dp * dp));
    }
    (nodes, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadrature_integrates_beta_weights_exactly() {
        // ∫₀¹ tˢ(1−t)^{m−1−s} dt = s!(m−1−s)!/m!, the Shapley weight, for every s.
        for (m, q) in quadratures(20).iter().enumerate().skip(1) {
            for s in 0..m {
                let got: f64 =
                    q.u.iter()
                        .zip(&q.w_phi)
                        .map(|(u, w)| w * u.powi(s as i32))
                        .sum();
                let exact = (1..=s).map(|v| v as f64).product::<f64>()
                    * (1..=(m - 1 - s)).map(|v| v as f64).product::<f64>()
                    / (1..=m).map(|v| v as f64).product::<f64>();
                assert!((got - exact).abs() <= 1e-13 * exact, "m={m} s={s}");
            }
        }
    }
}
