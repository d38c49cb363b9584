//! Reading the JSON model documents of XGBoost and CatBoost: fields that must be
//! there, with the type they must have, refused with a message naming them.

use serde_json::Value;

use crate::core::{CoreError, CoreResult};

/// An invalid model, with `message`.
pub(super) fn invalid(message: String) -> CoreError {
    CoreError::InvalidModel(message)
}

/// The value under `key` of the object `v` (`within` names it in the error).
pub(super) fn field<'a>(v: &'a Value, key: &str, within: &str) -> CoreResult<&'a Value> {
    v.get(key)
        .ok_or_else(|| invalid(format!("{within} has no '{key}'")))
}

/// `v` as a string (`what` names it in the error).
pub(super) fn text<'a>(v: &'a Value, what: &str) -> CoreResult<&'a str> {
    v.as_str()
        .ok_or_else(|| invalid(format!("{what} must be a string")))
}

/// `v` as an array (`what` names it in the error).
pub(super) fn array<'a>(v: &'a Value, what: &str) -> CoreResult<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| invalid(format!("'{what}' must be an array")))
}

/// The array of finite numbers under `key` of a tree object.
pub(super) fn numbers(tree: &Value, key: &str) -> CoreResult<Vec<f64>> {
    array(field(tree, key, "tree")?, key)?
        .iter()
        .map(|v| {
            v.as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| invalid(format!("'{key}' must hold finite numbers")))
        })
        .collect()
}
