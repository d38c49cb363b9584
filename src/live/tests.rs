//! Window expiry and sums, driven by an injected clock.

use approx::assert_abs_diff_eq;
use ndarray::{array, Array2};

use super::*;
use crate::core::explain::{Explanation, Method};

fn outcome(rows: &[[f64; 2]], output: usize) -> Outcome {
    Outcome {
        method: Method::LinearShap,
        explanations: rows
            .iter()
            .map(|phi| Explanation::new(output, 0.0, 0.0, phi.to_vec()))
            .collect(),
        interactions: None,
        grouped: false,
        instances: None,
        anchors: None,
    }
}

fn stats() -> LiveStats {
    // Background: feature 0 uniform on 0..100, feature 1 constant.
    let background = Array2::from_shape_fn((100, 2), |(i, j)| if j == 0 { i as f64 } else { 1.0 });
    let config = LiveConfig {
        window_secs: 60,
        bucket_secs: 10,
        bins: 4,
        min_bin_rows: 10,
    };
    LiveStats::new(2, 2, Some(background.view()), None, config)
}

#[test]
fn window_keeps_the_last_buckets_and_the_total_keeps_everything() {
    let live = stats();
    let x = array![[10.0, 1.0]];
    live.record_at(0, x.view(), &outcome(&[[1.0, -2.0]], 0), OutputSpace::Raw);
    live.record_at(
        25_000,
        x.view(),
        &outcome(&[[3.0, 2.0]], 1),
        OutputSpace::Raw,
    );
    let (total, window) = live.snapshot_at(30_000);
    assert_eq!((total.explanations, window.explanations), (2, 2));
    assert_eq!(window.by_output, vec![1, 1]);
    // Σ|φ| = (1 + 3, 2 + 2), Σφ = (4, 0), Σ max(φ, 0) = (4, 2).
    assert_eq!(window.abs_sum, vec![4.0, 4.0]);
    assert_eq!(window.sum, vec![4.0, 0.0]);
    assert_eq!(window.positive_sum, vec![4.0, 2.0]);
    // Six 10 s buckets: at 65 s the bucket of t = 0 (0–10 s) has left the window,
    // the one of t = 25 s has not.
    let (total, window) = live.snapshot_at(65_000);
    assert_eq!((total.explanations, window.explanations), (2, 1));
    assert_eq!(window.abs_sum, vec![3.0, 2.0]);
    // A record at 60 s (bucket 6) reuses the ring slot of t = 0 (bucket 0, 6 mod 6)
    // and clears it first: the window holds t = 25 s and t = 60 s only.
    live.record_at(
        60_000,
        x.view(),
        &outcome(&[[5.0, 0.0]], 0),
        OutputSpace::Raw,
    );
    let (total, window) = live.snapshot_at(60_000);
    assert_eq!((total.explanations, window.explanations), (3, 2));
    assert_eq!(window.abs_sum, vec![8.0, 2.0]);
    assert_eq!(window.rows, 2);
    // A late record for t = 1 s (its slot now holds t = 60 s) counts in the total
    // only, and does not clear the newer bucket.
    live.record_at(
        1_000,
        x.view(),
        &outcome(&[[1.0, 1.0]], 0),
        OutputSpace::Raw,
    );
    let (total, window) = live.snapshot_at(60_000);
    assert_eq!((total.explanations, window.explanations), (4, 2));
    // Much later the window is empty and the total unchanged.
    let (total, window) = live.snapshot_at(1_000_000);
    assert_eq!((total.explanations, window.explanations), (4, 0));
    assert_eq!(total.rows, 4);
}

#[test]
fn probability_space_and_grouped_answers_count_rows_only() {
    let live = stats();
    let x = array![[10.0, 1.0], [20.0, 1.0]];
    live.record_at(
        0,
        x.view(),
        &outcome(&[[1.0, 1.0]; 2], 0),
        OutputSpace::Probability,
    );
    let mut grouped = outcome(&[[1.0, 1.0]; 2], 0);
    grouped.grouped = true;
    live.record_at(0, x.view(), &grouped, OutputSpace::Raw);
    let (total, _) = live.snapshot_at(0);
    assert_eq!(total.explanations, 0);
    assert_eq!(total.rows, 4);
}

#[test]
fn non_finite_attributions_are_skipped() {
    let live = stats();
    let x = array![[10.0, 1.0]];
    live.record_at(
        0,
        x.view(),
        &outcome(&[[f64::NAN, 1.0]], 0),
        OutputSpace::Raw,
    );
    assert_eq!(live.snapshot_at(0).0.explanations, 0);
}

#[test]
fn values_from_elsewhere_raise_the_psi() {
    let live = stats();
    let bins = live.bins().unwrap();
    // Served values like the background: PSI near 0.
    for v in 0..100 {
        let x = array![[v as f64, 1.0]];
        live.record_at(0, x.view(), &outcome(&[], 0), OutputSpace::Raw);
    }
    let (_, window) = live.snapshot_at(0);
    assert_abs_diff_eq!(
        bins[0].psi(&window.bin_counts[0]).unwrap(),
        0.0,
        epsilon = 1e-12
    );
    // Every value above the background's range lands in the top quartile bin, whose
    // expected share is 1/4: PSI = (1 − ¼)·ln 4 + 3·(ε − ¼)·ln(4ε).
    let later = 100_000;
    for _ in 0..50 {
        let x = array![[500.0, 1.0]];
        live.record_at(later, x.view(), &outcome(&[], 0), OutputSpace::Raw);
    }
    let (_, window) = live.snapshot_at(later);
    let eps = crate::core::global::drift::PSI_EPSILON;
    let hand = 0.75 * 4f64.ln() + 3.0 * (eps - 0.25) * (4.0 * eps).ln();
    assert_abs_diff_eq!(
        bins[0].psi(&window.bin_counts[0]).unwrap(),
        hand,
        epsilon = 1e-9
    );
    // The constant feature did not move.
    assert_abs_diff_eq!(
        bins[1].psi(&window.bin_counts[1]).unwrap(),
        0.0,
        epsilon = 1e-12
    );
}

#[test]
fn bad_settings_are_refused() {
    for (window_secs, bucket_secs, bins) in
        [(60, 0, 10), (5, 10, 10), (100_000, 1, 10), (60, 10, 0)]
    {
        let c = LiveConfig {
            window_secs,
            bucket_secs,
            bins,
            min_bin_rows: 10,
        };
        assert!(c.validate().is_err(), "{c:?}");
    }
    assert!(LiveConfig::default().validate().is_ok());
}
