//! The counterfactual request and its validation into a core [`Problem`]: every
//! fault is a 422 naming the field.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

use crate::core::counterfactual::{mad_weights, CostModel, Domain, Goal, Problem};
use crate::core::global::dependence::private_quantile;
use crate::core::models::{Link, OutputSpace};
use crate::http::error::ApiError;
use crate::http::instances::{self, Instances};
use crate::http::outputs::SpaceName;
use crate::registry::ModelEntry;

/// Most counterfactuals one request may ask for.
pub const MAX_COUNT: usize = 5;
/// The search's time limit when the request sets none, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 2_000;

/// A counterfactual request: the instance, the answer wanted, the constraints.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterfactualRequest {
    /// The instance: an array in feature order or an object keyed by feature name.
    /// Answers give counterfactuals in the same form.
    #[schema(value_type = crate::spec::values::Instance)]
    pub instance: serde_json::Value,
    /// A class (index or output name) for classifiers, or `{"min": a, "max": b}`
    /// (either end may be left out) on an output's value.
    pub target: TargetSpec,
    /// For a `{"min","max"}` target: its space, `raw` or `probability` (default:
    /// `probability` for classifiers, `raw` otherwise).
    #[serde(default)]
    pub space: Option<SpaceName>,
    /// For a `{"min","max"}` target on a model with several outputs: which one
    /// (index or name; default 0).
    #[serde(default)]
    pub output: Option<crate::http::outputs::OutputRef>,
    /// Features that must keep their values.
    #[serde(default)]
    pub immutable: Vec<String>,
    /// `{feature: [lo, hi]}`: where a feature may move (default: the background's
    /// range, from the midpoint of its two lowest values to that of its two highest,
    /// so that no answer shows one row's value). A feature may always keep its own
    /// value. Numeric features only: a categorical one is refused (422); restrict it
    /// with `categories`.
    #[serde(default)]
    pub bounds: BTreeMap<String, Vec<f64>>,
    /// `{feature: [category, ...]}`: the categories a categorical feature may take
    /// (names, or codes for features whose categories have no names).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub categories: BTreeMap<String, Vec<serde_json::Value>>,
    /// Features that take whole numbers only. Numeric features only: a categorical
    /// one is refused (422).
    #[serde(default)]
    pub integer: Vec<String>,
    /// Most features changed.
    #[serde(default)]
    pub max_changes: Option<usize>,
    /// `"l1_mad"` (default): Σ |change| / MAD over the background (a zero MAD counts
    /// as 1; a categorical change costs 1); `"l0"`: the number of features changed;
    /// or `{feature: weight}`: Σ weight × |change| (features left out weigh as
    /// `l1_mad`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub cost: Option<serde_json::Value>,
    /// How many counterfactuals, each leaving unchanged at least one feature that
    /// each earlier one changed (default 1, at most 5).
    #[serde(default)]
    pub count: Option<usize>,
    /// Time limit of the search in milliseconds (default 2000, capped below the
    /// server's request deadline); past it the best found is answered with
    /// `optimal: false` and the bound proved.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Seed of the model-agnostic search (default 0).
    #[serde(default)]
    pub seed: Option<u64>,
}

/// A class, or an interval on an output.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TargetSpec {
    /// A class index.
    Index(usize),
    /// A class (output) name.
    Name(String),
    /// An interval on an output.
    Range {
        /// Lowest value wanted.
        #[serde(default)]
        min: Option<f64>,
        /// Highest value wanted.
        #[serde(default)]
        max: Option<f64>,
    },
}

/// A checked request: the core problem and what the answer needs.
#[derive(Debug)]
pub struct Checked {
    /// The problem for the core.
    pub problem: Problem,
    /// Whether the instance came as an object (answers follow).
    pub as_object: bool,
    /// The search's time limit in milliseconds.
    pub timeout_ms: u64,
}

fn bad(message: String) -> ApiError {
    ApiError::InvalidInput(message)
}

