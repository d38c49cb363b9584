//! Malformed, truncated or unsupported model files must be `InvalidModel` errors
//! whose message names the problem, never panics.

use explaind::core::CoreError;
use explaind::formats::{lightgbm, xgboost};
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/trees/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).expect("fixture")
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, CoreError>, needle: &str) {
    match result {
        Err(CoreError::InvalidModel(message)) => assert!(
            message.contains(needle),
            "message '{message}' does not mention '{needle}'"
        ),
        other => panic!("expected InvalidModel mentioning '{needle}', got {other:?}"),
    }
}

/// The XGBoost fixture with `edit` applied to its JSON.
fn xgb_edited(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut doc: Value = serde_json::from_str(&fixture("xgb_bin.json")).expect("json");
    edit(&mut doc);
    serde_json::to_vec(&doc).expect("serialise")
}

/// A change to an XGBoost document.
type Edit = Box<dyn FnOnce(&mut Value)>;

fn first_tree(doc: &mut Value) -> &mut Value {
    &mut doc["learner"]["gradient_booster"]["model"]["trees"][0]
}

#[test]
fn xgboost_bad_files() {
    let text = fixture("xgb_bin.json");
    assert_invalid(
        xgboost::parse(&text.as_bytes()[..text.len() / 2]),
        "not an XGBoost JSON",
    );
    assert_invalid(xgboost::parse(b"[1, 2, 3]"), "learner");
    assert_invalid(xgboost::parse(b""), "not an XGBoost JSON");
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|d| d["learner"]["learner_model_param"]["num_feature"] = Value::from(vec![1])),
            "num_feature",
        ),
        (
            Box::new(|d| first_tree(d)["left_children"][0] = Value::from(999)),
            "not a node index",
        ),
        (
            Box::new(|d| first_tree(d)["left_children"][1] = Value::from(0)),
            "reached twice",
        ),
        (
            Box::new(|d| first_tree(d)["split_indices"][0] = Value::from(99)),
            "feature 99",
        ),
        (
            Box::new(|d| first_tree(d)["split_conditions"] = Value::from("x")),
            "split_conditions",
        ),
        (
            Box::new(|d| first_tree(d)["right_children"] = Value::from(vec![1, 2])),
            "right_children has 2 entries",
        ),
        (
            Box::new(|d| d["learner"]["gradient_booster"]["name"] = Value::from("gblinear")),
            "gblinear",
        ),
        (
            Box::new(|d| d["learner"]["gradient_booster"]["name"] = Value::from("dart")),
            "dart",
        ),
        (
            Box::new(|d| d["learner"]["objective"]["name"] = Value::from("rank:pairwise")),
            "rank:pairwise",
        ),
        (
            Box::new(|d| d["learner"]["learner_model_param"]["base_score"] = Value::from("[abc]")),
            "base_score",
        ),
        (
            Box::new(|d| {
                first_tree(d)["tree_param"]["size_leaf_vector"] = Value::from("3");
            }),
            "multi-target",
        ),
        (
            Box::new(|d| {
                d["learner"]["gradient_booster"]["model"]["tree_info"][0] = Value::from(5)
            }),
            "output 5",
        ),
    ];
    for (edit, needle) in cases {
        assert_invalid(xgboost::parse(&xgb_edited(edit)), needle);
    }
}

#[test]
fn xgboost_base_score_forms() {
    // A number, a plain string and a bracketed list all mean the same probability.
    for form in [
        Value::from(0.25),
        Value::from("0.25"),
        Value::from("[2.5E-1]"),
    ] {
        let bytes = xgb_edited(|d| d["learner"]["learner_model_param"]["base_score"] = form);
        let model = xgboost::parse(&bytes).expect("parse");
        assert!((model.base()[0] - (0.25f64 / 0.75).ln()).abs() < 1e-12);
    }
}

#[test]
fn lightgbm_bad_files() {
    let text = fixture("lgb_bin.txt");
    let cut = text.find("Tree=3").expect("tree 3");
    assert_invalid(lightgbm::parse(&text[..cut]), "truncated");
    assert_invalid(lightgbm::parse(""), "not a LightGBM");
    assert_invalid(lightgbm::parse("{\"learner\": 1}"), "not a LightGBM");
    // Edit the first occurrence of a line.
    let edited = |from: &str, to: &str| text.replacen(from, to, 1);
    let first_line = |key: &str| {
        let start = text.find(&format!("\n{key}=")).expect("key") + 1;
        let end = start + text[start..].find('\n').expect("eol");
        text[start..end].to_string()
    };
    assert_invalid(
        lightgbm::parse(&edited("is_linear=0", "is_linear=1")),
        "linear trees",
    );
    assert_invalid(
        lightgbm::parse(&edited(
            "objective=binary sigmoid:1",
            "objective=lambdarank",
        )),
        "lambdarank",
    );
    assert_invalid(
        lightgbm::parse(&edited(
            "objective=binary sigmoid:1",
            "objective=binary sigmoid:2",
        )),
        "sigmoid",
    );
    let split_feature = first_line("split_feature");
    let bad_feature = split_feature.replacen("split_feature=", "split_feature=99 ", 1);
    let bad_feature = bad_feature.rsplit_once(' ').expect("words").0.to_string();
    assert_invalid(
        lightgbm::parse(&edited(&split_feature, &bad_feature)),
        "feature 99",
    );
    let left = first_line("left_child");
    let n = left.split_whitespace().count();
    // Child 0 again from split 1: the root is reached twice.
    let cycle = format!("left_child=1 0{}", " -1".repeat(n - 2));
    assert_invalid(lightgbm::parse(&edited(&left, &cycle)), "reached twice");
    let out_of_range = left.replacen("left_child=", "left_child=77 ", 1);
    let out_of_range = out_of_range.rsplit_once(' ').expect("words").0.to_string();
    assert_invalid(
        lightgbm::parse(&edited(&left, &out_of_range)),
        "out of range",
    );
    let decision = first_line("decision_type");
    assert_invalid(
        lightgbm::parse(&edited(&decision, "decision_type=x")),
        "decision_type",
    );
    assert_invalid(
        lightgbm::parse(&edited("leaf_value=", "leaf_value=1 ")),
        "leaf_value",
    );
}

