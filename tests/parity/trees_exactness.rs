//! TreeSHAP against the definition: Shapley values by enumerating every coalition
//! of a few features, on random trees built in memory (repeated features on a path
//! included), plus the properties the values must have.

use explaind::core::explain::{tree_interventional, tree_shap};
use explaind::core::models::trees::{EnsembleSpec, Missing, Node, Split, Tree};
use explaind::core::models::{Link, OutputSpace, TreeEnsemble};
use explaind::core::stats::Reference;
use ndarray::Array2;

const F: usize = 5;

/// A small deterministic generator (splitmix64), so the tests need no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal_ish(&mut self) -> f64 {
        (0..4).map(|_| self.unit()).sum::<f64>() - 2.0
    }
}

/// A random tree of the given depth over features 0..features−1 (the last never
/// used, so it is a dummy), with covers that add up from the leaves.
fn random_tree(rng: &mut Rng, depth: usize, output: usize, features: usize) -> Tree {
    fn grow(rng: &mut Rng, nodes: &mut Vec<Node>, depth: usize, features: usize) -> (usize, f64) {
        let i = nodes.len();
        if depth == 0 || rng.unit() < 0.15 {
            let cover = 1.0 + (rng.unit() * 20.0).floor();
            nodes.push(Node::leaf(rng.normal_ish(), cover));
            return (i, cover);
        }
        nodes.push(Node::leaf(0.0, 0.0));
        let feature = (rng.next() % (features as u64 - 1)) as usize;
        let (l, cl) = grow(rng, nodes, depth - 1, features);
        let (r, cr) = grow(rng, nodes, depth - 1, features);
        nodes[i] = Node {
            feature: Some(feature),
            split: Some(random_split(rng)),
            default_left: rng.unit() < 0.5,
            left: Some(l),
            right: Some(r),
            cover: cl + cr,
            value: 0.0,
            gain: rng.unit(),
        };
        (i, cl + cr)
    }
    let mut nodes = Vec::new();
    grow(rng, &mut nodes, depth, features);
    Tree { nodes, output }
}

/// A split of any numeric kind the readers produce: LightGBM's f64 `<=` most
/// often, XGBoost's float32 `<`, ONNX-ML's float32 `<=` and float32 value sets
/// (drawn from the half-integers rows often hold).
fn random_split(rng: &mut Rng) -> Split {
    // Half-integer thresholds too, which rows hit exactly (ties decide `<` from `<=`).
    let threshold = if rng.unit() < 0.3 {
        (rng.normal_ish() * 2.0).round() / 2.0
    } else {
        rng.normal_ish() * 0.7
    };
    match rng.next() % 6 {
        0 => Split::LessThanF32 {
            threshold: threshold as f32,
        },
        1 => Split::LessOrEqualF32 {
            threshold: threshold as f32,
        },
        2 => {
            let mut values: Vec<f32> = [-1.0, -0.5, 0.0, 0.5, 1.0]
                .into_iter()
                .filter(|_| rng.unit() < 0.5)
                .collect();
            values.push(0.5);
            values.sort_by(f32::total_cmp);
            values.dedup();
            Split::InSetF32 { values }
        }
        _ => Split::LessOrEqual {
            threshold,
            missing: Missing::NanDefault,
        },
    }
}

fn ensemble(seed: u64, link: Link, outputs: usize) -> TreeEnsemble {
    ensemble_of(seed, link, outputs, 6, 4, F)
}

/// `trees` random trees of `depth` over `features` features.
fn ensemble_of(
    seed: u64,
    link: Link,
    outputs: usize,
    trees: usize,
    depth: usize,
    features: usize,
) -> TreeEnsemble {
    let mut rng = Rng(seed);
    let trees = (0..trees)
        .map(|t| random_tree(&mut rng, depth, t % outputs, features))
        .collect();
    TreeEnsemble::new(EnsembleSpec {
        kind: "lightgbm",
        objective: "test".into(),
        link,
        n_features: features,
        base: vec![0.25; outputs],
        trees,
        feature_names: None,
        raw_features: None,
    })
    .expect("valid")
}

fn rows(seed: u64, n: usize) -> Array2<f64> {
    rows_of(seed, n, F)
}

fn rows_of(seed: u64, n: usize, features: usize) -> Array2<f64> {
    let mut rng = Rng(seed);
    Array2::from_shape_fn((n, features), |_| {
        let u = rng.unit();
        if u < 0.1 {
            f64::NAN
        } else if u < 0.3 {
            // A half-integer, which value-set splits list.
            (rng.normal_ish() * 2.0).round() / 2.0
        } else {
            rng.normal_ish()
        }
    })
}

