//! The float32 kernel of [`super`] for the games of single background rows
//! (`game/baselines.rs`): each lane, one background row, plays its own relabelling
//! of the coalition, and its own value comes out, not the tile's sum.
//!
//! A lane's first-layer values are its background row's, `z(b)`, plus `Δ_bj W_j`
//! for each feature `j` its coalition takes: for every active feature the lanes'
//! `Δ_j` with the lanes that do not take it zeroed (a bit test per lane), added up
//! to eight features per pass over the units. A design's pair (a coalition, then
//! its complement) shares that work: the complement's values are
//! `z(b) + z(x) − z`. The later layers are the shared kernel's. Which features a
//! lane takes is one word of bits per lane, read from tables of the relabelled
//! players (a word per four players' pattern), so features are at most 32.
//!
//! The tiles are the shared kernel's, 16 (or 8) background rows each, the last
//! padded: 100 rows leave 12 of 112 lanes idle. Tiles of 16 coalitions of one
//! background row pad none, but their lookups and transposed writes cost as much
//! (measured, not kept).

use super::super::lanes::{Kind, Lanes};
use super::tile::later_layers;
use super::{Act, Plan};
use crate::core::explain::game::{Game, Relabel};
use crate::core::models::AffineInput;
use crate::core::CoreResult;

/// The most features a lane's word of bits holds.
const MAX_FEATURES: usize = 32;

/// [`Game::baseline_values`] through the float32 kernel, or `None` where it does
/// not apply: no vector unit, a head that is not dense or has a hidden softmax, a
/// link other than the identity or the logistic function, or more than 32
/// features.
pub(crate) fn baseline_values(
    game: &Game,
    affine: &dyn AffineInput,
    masks: &[bool],
    relabel: &Relabel,
    values: &mut Vec<f64>,
) -> Option<CoreResult<()>> {
    baseline_values_with(Kind::detect()?, game, affine, masks, relabel, values)
}

/// [`baseline_values`] on vector unit `kind` (the tests run every unit the CPU has).
pub(super) fn baseline_values_with(
    kind: Kind,
    game: &Game,
    affine: &dyn AffineInput,
    masks: &[bool],
    relabel: &Relabel,
    values: &mut Vec<f64>,
) -> Option<CoreResult<()>> {
    if game.x.len() > MAX_FEATURES {
        return None;
    }
    let plan = Plan::new(kind, game, affine, &affine.dense_head()?)?;
    plan.fused.as_ref()?;
    Some(play(&plan, game, masks, relabel, values))
}

/// Each lane's bits of the features it takes, by tables over the design's players
/// four at a time.
struct Bits {
    /// Background rows.
    rows: usize,
    /// For quad `q` of the design's players, pattern `m` of its four players and
    /// background row `b`, the features row `b` takes: at `(q · 16 + m) · rows + b`.
    table: Vec<u32>,
}

impl Bits {
    fn new(plan: &Plan, game: &Game, relabel: &Relabel) -> Bits {
        let players = game.groups.len();
        let rows = relabel.rows();
        // The active features of each player.
        let of_player: Vec<u32> = (0..players)
            .map(|g| {
                (game.groups.members(g).iter())
                    .filter(|&&j| plan.active[j])
                    .fold(0, |bits, &j| bits | 1 << j)
            })
            .collect();
        let cells = players.div_ceil(4) * 16;
        let mut table = vec![0u32; cells * rows];
        for b in 0..rows {
            let to = relabel.of(b);
            for cell in 0..cells {
                let (q, m) = (cell / 16, cell % 16);
                table[cell * rows + b] = (0..4)
                    .filter(|&i| m >> i & 1 == 1 && 4 * q + i < players)
                    .fold(0, |bits, i| bits | of_player[to[4 * q + i]]);
            }
        }
        Bits { rows, table }
    }

    /// Each background row's features for the design's coalition `mask` into
    /// `lanes` (tiles × lanes; padding lanes take nothing).
    fn lanes(&self, mask: &[bool], lanes: &mut [u32]) {
        lanes.fill(0);
        let lanes = &mut lanes[..self.rows];
        for (q, four) in mask.chunks(4).enumerate() {
            let m = (four.iter().enumerate()).fold(0, |m, (i, &on)| m | usize::from(on) << i);
            let row = &self.table[(q * 16 + m) * self.rows..][..self.rows];
            for (word, &bits) in lanes.iter_mut().zip(row) {
                *word |= bits;
            }
        }
    }
}