impl CounterfactualRequest {
    /// Check the request against the model.
    ///
    /// # Errors
    /// 422 naming the field at fault (module doc).
    pub fn check(self, entry: &ModelEntry, deadline_ms: u64) -> Result<Checked, ApiError> {
        let built = &entry.built;
        let names = &built.feature_names;
        let as_object = self.instance.is_object();
        let x = instances::to_matrix(&Instances::from(vec![self.instance.clone()]), built, 1)
            .map_err(|e| bad(e.to_string().replace("instances[0]", "instance")))?;
        let x: Vec<f64> = x.row(0).to_vec();
        let goal = self.goal(entry)?;
        let model = built.model.as_model();
        let row = ndarray::Array2::from_shape_vec((1, x.len()), x.clone()).expect("one row");
        let raw = model.predict_raw(row.view()).row(0).to_vec();
        if raw.iter().any(|v| !v.is_finite()) {
            return Err(bad(
                "instance: the model's output on it is not a finite number (overflow)".into(),
            ));
        }
        if crate::core::counterfactual::meets(&goal, model.link(), &raw) {
            return Err(bad(
                "target: the instance already meets it; ask for another answer".into(),
            ));
        }
        let column = |field: &str, name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| bad(format!("{field}: unknown feature '{name}'")))
        };
        let background = built.reference.as_ref().map(|r| &r.data);
        let mut domains: Vec<Domain> = (0..x.len())
            .map(|j| {
                let mut d = Domain::free();
                if let Some(data) = background {
                    // The range's ends as private quantiles (midpoints of the two
                    // lowest and the two highest values), so no answer shows one
                    // background row's extreme value (issue 15).
                    let mut col: Vec<f64> = data
                        .column(j)
                        .iter()
                        .copied()
                        .filter(|v| v.is_finite())
                        .collect();
                    col.sort_by(f64::total_cmp);
                    if !col.is_empty() {
                        d.lo = private_quantile(&col, 0.0);
                        d.hi = private_quantile(&col, 1.0);
                    }
                }
                if let Some(raw) = built.model.raw_features() {
                    if let Some(c) = raw.categories(j) {
                        d.categories = Some((0..c.len()).map(|i| i as f64).collect());
                    }
                }
                d
            })
            .collect();
        for name in &self.immutable {
            domains[column("immutable", name)?].immutable = true;
        }
        for name in &self.integer {
            let j = column("integer", name)?;
            if x[j].is_finite() && x[j].fract() != 0.0 {
                return Err(bad(format!(
                    "integer: feature '{name}' is {} in the instance, not a whole number",
                    x[j]
                )));
            }
            domains[j].integer = true;
        }
        for (name, pair) in &self.bounds {
            let j = column("bounds", name)?;
            let &[lo, hi] = pair.as_slice() else {
                return Err(bad(format!(
                    "bounds.{name}: [lo, hi], two numbers, not {} of them",
                    pair.len()
                )));
            };
            if lo > hi {
                return Err(bad(format!("bounds.{name}: lo {lo} is above hi {hi}")));
            }
            if domains[j].immutable && !(lo <= x[j] && x[j] <= hi) {
                return Err(bad(format!(
                    "bounds.{name}: [{lo}, {hi}] excludes the instance's own value {} of an \
                     immutable feature",
                    x[j]
                )));
            }
            domains[j].lo = lo;
            domains[j].hi = hi;
        }
        for (name, allowed) in &self.categories {
            let j = column("categories", name)?;
            domains[j].categories = Some(categories(entry, name, j, allowed)?);
        }
        // Bounds and `integer` speak of quantities; a category's code is none, and
        // the solvers move a categorical feature among its categories only: refuse
        // them rather than ignore them.
        let numeric_only = (self.integer.iter().map(|n| ("integer", n)))
            .chain(self.bounds.keys().map(|n| ("bounds", n)));
        for (field, name) in numeric_only {
            if domains[column(field, name)?].categories.is_some() {
                let at = if field == "bounds" {
                    format!("bounds.{name}")
                } else {
                    field.to_string()
                };
                return Err(bad(format!(
                    "{at}: '{name}' is a categorical feature; `{field}` constrains numeric \
                     features only (list the categories it may take in `categories`)"
                )));
            }
        }
        for (j, d) in domains.iter_mut().enumerate() {
            if x[j].is_finite() {
                d.lo = d.lo.min(x[j]);
                d.hi = d.hi.max(x[j]);
            }
            if d.lo > d.hi {
                (d.lo, d.hi) = (f64::NEG_INFINITY, f64::INFINITY);
            }
        }
        let mut cost = self.cost_model(entry, &column)?;
        // A category change costs 1 unless the request weighs it: the MAD of codes
        // means nothing.
        let weighed = self.cost.as_ref().and_then(|c| c.as_object());
        for (j, d) in domains.iter().enumerate() {
            if d.categories.is_some() && !weighed.is_some_and(|w| w.contains_key(&names[j])) {
                cost.weights[j] = 1.0;
            }
        }
        let count = self.count.unwrap_or(1);
        if count == 0 || count > MAX_COUNT {
            return Err(bad(format!("count: {count}; between 1 and {MAX_COUNT}")));
        }
        if self.max_changes == Some(0) {
            return Err(bad("max_changes: 0 allows no change; at least 1".into()));
        }
        let timeout_ms = self
            .timeout_ms
            .unwrap_or(DEFAULT_TIMEOUT_MS)
            .min(deadline_ms.saturating_mul(9) / 10)
            .max(1);
        Ok(Checked {
            problem: Problem {
                instance: x,
                goal,
                domains,
                cost,
                max_changes: self.max_changes,
                count,
                seed: self.seed.unwrap_or(0),
            },
            as_object,
            timeout_ms,
        })
    }

    fn goal(&self, entry: &ModelEntry) -> Result<Goal, ApiError> {
        let model = entry.built.model.as_model();
        let outputs = &entry.built.output_names;
        let (link, n) = (model.link(), model.n_outputs());
        let classifier = link.has_probability();
        let class = |c: usize| -> Result<Goal, ApiError> {
            match (link, n) {
                // Class 1 when P(class 1) ≥ 0.5, i.e. a margin ≥ 0.
                (Link::Logistic, 1) if c <= 1 => Ok(Goal::Range {
                    output: 0,
                    space: OutputSpace::Probability,
                    lo: if c == 1 { 0.5 } else { 0.0 },
                    hi: if c == 1 {
                        1.0
                    } else {
                        0.5 - f64::EPSILON / 4.0
                    },
                }),
                (Link::Softmax, _) if c < n => Ok(Goal::Class(c)),
                _ if classifier => Err(bad(format!(
                    "target: class {c} out of range; the model has {} classes",
                    n.max(2)
                ))),
                _ => Err(bad(
                    "target: a regression takes {\"min\": a, \"max\": b}, not a class".into(),
                )),
            }
        };
        match &self.target {
            TargetSpec::Index(c) => class(*c),
            TargetSpec::Name(name) => match outputs.iter().position(|o| o == name) {
                Some(k) if n == 1 => class(k + 1),
                Some(k) => class(k),
                None if n == 1 && classifier && *name == entry.built.class_zero() => class(0),
                None if n == 1 && classifier => Err(bad(format!(
                    "target: unknown class '{name}'; classes: {}, {}",
                    entry.built.class_zero(),
                    outputs[0]
                ))),
                None => Err(bad(format!(
                    "target: unknown class '{name}'; classes: {}",
                    outputs.join(", ")
                ))),
            },
            TargetSpec::Range { min, max } => {
                let (lo, hi) = (
                    min.unwrap_or(f64::NEG_INFINITY),
                    max.unwrap_or(f64::INFINITY),
                );
                if min.is_none() && max.is_none() {
                    return Err(bad("target: give `min`, `max` or both".into()));
                }
                if lo > hi {
                    return Err(bad(format!("target: min {lo} is above max {hi}")));
                }
                let default = if classifier {
                    SpaceName::Probability
                } else {
                    SpaceName::Raw
                };
                let output = match &self.output {
                    Some(o) => crate::http::outputs::output_index(entry, o)?,
                    None => 0,
                };
                Ok(Goal::Range {
                    output,
                    space: self.space.unwrap_or(default).into(),
                    lo,
                    hi,
                })
            }
        }
    }

    fn cost_model(
        &self,
        entry: &ModelEntry,
        column: &dyn Fn(&str, &str) -> Result<usize, ApiError>,
    ) -> Result<CostModel, ApiError> {
        let n = entry.built.feature_names.len();
        let mut weights = match &entry.built.reference {
            Some(r) => mad_weights(r.data.view()),
            None => vec![1.0; n],
        };
        let l0 = match &self.cost {
            None => false,
            Some(serde_json::Value::String(s)) if s == "l1_mad" => false,
            Some(serde_json::Value::String(s)) if s == "l0" => true,
            Some(serde_json::Value::Object(map)) => {
                for (name, w) in map {
                    let j = column("cost", name)?;
                    match w.as_f64() {
                        Some(w) if w > 0.0 && w.is_finite() => weights[j] = w,
                        _ => {
                            return Err(bad(format!(
                                "cost.{name}: a weight is a positive number, not {w}"
                            )))
                        }
                    }
                }
                false
            }
            Some(other) => {
                return Err(bad(format!(
                    "cost: \"l1_mad\", \"l0\" or {{feature: weight}}, not {other}"
                )))
            }
        };
        Ok(CostModel { weights, l0 })
    }
}

