//! The float32 kernel of [`super`] for one tile of background rows, over any
//! vector unit ([`Lanes`]): the first layer from the coalition's base and moves,
//! every later layer, and the tile's share of the value.

use super::super::lanes::Lanes;
use super::super::Base;
use super::{Layer, Plan, Step};

/// The kernel of the module doc, over any vector unit. Buffers: `z` and `prev`
/// (tiles × units × lanes), `scratch` two layers of `widest × lanes`, `out`
/// (background rows × outputs, unused when fused); the value when fused.
#[inline(always)]
pub(super) unsafe fn kernel<V: Lanes>(
    plan: &Plan,
    step: &Step,
    prev: &[f32],
    z: &mut [f32],
    scratch: &mut [f32],
    out: &mut [f64],
) -> Option<f64> {
    let n = V::N;
    let (mut a, mut b) = scratch.split_at_mut(plan.widest * n);
    let mut last = [0.0f32; 16];
    let mut total = V::splat(0.0);
    let units = plan.units;
    for t in 0..plan.tiles {
        let at = t * units * n;
        first_layer::<V>(plan, step, t, &prev[at..], &mut z[at..], a);
        later_layers::<V>(plan, &mut a, &mut b);
        if let Some(fused) = &plan.fused {
            let mut v = V::load(a.as_ptr().add(fused.output * n));
            if fused.logistic {
                v = v.sigmoid();
            }
            total = v.mul_add(V::load(fused.weights.as_ptr().add(t * n)), total);
            continue;
        }
        let rows = (plan.n_bg - t * n).min(n);
        for o in 0..plan.outputs {
            V::load(a.as_ptr().add(o * n)).store(last.as_mut_ptr());
            for (l, &v) in last[..rows].iter().enumerate() {
                out[(t * n + l) * plan.outputs + o] = f64::from(v);
            }
        }
    }
    plan.fused.as_ref()?;
    total.store(last.as_mut_ptr());
    Some(last[..n].iter().map(|&v| f64::from(v)).sum())
}

/// Every layer after the first for a tile, from the activations in `a`; the
/// network's raw outputs end in `a` (the two buffers swap after each layer).
#[inline(always)]
pub(super) unsafe fn later_layers<'s, V: Lanes>(
    plan: &Plan,
    a: &mut &'s mut [f32],
    b: &mut &'s mut [f32],
) {
    for layer in &plan.layers {
        // Narrower layers take `dense`'s blocks of 8, 4 and 1 alone.
        if V::BLOCK >= 16 {
            dense::<V, 16>(layer, a, b);
        } else {
            dense::<V, 8>(layer, a, b);
        }
        std::mem::swap(a, b);
    }
}

/// Tile `t`'s first-layer values into `z` (units × lanes, from the tile's start;
/// `prev` likewise) and their activations into `a`: the step's base plus its moves,
/// each unit's moves added in order by fused multiply-adds, their lanes of `Δ` held
/// in registers across the units. Up to four moves (a permutation's step, most
/// sampled coalitions from their nearest base) in one pass over the units; more
/// in passes of four. The base's and the activation's `match` are taken once per
/// tile, outside the loops over the units.
#[inline(always)]
unsafe fn first_layer<V: Lanes>(
    plan: &Plan,
    step: &Step,
    t: usize,
    prev: &[f32],
    z: &mut [f32],
    a: &mut [f32],
) {
    let n = V::N;
    let at = |u: usize| (t * plan.units + u) * n;
    let background = plan.start_background.as_ptr();
    let (prev, z) = (prev.as_ptr(), z.as_mut_ptr());
    match step.base {
        Base::Background => moved::<V>(plan, step, t, |u| V::load(background.add(at(u))), z),
        Base::Row => moved::<V>(plan, step, t, |u| V::splat(plan.start_row[u]), z),
        Base::Previous => moved::<V>(plan, step, t, |u| V::load(prev.add(u * n)), z),
        Base::Complement => moved::<V>(
            plan,
            step,
            t,
            |u| {
                V::splat(plan.start_row[u])
                    .add(V::load(background.add(at(u))))
                    .sub(V::load(prev.add(u * n)))
            },
            z,
        ),
    }
    plan.first.apply_all::<V>(z, a.as_mut_ptr(), plan.units);
}

/// [`first_layer`]'s values before the activation, from unit `u`'s base `base(u)`.
#[inline(always)]
unsafe fn moved<V: Lanes>(
    plan: &Plan,
    step: &Step,
    t: usize,
    base: impl Fn(usize) -> V,
    z: *mut f32,
) {
    let (n, units) = (V::N, plan.units);
    let m = step.moves.len();
    let delta = |k: usize| {
        V::load(
            plan.deltas
                .as_ptr()
                .add((step.moves[k].0 * plan.tiles + t) * n),
        )
    };
    match m {
        0 => one_pass::<V, 0>(step, units, [], &base, z),
        1 => one_pass::<V, 1>(step, units, [delta(0)], &base, z),
        2 => one_pass::<V, 2>(step, units, [delta(0), delta(1)], &base, z),
        3 => {
            let d = [delta(0), delta(1), delta(2)];
            one_pass::<V, 3>(step, units, d, &base, z);
        }
        4 => {
            let d = [delta(0), delta(1), delta(2), delta(3)];
            one_pass::<V, 4>(step, units, d, &base, z);
        }
        _ => {
            for u in 0..units {
                base(u).store(z.add(u * n));
            }
            let mut k = 0;
            while k < m {
                match m - k {
                    1 => add_moves::<V, 1>([delta(k)], step.weights, k, m, units, z),
                    2 => add_moves::<V, 2>([delta(k), delta(k + 1)], step.weights, k, m, units, z),
                    3 => {
                        let d = [delta(k), delta(k + 1), delta(k + 2)];
                        add_moves::<V, 3>(d, step.weights, k, m, units, z);
                    }
                    _ => {
                        let d = [delta(k), delta(k + 1), delta(k + 2), delta(k + 3)];
                        add_moves::<V, 4>(d, step.weights, k, m, units, z);
                    }
                }
                k += 4;
            }
        }
    }
}

