//! Global summaries computed from data: permutation importance on a labelled data
//! set, partial dependence and ICE curves, and mean |φ| of any explainer, over a
//! registered data set or the model's background.
//!
//! A request is checked into a [`Plan`] at once (unknown features, budgets above
//! the configured maxima, a data set that no longer fits the model), so a job that
//! is accepted can only fail for reasons found while computing. [`Plan::run`] is
//! synchronous and CPU-bound: callers put it on the blocking pool. The numbers come
//! from `core::global`; this module picks the rows, resolves names and shapes the
//! answers. No row of data is ever part of an answer.

use std::sync::Arc;

use ndarray::{Array2, Axis};

use crate::core::explain::{Explanation, Method};
use crate::core::global::dependence::{self, evenly_spaced, DependenceParams};
use crate::core::global::importance;
use crate::core::global::loss::{Loss, Target};
use crate::core::global::permutation::{self, PermutationParams};
use crate::core::models::{check_space, OutputSpace};
use crate::core::{Cancel, CoreError, CoreResult};
use crate::datasets::Dataset;
use crate::explainer::{self, ExplainArgs, MethodOptions, OutputChoice};
use crate::registry::ModelEntry;

mod options;
mod views;

pub use options::{AttributionOptions, DependenceOptions, Limits, PermutationOptions};
pub use views::*;

/// Repeats of permutation importance unless asked otherwise (scikit-learn's default).
pub const DEFAULT_REPEATS: usize = 5;
/// Grid points of partial dependence unless asked otherwise.
pub const DEFAULT_GRID: usize = 20;
/// ICE curves returned unless asked otherwise.
pub const DEFAULT_ICE: usize = 10;
/// Rows explained per call while computing mean |φ| (progress is reported per chunk).
const ATTRIBUTION_CHUNK: usize = 32;

