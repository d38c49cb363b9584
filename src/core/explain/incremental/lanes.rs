//! Float32 vectors of background rows, one row per lane, for [`super::single`]:
//! 16 lanes with AVX-512F, 8 with AVX2 and FMA, chosen at run time ([`Kind::detect`]).
//!
//! The operations are `#[inline(always)]` wrappers of the intrinsics, so that the
//! kernel written once over [`Lanes`] compiles into each `#[target_feature]` entry
//! point of `single` with that entry point's instructions. The exponential is
//! Cody and Waite's range reduction, `e^x = 2^n e^r` with `|r| ≤ ln 2 / 2`, and the
//! degree-6 Taylor polynomial of `e^r` (relative error below 2e-7 on the reduced
//! range, about float32's rounding).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Which vector unit the CPU offers the float32 route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// 16 lanes (AVX-512F).
    Avx512,
    /// 8 lanes (AVX2 and FMA).
    Avx2,
}

impl Kind {
    /// The widest unit this CPU has, or `None` (the float64 route then serves).
    pub(super) fn detect() -> Option<Kind> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return Some(Kind::Avx512);
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Some(Kind::Avx2);
            }
        }
        None
    }

    /// Rows per vector.
    pub(super) fn lanes(self) -> usize {
        match self {
            Kind::Avx512 => 16,
            Kind::Avx2 => 8,
        }
    }
}

/// A vector of float32 lanes. Every method is unsafe: callers run inside a
/// function compiled with the vector unit's `target_feature`, and pointers hold
/// [`Lanes::N`] floats.
pub(super) trait Lanes: Copy {
    /// Lanes per vector.
    const N: usize;
    /// Accumulators per block of a layer's units (what the registers hold).
    const BLOCK: usize;
    unsafe fn splat(x: f32) -> Self;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    /// `self · w + acc`.
    unsafe fn mul_add(self, w: Self, acc: Self) -> Self;
    unsafe fn add(self, o: Self) -> Self;
    unsafe fn sub(self, o: Self) -> Self;
    unsafe fn mul(self, o: Self) -> Self;
    unsafe fn div(self, o: Self) -> Self;
    unsafe fn max(self, o: Self) -> Self;
    unsafe fn min(self, o: Self) -> Self;
    /// Round to the nearest integer.
    unsafe fn round(self) -> Self;
    /// `self · 2^n` for integral `n` in float32's exponent range.
    unsafe fn scale_by_pow2(self, n: Self) -> Self;
    /// `v` in the lanes whose word of `bits` has `bit` set, 0 in the others.
    unsafe fn select_bits(bits: *const u32, bit: u32, v: Self) -> Self;

    /// `e^x`, clamped to float32's finite range.
    #[inline(always)]
    unsafe fn exp(self) -> Self {
        let x = self.max(Self::splat(-87.0)).min(Self::splat(88.0));
        let n = x.mul(Self::splat(std::f32::consts::LOG2_E)).round();
        // ln 2 in two parts, the first exact in float32's mantissa.
        let r = n.mul_add(Self::splat(-0.693_145_75), x);
        let r = n.mul_add(Self::splat(-1.428_606_8e-6), r);
        let mut p = Self::splat(1.0 / 720.0);
        for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
            p = p.mul_add(r, Self::splat(c));
        }
        p.scale_by_pow2(n)
    }

    /// `1 / (1 + e^(−x))`.
    #[inline(always)]
    unsafe fn sigmoid(self) -> Self {
        let one = Self::splat(1.0);
        one.div(one.add(Self::splat(0.0).sub(self).exp()))
    }

    /// `tanh x = 2 σ(2x) − 1`.
    #[inline(always)]
    unsafe fn tanh(self) -> Self {
        let s = self.add(self).sigmoid();
        s.add(s).sub(Self::splat(1.0))
    }
}

/// 16 lanes of AVX-512F.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Z(__m512);

#[cfg(target_arch = "x86_64")]
impl Lanes for Z {
    const N: usize = 16;
    const BLOCK: usize = 16;
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Z(_mm512_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Z(_mm512_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm512_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, w: Self, acc: Self) -> Self {
        Z(_mm512_fmadd_ps(self.0, w.0, acc.0))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Z(_mm512_add_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        Z(_mm512_sub_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        Z(_mm512_mul_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn div(self, o: Self) -> Self {
        Z(_mm512_div_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        Z(_mm512_max_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn min(self, o: Self) -> Self {
        Z(_mm512_min_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        Z(_mm512_roundscale_ps::<
            { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
        >(self.0))
    }
    #[inline(always)]
    unsafe fn scale_by_pow2(self, n: Self) -> Self {
        Z(_mm512_scalef_ps(self.0, n.0))
    }
    #[inline(always)]
    unsafe fn select_bits(bits: *const u32, bit: u32, v: Self) -> Self {
        let words = _mm512_loadu_si512(bits.cast());
        let on = _mm512_test_epi32_mask(words, _mm512_set1_epi32(bit as i32));
        Z(_mm512_maskz_mov_ps(on, v.0))
    }
}

/// 8 lanes of AVX2 with FMA.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Y(__m256);

#[cfg(target_arch = "x86_64")]
impl Lanes for Y {
    const N: usize = 8;
    // 16 registers: 8 accumulators, the input and the weight leave room to spare.
    const BLOCK: usize = 8;
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Y(_mm256_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Y(_mm256_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm256_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, w: Self, acc: Self) -> Self {
        Y(_mm256_fmadd_ps(self.0, w.0, acc.0))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Y(_mm256_add_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        Y(_mm256_sub_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        Y(_mm256_mul_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn div(self, o: Self) -> Self {
        Y(_mm256_div_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        Y(_mm256_max_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn min(self, o: Self) -> Self {
        Y(_mm256_min_ps(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        Y(_mm256_round_ps::<
            { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
        >(self.0))
    }
    #[inline(always)]
    unsafe fn scale_by_pow2(self, n: Self) -> Self {
        // 2^n built in the exponent field: n + 127 shifted into place.
        let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(n.0),
            _mm256_set1_epi32(127),
        ));
        Y(_mm256_mul_ps(self.0, _mm256_castsi256_ps(bits)))
    }
    #[inline(always)]
    unsafe fn select_bits(bits: *const u32, bit: u32, v: Self) -> Self {
        let words = _mm256_loadu_si256(bits.cast());
        let bit = _mm256_set1_epi32(bit as i32);
        let on = _mm256_cmpeq_epi32(_mm256_and_si256(words, bit), bit);
        Y(_mm256_and_ps(v.0, _mm256_castsi256_ps(on)))
    }
}
