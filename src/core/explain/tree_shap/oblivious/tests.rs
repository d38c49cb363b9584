//! Unit tests of the parent module: the tables against the general kernel.

use ndarray::Array2;

use super::super::{explain, explain_block, Block, Prepared};
use super::*;
use crate::core::models::trees::{EnsembleSpec, Missing, Node, Split, Tree};
use crate::core::models::Link;

/// splitmix64 as a uniform in [0, 1).
fn rng(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One split rule per level: a feature out of `features` (so levels repeat
/// features), a comparison of each kind, a missing direction.
fn random_rules(next: &mut impl FnMut() -> f64, depth: usize, features: usize) -> Vec<Node> {
    (0..depth)
        .map(|_| {
            let feature = (next() * features as f64) as usize % features;
            let threshold = next() * 2.0 - 1.0;
            let split = match (next() * 4.0) as usize {
                0 => Split::LessThanF32 {
                    threshold: threshold as f32,
                },
                1 => Split::LessOrEqual {
                    threshold,
                    missing: Missing::ZeroDefault,
                },
                2 => Split::Categories {
                    categories: vec![0, 2],
                    listed_go_left: next() < 0.5,
                },
                _ => Split::LessOrEqual {
                    threshold,
                    missing: Missing::NanDefault,
                },
            };
            Node {
                feature: Some(feature),
                split: Some(split),
                default_left: next() < 0.5,
                left: None,
                right: None,
                cover: 0.0,
                value: 0.0,
                gain: 1.0,
            }
        })
        .collect()
}

/// A complete tree applying `rules[k]` at every node of depth k; random leaves.
fn oblivious_tree(next: &mut impl FnMut() -> f64, rules: &[Node], output: usize) -> Tree {
    fn grow(next: &mut dyn FnMut() -> f64, rules: &[Node], nodes: &mut Vec<Node>) -> f64 {
        let i = nodes.len();
        let Some((rule, rest)) = rules.split_first() else {
            let cover = 1.0 + (next() * 20.0).floor();
            nodes.push(Node::leaf(next() * 2.0 - 1.0, cover));
            return cover;
        };
        nodes.push(rule.clone());
        let l = nodes.len();
        let cl = grow(next, rest, nodes);
        let r = nodes.len();
        let cr = grow(next, rest, nodes);
        nodes[i].left = Some(l);
        nodes[i].right = Some(r);
        nodes[i].cover = cl + cr;
        cl + cr
    }
    let mut nodes = Vec::new();
    grow(next, rules, &mut nodes);
    Tree { nodes, output }
}

fn ensemble(trees: Vec<Tree>, features: usize, outputs: usize) -> TreeEnsemble {
    TreeEnsemble::new(EnsembleSpec {
        kind: "catboost",
        objective: "test".into(),
        link: Link::Identity,
        n_features: features,
        base: (0..outputs).map(|k| 0.25 * k as f64).collect(),
        trees,
        feature_names: None,
        raw_features: None,
    })
    .expect("a valid ensemble")
}

/// Rows with missing values, zeros and integer categories among uniforms.
fn rows(n: usize, features: usize, seed: u64) -> Array2<f64> {
    let mut next = rng(seed);
    Array2::from_shape_fn((n, features), |_| match (next() * 6.0) as usize {
        0 => f64::NAN,
        1 => 0.0,
        2 => (next() * 4.0).floor(),
        _ => next() * 2.0 - 1.0,
    })
}

/// Each row's explanation from `explain` (tables where it has them) against the
/// general kernel alone: the same leaf value reached, the same attributions up to
/// the rounding of summing a tree's part before adding it.
fn assert_matches_kernel(model: &TreeEnsemble, x: &Array2<f64>, outputs: &[usize]) {
    let got = explain(model, x.view(), outputs).unwrap();
    let pr = Prepared::new(model, x.view(), outputs).unwrap();
    let block = Block {
        pr: &pr,
        model,
        x: x.view(),
        outputs,
        tables: &Oblivious::default(),
    };
    let kernel = explain_block(&block, 0..x.nrows(), 0..model.compiled().trees());
    for ((e, (margin, phi)), &k) in got.iter().zip(&kernel).zip(outputs) {
        assert!((e.prediction - (model.base()[k] + margin)).abs() < 1e-12);
        for (a, b) in e.attributions.iter().zip(phi) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
}

#[test]
fn tables_give_the_kernels_values_on_random_oblivious_trees() {
    // Depths 0 to 8 (past 64 splits from depth 7, where the kernel keeps a node
    // array instead of a bit word), levels repeating features among 4, three outputs.
    let (features, outputs) = (4, 3);
    let mut next = rng(11);
    let trees: Vec<Tree> = (0..36)
        .map(|t| {
            let rules = random_rules(&mut next, t % 9, features);
            oblivious_tree(&mut next, &rules, t % outputs)
        })
        .collect();
    assert!(trees.iter().all(|t| levels(t).is_some()));
    let model = ensemble(trees, features, outputs);
    let x = rows(60, features, 5);
    let chosen: Vec<usize> = (0..x.nrows()).map(|r| r % outputs).collect();
    let pr = Prepared::new(&model, x.view(), &chosen).unwrap();
    assert!(build(&model, &pr, &Cancel::never())
        .unwrap()
        .trees
        .iter()
        .all(Option::is_some));
    assert_matches_kernel(&model, &x, &chosen);
    // One row at a time splits the trees over chunks: the same values.
    assert_matches_kernel(&model, &x.slice(ndarray::s![..1, ..]).to_owned(), &[2]);
}

#[test]
fn tables_stay_within_the_models_memory_budget() {
    // 12 trees of depth 6 on 4 features; a budget that holds the tables of some of
    // them: those get tables, the rest the kernel, and the answers are the same.
    let (features, outputs) = (4, 1);
    let mut next = rng(7);
    let trees: Vec<Tree> = (0..12)
        .map(|_| {
            let rules = random_rules(&mut next, 6, features);
            oblivious_tree(&mut next, &rules, 0)
        })
        .collect();
    let full = ensemble(trees, features, outputs);
    let x = rows(20, features, 9);
    let chosen = vec![0; x.nrows()];
    let pr = Prepared::new(&full, x.view(), &chosen).unwrap();
    let all = build(&full, &pr, &Cancel::never()).unwrap();
    let one = (all.trees[0].as_ref().unwrap()).bytes();
    assert!(all.trees.iter().all(Option::is_some));
    let layout = crate::core::models::trees::budget::LayoutSize::of(full.trees(), features);
    let limits = crate::core::models::trees::TreeLimits {
        max_memory_bytes: layout.bytes() + 5 * one + one / 2,
        ..full.limits()
    };
    let spec = EnsembleSpec {
        kind: "catboost",
        objective: "test".into(),
        link: Link::Identity,
        n_features: features,
        base: vec![0.0],
        trees: full.trees().to_vec(),
        feature_names: None,
        raw_features: None,
    };
    let small = TreeEnsemble::with_limits(spec, limits).unwrap();
    let pr = Prepared::new(&small, x.view(), &chosen).unwrap();
    let kept = build(&small, &pr, &Cancel::never()).unwrap();
    let tabled = kept.trees.iter().filter(|t| t.is_some()).count();
    assert_eq!(tabled, 5, "tables within the budget");
    let held: usize = kept.trees.iter().flatten().map(ObliviousTree::bytes).sum();
    assert!(layout.bytes() + held <= limits.max_memory_bytes);
    assert_matches_kernel(&small, &x, &chosen);
}

#[test]
fn trees_that_are_not_oblivious_keep_the_kernel() {
    let mut next = rng(3);
    let rules = random_rules(&mut next, 3, 4);
    let good = oblivious_tree(&mut next, &rules, 0);
    let changed = |f: &dyn Fn(&mut Node)| {
        let mut tree = good.clone();
        // Node 4 is the right child of the root (depth-first: 0, 1, 2, 3, then 4..).
        let right = tree.nodes[0].right.unwrap();
        f(&mut tree.nodes[right]);
        tree
    };
    let other_feature = changed(&|n| n.feature = Some((n.feature.unwrap() + 1) % 4));
    let other_threshold = changed(&|n| {
        n.split = Some(Split::LessOrEqual {
            threshold: 7.5,
            missing: Missing::NanDefault,
        })
    });
    let other_missing = changed(&|n| n.default_left = !n.default_left);
    // Unbalanced: the root's left child is a leaf.
    let mut unbalanced = good.clone();
    let l = unbalanced.nodes[0].left.unwrap();
    let cover = unbalanced.nodes[l].cover;
    unbalanced.nodes[l] = Node::leaf(0.5, cover);
    let deep_rules = random_rules(&mut next, 9, 4);
    let too_deep = oblivious_tree(&mut next, &deep_rules, 0);
    for tree in [
        &other_feature,
        &other_threshold,
        &other_missing,
        &unbalanced,
        &too_deep,
    ] {
        assert!(levels(tree).is_none());
    }
    assert_eq!(levels(&good).map(|l| l.len()), Some(3));
    // A mixed ensemble: only the oblivious tree gets a table, and the sum of both
    // routes is still the kernel's.
    let trees = vec![
        good,
        other_feature,
        other_threshold,
        other_missing,
        unbalanced,
        too_deep,
    ];
    let model = ensemble(trees, 4, 1);
    let x = rows(20, 4, 9);
    let zeros = vec![0; x.nrows()];
    let pr = Prepared::new(&model, x.view(), &zeros).unwrap();
    let built: Vec<bool> = build(&model, &pr, &Cancel::never())
        .unwrap()
        .trees
        .iter()
        .map(Option::is_some)
        .collect();
    assert_eq!(built, [true, false, false, false, false, false]);
    assert_matches_kernel(&model, &x, &zeros);
}

#[test]
fn a_cancelled_request_builds_no_tables_and_the_next_one_does() {
    let mut next = rng(13);
    let trees: Vec<Tree> = (0..8)
        .map(|_| {
            let rules = random_rules(&mut next, 5, 4);
            oblivious_tree(&mut next, &rules, 0)
        })
        .collect();
    let model = ensemble(trees, 4, 1);
    let x = rows(5, 4, 3);
    let zeros = vec![0; x.nrows()];
    let cancel = Cancel::new();
    cancel.cancel();
    let stopped = super::super::explain_until(&model, x.view(), &zeros, &cancel);
    assert!(matches!(stopped, Err(crate::core::CoreError::Cancelled)));
    assert!(
        model.oblivious_built().is_none(),
        "a cancelled build keeps nothing"
    );
    assert_matches_kernel(&model, &x, &zeros);
    assert!(model.oblivious_built().is_some());
}