/// [`moved`] for a step of `K` moves (their lanes of `Δ` in `d`): each unit's
/// base and moves in one pass.
#[inline(always)]
unsafe fn one_pass<V: Lanes, const K: usize>(
    step: &Step,
    units: usize,
    d: [V; K],
    base: &impl Fn(usize) -> V,
    z: *mut f32,
) {
    for u in 0..units {
        let mut v = base(u);
        let w = step.weights.as_ptr().add(u * K);
        for (i, d) in d.iter().enumerate() {
            v = d.mul_add(V::splat(*w.add(i)), v);
        }
        v.store(z.add(u * V::N));
    }
}

/// Moves `k..k + K` of `m` (their `Δ` lanes in `d`) added to every unit of `z`.
#[inline(always)]
unsafe fn add_moves<V: Lanes, const K: usize>(
    d: [V; K],
    weights: &[f32],
    k: usize,
    m: usize,
    units: usize,
    z: *mut f32,
) {
    let n = V::N;
    for u in 0..units {
        let w = weights.as_ptr().add(u * m + k);
        let mut v = V::load(z.add(u * n));
        for (i, d) in d.iter().enumerate() {
            v = d.mul_add(V::splat(*w.add(i)), v);
        }
        v.store(z.add(u * n));
    }
}

/// One layer for a tile: `out[u] = act(b_u + Σ_k a[k] W[k, u])`, `C` units'
/// accumulators at a time (`a`, `out`: units × lanes), the units past the last full
/// block in blocks of 8, 4 and 1; then the activation over all of them.
#[inline(always)]
unsafe fn dense<V: Lanes, const C: usize>(layer: &Layer, a: &[f32], out: &mut [f32]) {
    let mut c0 = 0;
    while c0 + C <= layer.fan_out {
        block::<V, C>(layer, a, out, c0);
        c0 += C;
    }
    while c0 < layer.fan_out {
        let rest = layer.fan_out - c0;
        if C > 8 && rest >= 8 {
            block::<V, 8>(layer, a, out, c0);
            c0 += 8;
        } else if C > 4 && rest >= 4 {
            block::<V, 4>(layer, a, out, c0);
            c0 += 4;
        } else {
            block::<V, 1>(layer, a, out, c0);
            c0 += 1;
        }
    }
    let out = out.as_mut_ptr();
    layer.act.apply_all::<V>(out, out, layer.fan_out);
}

/// Units `c0..c0 + C` of [`dense`] before their activation. `C` is a constant so
/// that the accumulators live in registers for the whole pass over the inputs (a
/// block of run-time width, or an activation's `match` on them, kept them on the
/// stack, one store per multiply-add). A single unit sums its inputs in four
/// chains, so that each multiply-add need not wait for the one before.
#[inline(always)]
unsafe fn block<V: Lanes, const C: usize>(layer: &Layer, a: &[f32], out: &mut [f32], c0: usize) {
    let n = V::N;
    let w0 = layer.w.as_ptr().add(c0);
    let x = |k: usize| V::load(a.as_ptr().add(k * n));
    let w = |k: usize, c: usize| V::splat(*w0.add(k * layer.fan_out + c));
    if C == 1 {
        let mut acc = [V::splat(0.0); 4];
        acc[0] = V::splat(layer.b[c0]);
        let mut k = 0;
        while k + 4 <= layer.fan_in {
            for (i, acc) in acc.iter_mut().enumerate() {
                *acc = x(k + i).mul_add(w(k + i, 0), *acc);
            }
            k += 4;
        }
        for k in k..layer.fan_in {
            acc[0] = x(k).mul_add(w(k, 0), acc[0]);
        }
        let sum = acc[0].add(acc[1]).add(acc[2].add(acc[3]));
        sum.store(out.as_mut_ptr().add(c0 * n));
        return;
    }
    // A loop, not `array::from_fn`, whose closure would not inline the vector
    // unit's instructions (a call per splat).
    let mut acc = [V::splat(0.0); C];
    for (c, acc) in acc.iter_mut().enumerate() {
        *acc = V::splat(layer.b[c0 + c]);
    }
    for k in 0..layer.fan_in {
        let x = x(k);
        for (c, acc) in acc.iter_mut().enumerate() {
            *acc = x.mul_add(w(k, c), *acc);
        }
    }
    for (c, acc) in acc.iter().enumerate() {
        acc.store(out.as_mut_ptr().add((c0 + c) * n));
    }
}
