use super::Norm;

/// Rows through each norm, against what onnxruntime's Normalizer returned for them
/// (float32; onnxruntime 1.x on CPU): a zero row stays zero, MAX divides by the
/// signed maximum (a row of negatives flips sign), L1 and L2 by Σ|x| and √Σx².
#[test]
fn norms_divide_rows_as_onnxruntime() {
    let rows = [
        [0.0, 0.0, 0.0],
        [0.0, -1.0, -2.0],
        [-3.0, -1.0, -2.0],
        [1.0, -5.0, 2.0],
        [3.0, 4.0, 0.0],
    ];
    let want: [(Norm, [[f64; 3]; 5]); 3] = [
        (
            Norm::Max,
            [
                [0.0, 0.0, 0.0],
                [0.0, -1.0, -2.0],
                [3.0, 1.0, 2.0],
                [0.5, -2.5, 1.0],
                [0.75, 1.0, 0.0],
            ],
        ),
        (
            Norm::L1,
            [
                [0.0, 0.0, 0.0],
                [0.0, -0.333_333_343_267_440_8, -0.666_666_686_534_881_6],
                [-0.5, -0.166_666_671_633_720_4, -0.333_333_343_267_440_8],
                [0.125, -0.625, 0.25],
                [0.428_571_432_828_903_2, 0.571_428_596_973_419_2, 0.0],
            ],
        ),
        (
            Norm::L2,
            [
                [0.0, 0.0, 0.0],
                [0.0, -0.447_213_590_145_111_1, -0.894_427_180_290_222_2],
                [
                    -0.801_783_740_520_477_3,
                    -0.267_261_236_906_051_64,
                    -0.534_522_473_812_103_3,
                ],
                [
                    0.182_574_197_649_955_75,
                    -0.912_870_943_546_295_2,
                    0.365_148_395_299_911_5,
                ],
                [0.600_000_023_841_857_9, 0.800_000_011_920_929, 0.0],
            ],
        ),
    ];
    for (norm, expected) in want {
        for (row, expected) in rows.iter().zip(expected) {
            let mut got = row.to_vec();
            norm.apply(&mut got);
            for (g, w) in got.iter().zip(expected) {
                // Both are float32 values: equal to float32 rounding.
                assert!(
                    (g - w).abs() <= 1e-7,
                    "{norm:?} {row:?}: {got:?} vs {expected:?}"
                );
            }
        }
    }
}
