//! Tests of MLP validation, the forward pass and backpropagation.

use approx::assert_abs_diff_eq;
use ndarray::{array, Array2};

use super::*;
use crate::core::models::{Differentiable, HostedModel, OutputSpace};
use crate::core::CoreError;

/// A layer from rows of weights, biases and an activation name.
pub(crate) fn layer(weights: Vec<Vec<f64>>, bias: Vec<f64>, activation: &str) -> LayerParams {
    LayerParams {
        weights,
        bias,
        activation: activation.into(),
        negative_slope: None,
    }
}

/// Deterministic weights in (−1, 1) from a small linear congruential generator.
pub(crate) fn pseudo_random(rows: usize, cols: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..rows)
        .map(|_| {
            (0..cols)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
                })
                .collect()
        })
        .collect()
}

/// A 3-5-4-k network with the given hidden and head activations and a scaler.
pub(crate) fn small_net(hidden: &str, head: &str, outputs: usize) -> Mlp {
    let mut first = layer(
        pseudo_random(3, 5, 1),
        pseudo_random(1, 5, 2).remove(0),
        hidden,
    );
    if hidden == "leaky_relu" {
        first.negative_slope = Some(0.1);
    }
    MlpParams {
        layers: vec![
            first,
            layer(
                pseudo_random(5, 4, 3),
                pseudo_random(1, 4, 4).remove(0),
                "tanh",
            ),
            layer(
                pseudo_random(4, outputs, 5),
                pseudo_random(1, outputs, 6).remove(0),
                head,
            ),
        ],
        scaler: Some(ScalerParams {
            mean: vec![0.5, -1.0, 2.0],
            scale: vec![2.0, 0.5, 3.0],
        }),
        input_shape: None,
    }
    .validate()
    .unwrap()
}

fn message(err: CoreError) -> String {
    match err {
        CoreError::InvalidModel(m) => m,
        other => panic!("expected InvalidModel, got {other:?}"),
    }
}

#[test]
fn hand_computed_forward_pass() {
    // h = relu([x0 − x1, x0 + x1] + [0, −1]); y = 2 h0 + 3 h1 + 0.5.
    // x = (1, 2): h = relu(−1, 2) = (0, 2), y = 6.5.
    let m = MlpParams {
        layers: vec![
            layer(
                vec![vec![1.0, 1.0], vec![-1.0, 1.0]],
                vec![0.0, -1.0],
                "relu",
            ),
            layer(vec![vec![2.0], vec![3.0]], vec![0.5], "identity"),
        ],
        scaler: None,
        input_shape: None,
    }
    .validate()
    .unwrap();
    assert_eq!(m.link(), Link::Identity);
    let y = m.predict_raw(array![[1.0, 2.0]].view());
    assert_abs_diff_eq!(y[[0, 0]], 6.5, epsilon = 1e-12);
    let trace = m.forward_trace(array![[1.0, 2.0]].view());
    assert_eq!(trace[0].pre, array![[-1.0, 2.0]]);
    assert_eq!(trace[0].post, array![[0.0, 2.0]]);
}

#[test]
fn classifier_heads_expose_logits_as_raw_outputs() {
    let soft = small_net("relu", "softmax", 3);
    assert_eq!(soft.link(), Link::Softmax);
    let x = array![[0.3, -0.2, 1.5], [2.0, 0.0, -1.0]];
    let raw = soft.predict(x.view(), OutputSpace::Raw);
    let trace = soft.forward_trace(x.view());
    assert_eq!(raw, trace[2].pre);
    let p = soft.predict(x.view(), OutputSpace::Probability);
    for (row, post) in p.rows().into_iter().zip(trace[2].post.rows()) {
        assert_abs_diff_eq!(row.sum(), 1.0, epsilon = 1e-12);
        for (a, b) in row.iter().zip(post) {
            assert_abs_diff_eq!(*a, *b, epsilon = 1e-15);
        }
    }
    let binary = small_net("tanh", "sigmoid", 1);
    assert_eq!(binary.link(), Link::Logistic);
    let p = binary.predict(x.view(), OutputSpace::Probability);
    let raw = binary.predict(x.view(), OutputSpace::Raw);
    assert_abs_diff_eq!(p[[0, 0]], sigmoid(raw[[0, 0]]), epsilon = 1e-15);
}

