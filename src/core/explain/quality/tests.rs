//! Unit tests of the parent module.

use super::*;
use crate::core::models::LinearModel;
use approx::assert_abs_diff_eq;
use ndarray::array;

#[test]
fn curves_of_a_linear_model_by_hand() {
    // f = 3 x0 + x1, background (0, 0), x = (1, 1): φ = (3, 1).
    // Deletion: 4 → 1 → 0, area (2.5 + 0.5) / 2 = 1.5.
    // Insertion: 0 → 3 → 4, area (1.5 + 3.5) / 2 = 2.5.
    let model = LinearModel::regression(array![[3.0, 1.0]], array![0.0]).unwrap();
    let bg = array![[0.0, 0.0]];
    let x = array![1.0, 1.0];
    let groups = FeatureGroups::singletons(2);
    let subject = Subject {
        model: &model,
        background: bg.view(),
        x: x.view(),
        output: 0,
        space: OutputSpace::Raw,
        groups: &groups,
    };
    let c = deletion_insertion(&subject, &[3.0, 1.0]).unwrap();
    assert_eq!(c.deletion.values, vec![4.0, 1.0, 0.0]);
    assert_eq!(c.insertion.values, vec![0.0, 3.0, 4.0]);
    assert_abs_diff_eq!(c.deletion.area, 1.5, epsilon = 1e-12);
    assert_abs_diff_eq!(c.insertion.area, 2.5, epsilon = 1e-12);
    // The reversed attribution is worse on both.
    let bad = deletion_insertion(&subject, &[1.0, 3.0]).unwrap();
    assert!(bad.deletion.area > c.deletion.area && bad.insertion.area < c.insertion.area);
}

#[test]
fn exact_attributions_of_a_linear_model_are_perfectly_faithful() {
    // For an additive game the drop of removing S is exactly Σ_S φ: correlation 1.
    let model = LinearModel::regression(array![[3.0, 1.0, -2.0, 0.5, 4.0]], array![0.0]).unwrap();
    let bg = array![[0.0, 1.0, 2.0, 0.0, 1.0], [1.0, 0.0, 0.0, 2.0, 1.0]];
    let x = array![2.0, 2.0, -1.0, 1.0, 0.0];
    let groups = FeatureGroups::singletons(5);
    let subject = Subject {
        model: &model,
        background: bg.view(),
        x: x.view(),
        output: 0,
        space: OutputSpace::Raw,
        groups: &groups,
    };
    let mean = [0.5, 0.5, 1.0, 1.0, 1.0];
    let phi: Vec<f64> = [3.0, 1.0, -2.0, 0.5, 4.0]
        .iter()
        .enumerate()
        .map(|(j, w)| w * (x[j] - mean[j]))
        .collect();
    let params = FaithfulnessParams {
        subset_size: 2,
        runs: 20,
        seed: 1,
    };
    let r = faithfulness_correlation(&subject, &phi, &params)
        .unwrap()
        .unwrap();
    assert_abs_diff_eq!(r, 1.0, epsilon = 1e-9);
    let bad = FaithfulnessParams {
        subset_size: 5,
        ..params
    };
    assert!(faithfulness_correlation(&subject, &phi, &bad).is_err());
}

#[test]
fn max_sensitivity_of_a_linear_explainer() {
    // φ(x) = w ∘ x moves by at most radius·s·|w| per feature: with w = (1, 0),
    // x = (1, 0) and s = (1, 1), the relative change is at most 0.1.
    let explainer = |x: ArrayView1<f64>| Ok(vec![x[0], 0.0 * x[1]]);
    let params = SensitivityParams {
        radius: 0.1,
        samples: 50,
        seed: 2,
    };
    let s = max_sensitivity(
        array![1.0, 0.0].view(),
        array![1.0, 1.0].view(),
        &params,
        &explainer,
    )
    .unwrap();
    assert!(s > 0.05 && s <= 0.1, "{s}");
}

#[test]
fn kernel_shap_scores_well_on_a_nonlinear_model() {
    // On f = x0 x1 + x2² + …, KernelSHAP's own order must beat the reversed one
    // on both curves, and small input moves must move its attributions little.
    use crate::core::explain::sampling::{background, SamplingParams};
    use crate::core::explain::tests_support::Mixed;
    use crate::core::explain::{explain_agnostic, row_explainer, Method};
    use crate::core::stats::Reference;
    use ndarray::Array2;
    let model = Mixed { n_features: 6 };
    let data = Array2::from_shape_fn((40, 6), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 2.0 - 2.5);
    let reference = Reference::new(&model, data);
    let options = SamplingParams {
        n_samples: Some(200),
        ..SamplingParams::default()
    }
    .check(&model)
    .unwrap();
    let x = array![[2.0, 2.0, -2.0, 1.0, -1.0, 2.0]];
    let e = explain_agnostic(
        Method::KernelShap,
        &model,
        &reference,
        x.view(),
        &[0],
        &options,
    )
    .unwrap();
    let phi = &e[0].attributions;
    let bg = background(&reference, 100, 0);
    let subject = Subject {
        model: &model,
        background: bg.view(),
        x: x.row(0),
        output: 0,
        space: OutputSpace::Raw,
        groups: options.groups(),
    };
    let good = deletion_insertion(&subject, phi).unwrap();
    let reversed: Vec<f64> = phi.iter().map(|v| -v).collect();
    let bad = deletion_insertion(&subject, &reversed).unwrap();
    assert!(good.deletion.area < bad.deletion.area);
    assert!(good.insertion.area > bad.insertion.area);
    let explainer = row_explainer(Method::KernelShap, &model, &reference, &options, 0);
    let params = SensitivityParams {
        radius: 0.01,
        samples: 5,
        seed: 0,
    };
    let s = max_sensitivity(x.row(0), reference.stats.std.view(), &params, &explainer).unwrap();
    assert!(s > 0.0 && s < 0.1, "{s}");
}