/// E[f(X) | X_S = x_S] under path-dependent cover weighting, for output k.
fn conditional(model: &TreeEnsemble, x: &[f64], s: u32, k: usize) -> f64 {
    fn node_value(tree: &Tree, i: usize, x: &[f64], s: u32) -> f64 {
        let n = &tree.nodes[i];
        match (n.feature, n.left, n.right) {
            (Some(f), Some(l), Some(r)) => {
                if s >> f & 1 == 1 {
                    node_value(tree, if n.goes_left(x[f]) { l } else { r }, x, s)
                } else {
                    (tree.nodes[l].cover * node_value(tree, l, x, s)
                        + tree.nodes[r].cover * node_value(tree, r, x, s))
                        / n.cover
                }
            }
            _ => n.value,
        }
    }
    model.base()[k]
        + model
            .trees()
            .iter()
            .filter(|t| t.output == k)
            .map(|t| node_value(t, 0, x, s))
            .sum::<f64>()
}

fn factorial(n: usize) -> f64 {
    (1..=n).map(|v| v as f64).product()
}

/// Shapley values of the game `v` over F players by enumeration.
fn shapley(v: &dyn Fn(u32) -> f64) -> Vec<f64> {
    (0..F)
        .map(|i| {
            (0..1u32 << F)
                .filter(|s| s >> i & 1 == 0)
                .map(|s| {
                    let size = s.count_ones() as usize;
                    let w = factorial(size) * factorial(F - size - 1) / factorial(F);
                    w * (v(s | 1 << i) - v(s))
                })
                .sum()
        })
        .collect()
}

#[test]
fn path_dependent_equals_enumeration() {
    for seed in 0..8 {
        let model = ensemble(seed, Link::Identity, 2);
        let x = rows(100 + seed, 6);
        for k in 0..2 {
            let e = tree_shap::explain(&model, x.view(), &vec![k; x.nrows()]).unwrap();
            for (r, ex) in e.iter().enumerate() {
                let row = x.row(r).to_vec();
                let want = shapley(&|s| conditional(&model, &row, s, k));
                for (g, w) in ex.attributions.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-12, "seed {seed} row {r}: {g} vs {w}");
                }
                // Efficiency, and the base is the value of the empty coalition.
                assert!((ex.base_value - conditional(&model, &row, 0, k)).abs() < 1e-12);
                assert!(ex.quality.additivity_residual.abs() < 1e-12);
                // The dummy feature F−1 is never split on.
                assert_eq!(ex.attributions[F - 1], 0.0);
            }
        }
    }
}

#[test]
fn interactions_equal_enumeration_and_add_up() {
    for seed in 0..6 {
        let model = ensemble(seed, Link::Identity, 1);
        let x = rows(200 + seed, 4);
        let got = tree_shap::interactions(&model, x.view(), &[0; 4]).unwrap();
        let phi = tree_shap::explain(&model, x.view(), &[0; 4]).unwrap();
        for (r, m) in got.iter().enumerate() {
            let row = x.row(r).to_vec();
            let v = |s: u32| conditional(&model, &row, s, 0);
            for i in 0..F {
                for j in 0..F {
                    // Symmetric; row i sums to φᵢ.
                    assert!((m[[i, j]] - m[[j, i]]).abs() < 1e-12);
                    if i == j {
                        continue;
                    }
                    // Shapley interaction index: Σ_S |S|!(F−|S|−2)!/(2(F−1)!) ∇ᵢⱼ(S).
                    let want: f64 = (0..1u32 << F)
                        .filter(|s| s >> i & 1 == 0 && s >> j & 1 == 0)
                        .map(|s| {
                            let size = s.count_ones() as usize;
                            let w = factorial(size) * factorial(F - size - 2)
                                / (2.0 * factorial(F - 1));
                            let (bi, bj) = (1 << i, 1 << j);
                            w * (v(s | bi | bj) - v(s | bi) - v(s | bj) + v(s))
                        })
                        .sum();
                    assert!((m[[i, j]] - want).abs() < 1e-12, "seed {seed} ({i},{j})");
                }
                let row_sum: f64 = m.row(i).sum();
                assert!((row_sum - phi[r].attributions[i]).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn interventional_equals_enumeration() {
    for seed in 0..6 {
        let model = ensemble(seed, Link::Logistic, 1);
        let background = rows(300 + seed, 7);
        let reference = Reference::new(&model, background.clone());
        let x = rows(400 + seed, 4);
        let e =
            tree_interventional::explain(&model, &reference, x.view(), &[0; 4], OutputSpace::Raw)
                .unwrap();
        for (r, ex) in e.iter().enumerate() {
            let row = x.row(r).to_vec();
            let v = |s: u32| {
                let mut sum = 0.0;
                for b in background.rows() {
                    let hybrid: Vec<f64> = (0..F)
                        .map(|j| if s >> j & 1 == 1 { row[j] } else { b[j] })
                        .collect();
                    sum += model.margin_of(&hybrid, 0);
                }
                sum / background.nrows() as f64
            };
            let want = shapley(&v);
            for (g, w) in ex.attributions.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "seed {seed} row {r}: {g} vs {w}");
            }
            assert!(ex.quality.additivity_residual.abs() < 1e-12);
        }
        // Probability space adds up to σ(f(x)) − E[σ(f(R))].
        let p = tree_interventional::explain(
            &model,
            &reference,
            x.view(),
            &[0; 4],
            OutputSpace::Probability,
        )
        .unwrap();
        for ex in &p {
            assert!(ex.quality.additivity_residual.abs() < 1e-12);
            assert!(ex.prediction > 0.0 && ex.prediction < 1.0);
        }
    }
}

/// Whether some tree of `model` has more than 64 splits (the decisions then do not
/// fit one machine word and TreeSHAP takes its per-node path).
fn has_wide_tree(model: &TreeEnsemble) -> bool {
    model
        .trees()
        .iter()
        .any(|t| t.nodes.len() - t.leaves() > 64)
}

#[test]
fn deep_trees_equal_enumeration() {
    // Depth-9 trees over 4 used features: paths repeat features many times, and
    // trees have more than 64 splits.
    for seed in 0..3 {
        let model = ensemble_of(seed, Link::Identity, 1, 3, 9, F);
        assert!(has_wide_tree(&model), "seed {seed}: no tree past 64 splits");
        let x = rows(700 + seed, 5);
        let e = tree_shap::explain(&model, x.view(), &[0; 5]).unwrap();
        let background = rows(800 + seed, 6);
        let reference = Reference::new(&model, background.clone());
        let iv =
            tree_interventional::explain(&model, &reference, x.view(), &[0; 5], OutputSpace::Raw)
                .unwrap();
        for r in 0..x.nrows() {
            let row = x.row(r).to_vec();
            let want = shapley(&|s| conditional(&model, &row, s, 0));
            for (g, w) in e[r].attributions.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "seed {seed} row {r}: {g} vs {w}");
            }
            let hybrid_mean = |s: u32| {
                let sum: f64 = background
                    .rows()
                    .into_iter()
                    .map(|b| {
                        let h: Vec<f64> = (0..F)
                            .map(|j| if s >> j & 1 == 1 { row[j] } else { b[j] })
                            .collect();
                        model.margin_of(&h, 0)
                    })
                    .sum();
                sum / background.nrows() as f64
            };
            let want = shapley(&hybrid_mean);
            for (g, w) in iv[r].attributions.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "seed {seed} row {r}: {g} vs {w}");
            }
        }
    }
}

