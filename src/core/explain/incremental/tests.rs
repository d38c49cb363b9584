//! Tests of the incremental coalition game against the generic one.

use super::*;
use crate::core::explain::sampling::FeatureGroups;
use crate::core::explain::tests_support::Opaque;
use crate::core::models::mlp::tests::{layer, pseudo_random};
use crate::core::models::mlp::{MlpParams, ScalerParams};
use crate::core::models::{LinearModel, Model};
use ndarray::{array, Array1, Array2};

/// Coalitions that reach every start of the affine path: random subsets of
/// every size, complements of the previous coalition, and one-player changes
/// as along a permutation; `count` of them, more than one batch holds.
fn walk(players: usize, count: usize) -> Vec<bool> {
    let mut state = 12345u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut masks: Vec<bool> = Vec::with_capacity(count * players);
    let mut mask = vec![false; players];
    for c in 0..count {
        if c % 10 == 0 {
            let size = next() % (players + 1);
            mask = (0..players).map(|_| next() % players < size).collect();
        } else if c % 10 == 5 {
            mask.iter_mut().for_each(|on| *on = !*on);
        } else {
            let g = next() % players;
            mask[g] = !mask[g];
        }
        masks.extend(&mask);
    }
    masks
}

fn assert_paths_agree(
    model: &dyn Model,
    space: OutputSpace,
    output: usize,
    groups: &FeatureGroups,
) {
    let f = model.n_features();
    let bg = Array2::from_shape_fn((30, f), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 3.0 - 1.5);
    let x = Array1::from_shape_fn(f, |j| (j as f64 * 0.37).sin() * 2.0);
    let game = Game {
        model,
        background: bg.view(),
        weights: None,
        x: x.view(),
        groups,
        output,
        space,
        stop: &Default::default(),
        memo: Default::default(),
    };
    let opaque = Opaque(model);
    let generic = Game {
        model: &opaque,
        memo: Default::default(),
        ..game
    };
    let masks = walk(groups.len(), 700);
    let b = generic.values(&masks).unwrap();
    for a in [game.values(&masks), game.independent_values(&masks)] {
        let a = a.unwrap();
        assert_eq!(a.len(), 700);
        for (i, (a, b)) in a.iter().zip(&b).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "coalition {i}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn the_affine_path_equals_the_generic_one() {
    let singles = FeatureGroups::singletons(12);
    let w = Array2::from_shape_vec((3, 12), pseudo_random(3, 12, 9).concat()).unwrap();
    let linear = LinearModel::regression(w.clone(), array![0.1, -0.2, 0.3]).unwrap();
    assert_paths_agree(&linear, OutputSpace::Raw, 2, &singles);
    let softmax = LinearModel::logistic(w.clone(), array![0.1, -0.2, 0.3]).unwrap();
    assert_paths_agree(&softmax, OutputSpace::Probability, 1, &singles);
    let binary =
        LinearModel::logistic(w.slice(ndarray::s![..1, ..]).to_owned(), array![0.5]).unwrap();
    assert_paths_agree(&binary, OutputSpace::Probability, 0, &singles);
    for (hidden, head, outputs) in [
        ("relu", "softmax", 3),
        ("tanh", "identity", 1),
        ("leaky_relu", "sigmoid", 1),
    ] {
        let net = MlpParams {
            layers: vec![
                layer(
                    pseudo_random(12, 8, 1),
                    pseudo_random(1, 8, 2).remove(0),
                    hidden,
                ),
                layer(
                    pseudo_random(8, 5, 3),
                    pseudo_random(1, 5, 4).remove(0),
                    "relu",
                ),
                layer(
                    pseudo_random(5, outputs, 5),
                    pseudo_random(1, outputs, 6).remove(0),
                    head,
                ),
            ],
            scaler: Some(ScalerParams {
                mean: (0..12).map(|j| j as f64 / 10.0).collect(),
                scale: (0..12).map(|j| 0.5 + j as f64 / 6.0).collect(),
            }),
            input_shape: None,
        }
        .validate()
        .unwrap();
        let space = if net.link().has_probability() {
            OutputSpace::Probability
        } else {
            OutputSpace::Raw
        };
        assert_paths_agree(&net, space, outputs - 1, &singles);
        let groups = FeatureGroups::new(
            vec![vec![0, 5], vec![1, 2, 3], vec![4], vec![6, 7, 8, 9, 10, 11]],
            12,
        )
        .unwrap();
        assert_paths_agree(&net, space, 0, &groups);
    }
}

#[test]
fn a_feature_without_weights_gets_exactly_zero() {
    // Feature 3 has no weight into the first layer: the dummy axiom, exactly.
    let mut first = pseudo_random(8, 6, 1);
    first[3] = vec![0.0; 6];
    let net = MlpParams {
        layers: vec![
            layer(first, pseudo_random(1, 6, 2).remove(0), "tanh"),
            layer(pseudo_random(6, 1, 3), vec![0.1], "sigmoid"),
        ],
        scaler: None,
        input_shape: None,
    }
    .validate()
    .unwrap();
    let data = Array2::from_shape_fn((20, 8), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
    let reference = crate::core::stats::Reference::new(&net, data);
    let x = Array2::from_shape_fn((2, 8), |(i, j)| (i + j) as f64 / 4.0 - 1.0);
    let options = crate::core::explain::sampling::SamplingParams {
        output_space: OutputSpace::Probability,
        ..Default::default()
    }
    .check(&net)
    .unwrap();
    let got =
        crate::core::explain::exact_shapley::explain(&net, &reference, x.view(), &[0, 0], &options)
            .unwrap();
    for e in &got {
        assert_eq!(e.attributions[3], 0.0);
        assert!(e.attributions.iter().any(|&a| a.abs() > 1e-3));
    }
}
