//! The trees of one game with the background rows' directions at every split, and
//! the walks under a coalition (see [`super`]).

use std::cell::Cell;

use super::super::game::Game;
use crate::core::models::{Model, TreeEnsemble};

mod diverted;
mod paired;

pub(super) use paired::Reached;

/// A leaf's child index.
const LEAF: u32 = u32::MAX;

/// One node as the walk reads it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    /// Index of the left child among the game's steps; [`LEAF`] for a leaf.
    left: u32,
    /// Index of the right child.
    right: u32,
    /// The player whose feature the split reads.
    player: u32,
    /// Whether some background row goes the other way from the explained row here:
    /// otherwise the split sends every masked row the row's way whoever plays, and
    /// the walk treats it as a split on no player.
    separates: bool,
    /// Whether the explained row goes left.
    x_left: bool,
    /// The players of the separating splits at and below the node, one bit each
    /// (only when the game has at most 64 players; all ones otherwise).
    below: u64,
    /// The leaf value the explained row reaches from here.
    x_value: f64,
    /// Σ leaf value × mass over the background rows that reach the node on their
    /// own values, to the leaves they reach so.
    own: f64,
}

/// One tree of the game.
#[derive(Debug)]
pub(super) struct Head {
    /// Index of its root among the steps.
    pub root: usize,
    /// The raw output it adds to.
    pub output: usize,
    /// The players of its separating splits: the only ones its share depends on.
    pub players: Vec<usize>,
}

/// The trees of one game, with the background rows' directions at every split.
pub(super) struct Walks<const W: usize> {
    /// The trees played, in boosting order.
    pub heads: Vec<Head>,
    /// All their nodes.
    steps: Vec<Step>,
    /// Per step: the background rows that go left (bit `b % 64` of word `b / 64`).
    left: Vec<[u64; W]>,
    /// Every background row.
    full: [u64; W],
    /// Per step: the background rows that reach it on their own values.
    reach: Vec<[u64; W]>,
    /// Per split: [`Walks::turned`] once walked, NaN before.
    turned: Vec<Cell<f64>>,
    /// A coalition of no player.
    nobody: Vec<bool>,
    /// The background's weights, when it has them.
    pub weights: Option<Vec<f64>>,
    /// Whether coalitions fit one `u64` (at most 64 players), so that
    /// [`Walks::share`] may cut whole subtrees short.
    pub masks: bool,
    /// Whether [`Walks::summarise_trees`] has run.
    summarised: bool,
}

impl<const W: usize> Walks<W> {
    /// The trees of `ensemble` that the game reads (those of its output when
    /// `linear`, all otherwise), each split decided for the row and every
    /// background row by [`crate::core::models::trees::Node::goes_left`].
    pub fn new(game: &Game, ensemble: &TreeEnsemble, linear: bool) -> Self {
        let n = game.background.nrows();
        let mut player_of = vec![0u32; ensemble.n_features()];
        for g in 0..game.groups.len() {
            for &j in game.groups.members(g) {
                player_of[j] = g as u32;
            }
        }
        // Feature-major, so that a split reads one contiguous column.
        let columns = game.background.t().as_standard_layout().into_owned();
        let mut full = [0u64; W];
        for b in 0..n {
            full[b / 64] |= 1 << (b % 64);
        }
        let mut walks = Walks {
            heads: Vec::new(),
            steps: Vec::new(),
            left: Vec::new(),
            full,
            reach: Vec::new(),
            turned: Vec::new(),
            nobody: vec![false; game.groups.len()],
            weights: game.weights.map(|w| w.to_vec()),
            masks: game.groups.len() <= 64,
            summarised: false,
        };
        // Per distinct split, decided when a tree of the game first makes it: the
        // background rows that go left, and whether the row does.
        let distinct = ensemble.distinct_splits();
        let mut decided: Vec<Option<([u64; W], bool)>> = vec![None; distinct.first.len()];
        let mut decide = |id: u32| {
            *decided[id as usize].get_or_insert_with(|| {
                let (t, i) = distinct.first[id as usize];
                let node = &ensemble.trees()[t as usize].nodes[i as usize];
                let f = node.feature.unwrap_or_default();
                let mut left = [0u64; W];
                let column = columns.row(f);
                node.directions(column.as_slice().unwrap_or_default(), &mut left);
                (left, node.goes_left(game.x[f]))
            })
        };
        for (tree, ids) in ensemble.trees().iter().zip(&distinct.of_node) {
            if linear && tree.output != game.output {
                continue;
            }
            let start = walks.steps.len();
            let mut players = Vec::new();
            for (node, &id) in tree.nodes.iter().zip(ids) {
                let mut step = Step {
                    left: LEAF,
                    right: LEAF,
                    player: 0,
                    separates: false,
                    x_left: false,
                    below: 0,
                    x_value: node.value,
                    own: 0.0,
                };
                let mut left = [0u64; W];
                if let (Some(f), Some(l), Some(r)) = (node.feature, node.left, node.right) {
                    (left, step.x_left) = decide(id);
                    step.separates = left != if step.x_left { full } else { [0; W] };
                    (step.left, step.right) = ((start + l) as u32, (start + r) as u32);
                    step.player = player_of[f];
                    let player = step.player as usize;
                    if step.separates && !players.contains(&player) {
                        players.push(player);
                    }
                }
                walks.steps.push(step);
                walks.left.push(left);
                walks.reach.push([0; W]);
                walks.turned.push(Cell::new(f64::NAN));
            }
            walks.heads.push(Head {
                root: start,
                output: tree.output,
                players,
            });
        }
        walks
    }

