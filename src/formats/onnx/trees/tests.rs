use ndarray::{array, Array2};

use super::*;
use crate::core::models::{ExtremeTrees, Model, OutputSpace, TreeEnsemble};

fn ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

fn floats(v: &[f64]) -> Attr {
    Attr::Floats(v.to_vec())
}

fn strings(v: &[&str]) -> Attr {
    Attr::Strings(v.iter().map(|s| s.to_string()).collect())
}

fn op(name: &str, attrs: Vec<(&str, Attr)>) -> graph::Node {
    graph::Node {
        op: name.into(),
        attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ..Default::default()
    }
}

/// One regressor tree: node 0 splits feature 0 with `mode` at `threshold`, true →
/// leaf 1 (value 1), false → leaf 2 (value 2).
fn stump(mode: &str, threshold: f64, tracks: i64) -> Vec<(&'static str, Attr)> {
    vec![
        ("nodes_treeids", ints(&[0, 0, 0])),
        ("nodes_nodeids", ints(&[0, 1, 2])),
        ("nodes_featureids", ints(&[0, 0, 0])),
        ("nodes_modes", strings(&[mode, "LEAF", "LEAF"])),
        ("nodes_values", floats(&[threshold, 0.0, 0.0])),
        ("nodes_truenodeids", ints(&[1, 0, 0])),
        ("nodes_falsenodeids", ints(&[2, 0, 0])),
        ("nodes_missing_value_tracks_true", ints(&[tracks, 0, 0])),
        ("target_treeids", ints(&[0, 0])),
        ("target_nodeids", ints(&[1, 2])),
        ("target_ids", ints(&[0, 0])),
        ("target_weights", floats(&[1.0, 2.0])),
        ("n_targets", Attr::Int(1)),
    ]
}

fn model(node: &graph::Node, n_features: usize) -> TreeEnsemble {
    let (spec, extreme) = ensemble(node, n_features).expect("converts");
    assert!(extreme.is_none(), "a MIN/MAX ensemble");
    TreeEnsemble::new(spec).expect("valid")
}

fn predict(m: &TreeEnsemble, rows: Array2<f64>, space: OutputSpace) -> Vec<f64> {
    m.predict(rows.view(), space).iter().copied().collect()
}

