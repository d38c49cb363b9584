//! The coalition game every Shapley estimator and quality metric plays: `v(S)` for
//! many coalitions of one row, batched through [`Model::predict`]. The value function
//! is described in [`super::sampling`].
//!
//! A coalition `S` stands for `n` masked rows `(x_S, b_{N∖S})`, one per background
//! row `b`. For any model they are written into a reused buffer and sent to
//! [`Model::predict`] in batches of at most [`MAX_BATCH_VALUES`] values; a model
//! with an affine first step ([`crate::core::models::AffineInput`]) takes the
//! cheaper, equivalent route of [`super::incremental`]; a tree ensemble
//! ([`Model::tree_ensemble`]) walks its trees once per coalition with sets of
//! background rows instead ([`super::tree_game`]).

use ndarray::{Array2, ArrayView1, ArrayView2};

use super::sampling::{FeatureGroups, Stop, MAX_BATCH_VALUES};
use crate::core::models::{Model, OutputSpace};
use crate::core::CoreResult;

/// Whether float32 evaluation ([`Game::sampled_values`]) suits a requested
/// `tolerance` on a game whose values are about `scale` in magnitude: it rounds at
/// about 1e-7 of the values, so a tolerance of at least 1e-4 of them (or none, a
/// budget alone) leaves a thousandfold margin.
pub(crate) fn float32_suffices(tolerance: Option<f64>, scale: f64) -> bool {
    tolerance.is_none_or(|t| t >= 1e-4 * scale.abs())
}

/// The coalition game of one row and output (see the module doc).
pub(crate) struct Game<'a> {
    /// The model played.
    pub model: &'a dyn Model,
    /// Values for the players outside a coalition, (n, n_features).
    pub background: ArrayView2<'a, f64>,
    /// The probability of each background row (summing to 1); `None`: 1/n each.
    pub weights: Option<ArrayView1<'a, f64>>,
    /// The row explained.
    pub x: ArrayView1<'a, f64>,
    /// The players.
    pub groups: &'a FeatureGroups,
    /// Output index explained.
    pub output: usize,
    /// Space explained.
    pub space: OutputSpace,
    /// When to give up: checked before each batch.
    pub stop: &'a Stop,
    /// What the tree route keeps between calls on this game (its tables in
    /// probability space); a new game starts with an empty one.
    pub memo: super::tree_game::Memo,
}

