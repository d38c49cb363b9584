//! The float32 kernel against the float64 route, on every vector unit this CPU has.

use super::super::lanes::Kind;
use super::per_lane::baseline_values_with;
use super::values_with;
use crate::core::explain::game::{Game, Relabel};
use crate::core::explain::sampling::FeatureGroups;
use crate::core::models::mlp::tests::{layer, pseudo_random};
use crate::core::models::mlp::{LayerParams, Mlp, MlpParams, ScalerParams};
use crate::core::models::{LinearModel, Model, OutputSpace};
use ndarray::{Array1, Array2};
use rand::SeedableRng;

/// The vector units this CPU runs, widest first.
fn kinds() -> Vec<Kind> {
    let mut kinds = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            kinds.push(Kind::Avx512);
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            kinds.push(Kind::Avx2);
        }
        assert!(!kinds.is_empty(), "an x86-64 CI machine has AVX2 at least");
    }
    kinds
}

fn dense(fan_in: usize, fan_out: usize, seed: u64, activation: &str) -> LayerParams {
    let mut weights = pseudo_random(fan_in, fan_out, seed);
    weights.iter_mut().flatten().for_each(|w| *w *= 1.5);
    layer(
        weights,
        pseudo_random(1, fan_out, seed + 1).remove(0),
        activation,
    )
}

fn net(layers: Vec<LayerParams>, scaled: bool) -> Mlp {
    let features = layers[0].weights.len();
    MlpParams {
        layers,
        scaler: scaled.then(|| ScalerParams {
            mean: (0..features).map(|j| j as f64 / 10.0).collect(),
            scale: (0..features).map(|j| 0.5 + j as f64 / 6.0).collect(),
        }),
        input_shape: None,
    }
    .validate()
    .unwrap()
}

/// Coalitions of every size, complements and one-player steps (every base).
fn walk(players: usize, count: usize) -> Vec<bool> {
    let mut state = 99u64;
    let mut masks = Vec::with_capacity(count * players);
    let mut mask = vec![false; players];
    for c in 0..count {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (state >> 33) as usize;
        match c % 6 {
            0 => mask = (0..players).map(|g| (r >> (g % 30)) & 1 == 1).collect(),
            3 => mask.iter_mut().for_each(|on| *on = !*on),
            _ => mask[r % players] ^= true,
        }
        masks.extend(&mask);
    }
    masks
}

/// The kernels' test inputs for `f` features: a background of `rows` rows, the
/// explained row, and the players as singletons and as four groups.
fn inputs(f: usize, rows: usize) -> (Array2<f64>, Array1<f64>, FeatureGroups, FeatureGroups) {
    let bg = Array2::from_shape_fn((rows, f), |(i, j)| {
        ((i * 7 + j * 3) % 11) as f64 / 3.0 - 1.5
    });
    let x = Array1::from_shape_fn(f, |j| (j as f64 * 0.37).sin() * 2.0);
    let groups = FeatureGroups::new(
        vec![vec![0, 5], vec![1, 2, 3], vec![4], (6..f).collect()],
        f,
    )
    .unwrap();
    (bg, x, FeatureGroups::singletons(f), groups)
}

