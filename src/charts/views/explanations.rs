//! The explain route's waterfalls: one explained instance (a step per feature) and
//! one explained text (a step per known word), with what both say of the answer
//! ([`Explained`]).

use super::{output_unit, scale};
use crate::charts::waterfall::{self, RowLabel, Step, Waterfall};
use crate::core::models::RawFeatures;

/// What every explanation picture says of its answer: whose, which output, in
/// which space, how made, and its two ends.
#[derive(Debug, Clone)]
pub struct Explained<'a> {
    /// Model name.
    pub model: &'a str,
    /// Model version.
    pub version: u64,
    /// Method used.
    pub method: &'a str,
    /// Output explained.
    pub output: &'a str,
    /// `raw` or `probability`.
    pub output_space: &'a str,
    /// Model kind, for the unit.
    pub kind: &'a str,
    /// The value the attributions start from.
    pub base_value: f64,
    /// The model's output for what was explained.
    pub prediction: f64,
}

impl Explained<'_> {
    /// The axis label (see [`output_unit`]).
    fn unit(&self) -> String {
        output_unit(self.output_space, self.kind, self.output)
    }
}

/// One explained instance, as the explain route answers it.
#[derive(Debug, Clone)]
pub struct ExplainedRow<'a> {
    /// The answer's model, output, method and ends.
    pub answer: Explained<'a>,
    /// Feature names, aligned with `inputs` and `attributions`.
    pub feature_names: &'a [String],
    /// The instance's feature values.
    pub inputs: &'a [f64],
    /// The model's raw features when some are categorical: those values are shown
    /// by category name.
    pub raw: Option<&'a RawFeatures>,
    /// One attribution per feature.
    pub attributions: &'a [f64],
}

/// How a categorical feature's value reads: its category, `(unseen category)` or `(missing)`;
/// `None` for a numeric feature.
pub fn category_label(raw: &RawFeatures, feature: usize, code: f64) -> Option<String> {
    raw.categories(feature)?;
    Some(match raw.category(feature, code) {
        Some(name) => name.to_string(),
        None if code.is_nan() => "(missing)".to_string(),
        None => "(unseen category)".to_string(),
    })
}

/// The waterfall of one explained instance (its base value: the mean over the
/// background).
pub fn explanation(row: &ExplainedRow<'_>) -> String {
    let a = &row.answer;
    let chart = Waterfall {
        title: format!(
            "Explanation: {} v{}, output {}",
            a.model, a.version, a.output
        ),
        subtitle: format!(
            "prediction {} = base value {} + sum of attributions; {}, {} space",
            scale::label(a.prediction),
            scale::label(a.base_value),
            a.method,
            a.output_space
        ),
        axis_label: a.unit(),
        base_value: a.base_value,
        base_name: "E[f(X)]",
        prediction: a.prediction,
        steps: row
            .feature_names
            .iter()
            .zip(row.inputs)
            .zip(row.attributions)
            .enumerate()
            .map(|(j, ((f, v), d))| Step {
                feature: f.clone(),
                value: *v,
                label: match row.raw.and_then(|r| category_label(r, j, *v)) {
                    Some(name) => RowLabel::Named(name),
                    None => RowLabel::Value,
                },
                delta: *d,
            })
            .collect(),
    };
    waterfall::render(&chart)
}

/// One text explained word by word, as the explain route answers `texts`.
#[derive(Debug, Clone)]
pub struct ExplainedText<'a> {
    /// The answer's model, output, method and ends (the base value: the
    /// prediction for a text with no known word).
    pub answer: Explained<'a>,
    /// The known words in text order: (word, byte offset of its start, attribution).
    pub words: &'a [(&'a str, usize, f64)],
    /// How many words the model did not know (skipped, not attributed).
    pub unknown_words: usize,
}

/// The waterfall of one explained text: a step per known word, labelled with its
/// place in the text (a word said twice is two steps); `data-feature` is the word,
/// `data-value` its byte offset.
pub fn text_explanation(text: &ExplainedText<'_>) -> String {
    let a = &text.answer;
    let unknown = match text.unknown_words {
        0 => String::new(),
        n => format!(
            "; {n} unknown word{} skipped",
            if n == 1 { "" } else { "s" }
        ),
    };
    let chart = Waterfall {
        title: format!(
            "Explanation of a text: {} v{}, output {}",
            a.model, a.version, a.output
        ),
        subtitle: format!(
            "prediction {} = base value (no known word) {} + sum of word attributions; {}, {} space{unknown}",
            scale::label(a.prediction),
            scale::label(a.base_value),
            a.method,
            a.output_space
        ),
        axis_label: a.unit(),
        base_value: a.base_value,
        base_name: "f(no known word)",
        prediction: a.prediction,
        steps: text
            .words
            .iter()
            .enumerate()
            .map(|(k, (word, start, delta))| Step {
                feature: word.to_string(),
                value: *start as f64,
                label: RowLabel::Word(k + 1),
                delta: *delta,
            })
            .collect(),
    };
    waterfall::render(&chart)
}