#[test]
fn lightgbm_single_leaf_tree() {
    let text = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n\
                max_feature_idx=1\nobjective=regression\nfeature_names=a b\n\n\
                Tree=0\nnum_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\n\
                decision_type=\nleft_child=\nright_child=\nleaf_value=1.5\nleaf_weight=\n\
                leaf_count=\ninternal_value=\ninternal_weight=\ninternal_count=\nis_linear=0\n\
                shrinkage=1\n\n\nend of trees\n";
    let model = lightgbm::parse(text).expect("parse");
    use explaind::core::models::{Model, OutputSpace};
    let x = ndarray::array![[0.0, 1.0]];
    assert_eq!(model.predict(x.view(), OutputSpace::Raw)[[0, 0]], 1.5);
    assert_eq!(
        model.feature_names(),
        Some(&["a".to_string(), "b".to_string()][..])
    );
}

/// Counts at the top of the integer range (found by reading the reader while writing
/// the fuzz targets): `num_cat` = 2⁶⁴−1 wrapped `num_cat + 1` to 0, so an empty
/// `cat_boundaries` passed and the first categorical split indexed it out of bounds
/// (a panic, answered 500); `max_feature_idx` = 2⁶⁴−1 overflowed `+ 1`.
#[test]
fn lightgbm_counts_at_the_integer_limit() {
    let text = fixture("lgb_bin_cat.txt");
    let tree = text.find("num_cat=1\n").expect("a categorical tree");
    let mut edited = text.clone();
    edited.replace_range(
        tree..tree + "num_cat=1\n".len(),
        "num_cat=18446744073709551615\n",
    );
    let bounds = edited.find("cat_boundaries=0 1\n").expect("bounds");
    edited.replace_range(
        bounds..bounds + "cat_boundaries=0 1\n".len(),
        "cat_boundaries=\n",
    );
    assert_invalid(lightgbm::parse(&edited), "num_cat");
    let wide = text.replacen(
        "max_feature_idx=4",
        "max_feature_idx=18446744073709551615",
        1,
    );
    assert_invalid(lightgbm::parse(&wide), "max_feature_idx");
}

/// A class count far beyond the trees (found by fuzzing the readers with the
/// registration route in mind): each output gets a base score up front, so
/// `num_class` = 10¹¹ asked for 800 GB, and the failed allocation aborted the whole
/// server; 2·10⁹ filled 16 GB. Every boosting round grows one tree per class, so a
/// file never has more classes than trees.
#[test]
fn class_counts_beyond_the_trees() {
    for n in ["100000000000", "18446744073709551615", "2000000000"] {
        let doc = serde_json::to_vec(&{
            let mut d: Value = serde_json::from_str(&fixture("xgb_softmax.json")).expect("json");
            d["learner"]["learner_model_param"]["num_class"] = Value::from(n);
            d["learner"]["learner_model_param"]["base_score"] = Value::from("0.5");
            d
        })
        .expect("serialise");
        assert_invalid(xgboost::parse(&doc), "num_class");
    }
    let text = fixture("lgb_multi.txt");
    for n in ["100000000000", "18446744073709551615"] {
        let edited = text
            .replacen("num_class=3", &format!("num_class={n}"), 1)
            .replacen(
                "num_tree_per_iteration=3",
                &format!("num_tree_per_iteration={n}"),
                1,
            );
        assert_invalid(lightgbm::parse(&edited), "num_class");
    }
    // No classes and no trees per round: the round-robin of trees over classes
    // divided by zero.
    let none = text.replacen("num_class=3", "num_class=0", 1).replacen(
        "num_tree_per_iteration=3",
        "num_tree_per_iteration=0",
        1,
    );
    assert_invalid(lightgbm::parse(&none), "num_class");
}

/// Category lists shared by many splits (issue 15, lost capacity): each split
/// expands its list, so one long list named by every split of a file needed memory of
/// splits × list length. XGBoost's segments partition `categories` and LightGBM gives
/// each categorical split a bitset of its own; a file where they overlap is refused.
#[test]
fn category_lists_shared_between_splits() {
    let mut doc: Value = serde_json::from_str(&fixture("xgb_bin_cat.json")).expect("json");
    let tree = &mut doc["learner"]["gradient_booster"]["model"]["trees"][2];
    assert_eq!(tree["categories_nodes"], serde_json::json!([3, 6]));
    tree["categories_segments"] = serde_json::json!([0, 0]);
    tree["categories_sizes"] = serde_json::json!([6, 6]);
    let bytes = serde_json::to_vec(&doc).expect("serialise");
    assert_invalid(xgboost::parse(&bytes), "segments overlap");

    let text = fixture("lgb_bin_cat.txt");
    // Tree 2's split 2 becomes a second categorical split on bitset 0 (split 1's).
    let edited = text
        .replacen(
            "decision_type=10 9 8 8 8 8",
            "decision_type=10 9 9 8 8 8",
            1,
        )
        .replacen(
            "threshold=0.097292622973245771 0 0.16350789765657039",
            "threshold=0.097292622973245771 0 0",
            1,
        );
    assert_ne!(edited, text);
    assert_invalid(lightgbm::parse(&edited), "reuses bitset 0");
}
