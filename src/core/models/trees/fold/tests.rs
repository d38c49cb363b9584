use super::*;
use crate::core::models::trees::Tree;
use crate::core::models::Link;

fn split(feature: usize, split: Split, default_left: bool, l: usize, r: usize) -> Node {
    Node {
        feature: Some(feature),
        split: Some(split),
        default_left,
        left: Some(l),
        right: Some(r),
        cover: 1.0,
        value: 0.0,
        gain: 0.0,
    }
}

fn leaf(v: f64) -> Node {
    Node::leaf(v, 1.0)
}

fn spec(trees: Vec<Tree>, n_features: usize) -> EnsembleSpec {
    EnsembleSpec {
        kind: "onnx",
        objective: "regression".into(),
        link: Link::Identity,
        n_features,
        base: vec![0.5],
        trees,
        feature_names: None,
        raw_features: None,
    }
}

/// What onnxruntime computes for Imputer (NaN → 4600) then Scaler, in float32.
fn imputed_scaled(offset: f32, scale: f32) -> ValueMap {
    ValueMap::Monotone(Box::new(move |x| {
        let v = x as f32;
        let v = if v.is_nan() { 4600.0 } else { v };
        f64::from((v - offset) * scale)
    }))
}

fn raw_inputs() -> RawInputs {
    RawInputs {
        names: vec!["lotsize".into(), "region".into()],
        features: RawFeatures::new(vec![
            RawKind::Numeric,
            RawKind::Categorical {
                categories: vec!["east".into(), "north".into(), "south".into()],
            },
        ])
        .unwrap(),
    }
}

/// Derived columns: 0 = lotsize imputed and standardised; 1 = lotsize through a
/// decreasing scale without imputing; 2 = one-hot(region == north); 3 = a label
/// code of region (east 3, north 1, south 2, unseen −1).
fn columns() -> Vec<Derived> {
    vec![
        Derived {
            raw: 0,
            map: imputed_scaled(5116.773, 0.000_475_827_8),
        },
        Derived {
            raw: 0,
            map: ValueMap::Monotone(Box::new(|x| f64::from((x as f32 - 10.0) * -0.3))),
        },
        Derived {
            raw: 1,
            map: ValueMap::Table {
                codes: vec![0.0, 1.0, 0.0, 0.0],
                missing: 0.0,
            },
        },
        Derived {
            raw: 1,
            map: ValueMap::Table {
                codes: vec![3.0, 1.0, 2.0, -1.0],
                missing: -1.0,
            },
        },
    ]
}

/// A tree of every split kind over the four columns (float32 `<`, `<=`, equality
/// and f64 `<=`).
fn pipeline_tree() -> Tree {
    let nodes = vec![
        split(0, Split::LessThanF32 { threshold: -0.25 }, false, 1, 2),
        split(
            2,
            Split::LessOrEqual {
                threshold: 0.5,
                missing: Missing::NanDefault,
            },
            true,
            3,
            4,
        ),
        split(1, Split::LessOrEqualF32 { threshold: -1000.0 }, true, 5, 6),
        split(3, Split::LessThanF32 { threshold: 2.0 }, false, 7, 8),
        leaf(-3.0),
        split(
            3,
            Split::InSetF32 {
                values: vec![1.0, 2.0],
            },
            false,
            9,
            10,
        ),
        leaf(5.0),
        leaf(1.0),
        leaf(2.0),
        leaf(7.0),
        leaf(11.0),
    ];
    Tree { nodes, output: 0 }
}

fn derived_row(columns: &[Derived], raw: &[f64]) -> Vec<f64> {
    columns
        .iter()
        .map(|c| match &c.map {
            ValueMap::Monotone(m) => m(raw[c.raw]),
            ValueMap::Table { codes, missing } if raw[c.raw].is_nan() => *missing,
            ValueMap::Table { codes, .. } => codes[raw[c.raw] as usize],
        })
        .collect()
}

/// Raw values worth trying: the folded thresholds and their f64 neighbours, NaN,
/// infinities, zero and a spread of ordinary values.
fn probes(folded: &EnsembleSpec) -> Vec<f64> {
    let mut xs = vec![f64::NAN, f64::MAX, f64::MIN, 1e300, 0.0, -0.0, 4600.0];
    xs.extend((-40..40).map(|k| f64::from(k) * 397.0));
    for node in &folded.trees[0].nodes {
        if let (Some(0), Some(Split::LessOrEqual { threshold, .. })) = (node.feature, &node.split) {
            if threshold.is_finite() {
                xs.extend([threshold.next_down(), *threshold, threshold.next_up()]);
            }
        }
    }
    xs
}

#[test]
fn folded_trees_decide_every_raw_value_as_the_pipeline() {
    let original = spec(vec![pipeline_tree()], 4);
    let columns = columns();
    let folded = fold(original.clone(), &columns, raw_inputs()).unwrap();
    assert_eq!(folded.n_features, 2);
    assert_eq!(
        folded.feature_names.as_deref(),
        Some(&["lotsize".to_string(), "region".to_string()][..])
    );
    assert!(folded.raw_features.is_some());
    let xs = probes(&folded);
    assert!(xs.len() > 90, "thresholds were found");
    for &x in &xs {
        for code in [0.0, 1.0, 2.0, 3.0, f64::NAN] {
            let raw = [x, code];
            let derived = derived_row(&columns, &raw);
            let want = original.trees[0].leaf_of(&derived).value;
            let got = folded.trees[0].leaf_of(&raw).value;
            assert_eq!(got, want, "raw {raw:?} (derived {derived:?})");
        }
    }
}

