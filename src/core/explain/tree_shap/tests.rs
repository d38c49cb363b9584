//! Unit tests of the parent module.

use super::*;
use crate::core::explain::tests_support::random_ensemble;

#[test]
fn the_v3_copy_gives_the_same_bits() {
    // 120 trees of depth 8 over 6 features: pairs, singles, repeated features,
    // trees past 64 splits, and three tree chunks for a one-row request.
    let model = random_ensemble(7, 120, 8, 6);
    let x = ndarray::Array2::from_shape_fn((40, 6), |(r, j)| {
        if (r + j) % 7 == 0 {
            f64::NAN
        } else {
            ((r * 31 + j * 17) % 23) as f64 / 23.0 - 0.5
        }
    });
    let outputs = vec![0; x.nrows()];
    let pr = Prepared::new(&model, x.view(), &outputs).unwrap();
    let block = Block {
        pr: &pr,
        model: &model,
        x: x.view(),
        outputs: &outputs,
        tables: &Oblivious::default(),
    };
    let all = 0..model.compiled().trees();
    let base = explain_block(&block, 0..x.nrows(), all.clone());
    #[cfg(target_arch = "x86_64")]
    if has_v3() {
        // SAFETY: the features were detected just now.
        let v3 = unsafe { explain_block_v3(&block, 0..x.nrows(), all) };
        for ((pa, a), (pb, b)) in base.iter().zip(&v3) {
            assert_eq!(pa.to_bits(), pb.to_bits());
            assert!(a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
    // The baseline copy adds up, and splitting a row over tree chunks (as
    // `explain` does for small requests) changes nothing but rounding.
    let expected = model.expected()[0];
    for (r, (p, phi)) in base.iter().enumerate() {
        assert!((expected + phi.iter().sum::<f64>() - p).abs() < 1e-12);
        let one = explain(&model, x.slice(ndarray::s![r..r + 1, ..]), &[0]).unwrap();
        assert!((one[0].prediction - p).abs() < 1e-12);
        for (a, b) in one[0].attributions.iter().zip(phi) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
