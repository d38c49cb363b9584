//! The per-value steps of a derived column, evaluated as onnxruntime computes them.

use std::collections::HashMap;
use std::sync::Arc;

/// ONNX element types the front reads.
pub(super) const FLOAT: u64 = 1;
pub(super) const STRING: u64 = 8;
pub(super) const INT64: u64 = 7;
pub(super) const DOUBLE: u64 = 11;

/// A value flowing through a column: a number (held as f64, already rounded to
/// its tensor's type), or a string (`None` for one that no list names: an unseen
/// or missing category).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Num(f64),
    Str(Option<Arc<str>>),
}

/// A key of a OneHotEncoder or LabelEncoder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Str(Arc<str>),
    Int(i64),
}

/// A LabelEncoder's table.
#[derive(Debug)]
pub(super) struct Labels {
    pub(super) map: HashMap<Key, Val>,
    pub(super) default: Val,
}

/// One per-value step.
#[derive(Debug, Clone)]
pub(super) enum Step {
    /// Round to the tensor type: float32, double, or int64 (truncated toward zero).
    Cast(u64),
    /// Scaler: `(x − offset) × scale`, in the input's arithmetic, then to float32.
    Scale {
        offset: f32,
        scale: f32,
        double: bool,
    },
    /// Imputer: NaN → `value` (float32).
    Impute(f32),
    /// Binarizer: 1 when `x > threshold`, else 0 (NaN stays NaN: onnxruntime
    /// refuses it, the tree's default direction takes it here).
    Binarize(f32),
    /// One column of a OneHotEncoder: 1 when the value is `key`.
    OneHot(Key),
    /// A LabelEncoder.
    Label(Arc<Labels>),
}

impl Step {
    /// Whether a numeric value passes this step monotonically.
    pub(super) fn monotone(&self) -> bool {
        !matches!(self, Step::OneHot(_) | Step::Label(_))
    }

    /// The step in words, for `/weights`.
    pub(super) fn describe(&self) -> String {
        let key = |k: &Key| match k {
            Key::Str(s) => format!("'{s}'"),
            Key::Int(i) => i.to_string(),
        };
        match self {
            Step::Cast(FLOAT) => "cast to float32".into(),
            Step::Cast(DOUBLE) => "cast to double".into(),
            Step::Cast(INT64) => "cast to int64".into(),
            Step::Cast(STRING) => "cast to string".into(),
            Step::Cast(other) => format!("cast to ONNX type {other}"),
            Step::Scale { offset, scale, .. } => format!("scale (x − {offset}) × {scale}"),
            Step::Impute(value) => format!("impute NaN → {value}"),
            Step::Binarize(t) => format!("binarize x > {t}"),
            Step::OneHot(k) => format!("one-hot = {}", key(k)),
            Step::Label(labels) => format!(
                "label-encode {} keys (default {})",
                labels.map.len(),
                match &labels.default {
                    Val::Num(x) => x.to_string(),
                    Val::Str(Some(s)) => format!("'{s}'"),
                    Val::Str(None) => "none".into(),
                }
            ),
        }
    }

    /// The step applied to one value.
    pub(super) fn apply(&self, v: Val) -> Val {
        match (self, v) {
            (Step::Cast(FLOAT), Val::Num(x)) => Val::Num(f64::from(x as f32)),
            (Step::Cast(INT64), Val::Num(x)) if x.is_finite() => Val::Num(x.trunc()),
            (Step::Cast(_), v) => v,
            (
                Step::Scale {
                    offset,
                    scale,
                    double,
                },
                Val::Num(x),
            ) => Val::Num(if *double {
                f64::from(((x - f64::from(*offset)) * f64::from(*scale)) as f32)
            } else {
                f64::from((x as f32 - offset) * scale)
            }),
            (Step::Impute(value), Val::Num(x)) if x.is_nan() => Val::Num(f64::from(*value)),
            (Step::Binarize(t), Val::Num(x)) if !x.is_nan() => {
                Val::Num(if x > f64::from(*t) { 1.0 } else { 0.0 })
            }
            (Step::OneHot(key), v) => Val::Num(if key_of(&v).as_ref() == Some(key) {
                1.0
            } else {
                0.0
            }),
            (Step::Label(labels), v) => key_of(&v)
                .and_then(|k| labels.map.get(&k).cloned())
                .unwrap_or_else(|| labels.default.clone()),
            (_, v) => v,
        }
    }
}

/// The encoder key a value matches: its string, or its integer value.
fn key_of(v: &Val) -> Option<Key> {
    match v {
        Val::Str(Some(s)) => Some(Key::Str(s.clone())),
        Val::Str(None) => None,
        Val::Num(x) if x.is_finite() => Some(Key::Int(*x as i64)),
        Val::Num(_) => None,
    }
}

/// The number a column ends with (a string left at the model's input counts as
/// NaN; the front refuses that before it is evaluated).
pub(super) fn number(v: &Val) -> f64 {
    match v {
        Val::Num(x) => *x,
        Val::Str(_) => f64::NAN,
    }
}

/// Run `steps` over `v`.
pub(super) fn run(steps: &[Step], v: Val) -> Val {
    steps.iter().fold(v, |v, s| s.apply(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_rounds_as_float32_arithmetic() {
        let s = Step::Scale {
            offset: 5116.773,
            scale: 0.000_475_827_8,
            double: false,
        };
        let Val::Num(y) = s.apply(Val::Num(6000.0)) else {
            panic!()
        };
        assert_eq!(
            y,
            f64::from((6000.0_f32 - 5116.773_f32) * 0.000_475_827_8_f32)
        );
    }

    #[test]
    fn encoders_send_unknown_strings_to_zeros_and_defaults() {
        let north: Arc<str> = "north".into();
        let one_hot = Step::OneHot(Key::Str(north.clone()));
        assert_eq!(one_hot.apply(Val::Str(Some(north.clone()))), Val::Num(1.0));
        assert_eq!(one_hot.apply(Val::Str(None)), Val::Num(0.0));
        let labels = Step::Label(Arc::new(Labels {
            map: HashMap::from([(Key::Str(north.clone()), Val::Num(1.0))]),
            default: Val::Num(-1.0),
        }));
        assert_eq!(labels.apply(Val::Str(Some(north))), Val::Num(1.0));
        assert_eq!(labels.apply(Val::Str(None)), Val::Num(-1.0));
    }
}
