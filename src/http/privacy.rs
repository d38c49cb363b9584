//! What a reader-role token may see of summaries computed from background or
//! data-set rows (issue 15). Those rows never leave the server; readers get
//! aggregates over enough rows and nothing that follows one row:
//!
//! - a summary over fewer than `--min-summary-rows` rows (global importance, partial
//!   dependence, a job's result) is refused with 403 `private_rows`;
//! - `dataset=` on the dependence route and in job requests is for admins, as the
//!   data-set routes are (403 `private_rows`);
//! - ICE curves follow single rows: readers get none by default, asking for some is
//!   403, and the results of admins' jobs are shown to readers without them;
//! - explanations against the background (Shapley values, LIME, occlusion,
//!   integrated gradients' default baseline, saliency's base value) need as many background rows, and
//!   `max_background` as many, or they too would show single rows; so does a
//!   k-means summary (`background.kmeans`), whose centres hold background values
//!   (snapped per feature, as shap's) and are never part of an answer;
//! - counterfactuals need as many background rows: their default bounds and cost
//!   are the background's range and spread.
//!
//! Admins, and every caller when no tokens are configured (every route is open
//! then), see everything. What every caller sees is safe by construction: grids of
//! partial dependence and the PSI bins of drift are cut at interpolated quantiles
//! that are no row's value ([`crate::core::global::dependence::private_quantile`]).

use std::sync::Arc;

use super::auth::Caller;
use super::error::ApiError;
use crate::analysis::DataResult;
use crate::config::Config;
use crate::core::explain::Method;
use crate::datasets::Dataset;
use crate::explainer::{self, ExplainArgs};
use crate::jobs::FromData;
use crate::registry::ModelEntry;

/// The caller's role and the configured minimum, as the checks need them.
#[derive(Debug, Clone, Copy)]
pub struct Audience {
    /// Whether the caller may see rows (admin role, or access control off).
    admin: bool,
    /// `--min-summary-rows`, at least 1.
    min_rows: usize,
}

impl Audience {
    /// The audience of a request.
    pub fn of(caller: Caller, config: &Config) -> Self {
        Audience {
            admin: caller.is_admin(),
            min_rows: config.min_summary_rows.max(1),
        }
    }

    /// Whether the caller is an admin (or access control is off).
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// Refuse a reader a summary over `rows` rows of `source` when they are fewer
    /// than `--min-summary-rows`.
    ///
    /// # Errors
    /// [`ApiError::PrivateRows`] naming the count and the flag.
    pub fn check_rows(&self, rows: usize, source: &str) -> Result<(), ApiError> {
        if self.admin || rows >= self.min_rows {
            return Ok(());
        }
        Err(ApiError::PrivateRows(format!(
            "summaries over {source} use {rows} rows, fewer than --min-summary-rows ({}): \
             with so few rows they would show single rows, so only admin tokens may read them",
            self.min_rows
        )))
    }

    /// [`Audience::check_rows`] for a summary over (at most `max_rows` rows of) a
    /// data set, or the model's background when `dataset` is `None` (no background:
    /// nothing to refuse, the summary fails on its own).
    ///
    /// # Errors
    /// As [`Audience::check_rows`].
    pub fn check_source(
        &self,
        entry: &ModelEntry,
        dataset: Option<&Dataset>,
        max_rows: usize,
    ) -> Result<(), ApiError> {
        let source = match dataset {
            Some(d) => Some((d.x.nrows(), format!("data set '{}'", d.id))),
            None => (entry.built.reference.as_ref()).map(|b| (b.rows(), "the background".into())),
        };
        match source {
            Some((rows, source)) => self.check_rows(rows.min(max_rows.max(1)), &source),
            None => Ok(()),
        }
    }

    /// Refuse a reader counterfactuals of a model with fewer background rows than
    /// `--min-summary-rows`: their default bounds (the background's range) and the
    /// `l1_mad` cost (its median absolute deviations) summarise those rows, and a
    /// few targets and costs read them back.
    ///
    /// # Errors
    /// As [`Audience::check_rows`].
    pub fn check_counterfactuals(&self, entry: &ModelEntry) -> Result<(), ApiError> {
        self.check_source(entry, None, usize::MAX)
    }