#[test]
fn validation_names_the_bad_layer() {
    let chain = MlpParams {
        layers: vec![
            layer(vec![vec![1.0, 2.0]], vec![0.0, 0.0], "relu"),
            layer(vec![vec![1.0]; 3], vec![0.0], "identity"),
        ],
        scaler: None,
        input_shape: None,
    };
    assert!(message(chain.validate().unwrap_err()).contains("layers[1] takes 3 inputs"));

    let mut p = MlpParams {
        layers: vec![layer(vec![vec![1.0]], vec![0.0], "swish")],
        scaler: None,
        input_shape: None,
    };
    assert!(message(p.clone().validate().unwrap_err()).contains("layers[0]: unknown activation"));

    p.layers[0].activation = "relu".into();
    p.layers[0].weights[0][0] = f64::NAN;
    assert!(message(p.clone().validate().unwrap_err()).contains("finite"));

    p.layers[0].weights[0][0] = 1.0;
    p.layers[0].negative_slope = Some(0.2);
    assert!(message(p.clone().validate().unwrap_err()).contains("negative_slope"));

    let softmax_first = MlpParams {
        layers: vec![
            layer(vec![vec![1.0, 2.0]], vec![0.0, 0.0], "softmax"),
            layer(vec![vec![1.0], vec![1.0]], vec![0.0], "identity"),
        ],
        scaler: None,
        input_shape: None,
    };
    assert!(message(softmax_first.validate().unwrap_err()).contains("layers[0]: softmax"));

    let ragged = MlpParams {
        layers: vec![layer(
            vec![vec![1.0, 2.0], vec![1.0]],
            vec![0.0, 0.0],
            "relu",
        )],
        scaler: None,
        input_shape: Some(vec![2]),
    };
    assert!(message(ragged.validate().unwrap_err()).contains("row 1 has 1 values"));
}

#[test]
fn validation_checks_scaler_and_input_shape() {
    let base = MlpParams {
        layers: vec![layer(vec![vec![1.0]; 4], vec![0.0], "identity")],
        scaler: Some(ScalerParams {
            mean: vec![0.0; 4],
            scale: vec![1.0, 1.0, 0.0, 1.0],
        }),
        input_shape: Some(vec![2, 2]),
    };
    assert!(message(base.clone().validate().unwrap_err()).contains("input 2"));
    let mut shape = base.clone();
    shape.scaler = None;
    shape.input_shape = Some(vec![3, 2]);
    assert!(message(shape.validate().unwrap_err()).contains("input_shape"));
    let mut ok = base;
    ok.scaler = None;
    assert_eq!(ok.validate().unwrap().input_shape(), Some(&[2usize, 2][..]));
}

#[test]
fn params_deserialize_from_json() {
    let json = r#"{"layers": [
        {"weights": [[1.0, -1.0]], "bias": [0.0, 0.5], "activation": "leaky_relu"},
        {"weights": [[1.0], [2.0]], "bias": [0.1], "activation": "sigmoid"}
    ], "scaler": {"mean": [1.0], "scale": [2.0]}}"#;
    let params: MlpParams = serde_json::from_str(json).unwrap();
    let m = params.validate().unwrap();
    assert_eq!(
        m.layers()[0].activation(),
        Activation::LeakyRelu { slope: 0.01 }
    );
    assert_eq!(m.n_outputs(), 1);
    assert_eq!(HostedModel::Mlp(m).kind(), "mlp");
}

