//! Tree models' registration: the file in `model` read by its format's reader.

use super::{default_output_names, ModelSpec};
use crate::core::models::trees::TreeLimits;
use crate::core::models::{HostedModel, Model};
use crate::core::{CoreError, CoreResult};
use crate::formats;

/// XGBoost's JSON document (as an object, or as a string) or LightGBM's model text,
/// in `model`, its trees within `limits`; the ensemble's link decides the default
/// output names.
pub(super) fn build(
    spec: &ModelSpec,
    limits: TreeLimits,
) -> CoreResult<(HostedModel, Vec<String>)> {
    if !spec.params.is_null() && spec.params != serde_json::json!({}) {
        return Err(CoreError::InvalidModel(format!(
            "{} models take their trees from `model`, not `params`",
            spec.kind
        )));
    }
    let file = spec.model.as_ref().ok_or_else(|| {
        CoreError::InvalidModel(format!(
            "{} models need `model`: the file the library wrote",
            spec.kind
        ))
    })?;
    let ensemble = match (spec.kind.as_str(), file) {
        ("xgboost", serde_json::Value::String(text)) => {
            formats::xgboost::parse_with(text.as_bytes(), limits)?
        }
        ("xgboost", document @ serde_json::Value::Object(_)) => {
            let bytes =
                serde_json::to_vec(document).map_err(|e| CoreError::InvalidModel(e.to_string()))?;
            formats::xgboost::parse_with(&bytes, limits)?
        }
        ("lightgbm", serde_json::Value::String(text)) => {
            formats::lightgbm::parse_with(text, limits)?
        }
        _ => {
            return Err(CoreError::InvalidModel(format!(
                "`model` must be {}",
                if spec.kind == "xgboost" {
                    "the JSON document of Booster.save_model, as an object or a string"
                } else {
                    "the text of Booster.save_model, as a string"
                }
            )))
        }
    };
    let outputs = default_output_names(ensemble.link(), ensemble.n_outputs());
    Ok((HostedModel::Trees(ensemble), outputs))
}