fn error(node: &graph::Node) -> String {
    match ensemble(node, 3).and_then(|(spec, _)| TreeEnsemble::new(spec)) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_mode_compares_in_float32_and_routes_nan_as_onnxruntime() {
    // 0.300000013 rounds to 0.3f32, so in float32 it equals the threshold 0.3f32
    // although in float64 it is above it.
    let x = array![[0.0], [0.300_000_013], [0.3], [1.0], [f64::NAN]];
    // Expected leaf (1 = true branch) per row, without and with tracks_true; NaN
    // ≠ t is true whatever the flag (what onnxruntime answers).
    let cases = [
        ("BRANCH_LEQ", [1.0, 1.0, 1.0, 2.0, 2.0], 1.0),
        ("BRANCH_LT", [1.0, 2.0, 2.0, 2.0, 2.0], 1.0),
        ("BRANCH_GTE", [2.0, 1.0, 1.0, 1.0, 2.0], 1.0),
        ("BRANCH_GT", [2.0, 2.0, 2.0, 1.0, 2.0], 1.0),
        ("BRANCH_EQ", [2.0, 1.0, 1.0, 2.0, 2.0], 1.0),
        ("BRANCH_NEQ", [1.0, 2.0, 2.0, 1.0, 1.0], 1.0),
    ];
    for (mode, want, nan_tracked) in cases {
        let m = model(&op("TreeEnsembleRegressor", stump(mode, 0.3, 0)), 1);
        assert_eq!(predict(&m, x.clone(), OutputSpace::Raw), want, "{mode}");
        let m = model(&op("TreeEnsembleRegressor", stump(mode, 0.3, 1)), 1);
        let got = predict(&m, x.clone(), OutputSpace::Raw);
        assert_eq!(got[..4], want[..4], "{mode} tracked");
        assert_eq!(got[4], nan_tracked, "{mode} NaN tracked");
        // The node-by-node walk agrees with the prediction layout.
        for (i, row) in x.rows().into_iter().enumerate() {
            assert_eq!(m.margin_of(&row.to_vec(), 0), got[i], "{mode} row {i}");
        }
    }
}

#[test]
fn average_divides_leaves_by_the_number_of_trees_and_base_is_added_after() {
    let mut attrs = stump("BRANCH_LEQ", 0.5, 0);
    // A second tree: a single leaf of value 4.
    attrs[0] = ("nodes_treeids", ints(&[0, 0, 0, 1]));
    attrs[1] = ("nodes_nodeids", ints(&[0, 1, 2, 0]));
    attrs[2] = ("nodes_featureids", ints(&[0, 0, 0, 0]));
    attrs[3] = (
        "nodes_modes",
        strings(&["BRANCH_LEQ", "LEAF", "LEAF", "LEAF"]),
    );
    attrs[4] = ("nodes_values", floats(&[0.5, 0.0, 0.0, 0.0]));
    attrs[5] = ("nodes_truenodeids", ints(&[1, 0, 0, 0]));
    attrs[6] = ("nodes_falsenodeids", ints(&[2, 0, 0, 0]));
    attrs[7] = ("nodes_missing_value_tracks_true", ints(&[0, 0, 0, 0]));
    attrs[8] = ("target_treeids", ints(&[0, 0, 1]));
    attrs[9] = ("target_nodeids", ints(&[1, 2, 0]));
    attrs[10] = ("target_ids", ints(&[0, 0, 0]));
    attrs[11] = ("target_weights", floats(&[1.0, 2.0, 4.0]));
    attrs.push(("aggregate_function", Attr::Str("AVERAGE".into())));
    attrs.push(("base_values", floats(&[10.0])));
    let m = model(&op("TreeEnsembleRegressor", attrs.clone()), 1);
    let got = predict(&m, array![[0.0], [1.0]], OutputSpace::Raw);
    assert_eq!(got, [10.0 + (1.0 + 4.0) / 2.0, 10.0 + (2.0 + 4.0) / 2.0]);
    // MIN and MAX keep the extreme leaf weight reached: x = 0 reaches 1 and 4,
    // x = 1 reaches 2 and 4.
    for (name, want) in [("MIN", [11.0, 12.0]), ("MAX", [14.0, 14.0])] {
        let at = attrs.len() - 2;
        attrs[at] = ("aggregate_function", Attr::Str(name.into()));
        let (spec, leaves) = ensemble(&op("TreeEnsembleRegressor", attrs.clone()), 1).unwrap();
        let leaves = leaves.expect("MIN/MAX leaves");
        let m = ExtremeTrees::new(TreeEnsemble::new(spec).unwrap(), leaves).unwrap();
        assert_eq!(m.aggregate(), name);
        let got = m.predict(array![[0.0], [1.0]].view(), OutputSpace::Raw);
        assert_eq!(got.column(0).to_vec(), want, "{name}");
    }
    let at = attrs.len() - 2;
    attrs[at] = ("aggregate_function", Attr::Str("MEDIAN".into()));
    let e = error(&op("TreeEnsembleRegressor", attrs));
    assert!(e.contains("unknown aggregate_function 'MEDIAN'"), "{e}");
}

/// A classifier stump over two features whose leaves hold one weight per class.
fn classifier(ids: &[i64], weights: &[f64], labels: usize, post: &str) -> graph::Node {
    let per_leaf = ids.len() / 2;
    op(
        "TreeEnsembleClassifier",
        vec![
            ("nodes_treeids", ints(&[0, 0, 0])),
            ("nodes_nodeids", ints(&[0, 1, 2])),
            ("nodes_featureids", ints(&[1, 0, 0])),
            ("nodes_modes", strings(&["BRANCH_LEQ", "LEAF", "LEAF"])),
            ("nodes_values", floats(&[0.5, 0.0, 0.0])),
            ("nodes_truenodeids", ints(&[1, 0, 0])),
            ("nodes_falsenodeids", ints(&[2, 0, 0])),
            ("class_treeids", ints(&vec![0; ids.len()])),
            (
                "class_nodeids",
                ints(&[vec![1; per_leaf], vec![2; per_leaf]].concat()),
            ),
            ("class_ids", ints(ids)),
            ("class_weights", floats(weights)),
            (
                "classlabels_int64s",
                ints(&(0..labels as i64).collect::<Vec<_>>()),
            ),
            ("post_transform", Attr::Str(post.into())),
        ],
    )
}

#[test]
fn a_multiclass_leaf_becomes_one_tree_per_class() {
    let node = classifier(
        &[0, 1, 2, 0, 1, 2],
        &[0.1, 0.2, 0.7, 0.5, 0.4, 0.1],
        3,
        "NONE",
    );
    let m = model(&node, 2);
    assert_eq!(m.trees().len(), 3);
    assert_eq!(m.link(), Link::Identity);
    let got = predict(&m, array![[0.0, 0.0], [0.0, 1.0]], OutputSpace::Raw);
    assert_eq!(got, [0.1, 0.2, 0.7, 0.5, 0.4, 0.1]);
    let soft = model(
        &classifier(
            &[0, 1, 2, 0, 1, 2],
            &[0.1, 0.2, 0.7, 0.5, 0.4, 0.1],
            3,
            "SOFTMAX",
        ),
        2,
    );
    assert_eq!(soft.link(), Link::Softmax);
}

#[test]
fn a_binary_classifier_with_one_weight_set_has_one_output_the_positive_score() {
    // As skl2onnx writes a boosted binary classifier: class id 0 only, LOGISTIC.
    let m = model(&classifier(&[0, 0], &[-0.3, 0.8], 2, "LOGISTIC"), 2);
    assert_eq!((m.n_outputs(), m.link()), (1, Link::Logistic));
    let p = predict(&m, array![[0.0, 0.0]], OutputSpace::Probability);
    assert!((p[0] - 1.0 / (1.0 + 0.3f64.exp())).abs() < 1e-15);
    // A forest: probabilities, no transform (onnxruntime answers [1 − s, s]).
    let m = model(&classifier(&[0, 0], &[0.3, 0.8], 2, "NONE"), 2);
    assert_eq!((m.n_outputs(), m.link()), (1, Link::Identity));
    let e = error(&classifier(&[0, 0], &[0.3, 0.8], 2, "PROBIT"));
    assert!(e.contains("PROBIT"), "{e}");
}

#[test]
fn malformed_nodes_are_refused_naming_the_problem() {
    let with = |name: &str, value: Attr| {
        let mut attrs = stump("BRANCH_LEQ", 0.5, 0);
        attrs.retain(|(k, _)| *k != name);
        attrs.push((Box::leak(name.to_string().into_boxed_str()), value));
        op("TreeEnsembleRegressor", attrs)
    };
    let cases = [
        (
            with("nodes_modes", strings(&["BRANCH_XX", "LEAF", "LEAF"])),
            "unknown mode 'BRANCH_XX'",
        ),
        (with("nodes_truenodeids", ints(&[7, 0, 0])), "true child 7"),
        (
            with("nodes_featureids", ints(&[0, 0])),
            "'nodes_featureids' has 2 entries",
        ),
        (
            with("nodes_featureids", ints(&[5, 0, 0])),
            "reads feature 5",
        ),
        (with("nodes_values", floats(&[f64::NAN, 0.0, 0.0])), "NaN"),
        (
            with("target_nodeids", ints(&[1, 9])),
            "node 9 of tree 0, which does not exist",
        ),
        (with("target_nodeids", ints(&[1, 0])), "not a leaf"),
        (with("target_ids", ints(&[0, 3])), "target_ids go up to 3"),
        // The root's false branch is the root itself: a loop.
        (
            with("nodes_falsenodeids", ints(&[0, 0, 0])),
            "reached twice",
        ),
    ];
    let mut huge = with("n_targets", Attr::Int(1 << 40));
    huge.attrs.insert("target_ids".into(), ints(&[0, 0]));
    let cases = cases.into_iter().chain([(huge, "1099511627776 targets")]);
    for (node, want) in cases {
        let e = error(&node);
        assert!(e.contains(want), "{want}: {e}");
    }
    let mut attrs = stump("BRANCH_LEQ", 0.5, 0);
    attrs.retain(|(k, _)| *k != "nodes_truenodeids");
    let e = error(&op("TreeEnsembleRegressor", attrs));
    assert!(e.contains("missing attribute 'nodes_truenodeids'"), "{e}");
}

/// An opset-5 `TreeEnsemble`: node 0 `x0 ∈ {1, 3}` (MEMBER) → node 1, else leaf 0;
/// node 1 `x1 > 0.5` (GT) → leaf 1, else leaf 2. Leaves add to targets 0, 1, 1.
fn v5_node(modes: &[i64], true_ids: &[i64]) -> graph::Node {
    let tensor = |data: Vec<f64>, ints: Vec<i64>| {
        Attr::Tensor(graph::Tensor {
            dims: vec![],
            data,
            ints,
        })
    };
    op(
        "TreeEnsemble",
        vec![
            ("tree_roots", ints(&[0])),
            ("nodes_featureids", ints(&[0, 1])),
            ("nodes_modes", tensor(vec![], modes.to_vec())),
            ("nodes_splits", tensor(vec![0.0, 0.5], vec![])),
            ("nodes_truenodeids", ints(true_ids)),
            ("nodes_trueleafs", ints(&[0, 1])),
            ("nodes_falsenodeids", ints(&[0, 2])),
            ("nodes_falseleafs", ints(&[1, 1])),
            ("nodes_missing_value_tracks_true", ints(&[1, 0])),
            ("leaf_targetids", ints(&[0, 1, 1])),
            ("leaf_weights", tensor(vec![1.0, 2.0, 3.0], vec![])),
            (
                "membership_values",
                tensor(vec![3.0, 1.0, f64::NAN], vec![]),
            ),
            ("n_targets", Attr::Int(2)),
            ("post_transform", Attr::Int(0)),
        ],
    )
}

#[test]
fn the_opset_5_form_reads_sets_and_swapped_comparisons() {
    let m = model(&v5_node(&[6, 3], &[1, 1]), 2);
    let x = array![
        [1.0, 0.6],
        [3.0, 0.5],
        [2.0, 0.6],
        [f64::NAN, 0.6],
        [1.5, 1.0]
    ];
    let got = predict(&m, x, OutputSpace::Raw);
    assert_eq!(got, [0.0, 2.0, 0.0, 3.0, 1.0, 0.0, 0.0, 2.0, 1.0, 0.0]);
    let e = error(&v5_node(&[6, 9], &[1, 1]));
    assert!(e.contains("node 1 has unknown mode 9"), "{e}");
    // Node 1's true branch is node 0 again, read as a node: a loop.
    let mut looped = v5_node(&[6, 3], &[1, 0]);
    looped.attrs.insert("nodes_trueleafs".into(), ints(&[0, 0]));
    let e = error(&looped);
    assert!(e.contains("reaches node 0 twice"), "{e}");
    let e = error(&v5_node(&[6, 3], &[4, 1]));
    assert!(e.contains("beyond the 2 nodes"), "{e}");
}

#[test]
fn probit_and_softmax_zero_are_onnxruntime_s() {
    // onnxruntime 1.32's float32 answers for a PROBIT regressor whose output is
    // z: its erfinv approximation, not the exact quantile (Φ⁻¹(0.3) = -0.5244005).
    for (z, want) in [
        (0.3, -0.524_445_891_380_310_1),
        (0.4, -0.253_353_506_326_675_4),
        (0.8, 0.841_756_105_422_973_6),
        (0.9, 1.281_712_889_671_325_7),
        (0.05, -1.644_669_651_985_168_5),
    ] {
        let got = crate::core::models::probit(z);
        assert_eq!(got as f32, want as f32, "probit({z})");
    }
    // SOFTMAX_ZERO: zeros stay zero and are left out of the sum.
    let mut raw = array![[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]];
    Link::SoftmaxZero.apply(&mut raw);
    let e = (-1.0f64).exp();
    assert_eq!(raw.row(0).to_vec(), [0.0, e / (e + 1.0), 1.0 / (e + 1.0)]);
    assert!(
        raw.row(1).iter().all(|v| v.is_nan()),
        "0/0 as in onnxruntime"
    );
}

#[test]
fn trees_sharing_nodes_are_counted_where_used_and_bounded() {
    // Three million roots, all the same two-split tree: a few megabytes of file
    // for fifteen million nodes, refused before they are laid out.
    let mut node = v5_node(&[6, 3], &[1, 1]);
    node.attrs
        .insert("tree_roots".into(), ints(&vec![0; 3_000_000]));
    let e = error(&node);
    assert!(e.contains(&format!("more than {MAX_NODES} nodes")), "{e}");
    // A few shared roots are fine: each tree is its own copy.
    node.attrs.insert("tree_roots".into(), ints(&[0, 0, 1]));
    let m = model(&node, 2);
    assert_eq!(
        m.trees().len(),
        5,
        "trees 0 and 1 write two targets each, tree 2 one"
    );
}
