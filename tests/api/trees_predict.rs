//! Batch prediction through the flat node layout (issue 19, item 1) against the
//! node-by-node walk it replaced ([`TreeEnsemble::margin_of`], which follows
//! `Tree::leaf_of`): the same f64 sums, bit for bit, on random rows with NaN, zeros,
//! ties and categories, on every tree fixture and on the generated shapes.

use std::path::PathBuf;

use explaind::core::models::trees::{EnsembleSpec, Missing, Node, Split, Tree};
use explaind::core::models::{Link, Model, TreeEnsemble};
use explaind::formats::{lightgbm, xgboost};
use ndarray::{s, Array2};

use crate::tree_gen::{model, Choices};

/// A small deterministic generator (SplitMix64), so every run draws the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Values that land on every branch of every rule: NaN, both zeros, LightGBM's
/// zero band (±1e-36) and its edge, split values themselves and their f32
/// neighbours, categories (whole, fractional, negative, huge) and plain values.
const SPECIAL: [f64; 20] = [
    f64::NAN,
    0.0,
    -0.0,
    1e-36,
    -1e-36,
    1e-35,
    -1e-35,
    0.5,
    -0.5,
    0.300_000_01,
    0.299_999_99,
    1.0,
    3.0,
    3.7,
    -2.0,
    7.0,
    4_294_967_296.0,
    1e300,
    f64::INFINITY,
    f64::NEG_INFINITY,
];

/// A row value: a special one, or a spread-out ordinary one.
fn value(rng: &mut Rng) -> f64 {
    if rng.below(2) == 0 {
        SPECIAL[rng.below(SPECIAL.len())]
    } else {
        (rng.below(2001) as f64 - 1000.0) / 250.0
    }
}

fn rows(rng: &mut Rng, n: usize, n_features: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, n_features), |_| value(rng))
}

/// A split drawn from every kind the readers produce; with `only_leq_f32`, always
/// ONNX-ML's float32 `<=` (the layout's all-float32 path).
fn split(rng: &mut Rng, only_leq_f32: bool) -> Split {
    let threshold = [0.0, 0.3, -0.5, 1.0, 3.0, -1e-36, 2.5][rng.below(7)];
    let missing = [
        Missing::NanDefault,
        Missing::ZeroDefault,
        Missing::NanAsZero,
    ][rng.below(3)];
    if only_leq_f32 {
        return Split::LessOrEqualF32 {
            threshold: threshold as f32,
        };
    }
    match rng.below(6) {
        0 => Split::LessThanF32 {
            threshold: threshold as f32,
        },
        1 | 2 => Split::LessOrEqual { threshold, missing },
        3 => Split::LessOrEqualF32 {
            threshold: threshold as f32,
        },
        4 => Split::InSetF32 {
            values: [vec![0.0, 0.3], vec![-0.5], vec![1.0, 2.5, 3.0]][rng.below(3)].clone(),
        },
        _ => Split::Categories {
            categories: [vec![1, 3], vec![0], vec![2, 7, 9]][rng.below(3)].clone(),
            listed_go_left: rng.below(2) == 0,
        },
    }
}

/// A tree grown at random to about `budget` splits, with nodes stored in an order
/// that is not breadth-first (children appended depth-first).
fn tree(rng: &mut Rng, n_features: usize, budget: usize, output: usize, leq: bool) -> Tree {
    let mut nodes = vec![Node::leaf(0.0, 1.0)];
    let mut open = vec![0usize];
    let mut splits = 0;
    while let Some(i) = open.pop() {
        if splits < budget && rng.below(4) != 0 {
            let (l, r) = (nodes.len(), nodes.len() + 1);
            nodes.push(Node::leaf(0.0, 1.0));
            nodes.push(Node::leaf(0.0, 1.0));
            let node = &mut nodes[i];
            node.feature = Some(rng.below(n_features));
            node.split = Some(split(rng, leq));
            node.default_left = rng.below(2) == 0;
            node.left = Some(l);
            node.right = Some(r);
            splits += 1;
            open.push(r);
            open.push(l);
        } else {
            nodes[i].value = (rng.below(2001) as f64 - 1000.0) / 997.0;
        }
    }
    Tree { nodes, output }
}

