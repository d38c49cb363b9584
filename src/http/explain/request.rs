//! The explain request: what to explain, how, and in which output space, checked
//! against the model into the engine's [`ExplainArgs`].

use std::time::Duration;

use serde::Deserialize;
use utoipa::ToSchema;

use crate::core::explain::anchors::AnchorParams;
use crate::core::explain::integrated_gradients::IgOptions;
use crate::core::explain::kernel_shap::Estimator;
use crate::core::explain::sampling::SamplingParams;
use crate::core::explain::Method;
use crate::core::{Cancel, CoreError};
use crate::explainer::{ExplainArgs, MethodOptions};
use crate::http::error::ApiError;
use crate::http::outputs::SpaceName;
use crate::http::{instances, selection};
use crate::registry::ModelEntry;

/// An explanation request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// Model name: required on `POST /explain`, optional (must match) on the model's own route.
    #[serde(default)]
    #[schema(nullable = false)]
    pub model: Option<String>,
    /// Rows to explain: arrays in feature order, or objects keyed by feature name.
    /// `null` marks a missing value (tree models only). For a text classifier, rows
    /// are pooled embeddings (`emb_0` …); send `texts` instead to explain words.
    #[serde(default)]
    #[schema(value_type = Vec<crate::spec::values::Instance>)]
    pub instances: instances::Instances,
    /// Text classifiers: the texts to explain, instead of `instances`. The answer is
    /// a `TextExplainResponse`: per-token attributions and the unknown words.
    #[serde(default)]
    pub texts: Option<Vec<String>>,
    /// `auto` (default: the exact method for the model's family) or a method name.
    #[serde(default)]
    pub method: Option<String>,
    /// Output to explain, by index or name. Default: the only output, or each row's
    /// predicted class.
    #[serde(default)]
    pub output: Option<crate::http::outputs::OutputRef>,
    /// Several outputs per row instead of `output`: `"all"`, or `"top:K"` for each
    /// row's K largest outputs (most probable classes), largest first. Then
    /// `explanations` holds K per row, row by row, each naming its `instance`.
    #[serde(default)]
    pub outputs: Option<String>,
    /// `raw` (default) or `probability` (classifiers).
    #[serde(default)]
    pub output_space: Option<SpaceName>,
    /// `features` (default) or `groups`: one attribution per feature group the model
    /// declares (the sum of its features' attributions; standard errors are then
    /// left out, as they do not add up). `feature_names` then names the groups.
    #[serde(default)]
    pub group_by: Option<String>,
    /// Sampling methods: `features` (default) or `groups`, to let groups join and
    /// leave coalitions as one player (implies one attribution per group).
    #[serde(default)]
    pub players: Option<String>,
    /// Integrated gradients: quadrature nodes along the path, at most 2048. Given
    /// alone, exactly this many; otherwise the first count tried (default 50), doubled
    /// until the row's |convergence_delta| ≤ `tolerance` · |f(x) − f(baseline)| or
    /// 2048 nodes. `quality.samples` reports the count used. Texts: fixed, default 50.
    #[serde(default)]
    pub steps: Option<usize>,
    /// Read per method. Integrated gradients on `instances`: the relative convergence
    /// target of the adaptive steps, above 0 and at most 1 (default 0.001 when `steps`
    /// is not given; with `steps`, makes them adaptive from there). `kernel_shap` and
    /// `permutation_shap`: an absolute target, in the output's units, for every
    /// attribution's standard error: samples are drawn in rounds (a pilot, then
    /// 1.2 · (max standard error / tolerance)^(1/α) times the samples so far, α the
    /// rate the errors fell at over the last two rounds, 1 after the pilot, 1.5 to 4
    /// times) until it is met, `n_samples` (default `--max-samples`) is reached, or
    /// `timeout_ms` comes near (a round is made to fit the time left, or not started;
    /// the last finished round answers). Echoed as `quality.tolerance`. Where
    /// an exact algorithm solves the game they sample sooner, it answers instead, and
    /// `quality.solved_by` says so, with zero standard errors (never with `top_k`):
    /// on a tree ensemble in raw space (single features as players, the background
    /// rows themselves), interventional TreeSHAP; on a logistic regression (binary
    /// or multinomial, also behind column-local preprocessing) in probability space
    /// (at most 16 players and 2^24 coalition × background row pairs),
    /// `exact_shapley`.
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// Integrated gradients: `gausslegendre` (default), `riemann_left`, `riemann_right`,
    /// `riemann_middle` or `riemann_trapezoid`.
    #[serde(default)]
    pub rule: Option<String>,
    /// Integrated gradients: the baseline, one value per feature (default: the
    /// background mean).
    #[serde(default)]
    pub baseline: Option<Vec<f64>>,
    /// Sampling methods (`kernel_shap`, `permutation_shap`, `lime`): the random seed
    /// (default 0); the same request and seed give the same answer.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Sampling methods: the budget (coalitions, permutation pairs or LIME samples;
    /// defaults 2F+2048, 10 and 5000); with a `tolerance`, the cap of its rounds.
    #[serde(default)]
    pub n_samples: Option<usize>,
    /// Sampling methods: give up (422 `timeout`) past this many milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Sampling methods: at most this many background rows (a seeded sample; default 100).
    #[serde(default)]
    pub max_background: Option<usize>,
    /// `kernel_shap`: keep only the k largest attributions and refit.
    #[serde(default)]
    pub top_k: Option<usize>,
    /// `kernel_shap`, `permutation_shap`, `exact_shapley`: `{"kmeans": K}` integrates
    /// over K weighted k-means centres of the background (as shap.kmeans: seeded,
    /// each centre weighted by its cluster's share of the rows and snapped to the
    /// nearest background value per feature) instead of its rows; K is capped by
    /// --max-background and, for reader tokens, at least --min-summary-rows.
    /// `quality.background` names the summary; the centres are never shown.
    #[serde(default)]
    pub background: Option<BackgroundSummary>,
    /// `kernel_shap`: `kernel` (default: coalition sizes drawn in proportion to their
    /// kernel weight, as shap), `leverage` (Leverage SHAP, Musco and Witter 2025:
    /// every size an equal share, drawn without replacement; same standard errors),
    /// `regression_adjusted` (kernel's coalitions; a cross-fitted surrogate with
    /// third-order interactions takes out what it explains, Witter, Musco et al. 2025)
    /// or `per_baseline` (kernel's coalitions played by each background row through
    /// its own relabelling of the features, each row's game fitted alone and the
    /// fits averaged, so that the rows' sampling errors average out; `n_samples`
    /// counts coalitions per background row, as for the others; not with `top_k`).
    #[serde(default)]
    pub estimator: Option<EstimatorName>,
    /// Tree models with `tree_path_dependent`: also SHAP interaction values per
    /// instance (features × features, symmetric, each row summing to that feature's
    /// attribution).
    #[serde(default)]
    pub interactions: Option<bool>,
    /// `basic` (default) or `full`: also deletion and insertion curves, faithfulness
    /// correlation and max-sensitivity for every row (costs extra model evaluations).
    #[serde(default)]
    pub quality: Option<QualityLevel>,
    /// `anchors`: the precision a rule must reach, in (0, 1] (default 0.95): the lower
    /// confidence bound of the share of perturbed rows meeting the rule whose answer
    /// stays the same. (Anchors also read `seed`, `n_samples` as the budget of model
    /// evaluations per row (default 100000, capped by `--max-samples`), `timeout_ms`,
    /// `max_background`, and `tolerance`: for regressions, the half-width of the
    /// band of "the same answer" around the row's prediction, in output units,
    /// default half the output's standard deviation over the background.)
    #[serde(default)]
    pub precision: Option<f64>,
    /// `anchors`: one minus the confidence of the precision bounds, in (0, 1)
    /// (default 0.1).
    #[serde(default)]
    pub delta: Option<f64>,
    /// `anchors`: how close in precision two rules may be for KL-LUCB to stop
    /// telling them apart, in (0, 1) (default 0.15).
    #[serde(default)]
    pub epsilon: Option<f64>,
    /// `anchors`: rules kept at each size of the beam search, at least 1 (default 2).
    #[serde(default)]
    pub beam_size: Option<usize>,
}

