//! The loops of [`super`]'s stratified variance, over the background rows: each
//! sampled pair's `d` (its difference less its fold's fit, scaled), and for each
//! player `g` and background row `b` the sums `Σ_k α_gk d_kb` and
//! `Σ_k (α_gk d_kb)²` over a stratum's pairs `k`. As matrix products (two per
//! stratum, with the squares' copies) and per-pair array operations they were
//! about a tenth of a row's time on the benchmark's MLP; here they are plain loops
//! compiled for the widest vector unit the CPU has, the sums four players at a
//! time so that the additions do not wait on each other.

/// Background rows per vector; the rows of `d` are padded to a multiple of it.
pub(super) const LANES: usize = 8;

/// Players summed at once.
const PLAYERS: usize = 4;

/// `pub(super) fn $name`, which runs `$loops` (an `#[inline(always)]` function of
/// plain loops) compiled for AVX-512 (`$avx512`) or AVX2 (`$avx2`) where the CPU has
/// them, as it is otherwise.
macro_rules! widest {
    ($(#[$doc:meta])* $name:ident, $avx512:ident, $avx2:ident => $loops:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub(super) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: each is called only where the CPU has its features.
                if is_x86_feature_detected!("avx512f") {
                    return unsafe { $avx512($($arg),*) };
                }
                if is_x86_feature_detected!("avx2") {
                    return unsafe { $avx2($($arg),*) };
                }
            }
            $loops($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        unsafe fn $avx512($($arg: $ty),*) {
            $loops($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx2($($arg: $ty),*) {
            $loops($($arg),*)
        }
    };
}

widest! {
    /// `out = scale · (d − 2 Σ_j x_j β_j)` over the players with `x_j ≠ 0`, for one
    /// pair: `x` its kept players' `x`, `beta` its fold's fit (kept players × `n`,
    /// by rows), `d` its difference (`n`).
    residual, residual_avx512, residual_avx2 =>
        residual_loops(x: &[f64], beta: &[f64], d: &[f64], scale: f64, out: &mut [f64])
}

widest! {
    /// `first[g · stride + b] = Σ_k α_gk d_kb` and `second[..] = Σ_k (α_gk d_kb)²`
    /// for `alpha` (players × pairs) and `d` (pairs × `stride`).
    moments, moments_avx512, moments_avx2 =>
        moments_loops(alpha: &[f64], d: &[f64], stride: usize, first: &mut [f64], second: &mut [f64])
}

#[inline(always)]
fn residual_loops(x: &[f64], beta: &[f64], d: &[f64], scale: f64, out: &mut [f64]) {
    let n = d.len();
    out[..n].copy_from_slice(d);
    for (&xj, beta) in x.iter().zip(beta.chunks_exact(n)) {
        if xj != 0.0 {
            let f = -2.0 * xj;
            for (o, &b) in out[..n].iter_mut().zip(beta) {
                *o += f * b;
            }
        }
    }
    out[..n].iter_mut().for_each(|o| *o *= scale);
}

#[inline(always)]
fn moments_loops(alpha: &[f64], d: &[f64], stride: usize, first: &mut [f64], second: &mut [f64]) {
    let pairs = d.len() / stride;
    let players = alpha.len() / pairs.max(1);
    let mut g = 0;
    while g < players {
        if players - g >= PLAYERS {
            block::<PLAYERS>(g, alpha, d, stride, first, second);
            g += PLAYERS;
        } else {
            block::<1>(g, alpha, d, stride, first, second);
            g += 1;
        }
    }
}

/// Players `g0..g0 + G` of [`moments`], `LANES` background rows at a time.
#[inline(always)]
fn block<const G: usize>(
    g0: usize,
    alpha: &[f64],
    d: &[f64],
    stride: usize,
    first: &mut [f64],
    second: &mut [f64],
) {
    let pairs = d.len() / stride;
    for c in (0..stride).step_by(LANES) {
        let (mut m1, mut m2) = ([[0.0f64; LANES]; G], [[0.0f64; LANES]; G]);
        for k in 0..pairs {
            let d: &[f64; LANES] = d[k * stride + c..][..LANES].try_into().expect("lanes");
            for i in 0..G {
                let a = alpha[(g0 + i) * pairs + k];
                for l in 0..LANES {
                    let t = a * d[l];
                    m1[i][l] += t;
                    m2[i][l] += t * t;
                }
            }
        }
        for i in 0..G {
            let at = (g0 + i) * stride + c;
            first[at..][..LANES].copy_from_slice(&m1[i]);
            second[at..][..LANES].copy_from_slice(&m2[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Moments = fn(&[f64], &[f64], usize, &mut [f64], &mut [f64]);
    type Residual = fn(&[f64], &[f64], &[f64], f64, &mut [f64]);

    /// The loops as compiled for each vector unit this CPU has, and as they are.
    fn variants() -> Vec<(&'static str, Moments, Residual)> {
        let mut all: Vec<(&'static str, Moments, Residual)> =
            vec![("portable", moments_loops, residual_loops)];
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY (both): called only where the CPU has the features.
            if is_x86_feature_detected!("avx512f") {
                all.push((
                    "avx512",
                    |a, d, s, f, q| unsafe { moments_avx512(a, d, s, f, q) },
                    |x, b, d, s, o| unsafe { residual_avx512(x, b, d, s, o) },
                ));
            }
            if is_x86_feature_detected!("avx2") {
                all.push((
                    "avx2",
                    |a, d, s, f, q| unsafe { moments_avx2(a, d, s, f, q) },
                    |x, b, d, s, o| unsafe { residual_avx2(x, b, d, s, o) },
                ));
            }
        }
        all.push(("dispatched", moments, residual));
        all
    }

    #[test]
    fn the_sums_are_the_products_they_replace() {
        // 6 players: a block of four, then two alone.
        let (players, pairs, stride) = (6, 7, 16);
        let alpha: Vec<f64> = (0..players * pairs)
            .map(|i| (i as f64 * 0.7).sin())
            .collect();
        let d: Vec<f64> = (0..pairs * stride)
            .map(|i| (i as f64 * 1.3).cos())
            .collect();
        for (name, moments, _) in variants() {
            let (mut first, mut second) =
                (vec![0.0; players * stride], vec![0.0; players * stride]);
            moments(&alpha, &d, stride, &mut first, &mut second);
            for g in 0..players {
                for b in 0..stride {
                    let terms = (0..pairs).map(|k| alpha[g * pairs + k] * d[k * stride + b]);
                    let (m1, m2) = terms.fold((0.0, 0.0), |(s, q), t| (s + t, q + t * t));
                    assert!((first[g * stride + b] - m1).abs() < 1e-12, "{name}");
                    assert!((second[g * stride + b] - m2).abs() < 1e-12, "{name}");
                }
            }
        }
    }

    #[test]
    fn the_residual_takes_each_moved_players_fit_twice() {
        let n = 5;
        let beta: Vec<f64> = (0..3 * n).map(|i| i as f64).collect();
        let d = vec![1.0; n];
        for (name, _, residual) in variants() {
            let mut out = vec![0.0; n + 3];
            residual(&[1.0, 0.0, -1.0], &beta, &d, 0.5, &mut out);
            for b in 0..n {
                let want = 0.5 * (1.0 - 2.0 * (beta[b] - beta[2 * n + b]));
                assert_eq!(out[b], want, "{name}");
            }
            assert_eq!(&out[n..], &[0.0; 3], "{name}");
        }
    }
}
