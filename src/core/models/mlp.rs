//! Multilayer perceptrons: a stack of dense layers with elementwise activations and an
//! optional softmax head.
//!
//! Layer `l` maps a batch `A₍ₗ₋₁₎` (rows × fan_in) to the pre-activations
//! `Z₍ₗ₎ = A₍ₗ₋₁₎ W₍ₗ₎ + b₍ₗ₎` and the post-activations `A₍ₗ₎ = g₍ₗ₎(Z₍ₗ₎)`. The weight
//! layout, (fan_in × fan_out), is scikit-learn's `coefs_`, so a fitted `MLPRegressor` or
//! `MLPClassifier` loads without transposing. Inputs may first be standardised as
//! scikit-learn's `StandardScaler` does: `x' = (x − mean) / scale`.
//!
//! Classifiers behave like the other families: when the last layer is a softmax, the
//! raw outputs are its pre-softmax logits and the link is [`Link::Softmax`]; when it is
//! a sigmoid, the raw outputs are its logits and the link is [`Link::Logistic`]
//! (applied to each output on its own, so several sigmoid outputs are a multi-label
//! classifier). Any other last activation is a regression: raw output = post-activation,
//! link [`Link::Identity`].
//!
//! Gradients of the outputs with respect to the inputs come from backpropagation
//! (Rumelhart, Hinton and Williams 1986, "Learning representations by back-propagating
//! errors", Nature 323), implemented in the private `backprop` submodule as
//! [`Differentiable`](super::Differentiable). [`activations`] reports what the units do
//! on data; [`weights`] lays the parameters out for display.

pub mod activations;
mod backprop;
mod params;
#[cfg(test)]
pub(crate) mod tests;
pub mod weights;

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis};

use super::{sigmoid, softmax_rows, AffineInput, Link, Model};
pub use params::{LayerParams, MlpParams, ScalerParams};

/// An activation function, applied after a layer's affine map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(0, z)`. Its derivative at 0 is taken as 0, as PyTorch does.
    Relu,
    /// `z` for `z > 0`, `slope · z` otherwise; the slope defaults to
    /// [`Activation::DEFAULT_LEAKY_SLOPE`] (PyTorch's `negative_slope` default). The
    /// derivative at 0 is `slope`, as PyTorch's.
    LeakyRelu {
        /// Multiplier for non-positive inputs.
        slope: f64,
    },
    /// The logistic function `1 / (1 + e^(−z))` (scikit-learn's "logistic").
    Sigmoid,
    /// The hyperbolic tangent.
    Tanh,
    /// No change: a linear layer.
    Identity,
    /// Row-wise `e^(zᵢ) / Σⱼ e^(zⱼ)`; allowed only on the last layer.
    Softmax,
}

impl Activation {
    /// The negative slope of a leaky ReLU when the parameters name none.
    pub const DEFAULT_LEAKY_SLOPE: f64 = 0.01;

    /// The name used in parameters and answers, e.g. `"leaky_relu"`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Identity => "identity",
            Activation::Softmax => "softmax",
        }
    }

    /// The function at one point, or `None` for softmax, which is not elementwise.
    pub fn value(self, z: f64) -> Option<f64> {
        Some(match self {
            Activation::Relu => z.max(0.0),
            Activation::LeakyRelu { slope } => {
                if z > 0.0 {
                    z
                } else {
                    slope * z
                }
            }
            Activation::Sigmoid => sigmoid(z),
            Activation::Tanh => z.tanh(),
            Activation::Identity => z,
            Activation::Softmax => return None,
        })
    }

    /// The derivative at one point, or `None` for softmax (its Jacobian is not diagonal).
    pub fn derivative(self, z: f64) -> Option<f64> {
        Some(match self {
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { slope } => {
                if z > 0.0 {
                    1.0
                } else {
                    slope
                }
            }
            Activation::Sigmoid => {
                let s = sigmoid(z);
                s * (1.0 - s)
            }
            Activation::Tanh => 1.0 - z.tanh().powi(2),
            Activation::Identity => 1.0,
            Activation::Softmax => return None,
        })
    }

    /// Apply to a batch of pre-activations (rows × units).
    fn apply(self, z: &Array2<f64>) -> Array2<f64> {
        let mut out = z.clone();
        self.apply_inplace(out.view_mut());
        out
    }

    /// Apply to `z + bias` (one bias per column) in place: for the element-wise
    /// kinds in one pass, the same numbers as adding the bias first.
    fn apply_biased_inplace(self, z: &mut Array2<f64>, bias: &Array1<f64>) {
        fn each(z: &mut Array2<f64>, bias: &Array1<f64>, f: impl Fn(f64) -> f64) {
            match (z.as_slice_mut(), bias.as_slice()) {
                (Some(values), Some(bias)) if !bias.is_empty() => {
                    for row in values.chunks_exact_mut(bias.len()) {
                        for (v, &b) in row.iter_mut().zip(bias) {
                            *v = f(*v + b);
                        }
                    }
                }
                _ => {
                    *z += bias;
                    z.mapv_inplace(f);
                }
            }
        }
        match self {
            Activation::Relu => each(z, bias, |v| v.max(0.0)),
            Activation::LeakyRelu { slope } => {
                each(z, bias, |v| if v > 0.0 { v } else { slope * v })
            }
            Activation::Sigmoid => each(z, bias, sigmoid),
            Activation::Tanh => each(z, bias, f64::tanh),
            Activation::Identity => each(z, bias, |v| v),
            Activation::Softmax => {
                *z += bias;
                self.apply_inplace(z.view_mut());
            }
        }
    }

    /// Apply to a batch of pre-activations in place; the same numbers as
    /// [`Activation::value`], one closure per kind so each loop is branch-free.
    fn apply_inplace(self, mut z: ArrayViewMut2<f64>) {
        match self {
            Activation::Softmax => softmax_rows(z),
            Activation::Relu => z.mapv_inplace(|v| v.max(0.0)),
            Activation::LeakyRelu { slope } => {
                z.mapv_inplace(|v| if v > 0.0 { v } else { slope * v })
            }
            Activation::Sigmoid => z.mapv_inplace(sigmoid),
            Activation::Tanh => z.mapv_inplace(f64::tanh),
            Activation::Identity => {}
        }
    }
}

