//! Attributions from a single gradient at the input.
//!
//! - **Gradient × input** (Shrikumar, Greenside, Shcherbina and Kundaje 2016, "Not Just
//!   a Black Box: Learning Important Features Through Propagating Activation
//!   Differences", arXiv:1605.01713): `φ_j = x_j · ∂f/∂x_j(x)`. It is the one-step
//!   integrated gradients from the all-zero input, so the base value reported is f(0)
//!   (the model at raw input zero, before any scaler) and the additivity residual
//!   f(x) − f(0) − Σφ says how far the model is from linear along that path; it is
//!   exactly zero for a linear model.
//! - **Saliency** (Simonyan, Vedaldi and Zisserman 2014, "Deep Inside Convolutional
//!   Networks: Visualising Image Classification Models and Saliency Maps", ICLR
//!   workshop): `φ_j = |∂f/∂x_j(x)|`, as Captum's `Saliency` with `abs=True`. These are
//!   local sensitivities in output units per feature unit, not shares of a
//!   difference: they carry no sign and do not add up. The base value reported is the
//!   background mean output E[f(X)], and the additivity residual is computed as for
//!   any explanation but measures nothing here.

use ndarray::{ArrayView2, Axis};

use super::integrated_gradients::check_outputs;
use super::Explanation;
use crate::core::models::{Differentiable, OutputSpace};
use crate::core::stats::Reference;
use crate::core::CoreResult;

/// Gradient × input for each row of `x` and the output chosen for it in `outputs`.
///
/// # Errors
/// [`crate::core::CoreError::InvalidArgument`] for an output out of range, `outputs`
/// not one per row, or probability space on a regression.
pub fn gradient_x_input(
    model: &dyn Differentiable,
    x: ArrayView2<f64>,
    outputs: &[usize],
    space: OutputSpace,
) -> CoreResult<Vec<Explanation>> {
    let zero = ndarray::Array2::<f64>::zeros((1, x.ncols()));
    let base = model.predict(zero.view(), space);
    per_row_gradients(model, x, outputs, space, |row, grad, prediction, k| {
        let phi = row.iter().zip(grad).map(|(x, g)| x * g).collect();
        Explanation::new(k, prediction, base[[0, k]], phi)
    })
}

/// Saliency, |∂f/∂x_j|, for each row of `x` and the output chosen for it in `outputs`.
///
/// # Errors
/// As [`gradient_x_input`].
pub fn saliency(
    model: &dyn Differentiable,
    reference: &Reference,
    x: ArrayView2<f64>,
    outputs: &[usize],
    space: OutputSpace,
) -> CoreResult<Vec<Explanation>> {
    let base = match space {
        OutputSpace::Raw => &reference.mean_raw,
        OutputSpace::Probability => &reference.mean_transformed,
    };
    per_row_gradients(model, x, outputs, space, |_, grad, prediction, k| {
        let phi = grad.iter().map(|g| g.abs()).collect();
        Explanation::new(k, prediction, base[k], phi)
    })
}

/// Compute each row's gradient (batched over rows sharing an output) and let `build`
/// turn (row, gradient, prediction, output) into an explanation.
fn per_row_gradients(
    model: &dyn Differentiable,
    x: ArrayView2<f64>,
    outputs: &[usize],
    space: OutputSpace,
    build: impl Fn(&[f64], &[f64], f64, usize) -> Explanation,
) -> CoreResult<Vec<Explanation>> {
    check_outputs(outputs, x.nrows())?;
    let predictions = model.predict(x, space);
    let mut distinct: Vec<usize> = outputs.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let mut answers: Vec<Option<Explanation>> = vec![None; x.nrows()];
    for k in distinct {
        let rows: Vec<usize> = (0..x.nrows()).filter(|&i| outputs[i] == k).collect();
        let batch = x.select(Axis(0), &rows);
        let grads = model.gradient(batch.view(), k, space)?;
        for (&i, grad) in rows.iter().zip(grads.axis_iter(Axis(0))) {
            let row = x.row(i).to_vec();
            answers[i] = Some(build(&row, &grad.to_vec(), predictions[[i, k]], k));
        }
    }
    Ok(answers.into_iter().flatten().collect())
}