/// KernelSHAP's sampling of coalitions.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EstimatorName {
    /// Sizes in proportion to their kernel weight (shap's sampling), in pairs.
    Kernel,
    /// Leverage SHAP: sizes in equal shares, without replacement, in pairs.
    Leverage,
    /// KernelSHAP's sampling, adjusted by a cross-fitted third-order surrogate whose
    /// Shapley values are exact (Witter, Musco et al. 2025).
    #[serde(rename = "regression_adjusted")]
    RegressionAdjusted,
    /// Kernel's coalitions relabelled for each background row, each row's game
    /// fitted alone (cross-fitted) and the fits averaged.
    #[serde(rename = "per_baseline")]
    PerBaseline,
}

/// A summary of the background to integrate over instead of its rows.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackgroundSummary {
    /// Number of weighted k-means centres, at least 1.
    pub kmeans: usize,
}

/// How much quality information to compute.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum QualityLevel {
    /// Additivity residual and what the method reports anyway.
    Basic,
    /// Also the scores of the `scores` field.
    Full,
}

impl ExplainRequest {
    /// What to compute, from the method, output, space and settings this request
    /// gives, checked against the model.
    pub(crate) fn args(&self, entry: &ModelEntry) -> Result<ExplainArgs, ApiError> {
        let method: Method = self.method.as_deref().unwrap_or("auto").parse()?;
        let space = self.output_space.unwrap_or(SpaceName::Raw).into();
        self.check_read(crate::explainer::resolve_method(
            &entry.built,
            method,
            space,
        ))?;
        Ok(ExplainArgs {
            method,
            output: selection::output_choice(entry, self.output.as_ref(), self.outputs.as_deref())?,
            space,
            options: self.options()?,
            players: selection::players(self.group_by.as_deref(), self.players.as_deref())?,
            cancel: Cancel::never(),
        })
    }