/// One validated dense layer.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Shape (fan_in, fan_out): column `u` holds the weights into unit `u`.
    weights: Array2<f64>,
    /// One bias per unit (fan_out).
    bias: Array1<f64>,
    /// Applied to the pre-activations.
    activation: Activation,
}

impl Layer {
    /// Weights, shape (fan_in, fan_out).
    pub fn weights(&self) -> &Array2<f64> {
        &self.weights
    }

    /// Biases, one per unit.
    pub fn bias(&self) -> &Array1<f64> {
        &self.bias
    }

    /// The layer's activation function.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Number of units (fan_out).
    pub fn units(&self) -> usize {
        self.weights.ncols()
    }

    /// `A W + b` for a batch `A` (rows × fan_in).
    fn affine(&self, a: ArrayView2<f64>) -> Array2<f64> {
        let mut z = self.product(a);
        z += &self.bias;
        z
    }

    /// `A W`, without the bias. A layer of one unit is a matrix-vector product,
    /// which needs none of a matrix product's packing.
    fn product(&self, a: ArrayView2<f64>) -> Array2<f64> {
        if self.weights.ncols() == 1 {
            a.dot(&self.weights.column(0)).insert_axis(Axis(1))
        } else {
            a.dot(&self.weights)
        }
    }
}

/// What follows an MLP's first affine map, as [`AffineInput::dense_head`] gives it:
/// `first` applied to the map's values `z`, then each layer's `a W + b` and its
/// activation. An activation is `None` where the link takes it (a sigmoid or
/// softmax head), so the head's outputs are the raw outputs of
/// [`Model::predict_raw`].
#[derive(Debug, Clone)]
pub struct DenseHead<'a> {
    /// The first layer's activation, `None` when it is the head's (in the link).
    pub first: Option<Activation>,
    /// The later layers: weights (fan_in × fan_out), biases, activation.
    pub layers: Vec<(&'a Array2<f64>, &'a Array1<f64>, Option<Activation>)>,
}

/// Input standardisation, `x' = (x − mean) / scale`, as scikit-learn's `StandardScaler`.
#[derive(Debug, Clone)]
pub struct Scaler {
    /// Subtracted from each feature.
    pub mean: Array1<f64>,
    /// Each centred feature is divided by this; validated to be finite and non-zero.
    pub scale: Array1<f64>,
}

/// The values one layer computed for a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerValues {
    /// Pre-activations `Z = A W + b`, shape (rows, units).
    pub pre: Array2<f64>,
    /// Post-activations `g(Z)`, shape (rows, units). For a softmax or sigmoid head
    /// these are the probabilities.
    pub post: Array2<f64>,
}

/// A validated multilayer perceptron. Build it from [`MlpParams::validate`].
#[derive(Debug, Clone)]
pub struct Mlp {
    /// At least one layer; shapes chain and only the last may be a softmax.
    layers: Vec<Layer>,
    /// Applied to inputs before the first layer, when the model was trained on
    /// standardised features.
    scaler: Option<Scaler>,
    /// A declared shape of one input row, e.g. `[8, 8]` for 8×8 images; its product
    /// is the number of features. Only used to reshape first-layer weights for display.
    input_shape: Option<Vec<usize>>,
    /// Derived from the last activation (see the module documentation).
    link: Link,
}

