use super::*;
use crate::formats::onnx::graph::{read_graph_of_model, Attr, Node, Tensor, ValueInfo};

fn fixture(name: &str) -> (Graph, serde_json::Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx_pipeline/");
    let bytes = std::fs::read(format!("{dir}{name}.onnx")).unwrap();
    let json = std::fs::read_to_string(format!("{dir}{name}.json")).unwrap();
    (
        read_graph_of_model(&bytes).unwrap(),
        serde_json::from_str(&json).unwrap(),
    )
}

fn model_input(g: &Graph) -> String {
    let node = g.nodes.iter().find(|n| n.op.starts_with("TreeEnsemble"));
    node.unwrap().inputs[0].clone()
}

/// A raw row as the model reads it: numbers, NaN for null, codes for strings.
fn codes(raw: &RawInputs, row: &serde_json::Value) -> Vec<f64> {
    let row = row.as_array().unwrap();
    (0..row.len())
        .map(|j| match &row[j] {
            serde_json::Value::Null => f64::NAN,
            serde_json::Value::String(s) => raw.features.code(j, s).unwrap(),
            v => v.as_f64().unwrap(),
        })
        .collect()
}

fn value(d: &Derived, x: &[f64]) -> f64 {
    match &d.map {
        ValueMap::Monotone(f) => f(x[d.raw]),
        ValueMap::Table { missing, .. } if x[d.raw].is_nan() => *missing,
        ValueMap::Table { codes, .. } => codes[x[d.raw] as usize],
    }
}

/// The traced columns compute, bit for bit, what onnxruntime fed the trees
/// (float32 arithmetic of Imputer and Scaler, encoders, the unseen category).
#[test]
fn traced_columns_equal_onnxruntime_preprocessing() {
    for name in ["rf_regressor", "gb_classifier"] {
        let (g, fx) = fixture(name);
        let Traced {
            raw, columns: cols, ..
        } = trace(&g, &model_input(&g)).unwrap();
        let want: Vec<String> = serde_json::from_value(fx["raw_features"].clone()).unwrap();
        assert_eq!(raw.names, want, "{name}");
        assert_eq!(
            raw.features.categories(4).unwrap(),
            ["east", "north", "south", "west"],
            "{name}"
        );
        let rows = fx["rows"].as_array().unwrap();
        for (row, derived) in rows.iter().zip(fx["derived"].as_array().unwrap()) {
            let x = codes(&raw, row);
            // As float32: onnxruntime's values are, and the JSON reader may land one
            // f64 step beside a printed float32.
            let got: Vec<f32> = cols.iter().map(|d| value(d, &x) as f32).collect();
            let want: Vec<f32> = serde_json::from_value(derived.clone()).unwrap();
            assert_eq!(got, want, "{name}: row {row}");
        }
    }
}