/// Central differences of output `k` in `space`, for checking backpropagation only.
fn finite_difference(m: &Mlp, x: &Array2<f64>, k: usize, space: OutputSpace) -> Array2<f64> {
    let h = 1e-6;
    let mut g = Array2::zeros(x.raw_dim());
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            let mut up = x.row(i).to_owned().insert_axis(ndarray::Axis(0));
            let mut down = up.clone();
            up[[0, j]] += h;
            down[[0, j]] -= h;
            let f_up = m.predict(up.view(), space)[[0, k]];
            let f_down = m.predict(down.view(), space)[[0, k]];
            g[[i, j]] = (f_up - f_down) / (2.0 * h);
        }
    }
    g
}

#[test]
fn backpropagation_matches_finite_differences() {
    // The analytic gradient must agree with (f(x+h) − f(x−h)) / 2h up to its O(h²)
    // truncation and rounding error, for every head and space.
    let x = array![[0.3, -0.2, 1.5], [2.0, 0.0, -1.0], [-1.2, 0.7, 0.1]];
    let cases = [
        (small_net("relu", "softmax", 3), OutputSpace::Raw, 2),
        (small_net("relu", "softmax", 3), OutputSpace::Probability, 1),
        (small_net("leaky_relu", "sigmoid", 1), OutputSpace::Raw, 0),
        (
            small_net("sigmoid", "sigmoid", 1),
            OutputSpace::Probability,
            0,
        ),
        (small_net("tanh", "identity", 2), OutputSpace::Raw, 1),
        (small_net("relu", "tanh", 1), OutputSpace::Raw, 0),
    ];
    for (m, space, k) in cases {
        let analytic = m.gradient(x.view(), k, space).unwrap();
        let numeric = finite_difference(&m, &x, k, space);
        for (a, n) in analytic.iter().zip(&numeric) {
            assert_abs_diff_eq!(*a, *n, epsilon = 1e-7);
        }
    }
}

#[test]
fn gradient_refuses_bad_requests() {
    let m = small_net("relu", "identity", 1);
    let x = array![[0.0, 0.0, 0.0]];
    assert!(matches!(
        m.gradient(x.view(), 0, OutputSpace::Probability),
        Err(CoreError::InvalidArgument(_))
    ));
    assert!(matches!(
        m.gradient(x.view(), 1, OutputSpace::Raw),
        Err(CoreError::InvalidArgument(_))
    ));
}

#[test]
fn the_fused_forward_pass_equals_the_layer_by_layer_trace() {
    // predict_raw fuses each hidden layer's bias with its activation and takes a
    // one-unit layer as a matrix-vector product; forward_trace adds the bias, then
    // applies the activation, layer by layer. The same arithmetic: the same bits.
    let x = Array2::from_shape_vec((7, 3), pseudo_random(7, 3, 9).concat()).unwrap() * 3.0;
    for hidden in ["relu", "leaky_relu", "sigmoid", "tanh", "identity"] {
        for (head, outputs) in [
            ("identity", 1),
            ("identity", 2),
            ("sigmoid", 1),
            ("softmax", 3),
        ] {
            let m = small_net(hidden, head, outputs);
            let trace = m.forward_trace(x.view());
            let last = trace.last().unwrap();
            let want = if m.link() == Link::Identity {
                &last.post
            } else {
                &last.pre
            };
            let got = m.predict_raw(x.view());
            assert_eq!(&got, want, "{hidden} → {head} × {outputs}");
            // From the first layer's pre-activations, as the coalition game sends
            // them (its scratch block): the scaler folded into W, so up to rounding.
            let (w, b) = m.input_affine();
            let mut z = x.dot(&w) + &b;
            let from_affine = m.predict_raw_from_affine(z.view_mut());
            for (a, b) in from_affine.iter().zip(want) {
                assert_abs_diff_eq!(a, b, epsilon = 1e-12);
            }
        }
    }
}