impl Mlp {
    /// The layers, input first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The input standardisation, if any.
    pub fn scaler(&self) -> Option<&Scaler> {
        self.scaler.as_ref()
    }

    /// The declared shape of one input row, if any.
    pub fn input_shape(&self) -> Option<&[usize]> {
        self.input_shape.as_deref()
    }

    /// Always `"mlp"`.
    pub fn kind(&self) -> &'static str {
        "mlp"
    }

    /// Whether the last layer's activation is folded into the link, so the raw
    /// outputs are its pre-activations.
    fn head_in_link(&self) -> bool {
        self.link != Link::Identity
    }

    /// Inputs after the scaler (a copy of `x` when there is none).
    fn standardize(&self, x: ArrayView2<f64>) -> Array2<f64> {
        match &self.scaler {
            Some(s) => (&x - &s.mean) / &s.scale,
            None => x.to_owned(),
        }
    }

    /// The rest of a forward pass from the first layer's pre-activations `z`: its
    /// activation, the other layers, and the head as the link expects it.
    fn forward_from_first(&self, mut z: Array2<f64>) -> Array2<f64> {
        if self.activates(0) {
            self.layers[0].activation.apply_inplace(z.view_mut());
        }
        if self.layers.len() == 1 {
            return z;
        }
        self.forward_after_first(z.view())
    }

    /// Whether layer `l` applies its activation (the head's may be the link's).
    fn activates(&self, l: usize) -> bool {
        l + 1 < self.layers.len() || !self.head_in_link()
    }

    /// The layers after the first, from the first layer's activations `a`.
    fn forward_after_first(&self, a: ArrayView2<f64>) -> Array2<f64> {
        let mut out: Option<Array2<f64>> = None;
        for (l, layer) in self.layers.iter().enumerate().skip(1) {
            let mut z = layer.product(out.as_ref().map_or(a.view(), |o| o.view()));
            if self.activates(l) {
                layer.activation.apply_biased_inplace(&mut z, &layer.bias);
            } else {
                z += &layer.bias;
            }
            out = Some(z);
        }
        out.unwrap_or_else(|| a.to_owned())
    }

    /// Run a batch (rows × n_features) through every layer and keep each layer's
    /// pre- and post-activations, input layer first. Callers check the width.
    pub fn forward_trace(&self, x: ArrayView2<f64>) -> Vec<LayerValues> {
        let mut values: Vec<LayerValues> = Vec::with_capacity(self.layers.len());
        let input = self.standardize(x);
        for layer in &self.layers {
            let a = values.last().map_or(input.view(), |v| v.post.view());
            let pre = layer.affine(a);
            let post = layer.activation.apply(&pre);
            values.push(LayerValues { pre, post });
        }
        values
    }
}

impl Model for Mlp {
    fn n_features(&self) -> usize {
        self.layers[0].weights.nrows()
    }

    fn n_outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].units()
    }

    fn link(&self) -> Link {
        self.link
    }

    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let z = match &self.scaler {
            Some(_) => self.layers[0].affine(self.standardize(x).view()),
            None => self.layers[0].affine(x),
        };
        self.forward_from_first(z)
    }

    fn affine_input(&self) -> Option<&dyn AffineInput> {
        Some(self)
    }
}

/// The first layer is the map, with the scaler folded in:
/// `W'[j, u] = W[j, u] / scale_j` and `b'_u = b_u − Σ_j mean_j W'[j, u]`.
impl AffineInput for Mlp {
    fn input_affine(&self) -> (Array2<f64>, Array1<f64>) {
        let first = &self.layers[0];
        match &self.scaler {
            None => (first.weights.clone(), first.bias.clone()),
            Some(s) => {
                let w = &first.weights / &s.scale.view().insert_axis(Axis(1));
                let b = &first.bias - &s.mean.dot(&w);
                (w, b)
            }
        }
    }

    fn predict_raw_from_affine(&self, mut z: ArrayViewMut2<f64>) -> Array2<f64> {
        if !self.activates(0) {
            return z.to_owned();
        }
        self.layers[0].activation.apply_inplace(z.view_mut());
        self.forward_after_first(z.view())
    }

    fn dense_head(&self) -> Option<DenseHead<'_>> {
        let applied = |l: usize| self.activates(l).then_some(self.layers[l].activation);
        Some(DenseHead {
            first: applied(0),
            layers: (self.layers.iter().enumerate().skip(1))
                .map(|(l, layer)| (&layer.weights, &layer.bias, applied(l)))
                .collect(),
        })
    }
}