#[test]
fn interventional_is_the_mean_over_single_background_rows() {
    // 9 features and depth-8 trees give leaves with more than 64 distinct groups of
    // 300 background rows; each single-row background has one group per leaf, and
    // interventional SHAP is linear in the background distribution.
    let features = 9;
    let model = ensemble_of(11, Link::Identity, 1, 4, 8, features);
    let background = rows_of(900, 300, features);
    let x = rows_of(901, 3, features);
    let all = Reference::new(&model, background.clone());
    let got =
        tree_interventional::explain(&model, &all, x.view(), &[0; 3], OutputSpace::Raw).unwrap();
    let mut want = vec![vec![0.0; features]; x.nrows()];
    for b in 0..background.nrows() {
        let one = Reference::new(
            &model,
            background.slice(ndarray::s![b..b + 1, ..]).to_owned(),
        );
        let e = tree_interventional::explain(&model, &one, x.view(), &[0; 3], OutputSpace::Raw)
            .unwrap();
        for (w, ex) in want.iter_mut().zip(&e) {
            for (a, v) in w.iter_mut().zip(&ex.attributions) {
                *a += v / background.nrows() as f64;
            }
        }
    }
    for (g, w) in got.iter().zip(&want) {
        for (a, b) in g.attributions.iter().zip(w) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
}

#[test]
fn summary_importance_and_paging() {
    let model = ensemble(3, Link::Identity, 1);
    let summary = model.summary();
    assert_eq!(summary.trees, 6);
    assert!(summary.max_depth <= 4);
    assert_eq!(
        summary.leaves,
        model.trees().iter().map(Tree::leaves).sum::<usize>()
    );
    assert!(!summary.features_used.contains(&(F - 1)));
    let imp = model.split_importance();
    assert_eq!(imp.len(), F);
    assert_eq!(imp[F - 1].splits, 0);
    let splits: usize = imp.iter().map(|i| i.splits).sum();
    let internal = model
        .trees()
        .iter()
        .map(|t| t.nodes.len() - t.leaves())
        .sum::<usize>();
    assert_eq!(splits, internal);
    assert_eq!(model.trees_page(4, 10).len(), 2);
    assert!(model.trees_page(10, 3).is_empty());
    assert_eq!(model.trees_page(1, 2), &model.trees()[1..3]);
}

#[test]
fn bad_requests_are_errors() {
    let model = ensemble(1, Link::Identity, 2);
    let x = rows(1, 2);
    assert!(tree_shap::explain(&model, x.view(), &[0]).is_err()); // one output for two rows
    assert!(tree_shap::explain(&model, x.view(), &[0, 2]).is_err()); // no output 2
    let narrow = Array2::<f64>::zeros((1, F - 1));
    assert!(tree_shap::explain(&model, narrow.view(), &[0]).is_err());
    let reference = Reference::new(&model, rows(2, 3));
    // Probability space needs a logistic model.
    assert!(tree_interventional::explain(
        &model,
        &reference,
        x.view(),
        &[0, 1],
        OutputSpace::Probability
    )
    .is_err());
}
