//! ONNX registration: the file in `model` (base64) read by [`crate::formats::onnx`]
//! into a network (hosted as an `mlp`), a tree ensemble (kind `onnx`) or a linear
//! model, possibly behind a Normalizer or an affine map (hosted as a `RowNormalized`).

use super::params::default_output_names;
use super::{Limits, ModelSpec};
use crate::core::models::{ExtremeTrees, HostedModel, Model, RowNormalized, TreeEnsemble};
use crate::core::{CoreError, CoreResult};
use crate::formats::onnx::{MlModel, OnnxModel};

/// The hosted model, its output names, and the raw features' names when the file
/// gives them and the model does not carry them (a linear head folded over them).
type Hosted = (HostedModel, Vec<String>, Option<Vec<String>>);

/// Kind `onnx`: the file in `model`, its trees within `limits.trees`.
pub(super) fn build(spec: &ModelSpec, limits: &Limits) -> CoreResult<Hosted> {
    if !spec.params.is_null() {
        return Err(CoreError::InvalidModel(
            "kind 'onnx' takes the network from `model`, not `params`".into(),
        ));
    }
    let encoded = spec
        .model
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            CoreError::InvalidModel("kind 'onnx' needs `model`: the ONNX file in base64".into())
        })?;
    let bytes = crate::formats::base64::decode(encoded)
        .map_err(|e| CoreError::InvalidModel(format!("model: {e}")))?;
    match crate::formats::onnx::read(&bytes)? {
        OnnxModel::Network(converted) => {
            let mlp = converted.params.validate()?;
            let outputs = default_output_names(mlp.link(), mlp.n_outputs());
            Ok((HostedModel::Mlp(mlp), outputs, converted.feature_names))
        }
        OnnxModel::Ml(model) => hosted(model, limits),
    }
}

/// The hosted form of an ONNX-ML model, and its output names.
fn hosted(model: MlModel, limits: &Limits) -> CoreResult<Hosted> {
    match model {
        MlModel::Trees {
            spec,
            output_names,
            extreme,
        } => {
            let trees = TreeEnsemble::with_limits(spec, limits.trees)?;
            match extreme {
                None => Ok((HostedModel::Trees(trees), output_names, None)),
                Some(leaves) => Ok((
                    HostedModel::ExtremeTrees(ExtremeTrees::new(trees, leaves)?),
                    output_names,
                    None,
                )),
            }
        }
        MlModel::Network(params) => {
            let mlp = params.validate()?;
            let outputs = default_output_names(mlp.link(), mlp.n_outputs());
            Ok((HostedModel::Mlp(mlp), outputs, None))
        }
        MlModel::Additive(model) => {
            let outputs = default_output_names(model.link(), model.n_outputs());
            Ok((HostedModel::Additive(model), outputs, None))
        }
        MlModel::Linear(model, names) => {
            let outputs = default_output_names(model.link(), model.n_outputs());
            Ok((HostedModel::Linear(model), outputs, names))
        }
        MlModel::Normalized {
            columns,
            raw,
            mixing,
            inner,
        } => {
            let (inner, outputs, _) = hosted(*inner, limits)?;
            let model = RowNormalized::new(columns, raw, mixing, inner)?;
            Ok((HostedModel::Normalized(model), outputs, None))
        }
    }
}
