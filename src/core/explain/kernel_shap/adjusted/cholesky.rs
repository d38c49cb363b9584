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
/// vectors, multiplied and added (not fused) as [`dot4`] does, so the same numbers.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot4_avx2(xs: [&[f64]; 4], y: &[f64]) -> [f64; 4] {
    use std::arch::x86_64::*;
    let n = y.len();
    let body = n - n % 8;
    let mut lo = [_mm256_setzero_pd(); 4];
    let mut hi = [_mm256_setzero_pd(); 4];
    for at in (0..body).step_by(8) {
        let (y0, y1) = (
            _mm256_loadu_pd(y.as_ptr().add(at)),
            _mm256_loadu_pd(y.as_ptr().add(at + 4)),
        );
        for r in 0..4 {
            let x = xs[r].as_ptr().add(at);
            lo[r] = _mm256_add_pd(lo[r], _mm256_mul_pd(_mm256_loadu_pd(x), y0));
            hi[r] = _mm256_add_pd(hi[r], _mm256_mul_pd(_mm256_loadu_pd(x.add(4)), y1));
        }
    }
    let mut out = [0.0; 4];
    for r in 0..4 {
        let mut acc = [0.0; 8];
        _mm256_storeu_pd(acc.as_mut_ptr(), lo[r]);
        _mm256_storeu_pd(acc.as_mut_ptr().add(4), hi[r]);
        out[r] = finish(&acc, xs[r], y, body);
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
        let (pivot, row_j) = (row_j[j], &row_j[..j]);
        let mut rows = lower.chunks_exact_mut(4 * n);
        for four in &mut rows {
            let (r0, rest) = four.split_at_mut(n);
            let (r1, rest) = rest.split_at_mut(n);
            let (r2, r3) = rest.split_at_mut(n);
            let sums = dot4([&r0[..j], &r1[..j], &r2[..j], &r3[..j]], row_j);
            for (row, sum) in [r0, r1, r2, r3].into_iter().zip(sums) {
                row[j] = (row[j] - sum) / pivot;
            }
        }
        for row_i in rows.into_remainder().chunks_exact_mut(n) {
            row_i[j] = (row_i[j] - dot(&row_i[..j], row_j)) / pivot;
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
/// (lane `k` takes the terms `k mod 8`) then pairwise: `y` read once for all four.
#[inline(always)]
fn dot4(xs: [&[f64]; 4], y: &[f64]) -> [f64; 4] {
    let n = y.len();
    let body = n - n % 8;
    let mut acc = [[0.0; 8]; 4];
    for at in (0..body).step_by(8) {
        let y = &y[at..at + 8];
        for (acc, x) in acc.iter_mut().zip(&xs) {
            let x = &x[at..at + 8];
            for k in 0..8 {
                acc[k] += x[k] * y[k];
            }
        }
    }
    let mut out = [0.0; 4];
    for ((out, acc), x) in out.iter_mut().zip(&acc).zip(&xs) {
        *out = finish(acc, x, y, body);
    }
    out
}

/// A dot product's eight accumulators summed pairwise, plus the terms from `body`
/// on.
#[inline(always)]
fn finish(acc: &[f64; 8], x: &[f64], y: &[f64], body: usize) -> f64 {
    let tail: f64 = (x[body..y.len()].iter().zip(&y[body..]))
        .map(|(a, b)| a * b)
        .sum();
    let half = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (half[0] + half[2]) + (half[1] + half[3]) + tail
}