/// The kernel's values within 1e-5 of the float64 route's (relative to 1) for
/// `net`, on a background of 37 rows (not a whole number of tiles), with and
/// without weights, for singletons and groups.
fn assert_close(net: &dyn Model, space: OutputSpace, output: usize) {
    let (bg, x, singles, groups) = inputs(net.n_features(), 37);
    let weights = Array1::from_shape_fn(37, |i| (1 + i % 5) as f64);
    let weights = &weights / weights.sum();
    let affine = net.affine_input().unwrap();
    let stop = Default::default();
    for groups in [&singles, &groups] {
        for weights in [None, Some(weights.view())] {
            let game = Game {
                model: net,
                background: bg.view(),
                weights,
                x: x.view(),
                groups,
                output,
                space,
                stop: &stop,
                memo: Default::default(),
            };
            let masks = walk(groups.len(), 300);
            let want = game.values(&masks).unwrap();
            for kind in kinds() {
                let got = values_with(kind, &game, affine, &masks).unwrap().unwrap();
                assert_eq!(got.len(), want.len());
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                        "{kind:?}, coalition {i}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

/// The networks both kernels are held to, each with the space and the outputs it
/// is checked in: every activation; 13 and 20 features (the per-lane kernel's
/// first layer in padded passes, two of them with 20 features); widths past one block of accumulators (16 and
/// 8 lanes' blocks, and their remainders), a sigmoid hidden layer, several
/// identity outputs; the benchmark's shape; a single layer (the head is the first
/// layer's activation alone); logistic regressions, binary and multinomial (the
/// map alone, then the link).
fn networks() -> Vec<(Box<dyn Model>, OutputSpace, Vec<usize>)> {
    let relu_softmax = || {
        net(
            vec![
                dense(12, 8, 1, "relu"),
                dense(8, 5, 3, "relu"),
                dense(5, 3, 5, "softmax"),
            ],
            true,
        )
    };
    let leaky = || {
        net(
            vec![dense(12, 6, 11, "leaky_relu"), dense(6, 1, 13, "sigmoid")],
            true,
        )
    };
    let coefficients = |k: usize, seed: u64| {
        let rows = pseudo_random(k, 12, seed);
        Array2::from_shape_fn((k, 12), |(i, j)| 1.5 * rows[i][j])
    };
    let (p, r) = (OutputSpace::Probability, OutputSpace::Raw);
    vec![
        (Box::new(relu_softmax()), p, vec![2]),
        (Box::new(relu_softmax()), r, vec![0]),
        (
            Box::new(net(
                vec![dense(12, 8, 7, "tanh"), dense(8, 1, 9, "identity")],
                false,
            )),
            r,
            vec![0],
        ),
        (Box::new(leaky()), p, vec![0]),
        (Box::new(leaky()), r, vec![0]),
        (
            Box::new(net(
                vec![
                    dense(13, 40, 15, "sigmoid"),
                    dense(40, 21, 17, "relu"),
                    dense(21, 5, 19, "tanh"),
                    dense(5, 3, 21, "identity"),
                ],
                false,
            )),
            r,
            vec![0, 1, 2],
        ),
        (
            Box::new(net(
                vec![dense(20, 9, 29, "relu"), dense(9, 1, 31, "identity")],
                false,
            )),
            r,
            vec![0],
        ),
        (
            Box::new(net(
                vec![
                    dense(12, 32, 3, "relu"),
                    dense(32, 16, 5, "relu"),
                    dense(16, 1, 7, "sigmoid"),
                ],
                false,
            )),
            p,
            vec![0],
        ),
        (
            Box::new(net(vec![dense(12, 1, 23, "sigmoid")], false)),
            p,
            vec![0],
        ),
        (
            Box::new(LinearModel::logistic(coefficients(1, 25), Array1::from(vec![0.3])).unwrap()),
            p,
            vec![0],
        ),
        (
            Box::new(
                LinearModel::logistic(coefficients(3, 27), Array1::from(vec![0.1, -0.2, 0.0]))
                    .unwrap(),
            ),
            p,
            vec![0, 1, 2],
        ),
    ]
}

#[test]
fn the_float32_kernel_equals_the_float64_route() {
    for (model, space, outputs) in networks() {
        for output in outputs {
            assert_close(model.as_ref(), space, output);
        }
    }
}

#[test]
fn an_affine_map_alone_in_raw_space_stays_in_float64() {
    // Its game is additive, which paired sampling estimates exactly in float64.
    let coefficients = Array2::from_shape_fn((1, 12), |(_, j)| j as f64 - 5.0);
    let linear = LinearModel::regression(coefficients.clone(), Array1::from(vec![1.0])).unwrap();
    let logistic = LinearModel::logistic(coefficients, Array1::from(vec![1.0])).unwrap();
    let bg = Array2::from_shape_fn((20, 12), |(i, j)| ((i + j) % 5) as f64);
    let x = Array1::from_elem(12, 0.5);
    let groups = FeatureGroups::singletons(12);
    let stop = Default::default();
    let masks = walk(12, 10);
    for (model, space, float32) in [
        (&linear, OutputSpace::Raw, false),
        (&logistic, OutputSpace::Raw, false),
        (&logistic, OutputSpace::Probability, true),
    ] {
        let game = Game {
            model,
            background: bg.view(),
            weights: None,
            x: x.view(),
            groups: &groups,
            output: 0,
            space,
            stop: &stop,
            memo: Default::default(),
        };
        let affine = model.affine_input().unwrap();
        for kind in kinds() {
            let got = values_with(kind, &game, affine, &masks);
            assert_eq!(got.is_some(), float32, "{space:?}, {kind:?}");
        }
    }
}

/// Each lane's own coalition through the kernel within 1e-5 of the generic
/// route's values (relative to 1), for `net` on backgrounds of 3, 16, 37 and 100
/// rows (a last tile shared by several coalitions, or whole, or not shared),
/// relabelled at random, singletons and groups, pairs of complements and lone
/// coalitions.
fn assert_lanes_close(net: &dyn Model, space: OutputSpace, output: usize) {
    for rows in [3, 16, 37, 100] {
        assert_lanes_close_on(net, space, output, rows);
    }
}

fn assert_lanes_close_on(net: &dyn Model, space: OutputSpace, output: usize, rows: usize) {
    let (bg, x, singles, groups) = inputs(net.n_features(), rows);
    let affine = net.affine_input().unwrap();
    let stop = Default::default();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for groups in [&singles, &groups] {
        let game = Game {
            model: net,
            background: bg.view(),
            weights: None,
            x: x.view(),
            groups,
            output,
            space,
            stop: &stop,
            memo: Default::default(),
        };
        let relabel = Relabel::random(groups.len(), rows, &mut rng);
        let masks = walk(groups.len(), 120);
        let mut want = Vec::new();
        game.baseline_values_generic(&masks, &relabel, &mut want)
            .unwrap();
        for kind in kinds() {
            let mut got = vec![-1.0];
            baseline_values_with(kind, &game, affine, &masks, &relabel, &mut got)
                .expect("the kernel applies")
                .unwrap();
            assert_eq!(got.remove(0), -1.0, "values are appended");
            assert_eq!(got.len(), want.len());
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                    "{kind:?}, {rows} rows, coalition {}, row {}: {a} vs {b}",
                    i / rows,
                    i % rows
                );
            }
        }
    }
}

#[test]
fn the_per_lane_kernel_equals_the_generic_route() {
    for (model, space, outputs) in networks() {
        // A softmax link is not the kernel's: the generic route serves it.
        let softmax = space == OutputSpace::Probability && model.n_outputs() > 1;
        for output in outputs {
            match softmax {
                false => assert_lanes_close(model.as_ref(), space, output),
                true => assert_lanes_refused(model.as_ref(), output),
            }
        }
    }
}

/// The per-lane kernel declines `net` in probability space.
fn assert_lanes_refused(net: &dyn Model, output: usize) {
    let f = net.n_features();
    let bg = Array2::<f64>::zeros((4, f));
    let x = Array1::<f64>::zeros(f);
    let groups = FeatureGroups::singletons(f);
    let stop = Default::default();
    let game = Game {
        model: net,
        background: bg.view(),
        weights: None,
        x: x.view(),
        groups: &groups,
        output,
        space: OutputSpace::Probability,
        stop: &stop,
        memo: Default::default(),
    };
    let relabel = Relabel::identity(f, 4);
    for kind in kinds() {
        let affine = net.affine_input().unwrap();
        let got = baseline_values_with(kind, &game, affine, &walk(f, 2), &relabel, &mut Vec::new());
        assert!(got.is_none(), "{kind:?}");
    }
}
