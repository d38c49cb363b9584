//! The float32 kernel of [`super`] for the games of single background rows
//! (`game/baselines.rs`): each lane, one background row, plays its own relabelling
//! of the coalition, and its own value comes out, not the tile's sum.
//!
//! A lane's first-layer values are its background row's, `z(b)`, plus `Δ_bj W_j`
//! for each feature `j` its coalition takes: for every active feature the lanes'
//! `Δ_j` with the lanes that do not take it zeroed (a bit test per lane), held in
//! registers (up to sixteen features, eight with AVX2) for one pass over the
//! units. A design's pair (a coalition, then its complement) shares that work: the
//! complement's values are `z(b) + z(x) − z`. The later layers are the shared
//! kernel's. Which features a lane takes is one word of bits per lane, read from
//! tables of the relabelled players (a word per four players' pattern), so
//! features are at most 32.
//!
//! The tiles are the shared kernel's, 16 (or 8) background rows each. Where the
//! last tile is less than half full its idle lanes repeat its rows, and it plays
//! the tails of several coalitions at once (100 rows: 6 full tiles per coalition,
//! and one tile for four coalitions' last four rows, instead of 7 tiles with 12
//! lanes idle). Tiles of 16 coalitions of one background row would pad none, but
//! their lookups and transposed writes cost as much (measured, not kept).

use super::super::lanes::{Kind, Lanes};
use super::tile::later_layers;
use super::{Act, Plan};
use crate::core::explain::game::{Game, Relabel};
use crate::core::models::AffineInput;
use crate::core::CoreResult;
use layout::{Bits, Layout};

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
    let layout = Layout::new(plan);
    let n = plan.lanes;
    let own = layout.own_tiles(plan);
    let mut words = vec![0u32; plan.tiles * n];
    let mut shared = SharedTile::new(plan, &layout);
    let mut scratch = vec![0.0f32; (3 * plan.widest + plan.units) * n];
    let (mut out, mut other) = (vec![0.0f32; plan.tiles * n], vec![0.0f32; plan.tiles * n]);
    let start = values.len();
    values.resize(start + total * plan.n_bg, 0.0);
    let values = &mut values[start..];
    let mut coalitions = masks.chunks(players).enumerate().peekable();
    while let Some((k, mask)) = coalitions.next() {
        if k % 64 == 0 {
            game.stop.check()?;
        }
        // A pair's second coalition, the first's complement, comes from the
        // first's first layer (see `kernel`).
        let paired = (coalitions.peek())
            .is_some_and(|(_, next)| next.iter().zip(mask).all(|(&a, &b)| a != b));
        let complement = paired.then(|| coalitions.next().expect("peeked").0);
        bits.lanes(mask, &mut words);
        let lanes = Inputs {
            layout: &layout,
            words: &words,
        };
        let complements = paired.then_some(&mut other[..]);
        run(plan, &lanes, 0..own, &mut scratch, &mut out, complements);
        let rows = (own * n).min(plan.n_bg);
        copy(&out[..rows], &mut values[k * plan.n_bg..]);
        if let Some(c) = complement {
            copy(&other[..rows], &mut values[c * plan.n_bg..]);
        }
        if layout.group > 1 {
            shared.add(&words, k, complement);
            if shared.members.len() == layout.group || coalitions.peek().is_none() {
                shared.play(&mut scratch, &mut out, &mut other, values);
            }
        }
    }
    Ok(())
}

/// The last tile, shared by up to [`Layout::group`] coalitions: coalition `c` of
/// the group at lanes `c · tail ..` of it.
struct SharedTile<'a> {
    plan: &'a Plan,
    layout: &'a Layout,
    /// The tile's index.
    tile: usize,
    /// The members' words at the tile's place (tiles × lanes).
    words: Vec<u32>,
    /// The members' coalitions and their complements' (indices in the values).
    members: Vec<(usize, Option<usize>)>,
}

impl<'a> SharedTile<'a> {
    fn new(plan: &'a Plan, layout: &'a Layout) -> Self {
        SharedTile {
            plan,
            layout,
            tile: layout.own_tiles(plan),
            words: vec![0; plan.tiles * plan.lanes],
            members: Vec::with_capacity(layout.group),
        }
    }

    /// Coalition `k` (and its complement `c`) with its lanes' `words` (tiles × lanes).
    fn add(&mut self, words: &[u32], k: usize, c: Option<usize>) {
        let (at, tail) = (self.tile * self.plan.lanes, self.layout.tail);
        let slot = self.members.len() * tail;
        self.words[at + slot..][..tail].copy_from_slice(&words[at..][..tail]);
        self.members.push((k, c));
    }

