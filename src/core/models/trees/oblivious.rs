//! Oblivious trees (CatBoost's kind): complete binary trees whose splits at each
//! depth all make the same comparison. A row's decisions in such a tree are one bit
//! per level, so anything that depends on the row only through its decisions (the
//! path-dependent TreeSHAP attributions of the tree) is a function of those d bits
//! and can be tabulated once per model: 2^d entries instead of a walk over 2^d leaves
//! for every row. This module finds such trees and holds their tables; the values
//! themselves are computed by the explainer that reads them
//! (`crate::core::explain::tree_shap`), so one kernel defines them.

use super::{Compiled, Node, Tree};

/// Deepest oblivious tree that gets a table: 2^d entries, each computed by a walk
/// over 2^d leaves when the table is built, so building costs about 4^d per tree.
pub const MAX_OBLIVIOUS_DEPTH: usize = 8;

/// Most bytes all tables of a model may take; trees past it keep the general path.
pub const MAX_TABLE_BYTES: usize = 64 << 20;

/// The split nodes of tree `tree`, level by level from the root, when the tree is
/// oblivious: every node above depth d is a split, every node at depth d a leaf, and
/// the splits of each level read the same feature with the same comparison and the
/// same missing-value direction. `None` for any other tree or one deeper than
/// [`MAX_OBLIVIOUS_DEPTH`]. A lone leaf is oblivious with no levels.
pub fn levels(tree: &Tree) -> Option<Vec<Vec<usize>>> {
    let nodes = &tree.nodes;
    let mut levels = Vec::new();
    let mut level = vec![0usize];
    loop {
        let first = &nodes[level[0]];
        if first.is_leaf() {
            return level.iter().all(|&i| nodes[i].is_leaf()).then_some(levels);
        }
        if levels.len() == MAX_OBLIVIOUS_DEPTH
            || !level.iter().all(|&i| same_rule(first, &nodes[i]))
        {
            return None;
        }
        let next = level
            .iter()
            .flat_map(|&i| [nodes[i].left, nodes[i].right])
            .collect::<Option<Vec<usize>>>()?;
        levels.push(std::mem::replace(&mut level, next));
    }
}

/// Whether two splits send every value the same way.
fn same_rule(a: &Node, b: &Node) -> bool {
    !b.is_leaf() && a.feature == b.feature && a.split == b.split && a.default_left == b.default_left
}

/// The table of one oblivious tree.
#[derive(Debug, Clone, PartialEq)]
pub struct ObliviousTree {
    /// Per level, root first: the index in [`Compiled::cuts`] (and `split_node`) of
    /// one of its splits, which decides the level for a row.
    pub cuts: Vec<u32>,
    /// The distinct features the tree splits on.
    pub features: Vec<u32>,
    /// Per pattern p (bit k set when the row goes left at level k), `1 + features`
    /// values: the leaf value the row reaches, then the tree's attribution to each
    /// of `features`.
    pub values: Vec<f64>,
}

impl ObliviousTree {
    /// An empty table for tree `t` with the split levels `levels` (from [`levels`]).
    pub fn shape(c: &Compiled, t: usize, levels: &[Vec<usize>], nodes: &[Node]) -> Self {
        let (a, b) = (c.tree_splits[t].0 as usize, c.tree_splits[t].1 as usize);
        let cuts = levels
            .iter()
            .map(|level| {
                let at = c.split_node[a..b]
                    .iter()
                    .position(|&n| n as usize == level[0]);
                (a + at.unwrap_or(0)) as u32
            })
            .collect();
        let mut features: Vec<u32> = Vec::new();
        for level in levels {
            let f = nodes[level[0]].feature.unwrap_or(0) as u32;
            if !features.contains(&f) {
                features.push(f);
            }
        }
        ObliviousTree {
            cuts,
            features,
            values: Vec::new(),
        }
    }

    /// Bytes the filled table takes.
    pub fn bytes(&self) -> usize {
        (1usize << self.cuts.len()) * (1 + self.features.len()) * size_of::<f64>()
    }

    /// The row's pattern: bit k set when it goes left at level k.
    #[inline(always)]
    pub fn pattern(&self, c: &Compiled, nodes: &[Node], row: &[f64]) -> usize {
        let mut p = 0;
        for (k, &s) in self.cuts.iter().enumerate() {
            let cut = &c.cuts[s as usize];
            let node = &nodes[c.split_node[s as usize] as usize];
            p |= usize::from(cut.goes_left(row[cut.feature as usize], node)) << k;
        }
        p
    }
}

/// The tables of a whole ensemble: `Some` for each tree that has one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Oblivious {
    /// Per tree.
    pub trees: Vec<Option<ObliviousTree>>,
}