    /// Fill what each node's subtree holds ([`Step::below`], [`Step::x_value`],
    /// [`Step::own`], [`Walks::reach`]) in every tree.
    pub fn summarise_trees(&mut self) {
        for i in 0..self.heads.len() {
            self.summarise(self.heads[i].root, self.full);
        }
        self.summarised = true;
    }

    /// Fill [`Step::below`], [`Step::x_value`] and [`Step::own`] of the subtree at
    /// `at`, which the background rows of `reach` reach on their own values.
    fn summarise(&mut self, at: usize, reach: [u64; W]) -> (u64, f64) {
        self.reach[at] = reach;
        let step = self.steps[at];
        if step.left == LEAF {
            let own = step.x_value * self.mass(&reach);
            self.steps[at].own = own;
            return (0, own);
        }
        let goes = self.left[at];
        let (l, r) = (step.left as usize, step.right as usize);
        let (below_l, own_l) = self.summarise(l, and(&reach, &goes, false));
        let (below_r, own_r) = self.summarise(r, and(&reach, &goes, true));
        let mut below = below_l | below_r;
        if step.separates {
            below |= 1u64.checked_shl(step.player).unwrap_or(0);
        }
        let x_value = self.steps[if step.x_left { l } else { r }].x_value;
        let s = &mut self.steps[at];
        s.below = if self.masks { below } else { u64::MAX };
        s.x_value = x_value;
        s.own = own_l + own_r;
        (below, own_l + own_r)
    }

    /// The tree's share of `v(S)` before the division by the background's mass:
    /// Σ leaf value × mass of the background rows whose masked row reaches it.
    /// `mask` holds `coalition` one bit a player when [`Walks::masks`]; a subtree
    /// with no separating split of a player in the coalition, reached by the rows
    /// that reach it on their own values, adds [`Step::own`]; one with no separating
    /// split of a player outside it sends every row to the row's leaf.
    pub fn share(&self, root: usize, coalition: &[bool], mask: u64) -> f64 {
        debug_assert!(self.summarised);
        let mut sum = 0.0;
        self.descend_cut(root, self.full, true, coalition, mask, &mut sum);
        sum
    }

    /// [`Walks::share`] from node `at` with the non-empty set `set`; `untouched`:
    /// no separating split of a player in the coalition lies above.
    fn descend_cut(
        &self,
        mut at: usize,
        mut set: [u64; W],
        mut untouched: bool,
        coalition: &[bool],
        mask: u64,
        sum: &mut f64,
    ) {
        loop {
            let step = &self.steps[at];
            if self.masks {
                if untouched && step.below & mask == 0 {
                    *sum += step.own;
                    return;
                }
                if step.below & !mask == 0 {
                    *sum += step.x_value * self.mass(&set);
                    return;
                }
            } else if step.left == LEAF {
                *sum += step.x_value * self.mass(&set);
                return;
            }
            let (l, r) = (step.left as usize, step.right as usize);
            if step.separates && coalition[step.player as usize] {
                let next = if step.x_left { l } else { r };
                if untouched && self.masks && self.steps[next].below & mask == 0 {
                    *sum += self.turned(at, next);
                    return;
                }
                (at, untouched) = (next, false);
                continue;
            }
            let (left, right) = part(&set, &self.left[at]);
            match (any(&left), any(&right)) {
                (true, true) => {
                    self.descend_cut(l, left, untouched, coalition, mask, sum);
                    (at, set) = (r, right);
                }
                (true, false) => (at, set) = (l, left),
                _ => (at, set) = (r, right),
            }
        }
    }