    /// The tile through the kernel, its members' values into `values`
    /// (coalitions × background rows); the group empties.
    fn play(
        &mut self,
        scratch: &mut [f32],
        out: &mut [f32],
        other: &mut [f32],
        values: &mut [f64],
    ) {
        let (plan, tail) = (self.plan, self.layout.tail);
        let lanes = Inputs {
            layout: self.layout,
            words: &self.words,
        };
        let tile = self.tile..self.tile + 1;
        let paired = self.members.iter().any(|(_, c)| c.is_some());
        run(
            plan,
            &lanes,
            tile,
            scratch,
            out,
            paired.then_some(&mut *other),
        );
        let at = self.tile * plan.lanes;
        for (slot, (k, c)) in self.members.drain(..).enumerate() {
            let lanes = at + slot * tail..at + (slot + 1) * tail;
            copy(&out[lanes.clone()], &mut values[k * plan.n_bg + at..]);
            if let Some(c) = c {
                copy(&other[lanes], &mut values[c * plan.n_bg + at..]);
            }
        }
    }
}

/// The lanes' float32 values into the first of `values`.
fn copy(lanes: &[f32], values: &mut [f64]) {
    for (v, &l) in values.iter_mut().zip(lanes) {
        *v = f64::from(l);
    }
}

/// One coalition's (or the shared last tile's) inputs to the kernel.
struct Inputs<'a> {
    layout: &'a Layout,
    /// Each lane's features taken, (tiles × lanes).
    words: &'a [u32],
}

/// The kernel over `tiles` on this CPU's vector unit: each lane's value into
/// `out`, and its complement's into `complement` when asked (tiles × lanes).
fn run(
    plan: &Plan,
    lanes: &Inputs,
    tiles: std::ops::Range<usize>,
    scratch: &mut [f32],
    out: &mut [f32],
    complement: Option<&mut [f32]>,
) {
    // SAFETY: `kind` was detected on this CPU (`Kind::detect`, or by the tests
    // before `baseline_values_with`), so the target features are present.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        match plan.kind {
            Kind::Avx512 => lanes_avx512(plan, lanes, tiles, scratch, out, complement),
            Kind::Avx2 => lanes_avx2(plan, lanes, tiles, scratch, out, complement),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn lanes_avx512(
    plan: &Plan,
    lanes: &Inputs,
    tiles: std::ops::Range<usize>,
    scratch: &mut [f32],
    out: &mut [f32],
    complement: Option<&mut [f32]>,
) {
    kernel::<super::super::lanes::Z>(plan, lanes, tiles, scratch, out, complement);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn lanes_avx2(
    plan: &Plan,
    lanes: &Inputs,
    tiles: std::ops::Range<usize>,
    scratch: &mut [f32],
    out: &mut [f32],
    complement: Option<&mut [f32]>,
) {
    kernel::<super::super::lanes::Y>(plan, lanes, tiles, scratch, out, complement);
}

/// The module doc's kernel over any vector unit: each lane's value of its own
/// coalition into `out` (tiles × lanes), and of the coalition's complement into
/// `complement` when asked: its first-layer values are `z(b) + z(x) − z`, one add
/// and one subtract per unit instead of a pass over the features.
#[inline(always)]
unsafe fn kernel<V: Lanes>(
    plan: &Plan,
    lanes: &Inputs,
    tiles: std::ops::Range<usize>,
    scratch: &mut [f32],
    out: &mut [f32],
    mut complement: Option<&mut [f32]>,
) {
    let n = V::N;
    let (z, scratch) = scratch.split_at_mut(plan.units * n);
    let (other, scratch) = scratch.split_at_mut(plan.widest * n);
    let z = z.as_mut_ptr();
    for t in tiles {
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
        head::<V>(plan, a, b, out.as_mut_ptr().add(t * n));
        if let Some(out) = complement.as_deref_mut() {
            head::<V>(plan, &mut other[..], b, out.as_mut_ptr().add(t * n));
        }
    }
}

/// One tile's first layer: where it writes.
struct Step<'a> {
    plan: &'a Plan,
    lanes: &'a Inputs<'a>,
    t: usize,
    /// The values before the activation (units × lanes), between passes.
    z: *mut f32,
    /// The activations.
    a: *mut f32,
    /// The complement's activations, for a pair.
    complement: Option<*mut f32>,
}

impl Step<'_> {
    /// The background's values plus each active feature's lanes of `Δ` where the
    /// lane takes it, in passes over the units of up to sixteen features (eight
    /// with AVX2's sixteen registers); the last pass writes `act(z)` into `a` (and
    /// the complement's).
    #[inline(always)]
    unsafe fn first_layer<V: Lanes>(&self, act: impl Fn(V) -> V) {
        let m = self.lanes.layout.features.len();
        let most = if V::BLOCK >= 16 { 16 } else { 8 };
        let mut k = 0;
        loop {
            k += match (m - k).min(most) {
                0 => self.pass::<V, 0>(k, &act),
                1..=4 => self.pass::<V, 4>(k, &act),
                5..=8 => self.pass::<V, 8>(k, &act),
                9..=12 => self.pass::<V, 12>(k, &act),
                _ => self.pass::<V, 16>(k, &act),
            };
            if k >= m {
                break;
            }
        }
    }

    /// Features `k..k + K` (those past the last zero) added to every unit, from
    /// the background's values when `k` is 0, in two chains of multiply-adds;
    /// returns `K` (1 for `K` 0).
    #[inline(always)]
    unsafe fn pass<V: Lanes, const K: usize>(&self, k: usize, act: &impl Fn(V) -> V) -> usize {
        let (plan, layout, t) = (self.plan, self.lanes.layout, self.t);
        let (n, m) = (V::N, layout.features.len());
        let words = self.lanes.words.as_ptr().add(t * n);
        let mut d = [V::splat(0.0); K];
        for (i, d) in d.iter_mut().enumerate().take(m.saturating_sub(k)) {
            let j = layout.features[k + i];
            let delta = V::load(layout.deltas.as_ptr().add((j * plan.tiles + t) * n));
            *d = V::select_bits(words, 1 << j, delta);
        }
        let background = layout.background.as_ptr().add(t * plan.units * n);
        let (z, a) = (self.z, self.a);
        let sum = Sum {
            d: &d,
            w: layout.weights.as_ptr().add(k),
            stride: layout.stride,
            base: if k == 0 { background } else { z.cast_const() },
        };
        match (k + K >= m, self.complement) {
            (false, _) => {
                for u in 0..plan.units {
                    sum.unit(u).store(z.add(u * n));
                }
            }
            (true, None) => {
                for u in 0..plan.units {
                    act(sum.unit(u)).store(a.add(u * n));
                }
            }
            (true, Some(c)) => {
                let row = plan.start_row.as_ptr();
                for u in 0..plan.units {
                    let v = sum.unit(u);
                    act(v).store(a.add(u * n));
                    let other = V::load(background.add(u * n))
                        .add(V::splat(*row.add(u)))
                        .sub(v);
                    act(other).store(c.add(u * n));
                }
            }
        }
        K.max(1)
    }
}