/// The values of every coalition of `masks` for every background row, appended to
/// `values`.
fn play(
    plan: &Plan,
    game: &Game,
    masks: &[bool],
    relabel: &Relabel,
    values: &mut Vec<f64>,
) -> CoreResult<()> {
    let players = game.groups.len().max(1);
    let total = masks.len() / players;
    let bits = Bits::new(plan, game, relabel);
    let features: Vec<usize> = (0..game.x.len()).filter(|&j| plan.active[j]).collect();
    // The first layer's weights unit by unit, as the shared kernel's moves.
    let weights: Vec<f32> = (0..plan.units)
        .flat_map(|u| features.iter().map(move |&j| plan.w1[j * plan.units + u]))
        .collect();
    let mut words = vec![0u32; plan.tiles * plan.lanes];
    let mut scratch = vec![0.0f32; (3 * plan.widest + plan.units) * plan.lanes];
    let start = values.len();
    values.resize(start + total * plan.n_bg, 0.0);
    let mut outs = values[start..].chunks_exact_mut(plan.n_bg);
    let mut coalitions = masks.chunks(players).peekable();
    let mut k = 0;
    while let Some(mask) = coalitions.next() {
        if k % 64 == 0 {
            game.stop.check()?;
        }
        // A pair's second coalition, the first's complement, comes from the
        // first's first layer (see `kernel`).
        let paired =
            (coalitions.peek()).is_some_and(|next| next.iter().zip(mask).all(|(&a, &b)| a != b));
        if paired {
            coalitions.next();
        }
        k += 1 + usize::from(paired);
        bits.lanes(mask, &mut words);
        let lanes = Coalition {
            features: &features,
            weights: &weights,
            words: &words,
        };
        let out = outs.next().expect("a row per coalition");
        let complement = if paired { outs.next() } else { None };
        // SAFETY: `kind` was detected on this CPU (`Kind::detect`, or by the tests
        // before `baseline_values_with`), so the target features are present.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match plan.kind {
                Kind::Avx512 => lanes_avx512(plan, &lanes, &mut scratch, out, complement),
                Kind::Avx2 => lanes_avx2(plan, &lanes, &mut scratch, out, complement),
            }
        }
    }
    Ok(())
}

/// One coalition's inputs to the kernel.
struct Coalition<'a> {
    /// The active features, in order.
    features: &'a [usize],
    /// Their first-layer weights, `weights[u · m + k] = W[features[k], u]`.
    weights: &'a [f32],
    /// Each lane's features taken, (tiles × lanes).
    words: &'a [u32],
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn lanes_avx512(
    plan: &Plan,
    lanes: &Coalition,
    scratch: &mut [f32],
    out: &mut [f64],
    complement: Option<&mut [f64]>,
) {
    kernel::<super::super::lanes::Z>(plan, lanes, scratch, out, complement);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn lanes_avx2(
    plan: &Plan,
    lanes: &Coalition,
    scratch: &mut [f32],
    out: &mut [f64],
    complement: Option<&mut [f64]>,
) {
    kernel::<super::super::lanes::Y>(plan, lanes, scratch, out, complement);
}

/// The module doc's kernel over any vector unit: each background row's value of
/// its own coalition into `out` (background rows), and of the coalition's
/// complement into `complement` when asked: its first-layer values are
/// `z(b) + z(x) − z`, one add and one subtract per unit instead of a pass over
/// the features.
#[inline(always)]
unsafe fn kernel<V: Lanes>(
    plan: &Plan,
    lanes: &Coalition,
    scratch: &mut [f32],
    out: &mut [f64],
    mut complement: Option<&mut [f64]>,
) {
    let n = V::N;
    let (z, scratch) = scratch.split_at_mut(plan.units * n);
    let (other, scratch) = scratch.split_at_mut(plan.widest * n);
    let z = z.as_mut_ptr();
    for t in 0..plan.tiles {
        let (a, b) = scratch.split_at_mut(plan.widest * n);
        let pair = complement.is_some().then_some(other.as_mut_ptr());
        // The activation's `match` once per tile, outside the loops over units.
        let step = Step {
            plan,
            lanes,
            t,
            z,
            a: a.as_mut_ptr(),
            complement: pair,
        };
        match plan.first {
            Act::None => step.first_layer::<V>(|v| v),
            Act::Relu => step.first_layer::<V>(|v| Act::Relu.apply(v)),
            Act::Leaky(slope) => step.first_layer::<V>(|v| Act::Leaky(slope).apply(v)),
            Act::Sigmoid => step.first_layer::<V>(|v| Act::Sigmoid.apply(v)),
            Act::Tanh => step.first_layer::<V>(|v| Act::Tanh.apply(v)),
        }
        head::<V>(plan, t, a, b, out);
        if let Some(out) = complement.as_deref_mut() {
            head::<V>(plan, t, &mut other[..], b, out);
        }
    }
}

/// One tile's first layer: where it writes.
struct Step<'a> {
    plan: &'a Plan,
    lanes: &'a Coalition<'a>,
    t: usize,
    /// The values before the activation (units × lanes).
    z: *mut f32,
    /// The activations.
    a: *mut f32,
    /// The complement's activations, for a pair.
    complement: Option<*mut f32>,
}