fn input(name: &str, elem: u64) -> ValueInfo {
    ValueInfo {
        name: name.into(),
        elem_type: elem,
        dims: vec![None, Some(1)],
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<(&str, Attr)>) -> Node {
    Node {
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: vec![output.into()],
        op: op.into(),
        attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

fn graph(nodes: Vec<Node>) -> Graph {
    Graph {
        nodes,
        initializers: HashMap::from([(
            "shape".to_string(),
            Tensor {
                dims: vec![2],
                data: vec![],
                ints: vec![-1, 3],
            },
        )]),
        inputs: vec![input("x", FLOAT), input("city", STRING)],
        outputs: vec![],
    }
}

fn scaler(input: &str, output: &str, offsets: Vec<f64>) -> Node {
    node(
        "Scaler",
        &[input],
        output,
        vec![
            ("offset", Attr::Floats(offsets)),
            ("scale", Attr::Floats(vec![2.0])),
        ],
    )
}

fn one_hot(zeros: i64) -> Node {
    node(
        "OneHotEncoder",
        &["city"],
        "oh",
        vec![
            ("cats_strings", Attr::Strings(vec!["a".into(), "b".into()])),
            ("zeros", Attr::Int(zeros)),
        ],
    )
}

fn concat(inputs: &[&str], output: &str) -> Node {
    node("Concat", inputs, output, vec![("axis", Attr::Int(1))])
}

fn refusal(g: &Graph, target: &str) -> String {
    trace(g, target).unwrap_err().to_string()
}

#[test]
fn a_hand_built_front_traces() {
    let g = graph(vec![
        scaler("x", "s", vec![1.0]),
        one_hot(1),
        concat(&["s", "oh"], "all"),
        node("Reshape", &["all", "shape"], "model_in", vec![]),
    ]);
    let Traced {
        raw,
        columns: cols,
        affine,
    } = trace(&g, "model_in").unwrap();
    assert_eq!(affine, [Some((2.0, -2.0)), None, None], "(x − 1)·2");
    assert_eq!(raw.names, ["x", "city"]);
    assert_eq!(cols.len(), 3);
    assert_eq!(value(&cols[0], &[4.0, 0.0]), 6.0);
    assert_eq!(value(&cols[2], &[4.0, 1.0]), 1.0);
    assert_eq!(value(&cols[2], &[4.0, 2.0]), 0.0, "unseen: all zeros");
    assert!(!raw.features.refuses_unseen(1));
}

/// scikit-learn's default OneHotEncoder (handle_unknown="error", zeros = 0): the
/// raw feature refuses unseen categories; after a LabelEncoder it is refused.
#[test]
fn a_strict_encoder_marks_its_raw_feature() {
    let traced = trace(&graph(vec![one_hot(0)]), "oh").unwrap();
    assert!(traced.raw.features.refuses_unseen(1));
    let relabel = node(
        "LabelEncoder",
        &["city"],
        "city2",
        vec![
            ("keys_strings", Attr::Strings(vec!["a".into()])),
            ("values_strings", Attr::Strings(vec!["b".into()])),
        ],
    );
    let mut strict = one_hot(0);
    strict.inputs = vec!["city2".into()];
    let err = refusal(&graph(vec![relabel, strict]), "oh");
    assert!(err.contains("handle_unknown"), "{err}");
}

#[test]
fn malformed_or_unsupported_fronts_are_refused_naming_the_problem() {
    // A cycle: s reads t, t reads s.
    let cycle = graph(vec![
        scaler("t", "s", vec![1.0]),
        scaler("s", "t", vec![1.0]),
    ]);
    assert!(refusal(&cycle, "t").contains("a dangling input or a cycle"));
    let dangling = graph(vec![scaler("nowhere", "s", vec![1.0])]);
    assert!(refusal(&dangling, "s").contains("reads 'nowhere'"));
    let missing = graph(vec![node("Scaler", &["x"], "s", vec![])]);
    assert!(refusal(&missing, "s").contains("attribute 'offset' is missing"));
    let lengths = graph(vec![scaler("x", "s", vec![1.0, 2.0, 3.0])]);
    assert!(refusal(&lengths, "s").contains("'offset' has 3 values for 1 columns"));
    let unsupported = graph(vec![node("TfIdfVectorizer", &["city"], "t", vec![])]);
    assert!(refusal(&unsupported, "t").contains("unsupported operator 'TfIdfVectorizer'"));
    let normalizer = graph(vec![node("Normalizer", &["x"], "n", vec![])]);
    assert!(refusal(&normalizer, "n").contains("Normalizer (norm MAX)"));
    let dims = |d: Vec<i64>| vec![("inputdimensions", Attr::Ints(d))];
    let wider = graph(vec![node("FeatureVectorizer", &["x"], "v", dims(vec![2]))]);
    assert!(refusal(&wider, "v").contains("input 0 has 1 columns but inputdimensions says 2"));
    let strings = graph(vec![node(
        "FeatureVectorizer",
        &["city"],
        "v",
        dims(vec![1]),
    )]);
    assert!(refusal(&strings, "v").contains("FeatureVectorizer reads numbers"));
    let numeric_one_hot = graph(vec![
        node(
            "OneHotEncoder",
            &["x"],
            "numbers",
            vec![("cats_int64s", Attr::Ints(vec![1, 2]))],
        ),
        one_hot(1),
        concat(&["numbers", "oh"], "both"),
    ]);
    let err = refusal(&numeric_one_hot, "both");
    assert!(
        err.contains("OneHotEncoder over the numeric input 'x'"),
        "{err}"
    );
    let imputer = graph(vec![node(
        "Imputer",
        &["x"],
        "i",
        vec![
            ("imputed_value_floats", Attr::Floats(vec![0.0])),
            ("replaced_value_float", Attr::Float(-1.0)),
        ],
    )]);
    assert!(refusal(&imputer, "i").contains("only NaN is imputed"));
    let gather = graph(vec![node(
        "ArrayFeatureExtractor",
        &["x", "shape"],
        "g",
        vec![],
    )]);
    assert!(refusal(&gather, "g").contains("index 3 is out of range"));
    // 3000 one-hot columns of 3000 categories would tabulate 9 million values.
    let cats: Vec<String> = (0..3000).map(|i| format!("c{i}")).collect();
    let wide = graph(vec![node(
        "OneHotEncoder",
        &["city"],
        "oh",
        vec![("cats_strings", Attr::Strings(cats))],
    )]);
    assert!(refusal(&wide, "oh").contains("more than 4194304 category values"));
    let unread = graph(vec![scaler("x", "s", vec![1.0])]);
    assert!(refusal(&unread, "s").contains("'city' is read by no OneHotEncoder"));
}
