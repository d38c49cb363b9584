//! The innermost loops of the link tables:
//! `values[c_B·|A| + c_A] += w / (base + e[c_A]·f[c_B])`.
//!
//! A division per element is what bounds the loop (about 2 cycles per `f64` on
//! current x86 cores, whatever the vector width). Where the CPU has AVX-512F
//! (checked at run time, once per call) the reciprocal is instead its 14-bit
//! estimate (`vrcp14pd`) refined by two Newton steps, `r ← r + r(1 − y r)`, which
//! square the relative error each time (2⁻¹⁴ → 2⁻²⁸ → 2⁻⁵⁶): the division's
//! value to within a few units in the last place, at about half its time.
//! Elsewhere the loop divides. The denominators are at least 1 (`base ≥ 1`,
//! `e·f ≥ 0`); they are capped at [`CAP`] so that an overflow to ∞ gives 0, as the
//! division would.

/// The largest denominator used: `w / CAP` is 0 for every weight in `[0, 1]`
/// to within 1e-300.
const CAP: f64 = 1e300;

/// The denominators' first part.
#[derive(Clone, Copy)]
pub(super) enum Base<'a> {
    /// The same for every `c_B`: one entry per `c_A`.
    Row(&'a [f64]),
    /// One entry per coalition, laid out as `values`.
    Table(&'a [f64]),
}

impl<'a> Base<'a> {
    /// The entries for `c_B`'s run of `n`.
    fn run(self, c_b: usize, n: usize) -> &'a [f64] {
        match self {
            Base::Row(row) => row,
            Base::Table(table) => &table[c_b * n..][..n],
        }
    }
}

/// `values[c_B·n + c_A] += w / (base + e[c_A] · f[c_B])` for every pair, with
/// `n = e.len()` and `values.len() = n · f.len()`.
pub(super) fn accumulate(values: &mut [f64], base: Base, e: &[f64], f: &[f64], w: f64) {
    let n = e.len();
    assert_eq!(values.len(), n * f.len(), "one value per pair");
    assert!(match base {
        Base::Row(row) => row.len() == n,
        Base::Table(table) => table.len() == values.len(),
    });
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        for (c_b, (out, &f)) in values.chunks_exact_mut(n).zip(f).enumerate() {
            // SAFETY: the CPU has AVX-512F (checked above); the three runs have length n.
            unsafe { x86::run_avx512(out, base.run(c_b, n), e, f, w) };
        }
        return;
    }
    for (c_b, (out, &f)) in values.chunks_exact_mut(n).zip(f).enumerate() {
        run_portable(out, base.run(c_b, n), e, f, w);
    }
}

/// One run of [`accumulate`] by division, for every CPU.
fn run_portable(out: &mut [f64], base: &[f64], e: &[f64], f: f64, w: f64) {
    for ((o, &b), &e) in out.iter_mut().zip(base).zip(e) {
        *o += w / (b + e * f).min(CAP);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        _mm512_fmadd_pd, _mm512_fnmadd_pd, _mm512_loadu_pd, _mm512_min_pd, _mm512_rcp14_pd,
        _mm512_set1_pd, _mm512_storeu_pd,
    };

    /// One run of [`super::accumulate`], eight lanes at a time with AVX-512F
    /// (module doc); a tail of fewer than eight by division.
    ///
    /// # Safety
    /// The CPU must have AVX-512F, and the three slices one length.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run_avx512(out: &mut [f64], base: &[f64], e: &[f64], f: f64, w: f64) {
        let n = out.len();
        let whole = n - n % 8;
        let (f8, w8) = (_mm512_set1_pd(f), _mm512_set1_pd(w));
        let (one, cap) = (_mm512_set1_pd(1.0), _mm512_set1_pd(super::CAP));
        let mut i = 0;
        while i < whole {
            // SAFETY: i + 8 ≤ n for all three slices (one length, the caller's promise).
            unsafe {
                let y = _mm512_fmadd_pd(
                    _mm512_loadu_pd(e.as_ptr().add(i)),
                    f8,
                    _mm512_loadu_pd(base.as_ptr().add(i)),
                );
                let y = _mm512_min_pd(y, cap);
                let mut r = _mm512_rcp14_pd(y);
                let err = _mm512_fnmadd_pd(y, r, one);
                r = _mm512_fmadd_pd(r, err, r);
                let err = _mm512_fnmadd_pd(y, r, one);
                r = _mm512_fmadd_pd(r, err, r);
                let sum = _mm512_fmadd_pd(w8, r, _mm512_loadu_pd(out.as_ptr().add(i)));
                _mm512_storeu_pd(out.as_mut_ptr().add(i), sum);
            }
            i += 8;
        }
        super::run_portable(&mut out[whole..], &base[whole..], &e[whole..], f, w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_routes_equal_the_division_to_the_last_bits() {
        // Denominators from 1 to beyond the cap, runs of odd lengths for the tails,
        // a row base and a table base.
        for n in [1usize, 7, 8, 9, 64, 67] {
            let f = [0.731, 1e-3, 2.5];
            let base: Vec<f64> = (0..n * f.len())
                .map(|i| 1.0 + (i % 3) as f64 * 0.25)
                .collect();
            let e: Vec<f64> = (0..n)
                .map(|i| match i {
                    5 => f64::INFINITY,
                    _ => (i as f64 * 11.3 - 300.0).exp(),
                })
                .collect();
            for table in [false, true] {
                let b = |c_b: usize, c_a: usize| base[if table { c_b * n + c_a } else { c_a }];
                let want: Vec<f64> = (0..n * f.len())
                    .map(|i| 0.5 + 0.01 / (b(i / n, i % n) + e[i % n] * f[i / n]).min(CAP))
                    .collect();
                let base = if table {
                    Base::Table(&base)
                } else {
                    Base::Row(&base[..n])
                };
                let mut got = vec![0.5; n * f.len()];
                accumulate(&mut got, base, &e, &f, 0.01);
                let mut portable = vec![0.5; n * f.len()];
                for (c_b, out) in portable.chunks_exact_mut(n).enumerate() {
                    run_portable(out, base.run(c_b, n), &e, f[c_b], 0.01);
                }
                for i in 0..want.len() {
                    assert!(
                        (got[i] - want[i]).abs() <= 4.0 * f64::EPSILON * want[i],
                        "{i}"
                    );
                    assert_eq!(portable[i], want[i]);
                }
            }
        }
    }
}