impl Step<'_> {
    /// The background's values plus each active feature's lanes of `Δ` where the
    /// lane takes it, up to eight features per pass over the units, into `z`; the
    /// last pass also writes `act(z)` into `a` (and the complement's).
    #[inline(always)]
    unsafe fn first_layer<V: Lanes>(&self, act: impl Fn(V) -> V) {
        let m = self.lanes.features.len();
        let mut k = 0;
        loop {
            let done = match m - k {
                0 => self.pass::<V, 0>(k, &act),
                1 => self.pass::<V, 1>(k, &act),
                2 => self.pass::<V, 2>(k, &act),
                3 => self.pass::<V, 3>(k, &act),
                4..=7 => self.pass::<V, 4>(k, &act),
                _ => self.pass::<V, 8>(k, &act),
            };
            k += done;
            if k >= m {
                break;
            }
        }
    }

    /// Features `k..k + K` added to every unit (from the background's values
    /// when `k` is 0), in two chains of multiply-adds; returns `K` (1 for `K` 0).
    #[inline(always)]
    unsafe fn pass<V: Lanes, const K: usize>(&self, k: usize, act: &impl Fn(V) -> V) -> usize {
        let (plan, lanes, t) = (self.plan, self.lanes, self.t);
        let (n, units, m) = (V::N, plan.units, lanes.features.len());
        let words = lanes.words.as_ptr().add(t * n);
        let mut d = [V::splat(0.0); K];
        for (i, d) in d.iter_mut().enumerate() {
            let j = lanes.features[k + i];
            let delta = V::load(plan.deltas.as_ptr().add((j * plan.tiles + t) * n));
            *d = V::select_bits(words, 1 << j, delta);
        }
        let background = plan.start_background.as_ptr().add(t * units * n);
        let base = if k == 0 {
            background
        } else {
            self.z.cast_const()
        };
        let last = k + K >= m;
        for u in 0..units {
            let w = lanes.weights.as_ptr().add(u * m + k);
            let mut even = V::load(base.add(u * n));
            let mut odd = V::splat(0.0);
            for (i, d) in d.iter().enumerate() {
                if i % 2 == 0 {
                    even = d.mul_add(V::splat(*w.add(i)), even);
                } else {
                    odd = d.mul_add(V::splat(*w.add(i)), odd);
                }
            }
            let v = even.add(odd);
            v.store(self.z.add(u * n));
            if last {
                act(v).store(self.a.add(u * n));
                if let Some(c) = self.complement {
                    let row = V::splat(plan.start_row[u]);
                    let other = V::load(background.add(u * n)).add(row).sub(v);
                    act(other).store(c.add(u * n));
                }
            }
        }
        K.max(1)
    }
}

/// Every later layer of tile `t` from the first layer's activations in `a`, and
/// each lane's explained output (through the logistic function if the link is)
/// into its background row's place in `out`.
#[inline(always)]
unsafe fn head<'s, V: Lanes>(
    plan: &Plan,
    t: usize,
    mut a: &'s mut [f32],
    mut b: &'s mut [f32],
    out: &mut [f64],
) {
    let n = V::N;
    let fused = plan.fused.as_ref().expect("checked by the caller");
    later_layers::<V>(plan, &mut a, &mut b);
    let mut v = V::load(a.as_ptr().add(fused.output * n));
    if fused.logistic {
        v = v.sigmoid();
    }
    let mut last = [0.0f32; 16];
    v.store(last.as_mut_ptr());
    let rows = (plan.n_bg - t * n).min(n);
    for (l, &v) in last[..rows].iter().enumerate() {
        out[t * n + l] = f64::from(v);
    }
}
