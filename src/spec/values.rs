//! Feature values as registration documents hold them (background rows): a number,
//! a category's name, or `null` for a missing value.
//!
//! The document keeps the values as sent, so a model read back from disk encodes
//! its background again from its own categories (see [`crate::core::models::raw`]),
//! exactly as at registration.

use std::borrow::Cow;
use std::fmt;

use ndarray::Array2;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::ToSchema;

use crate::core::models::raw::REFUSES_UNLISTED;
use crate::core::models::RawFeatures;
use crate::core::{CoreError, CoreResult};

/// One feature value of a document row.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    /// A number.
    Number(f64),
    /// A category, by name (for a categorical feature).
    Category(String),
    /// `null`: missing.
    Missing,
}

impl From<Option<f64>> for RawValue {
    fn from(v: Option<f64>) -> Self {
        v.map_or(RawValue::Missing, RawValue::Number)
    }
}

impl RawValue {
    /// What the value is, for messages.
    fn kind(&self) -> &'static str {
        match self {
            RawValue::Number(_) => "a number",
            RawValue::Category(_) => "a string",
            RawValue::Missing => "null",
        }
    }
}

impl Serialize for RawValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RawValue::Number(x) => serializer.serialize_f64(*x),
            RawValue::Category(c) => serializer.serialize_str(c),
            RawValue::Missing => serializer.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl Visitor<'_> for ValueVisitor {
            type Value = RawValue;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, a string (a category) or null")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawValue, E> {
                Ok(RawValue::Number(v as f64))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawValue, E> {
                Ok(RawValue::Number(v as f64))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawValue, E> {
                Ok(RawValue::Number(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawValue, E> {
                Ok(RawValue::Category(v.to_string()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<RawValue, E> {
                Ok(RawValue::Category(v))
            }

            fn visit_unit<E: de::Error>(self) -> Result<RawValue, E> {
                Ok(RawValue::Missing)
            }

            fn visit_none<E: de::Error>(self) -> Result<RawValue, E> {
                Ok(RawValue::Missing)
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// The code of a category or missing `value` of feature `j` (NaN when missing).
fn code(raw: &RawFeatures, j: usize, value: &RawValue) -> f64 {
    match value {
        RawValue::Category(c) => raw.code(j, c).unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// Document rows into an (n, width) matrix: numbers as they are, categories as their
/// codes (an unseen one as the unseen code), `null` as NaN. `names` are the model's
/// feature names (for messages); `raw` its raw features when some are categorical.
///
/// # Errors
/// [`CoreError::InvalidArgument`] naming the row and feature: a row of the wrong
/// length, a string for a numeric feature, a number for a categorical one.
pub fn encode_rows(
    rows: &[Vec<RawValue>],
    names: &[String],
    raw: Option<&RawFeatures>,
) -> CoreResult<Array2<f64>> {
    let width = names.len();
    let mut data = Vec::with_capacity(rows.len() * width);
    for (i, row) in rows.iter().enumerate() {
        if row.len() != width {
            return Err(CoreError::InvalidArgument(format!(
                "row {i}: expected {width} feature values, got {}",
                row.len()
            )));
        }
        for (j, value) in row.iter().enumerate() {
            let categorical = raw.is_some_and(|r| r.categories(j).is_some());
            let x = match (value, categorical) {
                (RawValue::Missing | RawValue::Category(_), true)
                    if raw.is_some_and(|r| r.refuses(j, code(r, j, value))) =>
                {
                    return Err(CoreError::InvalidArgument(format!(
                        "row {i}, feature '{}': {}; {REFUSES_UNLISTED}",
                        names[j],
                        match value {
                            RawValue::Category(c) => format!("category '{c}' is not listed"),
                            _ => "a missing category".to_string(),
                        }
                    )))
                }
                (RawValue::Missing, _) => f64::NAN,
                (RawValue::Number(x), false) => *x,
                (RawValue::Category(c), true) => raw
                    .and_then(|r| r.code(j, c))
                    .expect("a categorical feature has a code for every name"),
                (_, true) => {
                    return Err(CoreError::InvalidArgument(format!(
                        "row {i}, feature '{}': expected a category (a string), got {}",
                        names[j],
                        value.kind()
                    )))
                }
                (_, false) => {
                    return Err(CoreError::InvalidArgument(format!(
                        "row {i}, feature '{}': expected a number, got {}",
                        names[j],
                        value.kind()
                    )))
                }
            };
            data.push(x);
        }
    }
    Ok(Array2::from_shape_vec((rows.len(), width), data).expect("length checked per row"))
}

impl utoipa::PartialSchema for RawValue {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(
                "A feature value: a number, a category's name (a string) for a categorical \
                 feature, or null for a missing value.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for RawValue {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FeatureValue")
    }
}

/// The schema of one request instance: an array of feature values in feature order,
/// or an object of them keyed by feature name (its fields read as [`RawValue`]s).
pub struct Instance;

impl utoipa::PartialSchema for Instance {
    fn schema() -> RefOr<Schema> {
        let value = || Ref::from_schema_name(RawValue::name());
        OneOfBuilder::new()
            .item(ArrayBuilder::new().items(value()))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .additional_properties(Some(value())),
            )
            .description(Some(
                "An instance: feature values in feature order, or an object of them keyed \
                 by feature name.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Instance {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        use utoipa::PartialSchema;
        schemas.push((RawValue::name().into_owned(), RawValue::schema()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::models::RawKind;

    #[test]
    fn values_read_and_write_back_as_sent() {
        let text = r#"[1.5,"north",null,2.0]"#;
        let row: Vec<RawValue> = serde_json::from_str(text).unwrap();
        assert_eq!(
            row,
            vec![
                RawValue::Number(1.5),
                RawValue::Category("north".into()),
                RawValue::Missing,
                RawValue::Number(2.0)
            ]
        );
        assert_eq!(serde_json::to_string(&row).unwrap(), text);
        assert!(serde_json::from_str::<RawValue>("true").is_err());
    }

    #[test]
    fn rows_encode_categories_as_codes_and_name_the_faulty_cell() {
        let raw = RawFeatures::new(vec![
            RawKind::Numeric,
            RawKind::Categorical {
                categories: vec!["north".into(), "south".into()],
            },
        ])
        .unwrap();
        let names = ["x".to_string(), "region".to_string()];
        let rows: Vec<Vec<RawValue>> =
            serde_json::from_str(r#"[[1, "south"], [null, "east"], [2, null]]"#).unwrap();
        let x = encode_rows(&rows, &names, Some(&raw)).unwrap();
        assert_eq!(x[[0, 1]], 1.0);
        assert_eq!(x[[1, 1]], 2.0, "unseen: one past the last code");
        assert!(x[[1, 0]].is_nan() && x[[2, 1]].is_nan());
        let bad: Vec<Vec<RawValue>> = serde_json::from_str(r#"[[1, "a"], [1, 3]]"#).unwrap();
        let err = encode_rows(&bad[1..], &names, Some(&raw)).unwrap_err();
        assert!(err
            .to_string()
            .contains("row 0, feature 'region': expected a category"));
        let err = encode_rows(&bad, &names, None).unwrap_err();
        assert!(err
            .to_string()
            .contains("row 0, feature 'region': expected a number, got a string"));
    }

    #[test]
    fn a_strict_feature_refuses_unlisted_and_missing_categories() {
        let raw = RawFeatures::new(vec![RawKind::Categorical {
            categories: vec!["north".into()],
        }])
        .unwrap()
        .refusing_unseen(0);
        let names = ["region".to_string()];
        let rows = |s: &str| serde_json::from_str::<Vec<Vec<RawValue>>>(s).unwrap();
        assert!(encode_rows(&rows(r#"[["north"]]"#), &names, Some(&raw)).is_ok());
        let err = encode_rows(&rows(r#"[["north"], ["east"]]"#), &names, Some(&raw)).unwrap_err();
        assert!(err
            .to_string()
            .contains("row 1, feature 'region': category 'east' is not listed"));
        let err = encode_rows(&rows("[[null]]"), &names, Some(&raw)).unwrap_err();
        assert!(err.to_string().contains("a missing category"));
    }
}
