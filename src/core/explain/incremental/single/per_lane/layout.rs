//! What the per-lane kernel of [`super`] reads besides the plan: each lane's word
//! of the features its coalition takes, and the plan's per-lane inputs laid out
//! for a shared last tile.

use super::super::Plan;
use crate::core::explain::game::{Game, Relabel};

/// Each lane's bits of the features it takes, by tables over the design's players
/// four at a time.
pub(super) struct Bits {
    /// Background rows.
    rows: usize,
    /// For quad `q` of the design's players, pattern `m` of its four players and
    /// background row `b`, the features row `b` takes: at `(q · 16 + m) · rows + b`.
    table: Vec<u32>,
}

impl Bits {
    pub(super) fn new(plan: &Plan, game: &Game, relabel: &Relabel) -> Bits {
        let players = game.groups.len();
        let rows = relabel.rows();
        // The active features of each player.
        let of_player: Vec<u32> = (0..players)
            .map(|g| {
                (game.groups.members(g).iter())
                    .filter(|&&j| plan.active[j])
                    .fold(0, |bits, &j| bits | 1 << j)
            })
            .collect();
        let cells = players.div_ceil(4) * 16;
        let mut table = vec![0u32; cells * rows];
        for b in 0..rows {
            let to = relabel.of(b);
            for cell in 0..cells {
                let (q, m) = (cell / 16, cell % 16);
                table[cell * rows + b] = (0..4)
                    .filter(|&i| m >> i & 1 == 1 && 4 * q + i < players)
                    .fold(0, |bits, i| bits | of_player[to[4 * q + i]]);
            }
        }
        Bits { rows, table }
    }

    /// Each background row's features for the design's coalition `mask` into
    /// `lanes` (tiles × lanes; padding lanes take nothing).
    pub(super) fn lanes(&self, mask: &[bool], lanes: &mut [u32]) {
        lanes.fill(0);
        let lanes = &mut lanes[..self.rows];
        for (q, four) in mask.chunks(4).enumerate() {
            let m = (four.iter().enumerate()).fold(0, |m, (i, &on)| m | usize::from(on) << i);
            let row = &self.table[(q * 16 + m) * self.rows..][..self.rows];
            for (word, &bits) in lanes.iter_mut().zip(row) {
                *word |= bits;
            }
        }
    }
}

/// What the kernel reads besides the plan: the active features and their weights,
/// and the plan's per-lane inputs, the last tile's idle lanes repeating its rows
/// where it plays several coalitions' tails.
pub(super) struct Layout {
    /// The active features, in order.
    pub(super) features: Vec<usize>,
    /// Their first-layer weights, `weights[u · stride + k] = W[features[k], u]`,
    /// zero past the last feature.
    pub(super) weights: Vec<f32>,
    /// Features rounded up to a multiple of four.
    pub(super) stride: usize,
    /// The plan's `deltas` and `start_background`.
    pub(super) deltas: Vec<f32>,
    pub(super) background: Vec<f32>,
    /// Rows in the last tile, and how many coalitions' tails it plays at once
    /// (1: the last tile is a tile like the others).
    pub(super) tail: usize,
    pub(super) group: usize,
}

impl Layout {
    pub(super) fn new(plan: &Plan) -> Layout {
        let features: Vec<usize> = (0..plan.active.len()).filter(|&j| plan.active[j]).collect();
        let stride = features.len().next_multiple_of(4);
        let weights = (0..plan.units)
            .flat_map(|u| {
                let features = &features;
                (0..stride).map(move |k| {
                    features
                        .get(k)
                        .map_or(0.0, |&j| plan.w1[j * plan.units + u])
                })
            })
            .collect();
        let n = plan.lanes;
        // (No rows, no tiles: nothing to share.)
        let tail = plan.n_bg - plan.tiles.saturating_sub(1) * n;
        let group = n.checked_div(tail).unwrap_or(1);
        let (mut deltas, mut background) = (plan.deltas.clone(), plan.start_background.clone());
        if group > 1 {
            let last = plan.tiles - 1;
            let repeat = |tile: &mut [f32]| {
                for l in tail..n {
                    tile[l] = tile[l % tail];
                }
            };
            for j in 0..plan.active.len() {
                repeat(&mut deltas[(j * plan.tiles + last) * n..][..n]);
            }
            for u in 0..plan.units {
                repeat(&mut background[(last * plan.units + u) * n..][..n]);
            }
        }
        Layout {
            features,
            weights,
            stride,
            deltas,
            background,
            tail,
            group,
        }
    }

    /// The tiles each coalition plays alone.
    pub(super) fn own_tiles(&self, plan: &Plan) -> usize {
        plan.tiles - usize::from(self.group > 1)
    }
}
