//! The game of one background row, for the estimators that give each background
//! row its own coalitions (`kernel_shap/baselines.rs`).
//!
//! The game of [`super`] averages `n` games of a single background row `b`
//! (baseline Shapley games, Sundararajan and Najmi 2020): `v(S) = Σ_b w_b g_b(S)`
//! with `g_b(S) = f(x_S, b_{N∖S})`. Shapley values are linear in the game, so the
//! attributions are the weighted mean of each `g_b`'s, and each may be estimated
//! from coalitions of its own. Here every background row plays the same design
//! through its own relabelling of the players ([`Relabel`]): row `b` is asked for
//! `g_b(π_b(S))` for each coalition `S` of the design. Its errors then meet the
//! other rows' only by chance, so they average out over the background instead of
//! adding up, while each row's design keeps the balance and the regression matrix
//! of the one drawn (relabelling permutes both).

use ndarray::ArrayView2;
use rand::seq::SliceRandom;
use rand::Rng;

use super::Game;
use crate::core::explain::sampling::MAX_BATCH_VALUES;
use crate::core::CoreResult;

/// A permutation of the players for each background row: row `b` reads the
/// design's player `g` as player `π_b(g)`.
#[derive(Debug, Clone)]
pub(crate) struct Relabel {
    players: usize,
    /// `π_b(g)` at `b · players + g`.
    to: Vec<usize>,
}

impl Relabel {
    /// Independent uniform permutations for `rows` background rows.
    pub(crate) fn random(players: usize, rows: usize, rng: &mut impl Rng) -> Self {
        let mut to = Vec::with_capacity(players * rows);
        for _ in 0..rows {
            let start = to.len();
            to.extend(0..players);
            to[start..].shuffle(rng);
        }
        Relabel { players, to }
    }

    /// The identity for `rows` background rows (every row plays the design as
    /// drawn: the averaged game's values, row by row).
    #[cfg(test)]
    pub(crate) fn identity(players: usize, rows: usize) -> Self {
        Relabel {
            players,
            to: (0..rows).flat_map(|_| 0..players).collect(),
        }
    }

    /// Background rows.
    pub(crate) fn rows(&self) -> usize {
        self.to.len() / self.players.max(1)
    }

    /// `π_b`: the player each of the design's players is for row `b`.
    pub(crate) fn of(&self, b: usize) -> &[usize] {
        &self.to[b * self.players..(b + 1) * self.players]
    }

    /// The players row `b` takes from the row explained for the design's coalition
    /// `mask`: `taken[π_b(g)] = mask[g]`.
    pub(crate) fn apply(&self, b: usize, mask: &[bool], taken: &mut [bool]) {
        for (&on, &to) in mask.iter().zip(self.of(b)) {
            taken[to] = on;
        }
    }
}