impl Game<'_> {
    /// `v(S)` for each coalition in `masks`, read as consecutive runs of one bool per
    /// player (`true`: the player takes the row's value).
    pub(crate) fn values(&self, masks: &[bool]) -> CoreResult<Vec<f64>> {
        if let Some(values) = self.tree_values(masks) {
            return values;
        }
        match self.model.affine_input() {
            Some(affine) => super::incremental::values(self, affine, masks, true),
            None => self.values_generic(masks),
        }
    }

    /// [`Game::values`] for an estimate that samples coalitions, whose sampling
    /// error is far above float32's rounding: an MLP's network is then evaluated
    /// in float32 vector lanes ([`super::incremental::single`]) where the CPU has
    /// them. `precise` (a tolerance too fine for float32, see
    /// [`float32_suffices`]) keeps float64.
    pub(crate) fn sampled_values(&self, masks: &[bool], precise: bool) -> CoreResult<Vec<f64>> {
        if !precise && self.model.tree_ensemble().is_none() {
            if let Some(affine) = self.model.affine_input() {
                if let Some(values) = super::incremental::single::values(self, affine, masks) {
                    return values;
                }
            }
        }
        self.values(masks)
    }

    /// [`Game::values`] with each coalition's value a function of its own players
    /// alone, bit for bit (the incremental route may otherwise build on the
    /// previous coalition, which changes the rounding): then a player that the
    /// model ignores changes no value at all, as the dummy axiom needs exactly.
    pub(crate) fn independent_values(&self, masks: &[bool]) -> CoreResult<Vec<f64>> {
        if let Some(values) = self.tree_values(masks) {
            return values;
        }
        match self.model.affine_input() {
            Some(affine) => super::incremental::values(self, affine, masks, false),
            None => self.values_generic(masks),
        }
    }

    /// `v(c)` for every coalition `c` of the players, in order (bit `g` of `c`:
    /// player `g` takes the row's value), each a function of its own players alone
    /// as in [`Game::independent_values`]: through the tables of
    /// [`super::link_game`] for a model additive in raw space with a logistic or
    /// softmax link in
    /// probability space, by masks otherwise.
    pub(crate) fn all_values(&self) -> CoreResult<Vec<f64>> {
        if let Some(values) = super::link_game::all_values(self) {
            return values;
        }
        let p = self.groups.len();
        let mut masks = Vec::with_capacity(p << p);
        for c in 0..1usize << p {
            masks.extend((0..p).map(|g| c >> g & 1 == 1));
        }
        self.independent_values(&masks)
    }

    /// `values` through the trees of a tree ensemble ([`super::tree_game`]), each
    /// coalition's value a function of its own players alone; `None` for other
    /// models, or when the route would take too much memory.
    fn tree_values(&self, masks: &[bool]) -> Option<CoreResult<Vec<f64>>> {
        let ensemble = self.model.tree_ensemble()?;
        super::tree_game::values(self, ensemble, masks)
    }

    /// The mean of the explained output over each run of `n_bg` rows of `out`,
    /// weighted by the background's weights when it has them.
    pub(super) fn averages(&self, out: Array2<f64>, n_bg: usize, values: &mut Vec<f64>) {
        let column = out.column(self.output);
        let chunks = column.exact_chunks(n_bg).into_iter();
        match self.weights {
            Some(w) => values.extend(chunks.map(|c| c.dot(&w))),
            None => values.extend(chunks.map(|c| c.sum() / n_bg as f64)),
        }
    }

    /// `values` for any model: masked rows through [`Model::predict_raw`].
    fn values_generic(&self, masks: &[bool]) -> CoreResult<Vec<f64>> {
        let players = self.groups.len().max(1);
        let n_bg = self.background.nrows();
        let width = self.x.len();
        let total = masks.len() / players;
        let per_batch = (MAX_BATCH_VALUES / (n_bg * width).max(1)).clamp(1, total.max(1));
        // One buffer, reused by every batch: fresh pages for each would cost more
        // than the model itself for cheap models.
        let mut buffer = vec![0.0; per_batch * n_bg * width];
        let background = self.background.as_standard_layout();
        let background = background.as_slice().unwrap_or_default();
        let mut present = Vec::with_capacity(width);
        let mut values = Vec::with_capacity(total);
        for chunk in masks.chunks(per_batch * players) {
            self.stop.check()?;
            let coalitions = chunk.len() / players;
            let batch = &mut buffer[..coalitions * n_bg * width];
            for (block, mask) in batch
                .chunks_exact_mut(n_bg * width)
                .zip(chunk.chunks(players))
            {
                present.clear();
                for (g, _) in mask.iter().enumerate().filter(|(_, &on)| on) {
                    present.extend_from_slice(self.groups.members(g));
                }
                block.copy_from_slice(background);
                for row in block.chunks_exact_mut(width) {
                    for &j in &present {
                        row[j] = self.x[j];
                    }
                }
            }
            let batch = ArrayView2::from_shape((coalitions * n_bg, width), &*batch)
                .expect("the buffer holds whole rows");
            self.averages(self.model.predict(batch, self.space), n_bg, &mut values);
        }
        Ok(values)
    }
}

mod baselines;

pub(crate) use baselines::Relabel;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::explain::tests_support::Opaque;
    use crate::core::models::LinearModel;
    use ndarray::array;

    #[test]
    fn game_values_average_over_the_background() {
        // f = x0 + 10·x1; background rows (0,0) and (2,4); x = (1,1).
        // v({0}) = mean(1 + 0, 1 + 40) = 21; v({1}) = mean(0 + 10, 2 + 10) = 11.
        let model = LinearModel::regression(array![[1.0, 10.0]], array![0.0]).unwrap();
        let bg = array![[0.0, 0.0], [2.0, 4.0]];
        let x = array![1.0, 1.0];
        let groups = FeatureGroups::singletons(2);
        let game = Game {
            model: &model,
            background: bg.view(),
            weights: None,
            x: x.view(),
            groups: &groups,
            output: 0,
            space: OutputSpace::Raw,
            stop: &Stop::default(),
            memo: Default::default(),
        };
        let v = game
            .values(&[true, false, false, true, true, true, false, false])
            .unwrap();
        assert_eq!(v, vec![21.0, 11.0, 11.0, 21.0]);
        // The generic path gives the same numbers.
        let opaque = Opaque(&model);
        let generic = Game {
            model: &opaque,
            memo: Default::default(),
            ..game
        };
        assert_eq!(
            generic
                .values(&[true, false, false, true, true, true, false, false])
                .unwrap(),
            v
        );
    }
}
