//! Every sampling explainer stops with [`CoreError::Cancelled`] once its token is
//! tripped, before or during the call.

use std::time::{Duration, Instant};

use ndarray::Array2;

use super::sampling::{SamplingParams, MAX_SAMPLES};
use super::tests_support::Mixed;
use super::{explain_agnostic, Method};
use crate::core::stats::Reference;
use crate::core::{Cancel, CoreError};

fn data(rows: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * 7 + j * 3) % 11) as f64 / 2.0 - 2.5
    })
}

#[test]
fn a_token_tripped_during_a_long_call_stops_it_promptly() {
    // 24 players (too many to enumerate), 100 background rows, 2^18 coalitions per
    // row for 4 rows: minutes of work in a debug build. Tripped from another thread
    // after 50 ms, the call must give up within seconds (in practice, one batch).
    let model = Mixed { n_features: 24 };
    let reference = Reference::new(&model, data(100, 24));
    let cancel = Cancel::new();
    let options = SamplingParams {
        n_samples: Some(MAX_SAMPLES / 4),
        ..SamplingParams::default()
    }
    .check(&model)
    .unwrap()
    .with_cancel(cancel.child());
    let tripper = cancel.clone();
    let trip = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        tripper.cancel();
    });
    let start = Instant::now();
    let x = data(4, 24);
    let method = Method::KernelShap;
    let err = explain_agnostic(method, &model, &reference, x.view(), &[0; 4], &options);
    trip.join().unwrap();
    assert_eq!(err.unwrap_err(), CoreError::Cancelled);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_tripped_token_stops_every_sampling_explainer() {
    let model = Mixed { n_features: 6 };
    let reference = Reference::new(&model, data(30, 6));
    let cancel = Cancel::new();
    cancel.cancel();
    let options = SamplingParams::default()
        .check(&model)
        .unwrap()
        .with_cancel(cancel);
    let x = data(2, 6);
    for method in [
        Method::ExactShapley,
        Method::KernelShap,
        Method::PermutationShap,
        Method::Lime,
    ] {
        let got = explain_agnostic(method, &model, &reference, x.view(), &[0, 0], &options);
        assert_eq!(got.unwrap_err(), CoreError::Cancelled, "{method}");
        let free = options.clone().with_cancel(Cancel::never());
        assert!(explain_agnostic(method, &model, &reference, x.view(), &[0, 0], &free).is_ok());
    }
}