impl Game<'_> {
    /// `g_b(π_b(S))` for each coalition `S` of `masks` (runs of one bool per player,
    /// as [`Game::values`]) and each background row `b`, appended to `values`
    /// (coalitions × background rows, row-major): the explained output in the
    /// game's space, unweighted. A sampled MLP's network runs in float32 lanes
    /// where the CPU has them, unless `precise` (as [`Game::sampled_values`]); any
    /// other model through its predictions.
    pub(crate) fn baseline_values(
        &self,
        masks: &[bool],
        relabel: &Relabel,
        precise: bool,
        values: &mut Vec<f64>,
    ) -> CoreResult<()> {
        if !precise && self.model.tree_ensemble().is_none() {
            if let Some(affine) = self.model.affine_input() {
                let lanes = crate::core::explain::incremental::single::baseline_values(
                    self, affine, masks, relabel, values,
                );
                if let Some(done) = lanes {
                    return done;
                }
            }
        }
        self.baseline_values_generic(masks, relabel, values)
    }

    /// [`Game::baseline_values`] for any model: each (coalition, background row)'s
    /// masked row through [`crate::core::models::Model::predict`].
    pub(crate) fn baseline_values_generic(
        &self,
        masks: &[bool],
        relabel: &Relabel,
        values: &mut Vec<f64>,
    ) -> CoreResult<()> {
        let players = self.groups.len().max(1);
        let n_bg = self.background.nrows();
        let width = self.x.len();
        let total = masks.len() / players;
        let per_batch = (MAX_BATCH_VALUES / (n_bg * width).max(1)).clamp(1, total.max(1));
        let mut buffer = vec![0.0; per_batch * n_bg * width];
        let mut taken = vec![false; players];
        values.reserve(total * n_bg);
        for chunk in masks.chunks(per_batch * players) {
            self.stop.check()?;
            let coalitions = chunk.len() / players;
            let batch = &mut buffer[..coalitions * n_bg * width];
            for (block, mask) in batch
                .chunks_exact_mut(n_bg * width)
                .zip(chunk.chunks(players))
            {
                for (b, row) in block.chunks_exact_mut(width).enumerate() {
                    for (to, &from) in row.iter_mut().zip(self.background.row(b)) {
                        *to = from;
                    }
                    relabel.apply(b, mask, &mut taken);
                    for (g, _) in taken.iter().enumerate().filter(|(_, &on)| on) {
                        for &j in self.groups.members(g) {
                            row[j] = self.x[j];
                        }
                    }
                }
            }
            let batch = ArrayView2::from_shape((coalitions * n_bg, width), &*batch)
                .expect("the buffer holds whole rows");
            let out = self.model.predict(batch, self.space);
            values.extend(out.column(self.output));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::explain::sampling::{FeatureGroups, Stop};
    use crate::core::explain::tests_support::Mixed;
    use crate::core::models::{Model, OutputSpace};
    use ndarray::Array2;
    use rand::SeedableRng;

    #[test]
    fn the_rows_games_average_to_the_game_and_relabel_its_players() {
        let model = Mixed { n_features: 5 };
        let bg = Array2::from_shape_fn((6, 5), |(i, j)| ((i * 3 + j) % 4) as f64 - 1.5);
        let x = ndarray::array![1.0, -2.0, 0.5, 2.0, 3.0];
        let groups = FeatureGroups::new(vec![vec![0, 3], vec![1], vec![2, 4]], 5).unwrap();
        let stop = Stop::default();
        let game = Game {
            model: &model,
            background: bg.view(),
            weights: None,
            x: x.view(),
            groups: &groups,
            output: 0,
            space: OutputSpace::Raw,
            stop: &stop,
            memo: Default::default(),
        };
        let masks = [true, false, false, false, true, true, true, true, false];
        let mut each = Vec::new();
        game.baseline_values(&masks, &Relabel::identity(3, 6), false, &mut each)
            .unwrap();
        let each = Array2::from_shape_vec((3, 6), each).unwrap();
        let mean = each.mean_axis(ndarray::Axis(1)).unwrap();
        for (a, b) in mean.iter().zip(game.values(&masks).unwrap()) {
            assert!((a - b).abs() < 1e-12);
        }
        // Row 2 relabelled: design player g is player to[g] for it.
        let relabel = Relabel::random(3, 6, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
        let mut got = Vec::new();
        game.baseline_values(&masks[..3], &relabel, false, &mut got)
            .unwrap();
        let mut taken = [false; 3];
        relabel.apply(2, &masks[..3], &mut taken);
        let mut row = bg.row(2).to_owned();
        for (g, _) in taken.iter().enumerate().filter(|(_, &on)| on) {
            for &j in groups.members(g) {
                row[j] = x[j];
            }
        }
        let want = model.predict(row.insert_axis(ndarray::Axis(0)).view(), OutputSpace::Raw);
        assert!((got[2] - want[[0, 0]]).abs() < 1e-12);
        assert!(relabel.of(2).iter().all(|&g| g < 3));
    }
}
