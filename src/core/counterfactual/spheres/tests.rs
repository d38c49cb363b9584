//! Growing spheres: the support search under `max_changes` and the sparsification.

use super::*;
use crate::core::counterfactual::{CostModel, Domain, Goal};
use crate::core::models::{Link, OutputSpace};
use ndarray::ArrayView2;

/// f(x) = x₀.
struct Identity;

impl Model for Identity {
    fn n_features(&self) -> usize {
        1
    }
    fn n_outputs(&self) -> usize {
        1
    }
    fn link(&self) -> Link {
        Link::Identity
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        x.to_owned()
    }
}

#[test]
fn integer_samples_stay_whole_inside_fractional_bounds() {
    // Whole values in [0, 1.7] are 0 and 1, neither reaches 1.2: no answer, and
    // never the clamped 1.7.
    let p = Problem {
        instance: vec![0.0],
        goal: Goal::Range {
            output: 0,
            space: OutputSpace::Raw,
            lo: 1.2,
            hi: f64::INFINITY,
        },
        domains: vec![Domain {
            lo: 0.0,
            hi: 1.7,
            integer: true,
            ..Domain::free()
        }],
        cost: CostModel {
            weights: vec![1.0],
            l0: false,
        },
        max_changes: None,
        count: 1,
        seed: 3,
    };
    let got = solve(&Identity, &p, &[false], &Cancel::never());
    assert_eq!(got.best, None);
}

fn problem(n: usize, lo: f64, max_changes: Option<usize>) -> Problem {
    Problem {
        instance: vec![0.0; n],
        goal: Goal::Range {
            output: 0,
            space: OutputSpace::Raw,
            lo,
            hi: f64::INFINITY,
        },
        domains: vec![Domain::free(); n],
        cost: CostModel {
            weights: vec![1.0; n],
            l0: false,
        },
        max_changes,
        count: 1,
        seed: 5,
    }
}

/// A ReLU network with y = relu(x₀) + relu(x₁) + relu(x₂ − 2).
fn two_paths() -> crate::core::models::Mlp {
    use crate::core::models::mlp::{LayerParams, MlpParams};
    MlpParams {
        layers: vec![
            LayerParams {
                weights: vec![
                    vec![1.0, 0.0, 0.0],
                    vec![0.0, 1.0, 0.0],
                    vec![0.0, 0.0, 1.0],
                ],
                bias: vec![0.0, 0.0, -2.0],
                activation: "relu".into(),
                negative_slope: None,
            },
            LayerParams {
                weights: vec![vec![1.0], vec![1.0], vec![1.0]],
                bias: vec![0.0],
                activation: "identity".into(),
                negative_slope: None,
            },
        ],
        scaler: None,
        input_shape: None,
    }
    .validate()
    .unwrap()
}

#[test]
fn max_changes_one_finds_the_one_feature_answer_of_a_network() {
    // From 0, y ≥ 1.5 with x₀, x₁ ≤ 1: one feature alone only by x₂ ≥ 3.5 (cost
    // 3.5); x₀ + x₁ ≥ 1.5 is cheaper (1.5, Euclidean radius 1.06) but moves two.
    let mlp = two_paths();
    let mut p = problem(3, 1.5, Some(1));
    for d in &mut p.domains[..2] {
        (d.lo, d.hi) = (-1.0, 1.0);
    }
    let free = [false; 3];
    let got = solve(&mlp, &p, &free, &Cancel::never()).best.unwrap();
    assert_eq!(changed(&p.instance, &got), vec![2], "{got:?}");
    // The first shell reaching 3.5 is [2.6, 3.9] or so; pulled back along x₂, the
    // answer is the boundary itself (it was up to 20% past it before).
    assert!((3.5..=3.5001).contains(&got[2]), "{got:?}");
    // Sampling all three features at once (the solver before supports) meets the
    // goal first with x₀ and x₁ together, which sparsifying cannot undo.
    let mutable = [0, 1, 2];
    let whole = Sampler {
        model: &mlp,
        p: &p,
        mutable: &mutable,
        supports: Supports::All,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let first = (1..40)
        .find_map(|i| whole.layer(&mut rng, 0.0, f64::from(i) * 0.1))
        .unwrap();
    assert_eq!(whole.sparsify(first), None);
    // Without the limit the two-feature answer is the cheaper one.
    p.max_changes = None;
    let two = solve(&mlp, &p, &free, &Cancel::never()).best.unwrap();
    assert_eq!(changed(&p.instance, &two), vec![0, 1], "{two:?}");
    // Pulled back: on the boundary x₀ + x₁ = 1.5.
    assert!((1.5..=1.5001).contains(&(two[0] + two[1])), "{two:?}");
}

/// f(x) = x₀ over four features.
struct First;

impl Model for First {
    fn n_features(&self) -> usize {
        4
    }
    fn n_outputs(&self) -> usize {
        1
    }
    fn link(&self) -> Link {
        Link::Identity
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        x.slice(ndarray::s![.., 0..1]).to_owned()
    }
}

/// A sampler of [`First`] that may move all four features, every point on all.
fn every_feature(p: &Problem) -> Sampler<'_> {
    Sampler {
        model: &First,
        p,
        mutable: &[0, 1, 2, 3],
        supports: Supports::All,
    }
}

