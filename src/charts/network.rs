//! The neural-network pictures, built from the values the JSON routes answer with:
//! a layer's weight matrix as a heat map and the first layer's units as images (from
//! `/weights`), and each layer's activation function over the pre-activations seen
//! on the background with its dead or saturated units counted (from
//! `/activations/curves` and `/activations/summary`).

use super::curves::{self, CurveChart, CurvePanel, Note};
use super::heatmap::{self, Heatmap};
use super::kernels::{self, Image, ImageGrid};
use super::scale;
use super::views::ViewError;
use crate::core::models::mlp::activations::{
    ActivationCurve, LayerSummary, SIGMOID_SATURATION, TANH_SATURATION,
};
use crate::core::models::mlp::weights::WeightsView as MlpWeights;
use crate::summary::WeightsView;

fn mlp_of(weights: &WeightsView) -> Result<&MlpWeights, ViewError> {
    weights.mlp.as_ref().ok_or_else(|| {
        ViewError::NotApplicable(format!(
            "layer weights and kernels are drawn for neural networks; '{}' is a {} model",
            weights.model, weights.kind
        ))
    })
}

fn standardised_note(mlp: &MlpWeights) -> &'static str {
    if mlp.scaler.is_some() {
        "; layer 0 acts on standardised inputs"
    } else {
        ""
    }
}

/// Layer `layer`'s weight matrix: one row per input (feature names for layer 0,
/// `unit i` of the previous layer beyond), one column per unit (the output names
/// for the last layer), on a diverging scale centred at zero.
///
/// # Errors
/// [`ViewError::NotApplicable`] for a model that is not a network, or a layer it
/// does not have.
pub fn layer_weights(weights: &WeightsView, layer: usize) -> Result<String, ViewError> {
    let mlp = mlp_of(weights)?;
    let last = mlp.layers.len() - 1;
    let l = mlp.layers.get(layer).ok_or_else(|| {
        ViewError::NotApplicable(format!(
            "layer {layer} does not exist; this network has layers 0 to {last}"
        ))
    })?;
    let units = l.bias.len();
    let row_labels = if layer == 0 {
        weights.feature_names.clone()
    } else {
        (0..l.weights.len()).map(|i| format!("unit {i}")).collect()
    };
    let col_labels = if layer == last && weights.output_names.len() == units {
        weights.output_names.clone()
    } else {
        (0..units).map(|u| format!("unit {u}")).collect()
    };
    let map = Heatmap {
        title: format!(
            "Layer {layer} weights: {} v{}",
            weights.model, weights.version
        ),
        subtitle: format!(
            "{} layer, {} inputs × {units} units; max |w| {}, ‖W‖ {}; biases not shown{}",
            l.activation,
            l.weights.len(),
            scale::label(l.stats.max_abs),
            scale::label(l.stats.frobenius_norm),
            if layer == 0 {
                standardised_note(mlp)
            } else {
                ""
            }
        ),
        row_labels,
        col_labels,
        row_title: if layer == 0 {
            "input features".into()
        } else {
            format!("units of layer {}", layer - 1)
        },
        col_title: if layer == last {
            "outputs".into()
        } else {
            format!("units of layer {layer}")
        },
        value_label: "weight from input (row) to unit (column)".into(),
        values: l.weights.clone(),
    };
    Ok(heatmap::render(&map))
}

/// Each first-layer unit's incoming weights in the shape of the input (e.g. 8×8
/// for digit images), one image per unit on one diverging scale.
///
/// # Errors
/// [`ViewError::NotApplicable`] for a model that is not a network or has no
/// two-dimensional `input_shape`.
pub fn kernels(weights: &WeightsView) -> Result<String, ViewError> {
    let mlp = mlp_of(weights)?;
    let shape = match mlp.input_shape.as_deref() {
        Some(s @ [_, _]) => s,
        _ => {
            return Err(ViewError::NotApplicable(
                "view=kernels draws each first-layer unit as an image and needs a \
                 two-dimensional input_shape (e.g. [8, 8]) in the model's params; \
                 use view=matrix"
                    .into(),
            ))
        }
    };
    let first = &mlp.layers[0];
    let images = first
        .unit_images
        .as_ref()
        .ok_or_else(|| ViewError::NotApplicable("the first layer has no unit images".into()))?;
    let grid = ImageGrid {
        title: format!(
            "First-layer units as images: {} v{}",
            weights.model, weights.version
        ),
        subtitle: format!(
            "{} units, each one's {}×{} incoming weights; one scale, max |w| {}{}",
            images.len(),
            shape[0],
            shape[1],
            scale::label(first.stats.max_abs),
            standardised_note(mlp)
        ),
        value_label: "weight from pixel to unit".into(),
        images: images
            .iter()
            .enumerate()
            .map(|(u, pixels)| Image {
                label: format!("unit {u}"),
                pixels: pixels.clone(),
            })
            .collect(),
    };
    Ok(kernels::render(&grid))
}

