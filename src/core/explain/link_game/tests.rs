//! The link tables against the masked rows of the generic route.

use super::*;
use crate::core::explain::sampling::{FeatureGroups, Stop};
use crate::core::explain::tests_support::Opaque;
use crate::core::models::mlp::tests::{layer, pseudo_random};
use crate::core::models::mlp::MlpParams;
use crate::core::models::{LinearModel, Model};
use ndarray::{Array1, Array2};

fn matrix(rows: usize, cols: usize, seed: u64, scale: f64) -> Array2<f64> {
    let values = pseudo_random(rows, cols, seed).concat();
    Array2::from_shape_vec((rows, cols), values).unwrap() * scale
}

/// `v` of every coalition through the tables, and through masked rows of the same
/// model hidden behind [`Opaque`] (no affine map, so the generic route).
fn both_routes(
    model: &dyn Model,
    background: &Array2<f64>,
    weights: Option<&Array1<f64>>,
    x: &Array1<f64>,
    groups: &FeatureGroups,
    output: usize,
) -> (Vec<f64>, Vec<f64>) {
    let stop = Stop::default();
    let game = Game {
        model,
        background: background.view(),
        weights: weights.map(|w| w.view()),
        x: x.view(),
        groups,
        output,
        space: OutputSpace::Probability,
        stop: &stop,
        memo: Default::default(),
    };
    let tables = all_values(&game)
        .expect("an additive model with a link")
        .unwrap();
    let opaque = Opaque(model);
    let generic = Game {
        model: &opaque,
        memo: Default::default(),
        ..game
    };
    assert!(all_values(&generic).is_none());
    (tables, generic.all_values().unwrap())
}

fn assert_close(tables: &[f64], generic: &[f64]) {
    assert_eq!(tables.len(), generic.len());
    for (c, (a, b)) in tables.iter().zip(generic).enumerate() {
        assert!((a - b).abs() < 1e-13, "coalition {c}: {a} against {b}");
    }
}

#[test]
fn binary_logistic_equals_the_masked_rows_for_every_coalition() {
    // 1 to 9 players: odd and even halves, and a low half of none.
    for p in 1..=9 {
        let model = LinearModel::logistic(matrix(1, p, 3, 1.5), Array1::from(vec![-0.3])).unwrap();
        let background = matrix(17, p, 5, 2.0);
        let x = matrix(1, p, 7, 2.0).row(0).to_owned();
        let (tables, generic) = both_routes(
            &model,
            &background,
            None,
            &x,
            &FeatureGroups::singletons(p),
            0,
        );
        assert_close(&tables, &generic);
    }
}

#[test]
fn softmax_with_weights_and_groups_equals_the_masked_rows() {
    // Three classes, each explained; a weighted background; players that are groups.
    let model =
        LinearModel::logistic(matrix(3, 7, 11, 1.0), Array1::from(vec![0.1, -0.2, 0.3])).unwrap();
    let background = matrix(9, 7, 13, 1.5);
    let weights = Array1::from_shape_fn(9, |i| (i + 1) as f64 / 45.0);
    let x = matrix(1, 7, 17, 1.5).row(0).to_owned();
    let groups = FeatureGroups::new(vec![vec![0, 4], vec![1], vec![2, 3, 6], vec![5]], 7).unwrap();
    for output in 0..3 {
        let (tables, generic) =
            both_routes(&model, &background, Some(&weights), &x, &groups, output);
        assert_close(&tables, &generic);
    }
}

#[test]
fn a_network_or_raw_space_does_not_take_the_tables() {
    let network = MlpParams {
        layers: vec![
            layer(pseudo_random(5, 3, 31), vec![0.0; 3], "relu"),
            layer(pseudo_random(3, 1, 37), vec![0.1], "sigmoid"),
        ],
        scaler: None,
        input_shape: None,
    };
    assert!(!applies(
        &network.validate().unwrap(),
        OutputSpace::Probability
    ));
    let model = LinearModel::logistic(matrix(1, 3, 3, 1.0), Array1::from(vec![0.0])).unwrap();
    assert!(applies(&model, OutputSpace::Probability));
    assert!(!applies(&model, OutputSpace::Raw));
    let regression =
        LinearModel::regression(matrix(1, 3, 3, 1.0), Array1::from(vec![0.0])).unwrap();
    assert!(!applies(&regression, OutputSpace::Probability));
}

#[test]
fn huge_margins_take_the_direct_formula_and_agree() {
    // Weights of 400 on values of ±2 put single features' moves far past 700:
    // every background row takes the direct formula; probabilities of 0 and 1.
    let model =
        LinearModel::logistic(Array2::from_elem((1, 4), 400.0), Array1::from(vec![1.0])).unwrap();
    let background = matrix(5, 4, 41, 2.0);
    let x = Array1::from(vec![2.0, -2.0, 2.0, 1.0]);
    let (tables, generic) = both_routes(
        &model,
        &background,
        None,
        &x,
        &FeatureGroups::singletons(4),
        0,
    );
    assert_close(&tables, &generic);
    assert!(tables.iter().all(|v| v.is_finite()));
}

#[test]
fn a_feature_without_weight_changes_no_value() {
    // Feature 2 has weight 0 in the tables' low half, feature 5 in the high half.
    let mut w = matrix(1, 6, 43, 1.0);
    w[[0, 2]] = 0.0;
    w[[0, 5]] = 0.0;
    let model = LinearModel::logistic(w, Array1::from(vec![0.0])).unwrap();
    let background = matrix(8, 6, 47, 1.0);
    let x = matrix(1, 6, 53, 1.0).row(0).to_owned();
    let (tables, _) = both_routes(
        &model,
        &background,
        None,
        &x,
        &FeatureGroups::singletons(6),
        0,
    );
    for c in 0..tables.len() {
        assert_eq!(tables[c | 1 << 2], tables[c]);
        assert_eq!(tables[c | 1 << 5], tables[c]);
    }
}
