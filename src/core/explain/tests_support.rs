//! Small hand-written models for the explainers' unit tests.

use ndarray::{Array2, ArrayView2, Axis};

use crate::core::models::{Link, Model};

/// `f(x) = x0 · x1` on two features: the textbook symmetric game.
pub(crate) struct Product;

impl Model for Product {
    fn n_features(&self) -> usize {
        2
    }
    fn n_outputs(&self) -> usize {
        1
    }
    fn link(&self) -> Link {
        Link::Identity
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let out = &x.column(0) * &x.column(1);
        out.insert_axis(Axis(1))
    }
}

/// `f(x) = x0 x1 + x2² + Σ_{j≥3} (j / 4) x_j`: interactions, a non-linearity and
/// plain linear terms, on `n_features ≥ 3` features.
pub(crate) struct Mixed {
    /// Width of the inputs.
    pub n_features: usize,
}

impl Model for Mixed {
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn n_outputs(&self) -> usize {
        1
    }
    fn link(&self) -> Link {
        Link::Identity
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let out = x.map_axis(Axis(1), |r| {
            r[0] * r[1]
                + r[2] * r[2]
                + r.iter()
                    .skip(3)
                    .enumerate()
                    .map(|(j, v)| (j + 3) as f64 / 4.0 * v)
                    .sum::<f64>()
        });
        out.insert_axis(Axis(1))
    }
}

/// A deterministic ensemble of `trees` random trees of `depth` over `features`
/// features (splitmix64), with repeated features on paths and covers that add up.
pub(crate) fn random_ensemble(
    seed: u64,
    trees: usize,
    depth: usize,
    features: usize,
) -> crate::core::models::TreeEnsemble {
    random_linked_ensemble(seed, trees, depth, features, Link::Identity)
}

/// [`random_ensemble`] read through `link` (a binary classifier's, say).
pub(crate) fn random_linked_ensemble(
    seed: u64,
    trees: usize,
    depth: usize,
    features: usize,
    link: Link,
) -> crate::core::models::TreeEnsemble {
    use crate::core::models::trees::{EnsembleSpec, Missing, Node, Split, Tree};
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    fn grow(next: &mut dyn FnMut() -> f64, nodes: &mut Vec<Node>, depth: usize, f: usize) -> f64 {
        let i = nodes.len();
        if depth == 0 || next() < 0.15 {
            let cover = 1.0 + (next() * 20.0).floor();
            nodes.push(Node::leaf(next() * 2.0 - 1.0, cover));
            return cover;
        }
        nodes.push(Node::leaf(0.0, 0.0));
        let feature = (next() * f as f64) as usize % f;
        let l = nodes.len();
        let cl = grow(next, nodes, depth - 1, f);
        let r = nodes.len();
        let cr = grow(next, nodes, depth - 1, f);
        nodes[i] = Node {
            feature: Some(feature),
            split: Some(Split::LessOrEqual {
                threshold: next() - 0.5,
                missing: Missing::NanDefault,
            }),
            default_left: next() < 0.5,
            left: Some(l),
            right: Some(r),
            cover: cl + cr,
            value: 0.0,
            gain: 1.0,
        };
        cl + cr
    }
    let trees = (0..trees)
        .map(|_| {
            let mut nodes = Vec::new();
            grow(&mut next, &mut nodes, depth, features);
            Tree { nodes, output: 0 }
        })
        .collect();
    crate::core::models::TreeEnsemble::new(EnsembleSpec {
        kind: "lightgbm",
        objective: "test".into(),
        link,
        n_features: features,
        base: vec![0.0],
        trees,
        feature_names: None,
        raw_features: None,
    })
    .expect("a valid random ensemble")
}

/// A model seen only through [`Model::predict_raw`]: the explainers take their
/// generic path even when the model has an affine first step.
pub(crate) struct Opaque<'a>(pub &'a dyn Model);

impl Model for Opaque<'_> {
    fn n_features(&self) -> usize {
        self.0.n_features()
    }
    fn n_outputs(&self) -> usize {
        self.0.n_outputs()
    }
    fn link(&self) -> Link {
        self.0.link()
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.0.predict_raw(x)
    }
}

/// `f(x) = x0 x1 x2 + x2 x3 x4 + tanh(x5 + x6) + Σ_{j≥7} x_j / 2` on `n_features ≥ 8`
/// features: interactions of order three and more, which antithetic pairs do not
/// cancel (they do cancel those of order two), so sampled estimators keep a variance.
pub(crate) struct Triples {
    /// Width of the inputs.
    pub n_features: usize,
}

impl Model for Triples {
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn n_outputs(&self) -> usize {
        1
    }
    fn link(&self) -> Link {
        Link::Identity
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let out = x.map_axis(Axis(1), |r| {
            r[0] * r[1] * r[2]
                + r[2] * r[3] * r[4]
                + (r[5] + r[6]).tanh()
                + r.iter().skip(7).sum::<f64>() / 2.0
        });
        out.insert_axis(Axis(1))
    }
}

/// Errors against `exact` and reported standard errors of one row explained with
/// seeds `0..seeds` by `explain(seed)`: `(errors, standard errors)`, one run each.
pub(crate) fn errors_over_seeds(
    seeds: u64,
    exact: &[f64],
    explain: impl Fn(u64) -> super::Explanation,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    (0..seeds)
        .map(|seed| {
            let e = explain(seed);
            let errors = e.attributions.iter().zip(exact).map(|(a, b)| a - b);
            (errors.collect(), e.quality.standard_errors.unwrap())
        })
        .unzip()
}

/// Check that the mean error over runs is within four standard errors of the mean
/// (unbiasedness), and that `|error| ≤ 1.96 se` holds for a share of the runs
/// within `band` of 95% (coverage), feature by feature pooled.
pub(crate) fn assert_unbiased_and_covered(errors: &[Vec<f64>], ses: &[Vec<f64>], band: f64) {
    let n = errors.len() as f64;
    for j in 0..errors[0].len() {
        let mean = errors.iter().map(|e| e[j]).sum::<f64>() / n;
        let var = errors.iter().map(|e| (e[j] - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let se_of_mean = (var / n).sqrt();
        assert!(
            mean.abs() <= 4.0 * se_of_mean + 1e-12,
            "feature {j}: mean error {mean} over {n} seeds, its standard error {se_of_mean}"
        );
    }
    let pairs = errors.iter().zip(ses).flat_map(|(e, s)| e.iter().zip(s));
    let (mut covered, mut total) = (0usize, 0usize);
    for (e, s) in pairs {
        total += 1;
        covered += usize::from(e.abs() <= 1.96 * s + 1e-12);
    }
    let share = covered as f64 / total as f64;
    assert!(
        (share - 0.95).abs() <= band,
        "{covered} of {total} errors within 1.96 standard errors ({share})"
    );
}
