//! The beam search over rules, their perturbed samples and the precision bounds
//! (module doc of [`super`]).

use std::collections::HashMap;

use ndarray::{Array2, ArrayView1, ArrayView2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::bandit::{self, Arms};
use super::candidates::merge;
use super::target::Target;
use super::{Anchor, AnchorParams, Examples, Predicate, BATCH, EXAMPLES};
use crate::core::explain::sampling::row_rng;
use crate::core::explain::stop::Stop;
use crate::core::models::Model;
use crate::core::CoreResult;

/// The most samples one rule gets while its bound is undecided.
const REFINE_CAP: usize = 10 * BATCH;

/// The first samples of a new rule: a quarter batch, so that a wide level of the
/// beam (two candidates per feature per rule kept) does not spend the budget
/// before KL-LUCB can tell its rules apart.
const FIRST: usize = BATCH / 4;

/// The search for one row's anchor.
pub(super) struct Search<'a> {
    /// The model explained.
    pub model: &'a dyn Model,
    /// Background rows, (n, features).
    pub background: ArrayView2<'a, f64>,
    /// The row's candidate predicates.
    pub candidates: Vec<Predicate>,
    /// The row explained.
    pub instance: ArrayView1<'a, f64>,
    /// Its answer and what counts as the same.
    pub target: Target,
    /// Checked parameters.
    pub params: &'a AnchorParams,
    /// When to give up.
    pub stop: &'a Stop,
}

/// A rule and what its samples said.
struct Arm {
    /// Candidate indices, sorted.
    rule: Vec<usize>,
    /// The features the rule anchors, sorted, without repeats.
    features: Vec<usize>,
    /// Background rows that meet the rule.
    pool: Vec<usize>,
    /// Samples drawn.
    n: usize,
    /// Samples that kept the answer.
    kept: usize,
    /// The first few samples of each kind.
    examples: Examples,
}

/// The search under way.
struct State<'s, 'a> {
    search: &'s Search<'a>,
    /// Per candidate, whether each background row meets it.
    meets: Vec<Vec<bool>>,
    arms: Vec<Arm>,
    index: HashMap<Vec<usize>, usize>,
    rng: ChaCha8Rng,
    /// Model evaluations so far.
    used: usize,
}

impl Search<'_> {
    /// The anchor of the row numbered `row` (its random stream).
    pub(super) fn run(&self, row: usize) -> CoreResult<Anchor> {
        let meets = self
            .candidates
            .iter()
            .map(|p| {
                let col = self.background.column(p.feature);
                col.iter().map(|&v| p.condition.holds(v)).collect()
            })
            .collect();
        let mut state = State {
            search: self,
            meets,
            arms: Vec::new(),
            index: HashMap::new(),
            rng: row_rng(self.params.seed, row),
            used: 0,
        };
        state.run()
    }
}

impl State<'_, '_> {
    fn run(&mut self) -> CoreResult<Anchor> {
        let p = self.search.params;
        let empty = self.arm(Vec::new());
        self.draw(empty, BATCH)?;
        if self.decide(empty)? {
            return Ok(self.answer(empty, true));
        }
        let mut best: Option<usize> = None;
        let mut fallback = empty;
        let mut beam = vec![empty];
        for _size in 1..=self.search.candidates.len() {
            let best_cover = best.map_or(0, |b| self.arms[b].pool.len());
            let mut grown = Vec::new();
            for &parent in &beam {
                for c in 0..self.search.candidates.len() {
                    if self.arms[parent].rule.contains(&c) {
                        continue;
                    }
                    let mut rule = self.arms[parent].rule.clone();
                    rule.push(c);
                    rule.sort_unstable();
                    let a = self.arm_from(parent, c, rule);
                    // Rules covering no more than the best accepted one cannot beat it.
                    if !grown.contains(&a)
                        && (best.is_none() || self.arms[a].pool.len() > best_cover)
                    {
                        grown.push(a);
                    }
                }
            }
            if grown.is_empty() {
                break;
            }
            let mut spent = false;
            for &a in &grown {
                if self.arms[a].n == 0 && !self.draw(a, FIRST)? {
                    spent = true;
                    break;
                }
            }
            let sampled: Vec<usize> = grown.into_iter().filter(|&a| self.arms[a].n > 0).collect();
            let chosen = bandit::kl_lucb(self, &sampled, p.beam_size, p.epsilon, p.delta)?;
            for &a in &chosen {
                let accepted = self.decide(a)?;
                if accepted
                    && best.is_none_or(|b| self.arms[a].pool.len() > self.arms[b].pool.len())
                {
                    best = Some(a);
                }
                if self.lower_bound(a) > self.lower_bound(fallback) {
                    fallback = a;
                }
            }
            if spent
                || self.used >= p.max_samples
                || best.is_some_and(|b| self.arms[b].pool.len() == self.search.background.nrows())
            {
                break;
            }
            beam = chosen;
        }
        Ok(match best {
            Some(b) => self.answer(b, true),
            None => self.answer(fallback, false),
        })
    }

