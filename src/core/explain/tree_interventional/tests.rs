use super::*;
use crate::core::explain::tests_support::random_ensemble;
use crate::core::models::trees::{EnsembleSpec, Node, Tree};

/// Rows on a grid in [-0.5, 0.5), with NaN (missing) at every `nan`-th cell.
fn grid(n: usize, f: usize, salt: usize, nan: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, f), |(r, j)| {
        let i = r * 37 + j * 11 + salt;
        if i.is_multiple_of(nan) {
            f64::NAN
        } else {
            (i % 29) as f64 / 29.0 - 0.5
        }
    })
}

/// Interventional Shapley values of `row` against background row `r` by their
/// definition: φ_i = Σ_{S ⊆ N∖{i}} |S|! (F−|S|−1)! / F! (v(S ∪ {i}) − v(S)) with
/// v(S) = f(x_S, r_S̄), every coalition evaluated through the model.
fn enumerated(model: &TreeEnsemble, row: &[f64], r: &[f64]) -> Vec<f64> {
    let f = row.len();
    let value = |s: usize| {
        let z: Vec<f64> = (0..f)
            .map(|j| if s >> j & 1 == 1 { row[j] } else { r[j] })
            .collect();
        model.margin_of(&z, 0)
    };
    let fact = |n: usize| (1..=n).map(|v| v as f64).product::<f64>();
    let mut phi = vec![0.0; f];
    for s in 0..1usize << f {
        let size = s.count_ones() as usize;
        for (i, p) in phi.iter_mut().enumerate() {
            if s >> i & 1 == 0 {
                let w = fact(size) * fact(f - size - 1) / fact(f);
                *p += w * (value(s | 1 << i) - value(s));
            }
        }
    }
    phi
}

/// The sums of [`Hybrid::add`] for one row (per background row with `per_background`).
fn sums(
    built: &Background,
    model: &TreeEnsemble,
    row: &[f64],
    per_background: Option<usize>,
) -> Vec<f64> {
    let mut outs = add_rows(built, model, &[row.to_vec()], &[0], per_background);
    outs.pop().unwrap()
}

/// The sums of one [`Hybrid::add`] call for `rows`, explained for `outputs`.
fn add_rows(
    built: &Background,
    model: &TreeEnsemble,
    rows: &[Vec<f64>],
    outputs: &[usize],
    per_background: Option<usize>,
) -> Vec<Vec<f64>> {
    let f = model.n_features();
    let width = per_background.map_or(f, |f| f * built.hybrid.rows());
    let mut outs = vec![vec![0.0; width]; rows.len()];
    let job = Rows {
        rows,
        outputs,
        outs: &mut outs,
        per_background,
    };
    let mut work = built.hybrid.work(model.compiled());
    (built.hybrid.add(model, job, &mut work, &Cancel::never())).unwrap();
    outs
}

#[test]
fn walked_and_grouped_trees_equal_enumeration_with_repeated_features_and_nans() {
    // Depth-12 trees over 6 features (paths split on a feature many times, more than
    // 64 splits) beside depth-5 ones (at most 31 splits, always grouped); NaNs take
    // the splits' default directions. 150 and 300 background rows walk the deep
    // trees (in two and three blocks of 128, the last partial), 600 group them.
    let f = 6;
    for (seed, n_bg) in [(1, 150), (2, 300), (3, 600)] {
        let deep = random_ensemble(11, 3, 12, f);
        let shallow = random_ensemble(seed, 3, 5, f);
        let model = ensemble(deep.trees().iter().chain(shallow.trees()).cloned(), 1);
        let bits = &model.compiled().tree_bits;
        assert_eq!(bits, &[false, false, true, true, true, true]);
        // Trees of more than 64 splits are walked up to 3 blocks of 128 rows.
        let walked: Vec<bool> = bits.iter().map(|b| !b && n_bg <= 384).collect();
        let background = grid(n_bg, f, 5, 7);
        let reference = Reference::new(&model, background.clone());
        let built = Background::new(&model, &reference).unwrap();
        assert_eq!(built.hybrid.walks(), walked);
        for row in grid(4, f, seed as usize, 5).rows() {
            let row = row.to_vec();
            let per_bg = sums(&built, &model, &row, Some(f));
            let mut mean = vec![0.0; f];
            for (r, got) in background.rows().into_iter().zip(per_bg.chunks(f)) {
                let want = enumerated(&model, &row, &r.to_vec());
                for ((g, w), m) in got.iter().zip(&want).zip(&mut mean) {
                    assert!((g - w).abs() < 1e-12, "got {got:?}, want {want:?}");
                    *m += w / n_bg as f64;
                }
            }
            let e = explain_with(
                &model,
                &reference,
                &built,
                ArrayView2::from_shape((1, f), &row[..]).unwrap(),
                &[0],
                OutputSpace::Raw,
                &Cancel::never(),
            )
            .unwrap();
            for (g, w) in e[0].attributions.iter().zip(&mean) {
                assert!(
                    (g - w).abs() < 1e-12,
                    "got {:?}, want {mean:?}",
                    e[0].attributions
                );
            }
        }
    }
}

