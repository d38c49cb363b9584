//! The raw, unchecked parameters of an MLP as they arrive (JSON `params` of kind
//! `"mlp"`), and their validation into an [`Mlp`].

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::{Activation, Layer, Mlp, Scaler};
use crate::core::models::Link;
use crate::core::{CoreError, CoreResult};

/// One dense layer as given: nothing about it is trusted yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerParams {
    /// fan_in rows of fan_out weights each (scikit-learn's `coefs_[l]`).
    pub weights: Vec<Vec<f64>>,
    /// fan_out biases (scikit-learn's `intercepts_[l]`).
    pub bias: Vec<f64>,
    /// One of `relu`, `leaky_relu`, `sigmoid`, `tanh`, `identity`, `softmax`.
    pub activation: String,
    /// Negative slope of a `leaky_relu`; default [`Activation::DEFAULT_LEAKY_SLOPE`].
    /// Refused on any other activation, so a typo cannot pass silently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_slope: Option<f64>,
}

/// Standardisation as given: scikit-learn's `StandardScaler.mean_` and `.scale_`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalerParams {
    /// One mean per input feature.
    pub mean: Vec<f64>,
    /// One scale per input feature; must be finite and non-zero.
    pub scale: Vec<f64>,
}

/// An MLP as given, before [`MlpParams::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpParams {
    /// The layers, input side first.
    pub layers: Vec<LayerParams>,
    /// Optional input standardisation applied before the first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaler: Option<ScalerParams>,
    /// Optional shape of one input row, e.g. `[8, 8]`; its product must equal the
    /// first layer's fan_in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl MlpParams {
    /// Check everything and build the model.
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] naming the layer (`layers[i]`, counted from 0) for
    /// ragged or empty weights, a bias of the wrong length, shapes that do not chain,
    /// an unknown activation, a softmax before the last layer or on one unit, a
    /// `negative_slope` on anything but `leaky_relu`, or a value that is not finite;
    /// also for a scaler or `input_shape` that does not fit the inputs.
    pub fn validate(self) -> CoreResult<Mlp> {
        if self.layers.is_empty() {
            return Err(invalid("an MLP needs at least one layer".into()));
        }
        let count = self.layers.len();
        let mut layers: Vec<Layer> = Vec::with_capacity(count);
        for (i, raw) in self.layers.into_iter().enumerate() {
            let layer = validate_layer(i, raw, i + 1 == count)?;
            if let Some(prev) = layers.last() {
                if layer.weights.nrows() != prev.units() {
                    return Err(invalid(format!(
                        "layers[{i}] takes {} inputs but layers[{}] has {} units",
                        layer.weights.nrows(),
                        i - 1,
                        prev.units()
                    )));
                }
            }
            layers.push(layer);
        }
        let n_features = layers[0].weights.nrows();
        let scaler = self
            .scaler
            .map(|s| validate_scaler(s, n_features))
            .transpose()?;
        if let Some(shape) = &self.input_shape {
            let product: usize = shape.iter().product();
            if shape.is_empty() || product != n_features {
                return Err(invalid(format!(
                    "input_shape {shape:?} holds {product} values but layers[0] takes {n_features} inputs"
                )));
            }
        }
        let last = &layers[count - 1];
        let link = match last.activation {
            Activation::Softmax => Link::Softmax,
            Activation::Sigmoid => Link::Logistic,
            _ => Link::Identity,
        };
        Ok(Mlp {
            layers,
            scaler,
            input_shape: self.input_shape,
            link,
        })
    }
}

impl TryFrom<MlpParams> for Mlp {
    type Error = CoreError;

    fn try_from(params: MlpParams) -> CoreResult<Self> {
        params.validate()
    }
}

fn invalid(message: String) -> CoreError {
    CoreError::InvalidModel(message)
}

fn validate_layer(i: usize, raw: LayerParams, is_last: bool) -> CoreResult<Layer> {
    let fan_in = raw.weights.len();
    let fan_out = raw.weights.first().map_or(0, Vec::len);
    if fan_in == 0 || fan_out == 0 {
        return Err(invalid(format!(
            "layers[{i}]: weights must have at least one row and one column"
        )));
    }
    if let Some((r, row)) = raw
        .weights
        .iter()
        .enumerate()
        .find(|(_, row)| row.len() != fan_out)
    {
        return Err(invalid(format!(
            "layers[{i}]: weights row {r} has {} values, row 0 has {fan_out}",
            row.len()
        )));
    }
    if raw.bias.len() != fan_out {
        return Err(invalid(format!(
            "layers[{i}]: {} biases for {fan_out} units",
            raw.bias.len()
        )));
    }
    let finite = raw.weights.iter().flatten().chain(&raw.bias);
    if finite.into_iter().any(|v| !v.is_finite()) {
        return Err(invalid(format!(
            "layers[{i}]: weights and biases must be finite numbers"
        )));
    }
    let activation = parse_activation(i, &raw.activation, raw.negative_slope)?;
    if activation == Activation::Softmax {
        if !is_last {
            return Err(invalid(format!(
                "layers[{i}]: softmax is only allowed on the last layer"
            )));
        }
        if fan_out < 2 {
            return Err(invalid(format!(
                "layers[{i}]: softmax needs at least 2 units (use sigmoid for one)"
            )));
        }
    }
    let flat: Vec<f64> = raw.weights.into_iter().flatten().collect();
    let weights = Array2::from_shape_vec((fan_in, fan_out), flat)
        .map_err(|e| invalid(format!("layers[{i}]: {e}")))?;
    Ok(Layer {
        weights,
        bias: Array1::from(raw.bias),
        activation,
    })
}

fn parse_activation(i: usize, name: &str, slope: Option<f64>) -> CoreResult<Activation> {
    let activation = match name {
        "relu" => Activation::Relu,
        "leaky_relu" => {
            let slope = slope.unwrap_or(Activation::DEFAULT_LEAKY_SLOPE);
            if !slope.is_finite() {
                return Err(invalid(format!(
                    "layers[{i}]: negative_slope must be a finite number"
                )));
            }
            return Ok(Activation::LeakyRelu { slope });
        }
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "identity" => Activation::Identity,
        "softmax" => Activation::Softmax,
        other => {
            return Err(invalid(format!(
                "layers[{i}]: unknown activation '{other}'; known: relu, leaky_relu, sigmoid, tanh, identity, softmax"
            )))
        }
    };
    if slope.is_some() {
        return Err(invalid(format!(
            "layers[{i}]: negative_slope applies only to leaky_relu, not {name}"
        )));
    }
    Ok(activation)
}

fn validate_scaler(s: ScalerParams, n_features: usize) -> CoreResult<Scaler> {
    if s.mean.len() != n_features || s.scale.len() != n_features {
        return Err(invalid(format!(
            "scaler has {} means and {} scales for {n_features} inputs",
            s.mean.len(),
            s.scale.len()
        )));
    }
    if s.mean.iter().any(|v| !v.is_finite()) {
        return Err(invalid("scaler means must be finite numbers".into()));
    }
    if let Some(j) = s.scale.iter().position(|v| !v.is_finite() || *v == 0.0) {
        return Err(invalid(format!(
            "scaler scale for input {j} must be a finite, non-zero number"
        )));
    }
    Ok(Scaler {
        mean: Array1::from(s.mean),
        scale: Array1::from(s.scale),
    })
}