/// The arguments of chunk `c` of a mean-|φ| computation. A sampling explainer
/// seeds row `i` of a call on stream `i`, so every chunk would repeat the first
/// chunk's draws; chunk `c > 0` therefore gets the seed `seed ⊕ c·φ64` (φ64 the
/// 64-bit golden-ratio constant), still fixed by the request's seed. Chunk 0 keeps
/// the seed itself.
fn chunk_args(args: &ExplainArgs, c: usize, cancel: &Cancel) -> ExplainArgs {
    let mut args = args.clone();
    args.cancel = cancel.clone();
    let seed = args.options.sampling.seed;
    args.options.sampling.seed = seed ^ (c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    args
}

/// A checked computation, ready to run.
#[derive(Debug)]
pub struct Plan {
    entry: Arc<ModelEntry>,
    dataset: Option<String>,
    x: Array2<f64>,
    work: Work,
}

#[derive(Debug)]
enum Work {
    Permutation {
        target: Target,
        params: PermutationParams,
    },
    Dependence {
        feature: usize,
        grid: Vec<f64>,
        ice_rows: Vec<usize>,
        outputs: Vec<usize>,
        space: OutputSpace,
    },
    Attribution {
        args: Vec<ExplainArgs>,
        method: Method,
        seed: Option<u64>,
    },
}

/// The rows a summary uses: a data set's (checked against the model) or the
/// background, at most `max_rows` of them, evenly spaced; with the labels.
fn rows(
    entry: &ModelEntry,
    dataset: Option<&Dataset>,
    max_rows: usize,
) -> CoreResult<(Array2<f64>, Option<Target>)> {
    let (x, target) = match dataset {
        Some(d) => {
            d.check_fits(&entry.built, entry.version)?;
            (&d.x, Some(&d.target))
        }
        None => {
            let r = entry.built.reference.as_ref().ok_or_else(|| {
                CoreError::InvalidArgument(
                    "the model has no background: name a registered data set with `dataset`".into(),
                )
            })?;
            (&r.data, None)
        }
    };
    let picks = evenly_spaced(x.nrows(), max_rows);
    Ok((x.select(Axis(0), &picks), target.map(|t| t.select(&picks))))
}

fn within(what: &str, value: usize, min: usize, max: usize) -> CoreResult<usize> {
    if value < min || value > max {
        return Err(CoreError::InvalidArgument(format!(
            "{what} must be between {min} and {max} (the configured maximum), got {value}"
        )));
    }
    Ok(value)
}

impl Plan {
    /// Permutation importance on a labelled data set.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for repeats out of range, a loss that does not
    /// fit the task, or a data set that no longer fits the model.
    pub fn permutation(
        entry: Arc<ModelEntry>,
        dataset: &Dataset,
        options: &PermutationOptions,
        limits: &Limits,
    ) -> CoreResult<Plan> {
        let repeats = within(
            "repeats",
            options.repeats.unwrap_or(DEFAULT_REPEATS),
            1,
            limits.max_repeats,
        )?;
        let (x, target) = rows(&entry, Some(dataset), limits.max_rows)?;
        let target = target.expect("data sets are labelled");
        let loss = options.loss.unwrap_or_else(|| Loss::default_for(&target));
        loss.check(&target, entry.built.model.as_model())?;
        Ok(Plan {
            entry,
            dataset: Some(dataset.id.clone()),
            x,
            work: Work::Permutation {
                target,
                params: PermutationParams {
                    repeats,
                    seed: options.seed,
                    loss,
                },
            },
        })
    }

    /// Partial dependence and ICE curves over a data set or the background.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for an unknown feature, grid or ICE counts out
    /// of range, probability space on a model without one, no background and no
    /// data set, or a data set that no longer fits.
    pub fn dependence(
        entry: Arc<ModelEntry>,
        dataset: Option<&Dataset>,
        options: &DependenceOptions,
        limits: &Limits,
    ) -> CoreResult<Plan> {
        let names = &entry.built.feature_names;
        let feature = names
            .iter()
            .position(|n| *n == options.feature)
            .ok_or_else(|| {
                CoreError::InvalidArgument(format!(
                    "unknown feature '{}'; features: {}",
                    options.feature,
                    names.join(", ")
                ))
            })?;
        let points = within(
            "grid",
            options.grid.unwrap_or(DEFAULT_GRID),
            2,
            limits.max_grid,
        )?;
        let ice = within("ice", options.ice.unwrap_or(DEFAULT_ICE), 0, limits.max_ice)?;
        let m = entry.built.model.as_model();
        check_space(m.link(), options.space)?;
        let (x, _) = rows(&entry, dataset, limits.max_rows)?;
        let raw = entry.built.model.raw_features();
        let grid = match raw.and_then(|r| r.categories(feature)) {
            Some(categories) => dependence::category_grid(categories.len(), limits.max_grid)?,
            None => dependence::grid(x.column(feature), points, limits.min_rows)?,
        };
        let outputs = options
            .output
            .map_or_else(|| (0..m.n_outputs()).collect(), |k| vec![k]);
        Ok(Plan {
            work: Work::Dependence {
                feature,
                grid,
                ice_rows: evenly_spaced(x.nrows(), ice),
                outputs,
                space: options.space,
            },
            dataset: dataset.map(|d| d.id.clone()),
            entry,
            x,
        })
    }

    /// Mean |φ| of any explainer over a data set or the background.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for bad sampling budgets, no background and no
    /// data set, or a data set that no longer fits; [`CoreError::MethodNotSupported`]
    /// for a method the model cannot take.
    pub fn attribution(
        entry: Arc<ModelEntry>,
        dataset: Option<&Dataset>,
        options: &AttributionOptions,
        limits: &Limits,
        cancel: &Cancel,
    ) -> CoreResult<Plan> {
        let built = &entry.built;
        let method = explainer::resolve_method(built, options.method, OutputSpace::Raw);
        if method == Method::Anchors {
            return Err(CoreError::InvalidArgument(
                "method anchors answers a rule per row, not attributions: mean |φ| needs \
                 an attribution method"
                    .into(),
            ));
        }
        if method.is_model_agnostic() {
            options.sampling.check(built.model.as_model())?;
        }
        let (x, _) = rows(&entry, dataset, limits.max_rows)?;
        let outputs = options
            .output
            .map_or_else(|| (0..built.output_names.len()).collect(), |k| vec![k]);
        let args: Vec<ExplainArgs> = outputs
            .into_iter()
            .map(|k| ExplainArgs {
                method,
                output: OutputChoice::Index(k),
                space: OutputSpace::Raw,
                options: MethodOptions {
                    sampling: options.sampling.clone(),
                    ..MethodOptions::default()
                },
                players: Default::default(),
                cancel: Cancel::never(),
            })
            .collect();
        // Fail now, not in the job, when the pairing or the budget is impossible:
        // explain one row (callers build plans on the blocking pool).
        let first = x.slice(ndarray::s![..1, ..]);
        explainer::explain(built, first, &chunk_args(&args[0], 0, cancel))?;
        Ok(Plan {
            work: Work::Attribution {
                args,
                method,
                seed: method.is_model_agnostic().then_some(options.sampling.seed),
            },
            dataset: dataset.map(|d| d.id.clone()),
            entry,
            x,
        })
    }

    /// Compute. `progress` is called with the share done, from any thread.
    ///
    /// # Errors
    /// Whatever the algorithm reports (a timeout; `Cancelled` once `cancel` trips).
    pub fn run(self, progress: &(dyn Fn(f64) + Sync), cancel: &Cancel) -> CoreResult<DataResult> {
        let entry = &self.entry;
        let names = &entry.built.feature_names;
        let m = entry.built.model.as_model();
        let head = Head {
            model: entry.name.clone(),
            version: entry.version,
            dataset: self.dataset.clone(),
            rows: self.x.nrows(),
        };
        match self.work {
            Work::Permutation { target, params } => {
                let imp =
                    permutation::importance(m, self.x.view(), &target, &params, progress, cancel)?;
                let mut features: Vec<PermutationFeature> = imp
                    .features
                    .into_iter()
                    .zip(names.iter())
                    .map(|(f, name)| PermutationFeature {
                        name: name.clone(),
                        importance: f.mean,
                        std: f.std,
                        increases: f.increases,
                    })
                    .collect();
                features.sort_by(|a, b| b.importance.total_cmp(&a.importance));
                Ok(DataResult::PermutationImportance(PermutationView {
                    head,
                    loss: params.loss.as_str().to_string(),
                    baseline_loss: imp.baseline,
                    repeats: params.repeats,
                    seed: params.seed,
                    features,
                }))
            }
            Work::Dependence {
                feature,
                grid,
                ice_rows,
                outputs,
                space,
            } => {
                let params = DependenceParams {
                    feature,
                    grid: &grid,
                    ice_rows: &ice_rows,
                    space,
                };
                let mut d =
                    dependence::partial_dependence(m, self.x.view(), &params, progress, cancel)?;
                let curves = outputs
                    .into_iter()
                    .map(|k| OutputCurves {
                        output: entry.built.output_names[k].clone(),
                        average: std::mem::take(&mut d.average[k]),
                        ice: std::mem::take(&mut d.ice[k]),
                    })
                    .collect();
                Ok(DataResult::Dependence(DependenceView {
                    head,
                    feature: names[feature].clone(),
                    output_space: space_name(space).into(),
                    categories: category_names(&entry.built, feature, &grid),
                    grid,
                    ice_rows: ice_rows.len(),
                    outputs: curves,
                }))
            }
            Work::Attribution { args, method, seed } => {
                let chunks: Vec<usize> = (0..self.x.nrows()).step_by(ATTRIBUTION_CHUNK).collect();
                let total = (chunks.len() * args.len()).max(1);
                let mut per_output: Vec<Vec<Explanation>> = Vec::with_capacity(args.len());
                for (k, a) in args.iter().enumerate() {
                    let mut rows = Vec::with_capacity(self.x.nrows());
                    for (c, &start) in chunks.iter().enumerate() {
                        let end = (start + ATTRIBUTION_CHUNK).min(self.x.nrows());
                        let part = self.x.slice(ndarray::s![start..end, ..]);
                        let args = chunk_args(a, c, cancel);
                        rows.extend(explainer::explain(&entry.built, part, &args)?.explanations);
                        progress((k * chunks.len() + c + 1) as f64 / total as f64);
                    }
                    per_output.push(rows);
                }
                let outputs: Vec<String> = args
                    .iter()
                    .map(|a| match a.output {
                        OutputChoice::Index(k) => entry.built.output_names[k].clone(),
                        // Plans explain one output index at a time.
                        OutputChoice::Predicted | OutputChoice::All | OutputChoice::Top(_) => {
                            String::new()
                        }
                    })
                    .collect();
                let mut features: Vec<AttributionFeature> =
                    importance::mean_abs(&per_output, names.len())
                        .into_iter()
                        .zip(names.iter())
                        .map(|(f, name)| AttributionFeature {
                            name: name.clone(),
                            importance: f.importance,
                            mean_attribution: f.mean_attribution,
                            importance_by_output: f.by_output,
                        })
                        .collect();
                features.sort_by(|a, b| b.importance.total_cmp(&a.importance));
                Ok(DataResult::MeanAbsAttribution(AttributionView {
                    head,
                    method: method.to_string(),
                    seed,
                    output_space: "raw".into(),
                    outputs,
                    features,
                }))
            }
        }
    }
}
