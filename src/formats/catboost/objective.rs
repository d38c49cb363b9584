//! What a CatBoost document says about its outputs: the loss function and its link,
//! `scale_and_bias`, and the class labels.

use serde_json::Value;

use super::{field, invalid, text};
use crate::core::models::Link;
use crate::core::CoreResult;

/// `model_info.params.loss_function.type` (params may be stored as a JSON string).
pub(super) fn loss_function(doc: &Value) -> CoreResult<String> {
    let info = field(doc, "model_info", "document")?;
    let params = field(info, "params", "model_info")?;
    let parsed;
    let params = match params {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|e| invalid(format!("model_info.params is not JSON: {e}")))?;
            &parsed
        }
        other => other,
    };
    let loss = field(params, "loss_function", "model_info.params")?;
    Ok(text(field(loss, "type", "loss_function")?, "loss_function.type")?.to_string())
}

/// The link of a supported loss function.
pub(super) fn loss_link(loss: &str) -> CoreResult<Link> {
    Ok(match loss {
        "RMSE" | "MAE" | "Quantile" | "MAPE" | "Huber" | "Lq" | "Expectile" | "LogCosh" => {
            Link::Identity
        }
        "Logloss" | "CrossEntropy" => Link::Logistic,
        "MultiClass" => Link::Softmax,
        other => {
            return Err(invalid(format!(
                "loss function '{other}' is not supported (regression losses with an identity \
                 link such as RMSE, Logloss, CrossEntropy and MultiClass are)"
            )))
        }
    })
}

/// `scale_and_bias`: `[scale, [bias per output]]` (a bare bias number in older
/// documents); scale 1 and bias 0 when absent.
pub(super) fn scale_and_bias(doc: &Value) -> CoreResult<(f64, Vec<f64>)> {
    let Some(pair) = doc.get("scale_and_bias") else {
        return Ok((1.0, vec![0.0]));
    };
    let bad = || invalid("scale_and_bias must be [scale, [bias, …]] of finite numbers".into());
    let pair = pair.as_array().filter(|p| p.len() == 2).ok_or_else(bad)?;
    let scale = pair[0].as_f64().filter(|s| s.is_finite()).ok_or_else(bad)?;
    let bias = match &pair[1] {
        Value::Array(b) => b.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>(),
        other => other.as_f64().map(|b| vec![b]),
    };
    let bias = bias
        .filter(|b| !b.is_empty() && b.iter().all(|x| x.is_finite()))
        .ok_or_else(bad)?;
    Ok((scale, bias))
}

/// Output names from `model_info.class_params.class_names`, when they fit.
pub(super) fn class_names(doc: &Value, link: Link, n_outputs: usize) -> Option<Vec<String>> {
    let names: Vec<String> = doc["model_info"]["class_params"]["class_names"]
        .as_array()?
        .iter()
        .map(|n| match n {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    match (link, names.len()) {
        (Link::Logistic, 2) => Some(vec![names[1].clone()]),
        (Link::Softmax, k) if k == n_outputs => Some(names),
        _ => None,
    }
}