    /// Refuse a reader an explanation whose method compares the instances with fewer
    /// background rows than `--min-summary-rows`: against one row, a linear model's
    /// attributions are w·(x − b), and b follows. Methods that read no background
    /// (tree paths, gradient × input, whose base value is f(0)) pass; saliency's base
    /// value is the background's mean output, so it does not; sampling methods use
    /// `max_background` rows.
    ///
    /// # Errors
    /// [`ApiError::PrivateRows`] naming `max_background` or the background's size.
    pub fn check_explain(&self, entry: &ModelEntry, args: &ExplainArgs) -> Result<(), ApiError> {
        let Some(background) = entry.built.reference.as_ref().filter(|_| !self.admin) else {
            return Ok(());
        };
        let method = explainer::resolve_method(&entry.built, args.method, args.space);
        if let Some(k) = args.options.sampling.kmeans.filter(|&k| k < self.min_rows) {
            return Err(ApiError::PrivateRows(format!(
                "`background.kmeans` ({k}) is below --min-summary-rows ({}): each centre \
                 holds background values (snapped to the nearest per feature), and \
                 against so few of them explanations would show them, so only admin \
                 tokens may ask for so few",
                self.min_rows
            )));
        }
        let asked = args.options.sampling.max_background;
        match method {
            Method::TreePathDependent | Method::GradientXInput => Ok(()),
            m if m.is_seeded() && asked.is_some_and(|n| n < self.min_rows) => {
                Err(ApiError::PrivateRows(format!(
                    "`max_background` ({}) is below --min-summary-rows ({}): explanations \
                     against so few background rows would show single rows, so only admin \
                     tokens may ask for them",
                    asked.unwrap_or(0),
                    self.min_rows
                )))
            }
            _ => self.check_rows(background.rows(), "the background"),
        }
    }

    /// Refuse a reader a named data set.
    ///
    /// # Errors
    /// [`ApiError::PrivateRows`] when a reader names one.
    pub fn check_dataset(&self, dataset: Option<&str>) -> Result<(), ApiError> {
        match dataset {
            Some(id) if !self.admin => Err(ApiError::PrivateRows(format!(
                "`dataset` ('{id}') needs an admin token: data sets are admin-only; readers \
                 get summaries over the model's background"
            ))),
            Some(_) | None => Ok(()),
        }
    }

    /// The ICE curves to compute when `asked` were asked for: as asked for admins,
    /// none for readers unless asked.
    ///
    /// # Errors
    /// [`ApiError::PrivateRows`] when a reader asks for at least one.
    pub fn ice(&self, asked: Option<usize>) -> Result<Option<usize>, ApiError> {
        match asked {
            _ if self.admin => Ok(asked),
            None | Some(0) => Ok(Some(0)),
            Some(n) => Err(ApiError::PrivateRows(format!(
                "`ice` ({n}) needs an admin token: an ICE curve follows one background or \
                 data-set row; readers may ask for ice=0 and get the partial dependence"
            ))),
        }
    }

    /// A job's result as this caller may see it: whole for admins; for readers
    /// without ICE curves, and refused over too few rows.
    ///
    /// # Errors
    /// As [`Audience::check_rows`].
    pub fn result(&self, result: &Arc<DataResult>) -> Result<Arc<DataResult>, ApiError> {
        if self.admin {
            return Ok(Arc::clone(result));
        }
        let head = match result.as_ref() {
            DataResult::PermutationImportance(v) => &v.head,
            DataResult::Dependence(v) => &v.head,
            DataResult::MeanAbsAttribution(v) => &v.head,
        };
        let source = match &head.dataset {
            Some(id) => format!("data set '{id}'"),
            None => "the background".to_string(),
        };
        self.check_rows(head.rows, &source)?;
        match result.as_ref() {
            DataResult::Dependence(v) if v.ice_rows > 0 => {
                let mut v = v.clone();
                v.ice_rows = 0;
                for curves in &mut v.outputs {
                    curves.ice.clear();
                }
                Ok(Arc::new(DataResult::Dependence(v)))
            }
            DataResult::Dependence(_)
            | DataResult::PermutationImportance(_)
            | DataResult::MeanAbsAttribution(_) => Ok(Arc::clone(result)),
        }
    }

    /// The `from_data` section of `/global` as this caller may see it: each result
    /// as [`Audience::result`] gives it, those refused left out.
    pub fn section(&self, mut section: FromData) -> FromData {
        for slot in [
            &mut section.permutation_importance,
            &mut section.dependence,
            &mut section.mean_abs_attribution,
        ] {
            *slot = slot.take().and_then(|mut finished| {
                finished.result = self.result(&finished.result).ok()?;
                Some(finished)
            });
        }
        section
    }
}