#[test]
fn a_background_for_another_model_is_refused() {
    let model = random_ensemble(3, 4, 6, 5);
    let other = random_ensemble(4, 4, 6, 5);
    let reference = Reference::new(&model, grid(10, 5, 1, 7));
    let built = Background::new(&other, &reference).unwrap();
    let x = grid(1, 5, 2, 7);
    let got = explain_with(
        &model,
        &reference,
        &built,
        x.view(),
        &[0],
        OutputSpace::Raw,
        &Cancel::never(),
    );
    assert!(matches!(got, Err(CoreError::InvalidArgument(_))), "{got:?}");
}

#[test]
fn the_v3_copy_gives_the_same_bits() {
    let model = random_ensemble(3, 10, 8, 9);
    let reference = Reference::new(&model, grid(150, 9, 5, 13));
    let built = Background::new(&model, &reference).unwrap();
    // Both kernels: trees of more than 64 splits walked, the others grouped.
    assert!(built.hybrid.walks().contains(&true) && built.hybrid.walks().contains(&false));
    for row in grid(6, 9, 1, 13).rows() {
        let row = row.to_vec();
        for per_background in [None, Some(9)] {
            let base = sums(&built, &model, &row, per_background);
            #[cfg(target_arch = "x86_64")]
            if has_v3() {
                let mut outs = vec![vec![0.0; base.len()]];
                let job = Rows {
                    rows: std::slice::from_ref(&row),
                    outputs: &[0],
                    outs: &mut outs,
                    per_background,
                };
                // SAFETY: the features were detected just now.
                unsafe {
                    add_v3(
                        &built.hybrid,
                        &model,
                        job,
                        &mut built.hybrid.work(model.compiled()),
                        &Cancel::never(),
                    )
                    .unwrap()
                };
                assert!(base
                    .iter()
                    .zip(&outs[0])
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
            }
        }
    }
}

#[test]
fn rows_explained_together_get_what_each_gets_alone() {
    // Two outputs, trees alternating between them, rows asking for either: a task
    // walks each tree only for the rows of its output, and a row's sums do not
    // depend on the rows beside it.
    let f = 7;
    let model = ensemble(random_ensemble(5, 6, 9, f).trees().to_vec(), 2);
    let reference = Reference::new(&model, grid(200, f, 3, 11));
    let built = Background::new(&model, &reference).unwrap();
    assert!(built.hybrid.walks().contains(&true) && built.hybrid.walks().contains(&false));
    let rows: Vec<Vec<f64>> = grid(5, f, 8, 6)
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();
    let outputs = [0, 1, 1, 0, 1];
    for per_background in [None, Some(f)] {
        let together = add_rows(&built, &model, &rows, &outputs, per_background);
        for ((row, &k), got) in rows.iter().zip(&outputs).zip(&together) {
            let alone = add_rows(
                &built,
                &model,
                std::slice::from_ref(row),
                &[k],
                per_background,
            );
            assert!(got
                .iter()
                .zip(&alone[0])
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            if per_background.is_none() {
                // Efficiency: the mean over the background adds up to f_k(x) − E[f_k(R)].
                let sum: f64 = got.iter().sum::<f64>() / 200.0;
                let want = model.margin_of(row, k) - reference.mean_raw[k];
                assert!((sum - want).abs() < 1e-9, "output {k}: {sum} vs {want}");
            }
        }
    }
}

/// An ensemble of `trees`, tree t adding to output t % `outputs`.
fn ensemble(trees: impl IntoIterator<Item = Tree>, outputs: usize) -> TreeEnsemble {
    let trees: Vec<Tree> = (trees.into_iter().enumerate())
        .map(|(t, tree)| Tree {
            output: t % outputs,
            ..tree
        })
        .collect();
    TreeEnsemble::new(EnsembleSpec {
        kind: "lightgbm",
        objective: "test".into(),
        link: Link::Identity,
        n_features: trees_features(&trees),
        base: vec![0.0; outputs],
        trees,
        feature_names: None,
        raw_features: None,
    })
    .unwrap()
}

/// One more than the largest feature index a split of `trees` reads.
fn trees_features(trees: &[Tree]) -> usize {
    let most = trees
        .iter()
        .flat_map(|t| &t.nodes)
        .filter_map(|n| n.feature)
        .max();
    most.map_or(1, |f| f + 1)
}

#[test]
fn nodes_the_root_does_not_reach_change_nothing() {
    // A split and a leaf no path reaches (a file may keep pruned nodes): they get
    // no hop a walk can take, and the answer is the bits of the tree without them.
    let f = 6;
    let model = ensemble(random_ensemble(9, 5, 8, f).trees().to_vec(), 1);
    let orphans = ensemble(
        model.trees().iter().map(|tree| {
            let n = tree.nodes.len();
            let mut nodes = tree.nodes.clone();
            nodes.push(Node {
                left: Some(n + 1),
                right: Some(0),
                ..tree.nodes[0].clone()
            });
            nodes.push(Node::leaf(5.0, 1.0));
            Tree { nodes, output: 0 }
        }),
        1,
    );
    let reference = Reference::new(&model, grid(130, f, 2, 9));
    let x = grid(3, f, 4, 7);
    let want = explain(&model, &reference, x.view(), &[0; 3], OutputSpace::Raw).unwrap();
    let got = explain(&orphans, &reference, x.view(), &[0; 3], OutputSpace::Raw).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!(g
            .attributions
            .iter()
            .zip(&w.attributions)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