    /// Σ leaf value × mass over the background rows that reach split `at` on their
    /// own values, sent the row's way there (to `next`) and on their own values
    /// below: what a subtree adds when `at` is the only split of the coalition on
    /// the way. Walked the first time it is asked, then kept.
    fn turned(&self, at: usize, next: usize) -> f64 {
        let kept = self.turned[at].get();
        if !kept.is_nan() {
            return kept;
        }
        let mut sum = 0.0;
        self.descend_cut(next, self.reach[at], false, &self.nobody, 0, &mut sum);
        self.turned[at].set(sum);
        sum
    }

    /// Call `leaf(value, set)` for each leaf the masked rows of `coalition` reach
    /// from `root`, with the set of background rows whose masked row reaches it.
    pub fn walk(&self, root: usize, coalition: &[bool], leaf: &mut impl FnMut(f64, &[u64; W])) {
        self.descend(root, self.full, coalition, leaf);
    }

    /// [`Walks::walk`] from node `at` with the non-empty set `set`.
    fn descend(
        &self,
        mut at: usize,
        mut set: [u64; W],
        coalition: &[bool],
        leaf: &mut impl FnMut(f64, &[u64; W]),
    ) {
        loop {
            let step = &self.steps[at];
            if step.left == LEAF {
                leaf(step.x_value, &set);
                return;
            }
            let (l, r) = (step.left as usize, step.right as usize);
            if step.separates && coalition[step.player as usize] {
                at = if step.x_left { l } else { r };
                continue;
            }
            let (left, right) = part(&set, &self.left[at]);
            match (any(&left), any(&right)) {
                (true, true) => {
                    self.descend(l, left, coalition, leaf);
                    (at, set) = (r, right);
                }
                (true, false) => (at, set) = (l, left),
                _ => (at, set) = (r, right),
            }
        }
    }

    /// The background rows of `set`, counted or weighted.
    #[inline]
    pub fn mass(&self, set: &[u64; W]) -> f64 {
        match &self.weights {
            None => set.iter().map(|w| w.count_ones()).sum::<u32>() as f64,
            Some(weights) => rows(set).map(|b| weights[b]).sum(),
        }
    }
}

/// Bytes the walks of a game over `nodes` nodes and `distinct` distinct splits
/// take with sets of `W` words: per node its step, the rows that go left and those
/// that reach it, its kept subtree sum; per distinct split its decision.
pub(super) fn bytes<const W: usize>(nodes: usize, distinct: usize) -> usize {
    let set = std::mem::size_of::<[u64; W]>();
    let node = std::mem::size_of::<Step>() + 2 * set + std::mem::size_of::<Cell<f64>>();
    let split = std::mem::size_of::<Option<([u64; W], bool)>>();
    nodes
        .saturating_mul(node)
        .saturating_add(distinct.saturating_mul(split))
}

/// `set` parted by a split's left rows `goes`: (left, right).
#[inline(always)]
fn part<const W: usize>(set: &[u64; W], goes: &[u64; W]) -> ([u64; W], [u64; W]) {
    (and(set, goes, false), and(set, goes, true))
}

/// Whether `set` holds a row.
#[inline(always)]
fn any<const W: usize>(set: &[u64; W]) -> bool {
    set.iter().any(|&w| w != 0)
}

/// `a & b`, or `a & !b` when `not`.
#[inline(always)]
fn and<const W: usize>(a: &[u64; W], b: &[u64; W], not: bool) -> [u64; W] {
    let flip = if not { u64::MAX } else { 0 };
    std::array::from_fn(|w| a[w] & (b[w] ^ flip))
}

/// `a | b`.
#[inline(always)]
fn or<const W: usize>(a: &[u64; W], b: &[u64; W]) -> [u64; W] {
    std::array::from_fn(|w| a[w] | b[w])
}

/// The indices of the background rows in `set`, ascending.
pub(super) fn rows<const W: usize>(set: &[u64; W]) -> impl Iterator<Item = usize> + '_ {
    set.iter().enumerate().flat_map(|(w, &word)| {
        let mut bits = word;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                w * 64 + b
            })
        })
    })
}
