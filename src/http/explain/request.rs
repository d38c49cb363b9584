//! The explain request: what to explain, how, and in which output space, checked
//! against the model into the engine's [`ExplainArgs`].

use std::time::Duration;

use serde::Deserialize;
use utoipa::ToSchema;

use crate::core::explain::integrated_gradients::IgOptions;
use crate::core::explain::sampling::SamplingParams;
use crate::core::explain::Method;
use crate::core::Cancel;
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
    /// attribution's standard error: samples are drawn in doubling rounds until it is
    /// met, `n_samples` (default `--max-samples`) is reached, or `timeout_ms` passes
    /// (then the last finished round answers). Echoed as `quality.tolerance`.
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
    /// Tree models with `tree_path_dependent`: also SHAP interaction values per
    /// instance (features × features, symmetric, each row summing to that feature's
    /// attribution).
    #[serde(default)]
    pub interactions: Option<bool>,
    /// `basic` (default) or `full`: also deletion and insertion curves, faithfulness
    /// correlation and max-sensitivity for every row (costs extra model evaluations).
    #[serde(default)]
    pub quality: Option<QualityLevel>,
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
        Ok(ExplainArgs {
            method: self.method.as_deref().unwrap_or("auto").parse()?,
            output: selection::output_choice(entry, self.output.as_ref(), self.outputs.as_deref())?,
            space: self.output_space.unwrap_or(SpaceName::Raw).into(),
            options: self.options()?,
            players: selection::players(self.group_by.as_deref(), self.players.as_deref())?,
            cancel: Cancel::never(),
        })
    }

    /// The method settings this request gives, validated.
    fn options(&self) -> Result<MethodOptions, ApiError> {
        let method: Method = self.method.as_deref().unwrap_or("auto").parse()?;
        let sampled = matches!(method, Method::KernelShap | Method::PermutationShap);
        let mut ig = IgOptions::default();
        if let Some(steps) = self.steps {
            ig.steps = steps;
            ig.tolerance = None;
        }
        if let Some(tolerance) = self.tolerance.filter(|_| !sampled) {
            ig.tolerance = Some(tolerance);
        }
        ig.checked_tolerance()?;
        if let Some(rule) = &self.rule {
            ig.rule = rule.parse()?;
        }
        ig.baseline = self.baseline.clone();
        let sampling = SamplingParams {
            seed: self.seed.unwrap_or(0),
            n_samples: self.n_samples,
            timeout: self.timeout_ms.map(Duration::from_millis),
            top_k: self.top_k,
            max_background: self.max_background,
            tolerance: self.tolerance.filter(|_| sampled),
            ..SamplingParams::default()
        };
        crate::core::explain::sampling::check_tolerance(sampling.tolerance)?;
        Ok(MethodOptions {
            ig,
            sampling,
            full_quality: self.quality == Some(QualityLevel::Full),
            interactions: self.interactions.unwrap_or(false),
        })
    }
}