    /// Refuse a setting that `method` (resolved from `auto`) does not read, naming
    /// the methods that do, rather than ignore it. (`estimator`, `background`,
    /// `interactions` and the anchors' settings are checked where they are read.)
    fn check_read(&self, method: Method) -> Result<(), ApiError> {
        use Method::{Anchors, IntegratedGradients, KernelShap, PermutationShap};
        let given = [
            (
                "top_k",
                self.top_k.is_some(),
                &[KernelShap][..],
                "kernel_shap",
            ),
            (
                "steps",
                self.steps.is_some(),
                &[IntegratedGradients][..],
                "integrated_gradients",
            ),
            (
                "rule",
                self.rule.is_some(),
                &[IntegratedGradients][..],
                "integrated_gradients",
            ),
            (
                "baseline",
                self.baseline.is_some(),
                &[IntegratedGradients][..],
                "integrated_gradients",
            ),
            (
                "tolerance",
                self.tolerance.is_some(),
                &[IntegratedGradients, KernelShap, PermutationShap, Anchors][..],
                "integrated_gradients, kernel_shap, permutation_shap and anchors",
            ),
        ];
        match given
            .iter()
            .find(|(_, set, readers, _)| *set && !readers.contains(&method))
        {
            Some((field, _, _, readers)) => Err(ApiError::InvalidInput(format!(
                "`{field}` is read by {readers}; this request's method is {method}"
            ))),
            None => Ok(()),
        }
    }

