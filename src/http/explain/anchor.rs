//! The `anchor` section of an explanation with `method: "anchors"`: the rule, its
//! precision and coverage, and (admins only) a few of the rows it was measured on.
//!
//! Privacy: the examples are built rows whose unanchored features (and, under
//! conditioned sampling, anchored ones) are copied from background rows, so they
//! would show single background rows: like ICE curves, they go to admins (and to
//! every caller when access control is off) and are left out for reader tokens.
//! The rule's edges are interpolated quantiles that are no background row's value
//! ([`crate::core::stats::private_quantile`]), and coverage is a share over the
//! whole background, which readers may only ask of backgrounds of at least
//! `--min-summary-rows` rows ([`crate::http::privacy`]).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::charts::{
    self,
    anchor::{AnchorChart, ConditionRow},
};
use crate::core::explain::anchors::{Anchor, Anchored, Condition, Predicate};
use crate::core::models::RawFeatures;

/// One condition of an anchor's rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConditionDto {
    /// The feature's name.
    pub feature: String,
    /// `interval` (`lower < value ≤ upper`, either end open), `in` (one of
    /// `categories`) or `missing` (the value is null).
    pub op: &'static str,
    /// `interval`: the exclusive lower edge (absent: no lower edge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower: Option<f64>,
    /// `interval`: the inclusive upper edge (absent: no upper edge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper: Option<f64>,
    /// `in`: the categories allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// The condition as text, e.g. `0.25 < income <= 0.5`.
    pub text: String,
}

/// Rows built while measuring the precision: their anchored features meet the
/// rule; in `holds` the answer stayed, in `fails` it changed. Values in feature
/// order (category names for categorical features, null for missing).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnchorExamplesDto {
    /// Rows where the answer stayed the same (at most 3).
    #[schema(value_type = Vec<Vec<crate::spec::values::RawValue>>)]
    pub holds: Vec<Vec<Value>>,
    /// Rows where it changed (at most 3).
    #[schema(value_type = Vec<Vec<crate::spec::values::RawValue>>)]
    pub fails: Vec<Vec<Value>>,
}

/// An anchor: a rule the instance meets under which the model's answer stays the
/// same on at least `precision` of perturbed rows (Ribeiro et al. 2018).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnchorDto {
    /// The conditions, one per feature, all of which must hold (empty: the answer
    /// holds whatever the features are).
    pub rule: Vec<ConditionDto>,
    /// The rule as text, conditions joined by ` AND `.
    pub text: String,
    /// The answer kept: the class name, `not <class>` for a binary classifier's
    /// negative answer, or `<output> in [lo, hi]` for a regression.
    pub answer: String,
    /// Share of the rule's perturbed rows with the same answer.
    pub precision: f64,
    /// Lower KL confidence bound (level 1 − `delta`) of that share.
    pub precision_lower_bound: f64,
    /// Whether the bound reached the asked `precision` (false: the best rule found
    /// within the budget, short of it).
    pub precision_met: bool,
    /// Share of the background rows that meet the rule.
    pub coverage: f64,
    /// Perturbed rows the precision was measured on.
    pub rule_samples: usize,
    /// Model evaluations the search used for this instance.
    pub samples_used: usize,
    /// Regressions: the half-width of the band of the same answer, in output units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// A few of the perturbed rows, for admin tokens only (they hold background
    /// values); absent for readers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub examples: Option<AnchorExamplesDto>,
}

/// What naming an anchor needs of the model.
pub(crate) struct Names<'a> {
    /// Feature names, in input order.
    pub features: &'a [String],
    /// Output names.
    pub outputs: &'a [String],
    /// Categories of the categorical features, if any.
    pub raw: Option<&'a RawFeatures>,
}

/// The section for `anchor`; `examples` only when the caller may see rows.
pub(crate) fn anchor_dto(a: &Anchor, names: &Names<'_>, show_rows: bool) -> AnchorDto {
    let rule: Vec<ConditionDto> = a.rule.iter().map(|p| condition(p, names)).collect();
    let text = if rule.is_empty() {
        "any values".to_string()
    } else {
        let texts: Vec<&str> = rule.iter().map(|c| c.text.as_str()).collect();
        texts.join(" AND ")
    };
    let output = &names.outputs[a.output];
    let answer = match a.answer {
        Anchored::Class(_) | Anchored::Binary { positive: true } => output.clone(),
        Anchored::Binary { positive: false } => format!("not {output}"),
        Anchored::Band { lo, hi } => format!("{output} in [{}, {}]", short(lo), short(hi)),
    };
    let row = |r: &Vec<f64>| -> Vec<Value> {
        r.iter()
            .enumerate()
            .map(
                |(j, &v)| match names.raw.and_then(|raw| raw.category(j, v)) {
                    Some(c) => Value::from(c),
                    None if v.is_finite() => Value::from(v),
                    None => Value::Null,
                },
            )
            .collect()
    };
    AnchorDto {
        rule,
        text,
        answer,
        precision: a.precision,
        precision_lower_bound: a.precision_lower_bound,
        precision_met: a.precision_met,
        coverage: a.coverage,
        rule_samples: a.rule_samples,
        samples_used: a.samples_used,
        tolerance: a.tolerance,
        examples: show_rows.then(|| AnchorExamplesDto {
            holds: a.examples.holds.iter().map(row).collect(),
            fails: a.examples.fails.iter().map(row).collect(),
        }),
    }
}