    /// The arm of `rule` (no predicate added to a parent: the empty rule).
    fn arm(&mut self, rule: Vec<usize>) -> usize {
        let pool = (0..self.search.background.nrows()).collect();
        self.insert(rule, pool)
    }

    /// The arm of `rule`, its parent's rule and candidate `c`.
    fn arm_from(&mut self, parent: usize, c: usize, rule: Vec<usize>) -> usize {
        if let Some(&a) = self.index.get(&rule) {
            return a;
        }
        let pool = self.arms[parent]
            .pool
            .iter()
            .copied()
            .filter(|&i| self.meets[c][i])
            .collect();
        self.insert(rule, pool)
    }

    fn insert(&mut self, rule: Vec<usize>, pool: Vec<usize>) -> usize {
        if let Some(&a) = self.index.get(&rule) {
            return a;
        }
        let mut features: Vec<usize> = rule
            .iter()
            .map(|&c| self.search.candidates[c].feature)
            .collect();
        features.dedup();
        self.arms.push(Arm {
            rule: rule.clone(),
            features,
            pool,
            n: 0,
            kept: 0,
            examples: Examples::default(),
        });
        self.index.insert(rule, self.arms.len() - 1);
        self.arms.len() - 1
    }

    /// Sample `a` until its lower bound reaches the precision (accepted), its upper
    /// bound falls below it, it has [`REFINE_CAP`] samples, or the budget ends.
    fn decide(&mut self, a: usize) -> CoreResult<bool> {
        let target = self.search.params.precision;
        loop {
            let arm = &self.arms[a];
            let mean = arm.kept as f64 / arm.n.max(1) as f64;
            let lb = self.lower_bound(a);
            if lb >= target || (target == 1.0 && mean == 1.0 && arm.n >= REFINE_CAP) {
                return Ok(true);
            }
            let ub = bandit::upper(mean, self.level(a));
            if ub < target || arm.n >= REFINE_CAP || !self.pull(a)? {
                return Ok(false);
            }
        }
    }

    /// log(1/δ) / n: the level of the bounds reported for one rule.
    fn level(&self, a: usize) -> f64 {
        (1.0 / self.search.params.delta).ln() / self.arms[a].n.max(1) as f64
    }

    fn lower_bound(&self, a: usize) -> f64 {
        let arm = &self.arms[a];
        if arm.n == 0 {
            return 0.0;
        }
        bandit::lower(arm.kept as f64 / arm.n as f64, self.level(a))
    }

    fn answer(&self, a: usize, met: bool) -> Anchor {
        let arm = &self.arms[a];
        let t = &self.search.target;
        Anchor {
            answer: t.answer.anchored(),
            output: t.output,
            prediction: t.prediction,
            rule: merge(&self.search.candidates, &arm.rule),
            precision: arm.kept as f64 / arm.n.max(1) as f64,
            precision_lower_bound: self.lower_bound(a),
            precision_met: met,
            coverage: arm.pool.len() as f64 / self.search.background.nrows() as f64,
            rule_samples: arm.n,
            samples_used: self.used,
            tolerance: t.tolerance,
            examples: arm.examples.clone(),
        }
    }
}

impl Arms for State<'_, '_> {
    fn counts(&self, arm: usize) -> (usize, usize) {
        (self.arms[arm].n, self.arms[arm].kept)
    }

    fn pull(&mut self, a: usize) -> CoreResult<bool> {
        self.draw(a, BATCH)
    }
}

impl State<'_, '_> {
    /// `n` samples under rule `a` (fewer when the budget ends; `false` when it has
    /// ended): background rows whose anchored features come, together, from a
    /// background row meeting the rule (the instance's when none does).
    fn draw(&mut self, a: usize, n: usize) -> CoreResult<bool> {
        let n = n.min(self.search.params.max_samples.saturating_sub(self.used));
        if n == 0 {
            return Ok(false);
        }
        self.search.stop.check()?;
        let search = self.search;
        let bg = &search.background;
        let arm = &self.arms[a];
        let mut rows = Array2::zeros((n, bg.ncols()));
        for mut row in rows.rows_mut() {
            row.assign(&bg.row(self.rng.random_range(0..bg.nrows())));
            let source = match arm.pool.len() {
                0 => search.instance.view(),
                len => bg.row(arm.pool[self.rng.random_range(0..len)]),
            };
            for &j in &arm.features {
                row[j] = source[j];
            }
        }
        let same = self.search.target.answer.same(
            self.search.model,
            self.search.model.predict_raw(rows.view()),
        );
        self.used += n;
        let arm = &mut self.arms[a];
        arm.n += n;
        for (row, keeps) in rows.rows().into_iter().zip(same) {
            arm.kept += usize::from(keeps);
            let list = if keeps {
                &mut arm.examples.holds
            } else {
                &mut arm.examples.fails
            };
            if list.len() < EXAMPLES {
                list.push(row.to_vec());
            }
        }
        Ok(true)
    }
}