/// The codes of the categories a feature may take.
fn categories(
    entry: &ModelEntry,
    name: &str,
    j: usize,
    allowed: &[serde_json::Value],
) -> Result<Vec<f64>, ApiError> {
    let raw = entry.built.model.raw_features();
    let listed = raw.and_then(|r| r.categories(j));
    let read_as_categories = match &entry.built.model {
        crate::core::models::HostedModel::Trees(m) => {
            m.trees().iter().flat_map(|t| &t.nodes).any(|n| {
                n.feature == Some(j)
                    && matches!(
                        n.split,
                        Some(crate::core::models::trees::Split::Categories { .. })
                    )
            })
        }
        _ => false,
    };
    if listed.is_none() && !read_as_categories {
        return Err(bad(format!(
            "categories.{name}: '{name}' is not a categorical feature of this model"
        )));
    }
    allowed
        .iter()
        .map(|v| match (v, listed) {
            (serde_json::Value::String(s), Some(cats)) => cats
                .iter()
                .position(|c| c == s)
                .map(|i| i as f64)
                .ok_or_else(|| bad(format!("categories.{name}: unknown category '{s}'"))),
            (serde_json::Value::Number(n), _) => n
                .as_f64()
                .filter(|c| *c >= 0.0 && c.fract() == 0.0)
                .ok_or_else(|| bad(format!("categories.{name}: {n} is not a category code"))),
            _ => Err(bad(format!("categories.{name}: {v} is not a category"))),
        })
        .collect()
}