#[test]
fn thresholds_sit_exactly_on_the_float32_boundary() {
    let folded = fold(spec(vec![pipeline_tree()], 4), &columns(), raw_inputs()).unwrap();
    let root = &folded.trees[0].nodes[0];
    let Some(Split::LessOrEqual { threshold: t, .. }) = root.split else {
        panic!("{root:?}")
    };
    // (x as f32 − 5116.773) × 0.000_475_827_8 < −0.25 in float32 holds up to t and no
    // further: t is the last raw value on the left.
    let goes_left = |x: f64| ((x as f32 - 5116.773_f32) * 0.000_475_827_8_f32) < -0.25_f32;
    assert!(goes_left(t) && !goes_left(t.next_up()), "t = {t}");
    assert_eq!(root.left, Some(1), "increasing map: children kept");
    // NaN is imputed to 4600, which is (4600 − 5116.8) × 0.00048 = −0.246 ≥ −0.25.
    assert!(!root.default_left);
}

#[test]
fn a_decreasing_map_swaps_the_children_and_keeps_nan_on_its_side() {
    let folded = fold(spec(vec![pipeline_tree()], 4), &columns(), raw_inputs()).unwrap();
    let node = &folded.trees[0].nodes[2];
    // (x − 10) × −0.3 ≤ −1000 ⟺ x ≥ 3343.33…: low raw values now go left, to leaf 6.
    assert_eq!((node.left, node.right), (Some(6), Some(5)));
    // NaN stays NaN through the map and took the default (left, leaf 5): now right.
    assert!(!node.default_left);
}

#[test]
fn categorical_splits_list_codes_and_leave_the_unseen_code_unlisted() {
    let folded = fold(spec(vec![pipeline_tree()], 4), &columns(), raw_inputs()).unwrap();
    let nodes = &folded.trees[0].nodes;
    // one-hot(north) ≤ 0.5: every code but north goes left, unseen too.
    assert_eq!(
        nodes[1].split,
        Some(Split::Categories {
            categories: vec![1],
            listed_go_left: false
        })
    );
    assert!(nodes[1].default_left, "missing is all zeros, as unseen");
    // label < 2: north (1) and unseen (−1) go left; east (3) and south (2) are listed right.
    assert_eq!(
        nodes[3].split,
        Some(Split::Categories {
            categories: vec![0, 2],
            listed_go_left: false
        })
    );
}

#[test]
fn a_constant_map_sends_every_number_one_way() {
    let columns = vec![Derived {
        raw: 0,
        map: ValueMap::Monotone(Box::new(|x| x * 0.0)),
    }];
    let tree = Tree {
        nodes: vec![
            split(0, Split::LessThanF32 { threshold: -1.0 }, true, 1, 2),
            leaf(1.0),
            leaf(2.0),
        ],
        output: 0,
    };
    let raw = RawInputs {
        names: vec!["x".into()],
        features: RawFeatures::new(vec![RawKind::Numeric]).unwrap(),
    };
    let folded = fold(spec(vec![tree.clone()], 1), &columns, raw).unwrap();
    for x in [f64::MIN, -1e300, 0.0, 5.0, f64::MAX] {
        assert_eq!(folded.trees[0].leaf_of(&[x]).value, 2.0, "at {x}");
    }
    // NaN · 0 is NaN, which took the default (left, 1.0).
    assert_eq!(folded.trees[0].leaf_of(&[f64::NAN]).value, 1.0);
    assert!(folded.raw_features.is_none(), "all numeric");
}

#[test]
fn splits_that_are_no_threshold_and_ill_fitting_maps_are_refused() {
    let mut tree = pipeline_tree();
    tree.nodes[0].split = Some(Split::Categories {
        categories: vec![1],
        listed_go_left: true,
    });
    let err = fold(spec(vec![tree], 4), &columns(), raw_inputs()).unwrap_err();
    assert!(
        err.to_string().contains("node 0 on raw feature 'lotsize'"),
        "{err}"
    );
    let mut tree = pipeline_tree();
    tree.nodes[2].split = Some(Split::InSetF32 { values: vec![0.5] });
    let err = fold(spec(vec![tree], 4), &columns(), raw_inputs()).unwrap_err();
    assert!(
        err.to_string()
            .contains("node 2 on raw feature 'lotsize': an equality split"),
        "{err}"
    );
    let mut short = columns();
    short[2].map = ValueMap::Table {
        codes: vec![0.0, 1.0],
        missing: 0.0,
    };
    let err = fold(spec(vec![pipeline_tree()], 4), &short, raw_inputs()).unwrap_err();
    assert!(err.to_string().contains("column 2"), "{err}");
    let err = fold(
        spec(vec![pipeline_tree()], 4),
        &columns()[..3],
        raw_inputs(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("3 derived columns"), "{err}");
}

#[test]
fn keys_order_floats_as_numbers() {
    let xs = [
        f64::NEG_INFINITY,
        -1e300,
        -1.0,
        -1e-310,
        0.0,
        1e-310,
        2.5,
        f64::INFINITY,
    ];
    for w in xs.windows(2) {
        assert!(key(w[0]) < key(w[1]), "{w:?}");
    }
    for x in xs {
        assert_eq!(unkey(key(x)), x);
    }
    assert_eq!(key(-0.0), key(0.0));
}
