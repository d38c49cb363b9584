//! Tree models' registration: the file in `model` read by its format's reader.

use super::params::default_output_names;
use super::ModelSpec;
use crate::core::models::trees::TreeLimits;
use crate::core::models::{HostedModel, Model};
use crate::core::{CoreError, CoreResult};
use crate::formats;

/// XGBoost's or CatBoost's JSON document (as an object, or as a string) or
/// LightGBM's model text, in `model`, its trees within `limits`; CatBoost's class
/// labels, else the ensemble's link, decide the default output names.
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
    if spec.kind == "catboost" {
        return build_catboost(file, limits);
    }
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

/// CatBoost's JSON document, as an object or as a string.
fn build_catboost(
    file: &serde_json::Value,
    limits: TreeLimits,
) -> CoreResult<(HostedModel, Vec<String>)> {
    let parsed;
    let document = match file {
        serde_json::Value::String(text) => {
            parsed = serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| CoreError::InvalidModel(format!("not a CatBoost JSON model: {e}")))?;
            &parsed
        }
        document @ serde_json::Value::Object(_) => document,
        _ => {
            return Err(CoreError::InvalidModel(
                "`model` must be the JSON document of save_model(path, format=\"json\", \
                 pool=pool), as an object or a string"
                    .into(),
            ))
        }
    };
    let model = formats::catboost::parse_document(document, limits)?;
    let outputs = model
        .output_names
        .unwrap_or_else(|| default_output_names(model.ensemble.link(), model.ensemble.n_outputs()));
    Ok((HostedModel::Trees(model.ensemble), outputs))
}