/// What the activation picture is drawn from.
#[derive(Debug, Clone, Copy)]
pub struct ActivationsPicture<'a> {
    /// Model name.
    pub model: &'a str,
    /// Model version.
    pub version: u64,
    /// Background rows the curves and summary come from.
    pub rows: usize,
    /// As `/activations/curves` answers them (softmax layers left out).
    pub curves: &'a [ActivationCurve],
    /// As `/activations/summary` answers it (every layer).
    pub summary: &'a [LayerSummary],
}

/// One panel per non-softmax layer: the activation function over the observed
/// range of pre-activations, their histogram shaded behind it, and the number of
/// units inactive on every background row (dead ReLUs, saturated sigmoids and tanhs).
pub fn activations(p: &ActivationsPicture<'_>) -> String {
    let panels = p
        .curves
        .iter()
        .map(|c| {
            let summary = p.summary.iter().find(|s| s.layer == c.layer);
            let units = summary.map_or(0, |s| s.units.len());
            let seen: usize = c.histogram.counts.iter().sum();
            let mut notes = vec![Note {
                text: format!(
                    "blue bars: how often each pre-activation occurs, {seen} values \
                     ({} rows × {units} units), tallest bar {}",
                    p.rows,
                    c.histogram.counts.iter().max().copied().unwrap_or(0)
                ),
                attrs: vec![("data-values", seen.to_string())],
            }];
            notes.extend(summary.and_then(inactive_note));
            CurvePanel {
                heading: format!("layer {}: {} ({units} units)", c.layer, c.activation),
                notes,
                x_label: format!("pre-activation of layer {}", c.layer),
                y_label: format!("{}(pre)", c.activation),
                x: c.x.clone(),
                y: c.y.clone(),
                edges: c.histogram.edges.clone(),
                counts: c.histogram.counts.clone(),
                marks: marks(c.activation),
                thin: Vec::new(),
                rug: Vec::new(),
                dots: false,
                x_names: Vec::new(),
            }
        })
        .collect();
    curves::render(&CurveChart {
        title: format!("Activations: {} v{}", p.model, p.version),
        subtitle: format!(
            "each layer's activation over the pre-activations seen on {} background rows",
            p.rows
        ),
        panels,
    })
}

/// The legend line counting units inactive on every row, or `None` for
/// activations without an inactivity test (identity).
fn inactive_note(s: &LayerSummary) -> Option<Note> {
    let rule = s.inactive_rule?;
    let n = s.units.len();
    let always = s
        .units
        .iter()
        .filter(|u| u.inactive_fraction == Some(1.0))
        .count();
    let mean = s
        .units
        .iter()
        .filter_map(|u| u.inactive_fraction)
        .sum::<f64>()
        / n.max(1) as f64;
    let what = match s.activation {
        "relu" => "dead units",
        "leaky_relu" => "units always on the leaky side",
        _ => "saturated units",
    };
    Some(Note {
        text: format!(
            "{what} ({rule} on every row): {always} of {n}; a unit is {} on {:.0}% of rows on average",
            if s.activation.ends_with("relu") {
                "inactive"
            } else {
                "saturated"
            },
            mean * 100.0
        ),
        attrs: vec![
            ("data-inactive-units", always.to_string()),
            ("data-units", n.to_string()),
        ],
    })
}

/// Where a function changes regime: a ReLU's kink, the saturation thresholds.
fn marks(activation: &str) -> Vec<f64> {
    match activation {
        "relu" | "leaky_relu" => vec![0.0],
        "sigmoid" => vec![-SIGMOID_SATURATION, SIGMOID_SATURATION],
        "tanh" => vec![-TANH_SATURATION, TANH_SATURATION],
        _ => Vec::new(),
    }
}
