//! Input gradients of an MLP by backpropagation (reverse-mode chain rule).
//!
//! With `δ₍ₗ₎ = ∂y/∂Z₍ₗ₎` (rows × units of layer l), the recursion is
//! `∂y/∂A₍ₗ₋₁₎ = δ₍ₗ₎ W₍ₗ₎ᵀ` and `δ₍ₗ₋₁₎ = ∂y/∂A₍ₗ₋₁₎ ⊙ g′₍ₗ₋₁₎(Z₍ₗ₋₁₎)`, and the scaler
//! contributes a final division by its scale. One forward and one backward pass per
//! batch: the cost is about twice a prediction, whatever the number of features.

use ndarray::{Array2, ArrayView2, Axis, Zip};

use super::{Activation, Mlp};
use crate::core::models::{check_space, Differentiable, Link, Model, OutputSpace};
use crate::core::{CoreError, CoreResult};

impl Differentiable for Mlp {
    fn gradient(
        &self,
        x: ArrayView2<f64>,
        output: usize,
        space: OutputSpace,
    ) -> CoreResult<Array2<f64>> {
        if output >= self.n_outputs() {
            return Err(CoreError::InvalidArgument(format!(
                "output {output} out of range: the model has {} output(s)",
                self.n_outputs()
            )));
        }
        check_space(self.link, space)?;
        let trace = self.forward_trace(x);
        let last = self.layers.len() - 1;
        let mut delta = self.seed(&trace[last].pre, &trace[last].post, output, space);
        for l in (0..=last).rev() {
            let grad_a = delta.dot(&self.layers[l].weights.t());
            if l == 0 {
                delta = grad_a;
                break;
            }
            delta = times_derivative(grad_a, &trace[l - 1].pre, self.layers[l - 1].activation);
        }
        if let Some(scaler) = &self.scaler {
            delta /= &scaler.scale;
        }
        Ok(delta)
    }
}

impl Mlp {
    /// ∂y/∂Z of the last layer, where y is output `k` in `space`: the seed of the
    /// backward pass. `pre` and `post` are the last layer's values.
    fn seed(
        &self,
        pre: &Array2<f64>,
        post: &Array2<f64>,
        k: usize,
        space: OutputSpace,
    ) -> Array2<f64> {
        let mut delta = Array2::<f64>::zeros(pre.raw_dim());
        match (self.link, space) {
            // Raw output of a classifier head is the pre-activation itself.
            (Link::Softmax | Link::Logistic, OutputSpace::Raw) => delta.column_mut(k).fill(1.0),
            // ∂σ(z_k)/∂z_k = p_k (1 − p_k); the other outputs do not depend on z_k.
            (Link::Logistic, OutputSpace::Probability) => {
                let p = post.column(k);
                Zip::from(delta.column_mut(k))
                    .and(p)
                    .for_each(|d, &p| *d = p * (1.0 - p));
            }
            // ∂p_k/∂z_j = p_k (δ_kj − p_j).
            (Link::Softmax, OutputSpace::Probability) => {
                for (mut d, p) in delta.axis_iter_mut(Axis(0)).zip(post.axis_iter(Axis(0))) {
                    let pk = p[k];
                    Zip::from(&mut d).and(&p).for_each(|d, &pj| *d = -pk * pj);
                    d[k] += pk;
                }
            }
            (Link::SoftmaxZero | Link::Probit, _) => {
                unreachable!("an MLP's link is identity, logistic or softmax")
            }
            // Regression: the output is the post-activation g(z_k). Probability space
            // was refused before we got here.
            (Link::Identity | Link::Exp, _) => {
                let g = self.layers[self.layers.len() - 1].activation;
                Zip::from(delta.column_mut(k))
                    .and(pre.column(k))
                    .for_each(|d, &z| *d = g.derivative(z).unwrap_or(1.0));
            }
        }
        delta
    }
}

/// `grad ⊙ g′(pre)` for an elementwise activation. Softmax never reaches here: it is
/// only allowed on the last layer, whose Jacobian [`Mlp::seed`] handles.
fn times_derivative(mut grad: Array2<f64>, pre: &Array2<f64>, g: Activation) -> Array2<f64> {
    Zip::from(&mut grad)
        .and(pre)
        .for_each(|d, &z| *d *= g.derivative(z).unwrap_or(1.0));
    grad
}
