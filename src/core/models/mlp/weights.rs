//! An MLP's parameters laid out for people: each layer's matrix and biases with a few
//! statistics, which inputs carry the largest weights, and, for inputs with a declared
//! shape such as 8×8 images, each first-layer unit's weights as an image (the
//! "receptive field" pictures of, e.g., scikit-learn's MNIST MLP example).

use ndarray::Axis;
use serde::Serialize;

use super::{Activation, Mlp};

/// |w| below which a weight counts as zero for [`LayerStats::sparsity`].
pub const SPARSITY_EPSILON: f64 = 1e-8;

/// The whole network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsView {
    /// The declared shape of one input row, if any.
    pub input_shape: Option<Vec<usize>>,
    /// The input standardisation as (mean, scale) per feature, if any.
    pub scaler: Option<ScalerView>,
    /// One entry per layer, input side first.
    pub layers: Vec<LayerWeights>,
}

/// Input standardisation, `x' = (x − mean) / scale`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalerView {
    /// One mean per input feature.
    pub mean: Vec<f64>,
    /// One scale per input feature.
    pub scale: Vec<f64>,
}

/// Summary numbers of one layer's weight matrix (biases excluded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerStats {
    /// √(Σ w²).
    pub frobenius_norm: f64,
    /// Fraction of weights with |w| < [`SPARSITY_EPSILON`].
    pub sparsity: f64,
    /// Largest |w|.
    pub max_abs: f64,
    /// Mean |w|.
    pub mean_abs: f64,
}

/// How strongly one input of a layer is connected to the layer's units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputWeight {
    /// Index of the input (a feature for the first layer, a unit of the previous
    /// layer otherwise).
    pub input: usize,
    /// Largest |w| from this input to any unit.
    pub max_abs: f64,
    /// √(Σ w²) over this input's outgoing weights.
    pub l2_norm: f64,
}

/// One layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerWeights {
    /// Layer index, input side first.
    pub layer: usize,
    /// The activation's name.
    pub activation: &'static str,
    /// The negative slope, for `leaky_relu` only.
    pub negative_slope: Option<f64>,
    /// fan_in rows of fan_out weights: `weights[i][u]` connects input i to unit u.
    pub weights: Vec<Vec<f64>>,
    /// One bias per unit.
    pub bias: Vec<f64>,
    /// Summary of `weights`.
    pub stats: LayerStats,
    /// Inputs by decreasing `max_abs` (ties by index), at most the number asked for.
    pub top_inputs: Vec<InputWeight>,
    /// First layer with a declared `input_shape` only: for each unit, its incoming
    /// weights reshaped row-major to (product of all dimensions but the last) × (the
    /// last), e.g. 8×8 for `[8, 8]`.
    pub unit_images: Option<Vec<Vec<Vec<f64>>>>,
}

/// The view of every layer. `top` bounds `top_inputs` per layer (`None`: all inputs).
pub fn weights_view(model: &Mlp, top: Option<usize>) -> WeightsView {
    let layers = model
        .layers()
        .iter()
        .enumerate()
        .map(|(l, layer)| {
            let w = layer.weights();
            let n = w.len() as f64;
            let stats = LayerStats {
                frobenius_norm: w.iter().map(|v| v * v).sum::<f64>().sqrt(),
                sparsity: w.iter().filter(|v| v.abs() < SPARSITY_EPSILON).count() as f64 / n,
                max_abs: w.iter().fold(0.0, |m, v| m.max(v.abs())),
                mean_abs: w.iter().map(|v| v.abs()).sum::<f64>() / n,
            };
            let mut inputs: Vec<InputWeight> = w
                .axis_iter(Axis(0))
                .enumerate()
                .map(|(input, row)| InputWeight {
                    input,
                    max_abs: row.iter().fold(0.0, |m, v| m.max(v.abs())),
                    l2_norm: row.iter().map(|v| v * v).sum::<f64>().sqrt(),
                })
                .collect();
            inputs.sort_by(|a, b| b.max_abs.total_cmp(&a.max_abs).then(a.input.cmp(&b.input)));
            inputs.truncate(top.unwrap_or(usize::MAX));
            let unit_images = match model.input_shape() {
                Some(shape) if l == 0 => Some(unit_images(w, shape)),
                _ => None,
            };
            LayerWeights {
                layer: l,
                activation: layer.activation().name(),
                negative_slope: match layer.activation() {
                    Activation::LeakyRelu { slope } => Some(slope),
                    _ => None,
                },
                weights: w.axis_iter(Axis(0)).map(|r| r.to_vec()).collect(),
                bias: layer.bias().to_vec(),
                stats,
                top_inputs: inputs,
                unit_images,
            }
        })
        .collect();
    WeightsView {
        input_shape: model.input_shape().map(<[usize]>::to_vec),
        scaler: model.scaler().map(|s| ScalerView {
            mean: s.mean.to_vec(),
            scale: s.scale.to_vec(),
        }),
        layers,
    }
}

/// Each unit's column of `w` reshaped to (len / last, last) row-major.
fn unit_images(w: &ndarray::Array2<f64>, shape: &[usize]) -> Vec<Vec<Vec<f64>>> {
    let cols = shape.last().copied().unwrap_or(1).max(1);
    w.axis_iter(Axis(1))
        .map(|unit| {
            let flat = unit.to_vec();
            flat.chunks(cols).map(<[f64]>::to_vec).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::models::mlp::tests::layer;
    use crate::core::models::mlp::MlpParams;
    use approx::assert_abs_diff_eq;

    #[test]
    fn statistics_ranking_and_images() {
        // Layer 0 takes a 2×2 image: rows are pixels, columns the 2 units.
        // |w| = 3, 4, 0, 0, 1, 0, 0, 2 → ‖W‖ = √30, sparsity 4/8, max 4, mean 10/8.
        let m = MlpParams {
            layers: vec![
                layer(
                    vec![
                        vec![3.0, -4.0],
                        vec![0.0, 0.0],
                        vec![1.0, 0.0],
                        vec![0.0, 2.0],
                    ],
                    vec![0.5, -0.5],
                    "relu",
                ),
                layer(vec![vec![1.0], vec![1.0]], vec![0.0], "identity"),
            ],
            scaler: None,
            input_shape: Some(vec![2, 2]),
        }
        .validate()
        .unwrap();
        let v = weights_view(&m, Some(3));
        let l0 = &v.layers[0];
        assert_abs_diff_eq!(l0.stats.frobenius_norm, 30f64.sqrt(), epsilon = 1e-15);
        assert_eq!(l0.stats.sparsity, 0.5);
        assert_eq!(l0.stats.max_abs, 4.0);
        assert_eq!(l0.stats.mean_abs, 1.25);
        let order: Vec<usize> = l0.top_inputs.iter().map(|i| i.input).collect();
        assert_eq!(order, vec![0, 3, 2]);
        assert_eq!(l0.top_inputs[0].l2_norm, 5.0);
        let images = l0.unit_images.as_ref().unwrap();
        assert_eq!(images[0], vec![vec![3.0, 0.0], vec![1.0, 0.0]]);
        assert_eq!(images[1], vec![vec![-4.0, 0.0], vec![0.0, 2.0]]);
        assert!(v.layers[1].unit_images.is_none());
        assert_eq!(v.input_shape, Some(vec![2, 2]));
        assert_eq!(weights_view(&m, None).layers[0].top_inputs.len(), 4);
    }
}
