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
        link: Link::Identity,
        n_features: features,
        base: vec![0.0],
        trees,
        feature_names: None,
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