/// Every row's raw outputs equal the node-by-node walk's, bit for bit.
fn assert_same(model: &TreeEnsemble, x: &Array2<f64>, what: &str) {
    let raw = model.predict_raw(x.view());
    for (i, row) in x.rows().into_iter().enumerate() {
        let row = row.to_vec();
        for k in 0..model.n_outputs() {
            let want = model.margin_of(&row, k);
            assert_eq!(
                raw[[i, k]].to_bits(),
                want.to_bits(),
                "{what}: row {i} output {k}: {} vs {want}",
                raw[[i, k]]
            );
        }
    }
}

#[test]
fn flat_prediction_equals_the_node_walk_on_random_mixed_models() {
    let mut rng = Rng(19);
    for case in 0..40 {
        let n_features = 1 + rng.below(12);
        let n_out = 1 + rng.below(3);
        let trees = (0..1 + rng.below(30))
            .map(|t| {
                let budget = 1 + rng.below(40);
                tree(&mut rng, n_features, budget, t % n_out, case % 4 == 3)
            })
            .collect();
        let spec = EnsembleSpec {
            kind: "lightgbm",
            objective: "regression".into(),
            link: Link::Identity,
            n_features,
            base: (0..n_out).map(|k| 0.25 * k as f64 - 0.1).collect(),
            trees,
            feature_names: None,
            raw_features: None,
        };
        let model = TreeEnsemble::new(spec).expect("a valid model");
        // 203 rows: three blocks of 64 and a remainder that is not a whole group.
        let x = rows(&mut rng, 203, n_features);
        assert_same(&model, &x, &format!("case {case}"));
        // A view that is not in standard layout (every other row, and transposed
        // twice) takes the copying path and agrees too.
        let strided = x.slice(s![..;2, ..]);
        let raw = model.predict_raw(strided);
        let t = x.t().to_owned();
        let fortran = t.t();
        assert_eq!(model.predict_raw(fortran), model.predict_raw(x.view()));
        for (i, row) in strided.rows().into_iter().enumerate() {
            for k in 0..n_out {
                let want = model.margin_of(&row.to_vec(), k);
                assert_eq!(raw[[i, k]].to_bits(), want.to_bits(), "case {case}");
            }
        }
        // Columns beyond the model's are read past, as before; no rows, no outputs.
        let wide = Array2::from_shape_fn((x.nrows(), n_features + 3), |(i, j)| {
            if j < n_features {
                x[[i, j]]
            } else {
                f64::NAN
            }
        });
        assert_eq!(model.predict_raw(wide.view()), model.predict_raw(x.view()));
        let none = model.predict_raw(x.slice(s![..0, ..]));
        assert_eq!(none.dim(), (0, n_out));
    }
}

#[test]
fn flat_prediction_equals_the_node_walk_on_the_fixtures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trees");
    let mut rng = Rng(7);
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&path).expect("read");
        let model = if name.ends_with(".case.json") {
            continue;
        } else if name.ends_with(".json") {
            xgboost::parse(&bytes).expect("xgboost fixture")
        } else if name.ends_with(".txt") {
            lightgbm::parse(std::str::from_utf8(&bytes).unwrap()).expect("lightgbm fixture")
        } else {
            continue;
        };
        let x = rows(&mut rng, 150, model.n_features());
        assert_same(&model, &x, &name);
        seen += 1;
    }
    assert!(seen >= 11, "only {seen} fixtures");
}

#[test]
fn flat_prediction_equals_the_node_walk_on_generated_shapes() {
    for seed in 0..60u64 {
        let bytes: Vec<u8> = (0..4096u64)
            .map(|i| ((i * 2_654_435_761 + seed * 40_503) >> 7) as u8)
            .collect();
        let (shape, gen) = model(&mut Choices::new(&bytes), 200);
        let mut rng = Rng(seed);
        let x = rows(&mut rng, 37, gen.n_features);
        for (file, parsed) in [
            ("xgboost", xgboost::parse(gen.xgboost_json().as_bytes())),
            ("lightgbm", lightgbm::parse(&gen.lightgbm_text())),
        ] {
            let served = parsed.expect("a generated model loads");
            assert_same(&served, &x, &format!("seed {seed} {shape:?} {file}"));
        }
    }
}