    /// The method settings this request gives, validated.
    fn options(&self) -> Result<MethodOptions, ApiError> {
        let method: Method = self.method.as_deref().unwrap_or("auto").parse()?;
        let sampled = matches!(method, Method::KernelShap | Method::PermutationShap);
        let anchors = self.anchor_params(method)?;
        let mut ig = IgOptions::default();
        if let Some(steps) = self.steps {
            ig.steps = steps;
            ig.tolerance = None;
        }
        if let Some(tolerance) = self.tolerance.filter(|_| !sampled && anchors.is_none()) {
            ig.tolerance = Some(tolerance);
        }
        ig.checked_tolerance()?;
        if let Some(rule) = &self.rule {
            ig.rule = rule.parse()?;
        }
        ig.baseline = self.baseline.clone();
        let summarised = matches!(
            method,
            Method::KernelShap | Method::PermutationShap | Method::ExactShapley
        );
        if self.background.is_some() && !summarised {
            return Err(ApiError::Core(CoreError::InvalidArgument(
                "`background` (a k-means summary) is read by kernel_shap, permutation_shap \
                 and exact_shapley; name one of them as `method`"
                    .into(),
            )));
        }
        if self.estimator.is_some() && method != Method::KernelShap {
            return Err(ApiError::Core(CoreError::InvalidArgument(
                "`estimator` chooses kernel_shap's sampling; name it as `method`".into(),
            )));
        }
        let estimator = match self.estimator {
            Some(EstimatorName::Leverage) => Estimator::Leverage,
            Some(EstimatorName::RegressionAdjusted) => Estimator::RegressionAdjusted,
            Some(EstimatorName::PerBaseline) => Estimator::PerBaseline,
            Some(EstimatorName::Kernel) | None => Estimator::Kernel,
        };
        let sampling = SamplingParams {
            seed: self.seed.unwrap_or(0),
            n_samples: self.n_samples,
            timeout: self.timeout_ms.map(Duration::from_millis),
            top_k: self.top_k,
            max_background: self.max_background,
            tolerance: self.tolerance.filter(|_| sampled),
            kmeans: self.background.map(|b| b.kmeans),
            estimator,
            ..SamplingParams::default()
        };
        crate::core::explain::sampling::check_tolerance(sampling.tolerance)?;
        Ok(MethodOptions {
            ig,
            sampling,
            full_quality: self.quality == Some(QualityLevel::Full),
            interactions: self.interactions.unwrap_or(false),
            anchors: anchors.unwrap_or_default(),
        })
    }

    /// The anchor search's settings with `method` anchors (checked, each refusal
    /// naming its field); `None` for other methods, which refuse them.
    fn anchor_params(&self, method: Method) -> Result<Option<AnchorParams>, ApiError> {
        if method != Method::Anchors {
            let given = [
                ("precision", self.precision.is_some()),
                ("delta", self.delta.is_some()),
                ("epsilon", self.epsilon.is_some()),
                ("beam_size", self.beam_size.is_some()),
            ];
            return match given.iter().find(|(_, set)| *set) {
                Some((field, _)) => Err(ApiError::InvalidInput(format!(
                    "`{field}` applies to method anchors; this request's method is {method}"
                ))),
                None => Ok(None),
            };
        }
        let defaults = AnchorParams::default();
        let params = AnchorParams {
            precision: self.precision.unwrap_or(defaults.precision),
            delta: self.delta.unwrap_or(defaults.delta),
            epsilon: self.epsilon.unwrap_or(defaults.epsilon),
            beam_size: self.beam_size.unwrap_or(defaults.beam_size),
            max_samples: self.n_samples.unwrap_or(defaults.max_samples),
            seed: self.seed.unwrap_or(0),
            tolerance: self.tolerance,
            timeout: self.timeout_ms.map(Duration::from_millis),
            max_background: self.max_background,
            ..defaults
        };
        params.check()?;
        Ok(Some(params))
    }
}