/// A pass's sum for one unit: its base plus the pass's features' lanes of `Δ`
/// times their weights (a function, not a closure, so that it inlines with the
/// vector unit's instructions).
struct Sum<'a, V, const K: usize> {
    d: &'a [V; K],
    /// The pass's first weight of unit 0.
    w: *const f32,
    stride: usize,
    /// The values the pass adds to (units × lanes).
    base: *const f32,
}

impl<V: Lanes, const K: usize> Sum<'_, V, K> {
    #[inline(always)]
    unsafe fn unit(&self, u: usize) -> V {
        let w = self.w.add(u * self.stride);
        let mut even = V::load(self.base.add(u * V::N));
        let mut odd = V::splat(0.0);
        for (i, d) in self.d.iter().enumerate() {
            if i % 2 == 0 {
                even = d.mul_add(V::splat(*w.add(i)), even);
            } else {
                odd = d.mul_add(V::splat(*w.add(i)), odd);
            }
        }
        even.add(odd)
    }
}

/// Every later layer of a tile from the first layer's activations in `a`, and
/// each lane's explained output (through the logistic function if the link is)
/// into `out` (lanes).
#[inline(always)]
unsafe fn head<'s, V: Lanes>(
    plan: &Plan,
    mut a: &'s mut [f32],
    mut b: &'s mut [f32],
    out: *mut f32,
) {
    let fused = plan.fused.as_ref().expect("checked by the caller");
    later_layers::<V>(plan, &mut a, &mut b);
    let mut v = V::load(a.as_ptr().add(fused.output * V::N));
    if fused.logistic {
        v = v.sigmoid();
    }
    v.store(out);
}

mod layout;