fn condition(p: &Predicate, names: &Names<'_>) -> ConditionDto {
    let feature = names.features[p.feature].clone();
    let mut dto = ConditionDto {
        feature: feature.clone(),
        op: "interval",
        lower: None,
        upper: None,
        categories: None,
        text: String::new(),
    };
    dto.text = match &p.condition {
        Condition::Interval { lower, upper } => {
            dto.lower = *lower;
            dto.upper = *upper;
            match (lower, upper) {
                (Some(l), Some(u)) => format!("{} < {feature} <= {}", short(*l), short(*u)),
                (Some(l), None) => format!("{feature} > {}", short(*l)),
                (None, Some(u)) => format!("{feature} <= {}", short(*u)),
                (None, None) => format!("{feature} is any number"),
            }
        }
        Condition::Categories(codes) => {
            dto.op = "in";
            let cats: Vec<String> = codes
                .iter()
                .map(|&c| {
                    let category = names.raw.and_then(|r| r.category(p.feature, c as f64));
                    category.map_or_else(|| format!("(unseen {c})"), str::to_string)
                })
                .collect();
            let text = match cats.as_slice() {
                [one] => format!("{feature} = {one}"),
                many => format!("{feature} in {{{}}}", many.join(", ")),
            };
            dto.categories = Some(cats);
            text
        }
        Condition::Missing => {
            dto.op = "missing";
            format!("{feature} is missing")
        }
    };
    dto
}

/// The picture of `anchor`, the anchor of the one instance `inputs` (in feature
/// order, categories as codes) explained by `model` version `version`.
pub(crate) fn picture(
    model: &str,
    version: u64,
    anchor: &AnchorDto,
    names: &Names<'_>,
    inputs: &[f64],
) -> String {
    let value = |j: usize| match names.raw.and_then(|raw| raw.category(j, inputs[j])) {
        Some(category) => category.to_string(),
        None => charts::scale::value(inputs[j]),
    };
    let conditions = (anchor.rule.iter())
        .map(|c| ConditionRow {
            feature: c.feature.clone(),
            text: c.text.replace("<=", "\u{2264}"),
            value: (names.features.iter())
                .position(|n| *n == c.feature)
                .map(value)
                .unwrap_or_default(),
        })
        .collect();
    charts::anchor::render(&AnchorChart {
        title: format!("Anchor: {model} v{version}"),
        subtitle: format!(
            "precision {} (lower bound {}), coverage {}; anchors, {} samples",
            short(anchor.precision),
            short(anchor.precision_lower_bound),
            short(anchor.coverage),
            anchor.samples_used
        ),
        conditions,
        answer: anchor.answer.clone(),
        precision: anchor.precision,
        lower_bound: anchor.precision_lower_bound,
        precision_met: anchor.precision_met,
        coverage: anchor.coverage,
    })
}

/// A number to four significant digits, trailing zeros dropped.
pub(crate) fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::explain::anchors::Examples;
    use crate::core::models::RawKind;

    #[test]
    fn categories_are_named_in_the_rule_the_examples_and_the_picture() {
        let raw = RawFeatures::new(vec![
            RawKind::Numeric,
            RawKind::Categorical {
                categories: vec!["north".into(), "south".into()],
            },
        ])
        .unwrap();
        let anchor = Anchor {
            answer: Anchored::Binary { positive: false },
            output: 0,
            prediction: 0.2,
            rule: vec![
                Predicate {
                    feature: 0,
                    condition: Condition::Interval {
                        lower: None,
                        upper: Some(2.5),
                    },
                },
                Predicate {
                    feature: 1,
                    condition: Condition::Categories(vec![1]),
                },
            ],
            precision: 0.97,
            precision_lower_bound: 0.955,
            precision_met: true,
            coverage: 0.3,
            rule_samples: 400,
            samples_used: 3000,
            tolerance: None,
            examples: Examples {
                holds: vec![vec![1.0, 1.0]],
                fails: vec![vec![f64::NAN, 0.0]],
            },
        };
        let (features, outputs) = (
            ["rooms".to_string(), "side".to_string()],
            ["approved".to_string()],
        );
        let names = Names {
            features: &features,
            outputs: &outputs,
            raw: Some(&raw),
        };
        let dto = anchor_dto(&anchor, &names, true);
        assert_eq!(dto.text, "rooms <= 2.5 AND side = south");
        assert_eq!(dto.answer, "not approved");
        assert_eq!(dto.rule[1].categories, Some(vec!["south".to_string()]));
        let examples = dto.examples.clone().unwrap();
        assert_eq!(
            examples.holds[0],
            vec![Value::from(1.0), Value::from("south")]
        );
        assert_eq!(examples.fails[0], vec![Value::Null, Value::from("north")]);
        assert!(anchor_dto(&anchor, &names, false).examples.is_none());
        let svg = picture("m", 1, &dto, &names, &[2.0, 1.0]);
        assert!(svg.contains("(this instance: south)"), "{svg}");
        assert!(svg.contains("IF rooms \u{2264} 2.5"), "{svg}");
    }

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(short(0.4751641380301164), "0.4752");
        assert_eq!(short(123456.7), "123457");
        assert_eq!(short(-2.5), "-2.5");
        assert_eq!(short(1500.0), "1500");
    }
}
