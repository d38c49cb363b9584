//! The surrogate's normal equations solved in place: a Cholesky factorisation whose
//! inner products run over contiguous rows, four rows of the factor at a time,
//! compiled a second time for x86-64-v3.

/// Solve `A x = b` for the symmetric positive definite `a` (`n × n`, row-major,
/// overwritten by its Cholesky factor `L` below the diagonal), `b` overwritten by
/// `x`; `false` when a pivot is below 1e-12 of the largest diagonal entry. The
/// linalg module's factorisation indexes element by element; here every inner
/// product runs over two contiguous rows, which is most of the surrogate's cost
/// (one factorisation of up to 233 unknowns per fold). Compiled a second time for
/// x86-64-v3 ([`crate::core::explain::cpu`]), the same operations in the same
/// order: the same numbers, in wider vectors.
pub(super) fn solve_in_place(a: &mut [f64], n: usize, b: &mut [f64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if crate::core::explain::cpu::has_v3() {
        // SAFETY: `has_v3` found the features `solve_in_place_v3` is compiled with.
        return unsafe { solve_in_place_v3(a, n, b) };
    }
    cholesky_solve(a, n, b, dot4)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,popcnt,lzcnt")]
unsafe fn solve_in_place_v3(a: &mut [f64], n: usize, b: &mut [f64]) -> bool {
    // SAFETY: this function runs only with AVX2 present.
    cholesky_solve(a, n, b, |xs, y| unsafe { dot4_avx2(xs, y) })
}

/// [`dot4`] in AVX2 vectors: lanes 0–3 and 4–7 of each row's accumulators are two
/// vectors, multiplied and added (not fused) as [`dot4`] does, the last block's
/// missing terms loaded as zeros, and summed pairwise in the same order: the same
/// numbers.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot4_avx2(xs: [&[f64]; 4], y: &[f64]) -> [f64; 4] {
    use std::arch::x86_64::*;
    let n = y.len();
    let mut lo = [_mm256_setzero_pd(); 4];
    let mut hi = [_mm256_setzero_pd(); 4];
    let body = n - n % 8;
    for at in (0..body).step_by(8) {
        let y = y.as_ptr().add(at);
        let (y0, y1) = (_mm256_loadu_pd(y), _mm256_loadu_pd(y.add(4)));
        for r in 0..4 {
            let x = xs[r].as_ptr().add(at);
            lo[r] = _mm256_add_pd(lo[r], _mm256_mul_pd(_mm256_loadu_pd(x), y0));
            hi[r] = _mm256_add_pd(hi[r], _mm256_mul_pd(_mm256_loadu_pd(x.add(4)), y1));
        }
    }
    if body < n {
        // Lane k of the last block is loaded when `body + k < n`.
        let left = _mm256_set1_epi64x((n - body) as i64);
        let m0 = _mm256_cmpgt_epi64(left, _mm256_set_epi64x(3, 2, 1, 0));
        let m1 = _mm256_cmpgt_epi64(left, _mm256_set_epi64x(7, 6, 5, 4));
        let y = y.as_ptr().add(body);
        let (y0, y1) = (_mm256_maskload_pd(y, m0), _mm256_maskload_pd(y.add(4), m1));
        for r in 0..4 {
            let x = xs[r].as_ptr().add(body);
            lo[r] = _mm256_add_pd(lo[r], _mm256_mul_pd(_mm256_maskload_pd(x, m0), y0));
            hi[r] = _mm256_add_pd(hi[r], _mm256_mul_pd(_mm256_maskload_pd(x.add(4), m1), y1));
        }
    }
    let mut out = [0.0; 4];
    for r in 0..4 {
        // [a0 + a4, a1 + a5, a2 + a6, a3 + a7], then (h0 + h2, h1 + h3), then
        // their sum.
        let half = _mm256_add_pd(lo[r], hi[r]);
        let quarter = _mm_add_pd(_mm256_castpd256_pd128(half), _mm256_extractf128_pd(half, 1));
        out[r] = _mm_cvtsd_f64(_mm_add_sd(quarter, _mm_unpackhi_pd(quarter, quarter)));
    }
    out
}

/// [`solve_in_place`]'s body, inlined into each copy. The factor's entries below
/// row `j` are computed four rows at a time against row `j` (each the same sum as
/// [`dot`]), and the back substitution runs along rows of the factor, so that every
/// inner loop reads contiguous memory.
#[inline(always)]
fn cholesky_solve(
    a: &mut [f64],
    n: usize,
    b: &mut [f64],
    dot4: impl Fn([&[f64]; 4], &[f64]) -> [f64; 4],
) -> bool {
    let dot = |x: &[f64], y: &[f64]| dot4([x, x, x, x], y)[0];
    let scale = (0..n).fold(0.0_f64, |m, i| m.max(a[i * n + i].abs()));
    for j in 0..n {
        let row_j = &mut a[j * n..(j + 1) * n];
        let d = row_j[j] - dot(&row_j[..j], &row_j[..j]);
        if d.is_nan() || d <= 1e-12 * scale {
            return false;
        }
        row_j[j] = d.sqrt();
        let (upper, lower) = a.split_at_mut((j + 1) * n);
        let row_j = &upper[j * n..j * n + j + 1];
        // One division per column: the rows below multiply by its reciprocal.
        let (inverse, row_j) = (1.0 / row_j[j], &row_j[..j]);
        let mut rows = lower.chunks_exact_mut(4 * n);
        for four in &mut rows {
            let (r0, rest) = four.split_at_mut(n);
            let (r1, rest) = rest.split_at_mut(n);
            let (r2, r3) = rest.split_at_mut(n);
            let sums = dot4([&r0[..j], &r1[..j], &r2[..j], &r3[..j]], row_j);
            for (row, sum) in [r0, r1, r2, r3].into_iter().zip(sums) {
                row[j] = (row[j] - sum) * inverse;
            }
        }
        for row_i in rows.into_remainder().chunks_exact_mut(n) {
            row_i[j] = (row_i[j] - dot(&row_i[..j], row_j)) * inverse;
        }
    }
    for i in 0..n {
        b[i] = (b[i] - dot(&a[i * n..i * n + i], &b[..i])) / a[i * n + i];
    }
    // Lᵀ x = y, a column of Lᵀ (a row of L) at a time.
    for k in (0..n).rev() {
        let row = &a[k * n..k * n + k + 1];
        b[k] /= row[k];
        let x = b[k];
        for (b, &l) in b[..k].iter_mut().zip(&row[..k]) {
            *b -= l * x;
        }
    }
    true
}

/// `x · y` as [`dot4`] sums it.
pub(super) fn dot(x: &[f64], y: &[f64]) -> f64 {
    dot4([x, x, x, x], y)[0]
}

/// `xs[r] · y` for four vectors of one length, each summed as eight accumulators
/// (lane `k` takes the terms `k mod 8`, the last block's as far as they go) then
/// pairwise: `y` read once for all four.
#[inline(always)]
fn dot4(xs: [&[f64]; 4], y: &[f64]) -> [f64; 4] {
    let n = y.len();
    let mut acc = [[0.0; 8]; 4];
    for at in (0..n).step_by(8) {
        let y = &y[at..n.min(at + 8)];
        for (acc, x) in acc.iter_mut().zip(&xs) {
            for (k, (x, y)) in x[at..at + y.len()].iter().zip(y).enumerate() {
                acc[k] += x * y;
            }
        }
    }
    acc.map(|acc| {
        let half = [
            acc[0] + acc[4],
            acc[1] + acc[5],
            acc[2] + acc[6],
            acc[3] + acc[7],
        ];
        (half[0] + half[2]) + (half[1] + half[3])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric positive definite `n × n` matrix (row-major) and a right-hand
    /// side, from a fixed pseudo-random sequence.
    fn system(n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ n as u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let m: Vec<f64> = (0..n * n).map(|_| next()).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum::<f64>();
            }
            a[i * n + i] += 0.5;
        }
        (a, (0..n).map(|_| next()).collect())
    }

    #[test]
    fn solves_and_every_copy_gives_the_same_numbers() {
        // Sizes below, at and past one block of eight, and the benchmark's 133.
        for n in [1, 2, 5, 7, 8, 9, 15, 16, 17, 31, 133] {
            let (a, b) = system(n);
            let (mut factor, mut x) = (a.clone(), b.clone());
            assert!(solve_in_place(&mut factor, n, &mut x));
            for i in 0..n {
                let ax: f64 = (0..n).map(|j| a[i * n + j] * x[j]).sum();
                assert!(
                    (ax - b[i]).abs() < 1e-9,
                    "n = {n}, row {i}: {ax} vs {}",
                    b[i]
                );
            }
            let (mut plain, mut y) = (a.clone(), b.clone());
            assert!(cholesky_solve(&mut plain, n, &mut y, dot4));
            assert_eq!(x, y, "n = {n}");
            assert_eq!(factor, plain, "n = {n}");
        }
    }

    #[test]
    fn a_singular_matrix_is_refused() {
        // Rows 0 and 1 equal: the second pivot is 0.
        let mut a = vec![1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        assert!(!solve_in_place(&mut a, 3, &mut [1.0, 1.0, 1.0]));
    }

    #[test]
    fn dot_sums_every_term() {
        for n in 0..20 {
            let x: Vec<f64> = (0..n).map(|i| i as f64 + 1.0).collect();
            let y: Vec<f64> = (0..n).map(|i| 1.0 / (i as f64 + 1.0)).collect();
            assert_eq!(dot(&x, &y), n as f64);
        }
    }
}