#[test]
fn sparsifying_puts_back_the_features_the_goal_does_not_need() {
    let p = problem(4, 1.0, None);
    let sampler = every_feature(&p);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let raw = sampler.layer(&mut rng, 1.0, 2.0).unwrap();
    // A point of the sphere moves every feature; only x₀ ≥ 1 matters.
    assert_eq!(changed(&p.instance, &raw).len(), 4, "{raw:?}");
    let sparse = sampler.sparsify(raw.clone()).unwrap();
    assert_eq!(changed(&p.instance, &sparse), vec![0]);
    assert_eq!(sparse[0], raw[0]);
    let got = solve(&First, &p, &[false; 4], &Cancel::never())
        .best
        .unwrap();
    assert_eq!(changed(&p.instance, &got), vec![0], "{got:?}");
}

#[test]
fn pulling_back_reaches_the_boundary_and_keeps_integers_whole() {
    // f = x₀ ≥ 1.3 from 0: the least change is x₀ = 1.3, or 2 when x₀ is an integer;
    // the shell's point alone lies anywhere in it.
    let mut p = problem(4, 1.3, None);
    let got = solve(&First, &p, &[false; 4], &Cancel::never())
        .best
        .unwrap();
    assert_eq!(changed(&p.instance, &got), vec![0], "{got:?}");
    assert!((1.3..=1.3001).contains(&got[0]), "{got:?}");
    p.domains[0].integer = true;
    let got = solve(&First, &p, &[false; 4], &Cancel::never())
        .best
        .unwrap();
    assert_eq!(got, [2.0, 0.0, 0.0, 0.0]);
    // The same from a sampled point far out: x₀ = 7 pulls back to 2.
    let sampler = every_feature(&p);
    // Features the goal does not read go back to their own values.
    let far = sampler.pull_back(vec![7.0, 0.5, 0.0, -3.0], &Cancel::never());
    assert_eq!(far, [2.0, 0.0, 0.0, 0.0]);
}

#[test]
fn supports_are_every_k_subset_when_few_and_random_otherwise() {
    assert_eq!(Supports::of(3, 3), Supports::All);
    assert_eq!(Supports::of(3, 5), Supports::All);
    let Supports::Each(pairs) = Supports::of(4, 2) else {
        panic!("C(4, 2) = 6 supports")
    };
    assert_eq!(
        pairs,
        vec![
            vec![0, 1],
            vec![0, 2],
            vec![0, 3],
            vec![1, 2],
            vec![1, 3],
            vec![2, 3]
        ]
    );
    // C(30, 29) = 30, though C(30, 15) is far past SAMPLES.
    assert!(matches!(Supports::of(30, 29), Supports::Each(s) if s.len() == 30));
    assert_eq!(Supports::of(40, 3), Supports::Random { n: 40, k: 3 });
}
