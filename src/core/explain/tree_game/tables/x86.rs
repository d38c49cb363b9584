//! The tables' x86 copies: the build with BMI2's `pext`, and the lookups in
//! AVX-512 lanes (module doc of [`super`]).

use std::arch::x86_64::{
    _mm512_add_pd, _mm512_and_si512, _mm512_cmpeq_epi64_mask, _mm512_i64gather_pd,
    _mm512_loadu_epi64, _mm512_loadu_pd, _mm512_mask_mov_pd, _mm512_permutex2var_pd,
    _mm512_permutexvar_pd, _mm512_set1_epi64, _mm512_set1_pd, _mm512_setzero_pd, _mm512_storeu_pd,
    _pext_u64,
};

use super::super::walks::{Reached, Walks};
use super::{list_portable, Group, Tables};
use crate::core::explain::stop::Stop;
use crate::core::CoreResult;

/// [`super::list_portable`] eight coalitions at a time: every leaf tested
/// against all eight, the one each reaches kept. The same sums.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn list_avx512(leaves: &[Reached], masks: &[u64], row: &mut [f64]) {
    let count = masks.len().min(row.len());
    let whole = count - count % 8;
    let (m, r) = (masks.as_ptr(), row.as_mut_ptr());
    let mut i = 0;
    while i < whole {
        // SAFETY: `i + 8 ≤ whole ≤` the length of `masks` and `row`.
        unsafe {
            let coalitions = _mm512_loadu_epi64(m.add(i).cast());
            let mut value = _mm512_setzero_pd();
            for leaf in leaves {
                let decided = _mm512_and_si512(coalitions, _mm512_set1_epi64(leaf.decided as i64));
                let here = _mm512_cmpeq_epi64_mask(decided, _mm512_set1_epi64(leaf.inside as i64));
                value = _mm512_mask_mov_pd(value, here, _mm512_set1_pd(leaf.value));
            }
            _mm512_storeu_pd(r.add(i), _mm512_add_pd(_mm512_loadu_pd(r.add(i)), value));
        }
        i += 8;
    }
    list_portable(leaves, &masks[whole..], &mut row[whole..]);
}

/// [`Tables::of`] with BMI2's `pext`.
///
/// # Safety
/// The CPU must have BMI2.
#[target_feature(enable = "bmi2,popcnt")]
pub(super) unsafe fn of_bmi2<const W: usize>(
    walks: &Walks<W>,
    n: usize,
    base: &[f64],
    max_bytes: usize,
    stop: &Stop,
) -> CoreResult<Option<Tables>> {
    Tables::build::<true, W>(walks, n, base, max_bytes, stop)
}

/// [`Tables::group_portable`] eight coalitions at a time: a table of at most 8
/// entries is one register and a lookup one permute, of 16 two registers and a
/// two-source permute, larger ones a gather. The same sums in the same order.
///
/// # Safety
/// The CPU must have AVX-512F and BMI2; [`Tables::entries`] must hold 16
/// entries past the start of every table (it is padded so).
#[target_feature(enable = "avx512f,bmi2")]
pub(super) unsafe fn group_avx512(
    tables: &Tables,
    group: &Group,
    masks: &[u64],
    margins: &mut [f64],
    keys: &mut Vec<u64>,
) {
    let count = masks.len();
    keys.clear();
    keys.extend(masks.iter().map(|&mask| _pext_u64(mask, group.players)));
    let k = group.players.count_ones();
    let whole = count - count % 8;
    for &(margin, offset) in &group.pairs {
        let row = &mut margins[margin * count..(margin + 1) * count];
        let table = &tables.entries[offset..];
        assert!(table.len() >= 16 && row.len() == keys.len());
        let (t, p, r) = (table.as_ptr(), keys.as_ptr(), row.as_mut_ptr());
        // SAFETY: every read of `table` is within its 16 first entries or at a
        // key, below 2^k, the table's length; `i + 8 ≤ whole ≤` the length of
        // `row` and `keys`.
        unsafe {
            let (lo, hi) = (_mm512_loadu_pd(t), _mm512_loadu_pd(t.add(8)));
            let mut i = 0;
            while i < whole {
                let key = _mm512_loadu_epi64(p.add(i).cast());
                let value = match k {
                    0..=3 => _mm512_permutexvar_pd(key, lo),
                    4 => _mm512_permutex2var_pd(lo, key, hi),
                    _ => _mm512_i64gather_pd::<8>(key, t),
                };
                _mm512_storeu_pd(r.add(i), _mm512_add_pd(_mm512_loadu_pd(r.add(i)), value));
                i += 8;
            }
        }
        for (m, &key) in row[whole..].iter_mut().zip(&keys[whole..]) {
            *m += table[key as usize];
        }
    }
}
