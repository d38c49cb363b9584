use super::*;
use crate::core::models::LinearModel;
use ndarray::array;

#[test]
fn out_of_range_budgets_are_refused() {
    let model = LinearModel::regression(array![[1.0]], array![0.0]).unwrap();
    for n in [0, MAX_SAMPLES + 1] {
        let params = SamplingParams {
            n_samples: Some(n),
            ..SamplingParams::default()
        };
        assert!(matches!(
            params.check(&model),
            Err(CoreError::InvalidArgument(_))
        ));
    }
    let params = SamplingParams {
        output_space: OutputSpace::Probability,
        ..SamplingParams::default()
    };
    assert!(params.check(&model).is_err());
}

#[test]
fn the_background_sample_is_seeded_and_capped() {
    let model = LinearModel::regression(array![[1.0]], array![0.0]).unwrap();
    let data = Array2::from_shape_fn((500, 1), |(i, _)| i as f64);
    let reference = Reference::new(&model, data);
    let a = background(&reference, 50, 7);
    assert_eq!(a.nrows(), 50);
    assert_eq!(a, background(&reference, 50, 7));
    assert_ne!(a, background(&reference, 50, 8));
}
