//! Instances as clients send them: arrays of values in feature order, or objects
//! keyed by feature name; `null` means a missing value.

use std::collections::HashMap;

use ndarray::Array2;
use serde_json::Value;

use super::error::ApiError;
use crate::spec::BuiltModel;

/// Turn request instances into a checked (rows, features) matrix.
///
/// # Errors
/// An [`ApiError`] naming the instance and feature at fault: empty or too many
/// instances, wrong length, unknown or missing feature name, a value that is not a
/// number, or a `null` for a model that cannot take missing values.
pub fn to_matrix(
    instances: &[Value],
    model: &BuiltModel,
    max_instances: usize,
) -> Result<Array2<f64>, ApiError> {
    if instances.is_empty() {
        return Err(invalid("instances must hold at least one instance".into()));
    }
    if instances.len() > max_instances {
        return Err(invalid(format!(
            "{} instances in one request; at most {max_instances} are accepted",
            instances.len()
        )));
    }
    let names = &model.feature_names;
    let width = names.len();
    let allow_missing = model.model.accepts_missing();
    let mut index: Option<HashMap<&str, usize>> = None;
    let mut data = Vec::with_capacity(instances.len() * width);
    for (i, instance) in instances.iter().enumerate() {
        match instance {
            Value::Array(values) => {
                if values.len() != width {
                    return Err(invalid(format!(
                        "instance {i}: expected {width} feature values, got {}",
                        values.len()
                    )));
                }
                for (j, v) in values.iter().enumerate() {
                    data.push(number(v, i, &names[j], allow_missing)?);
                }
            }
            Value::Object(map) => {
                let index = index
                    .get_or_insert_with(|| names.iter().enumerate().map(|(j, n)| (n.as_str(), j)).collect());
                if let Some(unknown) = map.keys().find(|k| !index.contains_key(k.as_str())) {
                    return Err(invalid(format!("instance {i}: unknown feature '{unknown}'")));
                }
                for name in names {
                    let v = map.get(name).ok_or_else(|| {
                        invalid(format!("instance {i}: missing feature '{name}'"))
                    })?;
                    data.push(number(v, i, name, allow_missing)?);
                }
            }
            _ => {
                return Err(invalid(format!(
                    "instance {i}: expected an array of {width} values or an object keyed by feature name"
                )))
            }
        }
    }
    Ok(Array2::from_shape_vec((instances.len(), width), data)
        .expect("every row has `width` values"))
}

fn number(v: &Value, row: usize, feature: &str, allow_missing: bool) -> Result<f64, ApiError> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| invalid(format!("instance {row}, feature '{feature}': not a finite number"))),
        Value::Null if allow_missing => Ok(f64::NAN),
        Value::Null => Err(invalid(format!(
            "instance {row}, feature '{feature}': missing value (null); this model needs every feature"
        ))),
        other => Err(invalid(format!(
            "instance {row}, feature '{feature}': expected a number, got {}",
            kind_of(other)
        ))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::InvalidInput(message)
}
