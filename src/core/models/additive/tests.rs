use approx::assert_abs_diff_eq;
use ndarray::array;

use super::*;

/// Raw features `x` (numeric) and `c` (categories a, b; code 2 unseen).
fn raw() -> RawInputs {
    RawInputs {
        names: vec!["x".into(), "c".into()],
        features: RawFeatures::new(vec![
            RawKind::Numeric,
            RawKind::Categorical {
                categories: vec!["a".into(), "b".into()],
            },
        ])
        .unwrap(),
    }
}

/// Columns: x imputed (NaN → 2) then scaled by 3; the one-hot columns of c (the
/// unseen code and missing all zeros).
fn columns(impute: bool) -> Vec<Derived> {
    let x = move |v: f64| if v.is_nan() && impute { 6.0 } else { 3.0 * v };
    let one_hot = |k: usize| ValueMap::Table {
        codes: (0..3).map(|c| f64::from(u8::from(c == k))).collect(),
        missing: 0.0,
    };
    vec![
        Derived {
            raw: 0,
            map: ValueMap::Monotone(Box::new(x)),
        },
        Derived {
            raw: 1,
            map: one_hot(0),
        },
        Derived {
            raw: 1,
            map: one_hot(1),
        },
    ]
}

fn model(impute: bool) -> AdditiveModel {
    // f = 1 + 2·col_x + 5·[c = a] − 4·[c = b]
    AdditiveModel::new(
        columns(impute),
        raw(),
        array![[2.0, 5.0, -4.0]],
        array![1.0],
        Link::Identity,
    )
    .unwrap()
}

#[test]
fn predictions_add_the_terms_of_each_raw_feature() {
    let m = model(true);
    let x = array![
        [1.0, 0.0],
        [1.0, 1.0],
        [1.0, 2.0],
        [f64::NAN, f64::NAN],
        [0.5, 7.0]
    ];
    let got = m.predict_raw(x.view());
    // 1 + 6 + 5; 1 + 6 − 4; unseen: 1 + 6; missing: 1 + 2·6; a code beyond the list is unseen.
    for (g, w) in got.column(0).iter().zip([12.0, 3.0, 7.0, 13.0, 4.0]) {
        assert_abs_diff_eq!(*g, w, epsilon = 1e-12);
    }
    assert_eq!(m.terms(x.row(1)), array![[6.0, -4.0]]);
    assert!(m.accepts_missing(0) && m.accepts_missing(1));
    assert!(
        !model(false).accepts_missing(0),
        "an unimputed NaN has no answer"
    );
    assert!(
        model(false).accepts_missing(1),
        "a category's encoder has an answer for a missing one"
    );
    assert_eq!(m.feature_names(), ["x", "c"]);
}

#[test]
fn mismatched_shapes_are_refused() {
    let short = AdditiveModel::new(
        columns(true),
        raw(),
        array![[2.0, 5.0]],
        array![1.0],
        Link::Identity,
    );
    assert!(matches!(short, Err(CoreError::InvalidModel(_))));
    let intercepts = AdditiveModel::new(
        columns(true),
        raw(),
        array![[2.0, 5.0, 1.0]],
        array![1.0, 2.0],
        Link::Identity,
    );
    assert!(matches!(intercepts, Err(CoreError::InvalidModel(_))));
}

#[test]
fn linear_shap_gives_centred_terms_that_add_up() {
    use crate::core::explain::linear_shap;
    use crate::core::models::OutputSpace;
    use crate::core::stats::Reference;
    let m = model(true);
    let reference = Reference::new(&m, array![[0.0, 0.0], [2.0, 1.0]]);
    let e = linear_shap::explain_additive(
        &m,
        &reference,
        array![[1.0, 2.0]].view(),
        &[0],
        OutputSpace::Raw,
    )
    .unwrap();
    // Terms at x: (6, 0); background means: x (0 + 12)/2 = 6, c (5 − 4)/2 = 0.5.
    assert_abs_diff_eq!(e[0].attributions[0], 0.0, epsilon = 1e-12);
    assert_abs_diff_eq!(e[0].attributions[1], -0.5, epsilon = 1e-12);
    assert_abs_diff_eq!(e[0].base_value, 7.5, epsilon = 1e-12);
    assert_abs_diff_eq!(e[0].quality.additivity_residual, 0.0, epsilon = 1e-12);
}
