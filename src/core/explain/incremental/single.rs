//! A sampled coalition game of an MLP in float32, one background row per vector
//! lane ([`super::lanes`]).
//!
//! The float64 route builds each coalition's block of `z` and hands it to the
//! head's matrix products; here one kernel carries a tile of 16 (or 8) background
//! rows through the whole network in registers: the first layer's values from
//! their base and moves (as the module above), its activation, every later layer
//! (a block of units' accumulators at a time, each input lane-vector times a
//! broadcast weight), to the raw outputs. No block is packed or written between
//! layers, and float32 doubles the lanes: 2 to 3 times the float64 route's speed
//! on the benchmark's 12 → 32 → 16 → 1 network.
//!
//! Float32 rounds each value at about 1e-7 of the layers' magnitudes, so only the
//! estimators that sample use it ([`Game::sampled_values`]), where the sampling
//! error is orders of magnitude above it; exact values, enumerated designs and
//! the quality curves stay in float64. The tests hold the values to the float64
//! route's within 1e-5 relative on networks of every activation.

use super::lanes::{Kind, Lanes};
use super::{choose, features_taken, moves_from, Base};
use crate::core::explain::game::Game;
use crate::core::models::mlp::{Activation, DenseHead};
use crate::core::models::{AffineInput, Link, OutputSpace};
use crate::core::CoreResult;
use ndarray::Array2;

/// Coalitions chained on the previous one's values before one starts again from
/// the background or the row, so that float32 rounding cannot pile up.
const MAX_CHAIN: usize = 32;

/// The most values (coalitions × background rows × outputs) per link-and-average
/// pass.
const BATCH_VALUES: usize = 1 << 14;

/// `v(S)` for each coalition in `masks` (as [`Game::values`]) through the float32
/// kernel, or `None` where it does not apply: no vector unit for it, a head that is
/// not dense, or a hidden softmax.
pub(crate) fn values(
    game: &Game,
    affine: &dyn AffineInput,
    masks: &[bool],
) -> Option<CoreResult<Vec<f64>>> {
    values_with(Kind::detect()?, game, affine, masks)
}

/// [`values`] on vector unit `kind` (the tests run every unit the CPU has).
pub(super) fn values_with(
    kind: Kind,
    game: &Game,
    affine: &dyn AffineInput,
    masks: &[bool],
) -> Option<CoreResult<Vec<f64>>> {
    let plan = Plan::new(kind, game, affine, &affine.dense_head()?)?;
    Some(plan.play(game, masks))
}

/// An activation the kernel applies.
#[derive(Debug, Clone, Copy)]
enum Act {
    None,
    Relu,
    Leaky(f32),
    Sigmoid,
    Tanh,
}

impl Act {
    /// `None` for a softmax, which is not elementwise (only a head has one, and the
    /// link takes it).
    fn of(activation: Option<Activation>) -> Option<Act> {
        Some(match activation {
            None | Some(Activation::Identity) => Act::None,
            Some(Activation::Relu) => Act::Relu,
            Some(Activation::LeakyRelu { slope }) => Act::Leaky(slope as f32),
            Some(Activation::Sigmoid) => Act::Sigmoid,
            Some(Activation::Tanh) => Act::Tanh,
            Some(Activation::Softmax) => return None,
        })
    }

    #[inline(always)]
    unsafe fn apply<V: Lanes>(self, v: V) -> V {
        match self {
            Act::None => v,
            Act::Relu => v.max(V::splat(0.0)),
            Act::Leaky(slope) => {
                let zero = V::splat(0.0);
                v.min(zero).mul_add(V::splat(slope), v.max(zero))
            }
            Act::Sigmoid => v.sigmoid(),
            Act::Tanh => v.tanh(),
        }
    }

    /// [`Act::apply`] to the `units` vectors from `src` into `dst` (which may be
    /// `src`), with the `match` outside the loop.
    #[inline(always)]
    unsafe fn apply_all<V: Lanes>(self, src: *const f32, dst: *mut f32, units: usize) {
        #[inline(always)]
        unsafe fn each<V: Lanes>(src: *const f32, dst: *mut f32, units: usize, f: impl Fn(V) -> V) {
            for u in 0..units {
                f(V::load(src.add(u * V::N))).store(dst.add(u * V::N));
            }
        }
        match self {
            Act::None if std::ptr::eq(src, dst) => {}
            Act::None => each::<V>(src, dst, units, |v| v),
            Act::Relu => each::<V>(src, dst, units, |v| Act::Relu.apply(v)),
            Act::Leaky(slope) => each::<V>(src, dst, units, |v| Act::Leaky(slope).apply(v)),
            Act::Sigmoid => each::<V>(src, dst, units, |v| Act::Sigmoid.apply(v)),
            Act::Tanh => each::<V>(src, dst, units, |v| Act::Tanh.apply(v)),
        }
    }
}

/// A later layer in float32: weights (fan_in × fan_out, row-major), biases.
struct Layer {
    fan_in: usize,
    fan_out: usize,
    w: Vec<f32>,
    b: Vec<f32>,
    act: Act,
}

/// One row's game laid out for the kernel: tiles of `lanes` background rows, the
/// last padded with copies of the first row (their outputs are dropped).
struct Plan {
    kind: Kind,
    lanes: usize,
    tiles: usize,
    n_bg: usize,
    /// Width of the first layer.
    units: usize,
    outputs: usize,
    /// `W` (features × units).
    w1: Vec<f32>,
    /// Whether feature `j` has a weight (the others never move `z`).
    active: Vec<bool>,
    /// `z(b)`: (tiles × units × lanes).
    start_background: Vec<f32>,
    /// `z(x)`: (units).
    start_row: Vec<f32>,
    /// `Δ_bj = x_j − b_j`: (features × tiles × lanes).
    deltas: Vec<f32>,
    first: Act,
    layers: Vec<Layer>,
    /// The widest layer after the first map.
    widest: usize,
    /// Where the kernel itself averages the explained output.
    fused: Option<Fused>,
}

/// The game's value from the raw outputs inside the kernel, when its link is the
/// identity or (in probability space) the logistic function: the explained output,
/// through the sigmoid if so, times each row's weight, summed over the lanes.
struct Fused {
    output: usize,
    logistic: bool,
    /// Each background row's weight, (tiles × lanes); 0 on padding lanes.
    weights: Vec<f32>,
}

impl Plan {
    fn new(kind: Kind, game: &Game, affine: &dyn AffineInput, head: &DenseHead) -> Option<Plan> {
        let first = Act::of(head.first)?;
        let layers = (head.layers.iter())
            .map(|&(w, b, act)| {
                Some(Layer {
                    fan_in: w.nrows(),
                    fan_out: w.ncols(),
                    w: w.iter().map(|&v| v as f32).collect(),
                    b: b.iter().map(|&v| v as f32).collect(),
                    act: Act::of(act)?,
                })
            })
            .collect::<Option<Vec<Layer>>>()?;
        let link = match game.space {
            OutputSpace::Raw => Link::Identity,
            _ => game.model.link(),
        };
        if layers.is_empty() && head.first.is_none() && link == Link::Identity {
            // The affine map alone: the game is additive, which paired sampling
            // estimates exactly in float64; float32 would only add its rounding.
            return None;
        }
        let (w, c) = affine.input_affine();
        let (n_bg, units) = (game.background.nrows(), w.ncols());
        let features = w.nrows();
        let lanes = kind.lanes();
        let tiles = n_bg.div_ceil(lanes);
        // A padding lane repeats the first background row.
        let row = |t: usize, l: usize| {
            if t * lanes + l < n_bg {
                t * lanes + l
            } else {
                0
            }
        };
        let z_bg = game.background.dot(&w) + &c;
        let mut start_background = vec![0.0; tiles * units * lanes];
        for t in 0..tiles {
            for u in 0..units {
                for l in 0..lanes {
                    start_background[(t * units + u) * lanes + l] = z_bg[[row(t, l), u]] as f32;
                }
            }
        }
        let mut deltas = vec![0.0; features * tiles * lanes];
        for j in 0..features {
            for t in 0..tiles {
                for l in 0..lanes {
                    let d = game.x[j] - game.background[[row(t, l), j]];
                    deltas[(j * tiles + t) * lanes + l] = d as f32;
                }
            }
        }
        let outputs = layers.last().map_or(units, |l| l.fan_out);
        let fused = matches!(link, Link::Identity | Link::Logistic).then(|| {
            let mut weights = vec![0.0; tiles * lanes];
            for (b, w) in weights.iter_mut().take(n_bg).enumerate() {
                *w = game.weights.map_or(1.0 / n_bg as f64, |w| w[b]) as f32;
            }
            Fused {
                output: game.output,
                logistic: link == Link::Logistic,
                weights,
            }
        });
        let widest = layers.iter().map(|l| l.fan_out).fold(units, usize::max);
        Some(Plan {
            kind,
            lanes,
            tiles,
            n_bg,
            units,
            outputs,
            active: (w.rows().into_iter())
                .map(|r| r.iter().any(|&v| v != 0.0))
                .collect(),
            w1: w.iter().map(|&v| v as f32).collect(),
            start_background,
            start_row: (game.x.dot(&w) + &c).iter().map(|&v| v as f32).collect(),
            deltas,
            first,
            layers,
            widest,
            fused,
        })
    }

    /// The game's value at every coalition of `masks`.
    fn play(&self, game: &Game, masks: &[bool]) -> CoreResult<Vec<f64>> {
        let players = game.groups.len().max(1);
        let total = masks.len() / players;
        let block = self.n_bg * self.outputs;
        let per_batch = (BATCH_VALUES / block.max(1)).clamp(1, total.max(1));
        let width = game.x.len();
        let (mut current, mut previous) = (vec![false; width], vec![false; width]);
        let mut moves: Vec<(usize, f32)> = Vec::with_capacity(width);
        let z_len = self.tiles * self.units * self.lanes;
        let (mut z, mut z_prev) = (vec![0.0f32; z_len], vec![0.0f32; z_len]);
        let mut scratch = vec![0.0f32; 2 * self.widest * self.lanes];
        let mut move_weights: Vec<f32> = Vec::with_capacity(width * self.units);
        let mut out = Array2::<f64>::zeros((per_batch * self.n_bg, self.outputs));
        let mut values = Vec::with_capacity(total);
        let mut chain = 0;
        for chunk in masks.chunks(per_batch * players) {
            game.stop.check()?;
            let coalitions = chunk.len() / players;
            for (k, mask) in chunk.chunks(players).enumerate() {
                features_taken(game, mask, &self.active, &mut current);
                let base = choose(&current, &previous, chain > 0 && chain < MAX_CHAIN);
                chain = match base {
                    Base::Background | Base::Row => 1,
                    Base::Previous | Base::Complement => chain + 1,
                };
                moves_from(base, &current, &previous, &mut moves);
                std::mem::swap(&mut z, &mut z_prev);
                let rows = match self.fused {
                    Some(_) => &mut [][..],
                    None => (out.as_slice_mut().expect("a standard layout"))
                        .chunks_exact_mut(block)
                        .nth(k)
                        .expect("a block per coalition"),
                };
                self.move_weights(&moves, &mut move_weights);
                let step = Step {
                    base,
                    moves: &moves,
                    weights: &move_weights,
                };
                let value = self.coalition(&step, &z_prev, &mut z, &mut scratch, rows);
                values.extend(value);
                std::mem::swap(&mut current, &mut previous);
            }
            if self.fused.is_some() {
                continue;
            }
            let mut raw = out
                .slice(ndarray::s![..coalitions * self.n_bg, ..])
                .to_owned();
            if game.space == OutputSpace::Probability {
                game.model.link().apply(&mut raw);
            }
            game.averages(raw, self.n_bg, &mut values);
        }
        Ok(values)
    }

    /// Each move's signed first-layer weights, unit by unit: `weights[u · m + k] =
    /// sign_k W[j_k, u]` for the `m` moves `(j_k, sign_k)`.
    fn move_weights(&self, moves: &[(usize, f32)], weights: &mut Vec<f32>) {
        weights.clear();
        for u in 0..self.units {
            weights.extend(
                moves
                    .iter()
                    .map(|&(j, sign)| sign * self.w1[j * self.units + u]),
            );
        }
    }

    /// One coalition's value where the kernel averages ([`Fused`]), else its raw
    /// outputs into `out` (background rows × outputs); its first-layer values into
    /// `z`, from the step's base (`prev`: the previous coalition's).
    fn coalition(
        &self,
        step: &Step,
        prev: &[f32],
        z: &mut [f32],
        scratch: &mut [f32],
        out: &mut [f64],
    ) -> Option<f64> {
        // SAFETY: `kind` was detected on this CPU (`Kind::detect`, or by the tests
        // before `values_with`), so the target features are present.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match self.kind {
                Kind::Avx512 => coalition_avx512(self, step, prev, z, scratch, out),
                Kind::Avx2 => coalition_avx2(self, step, prev, z, scratch, out),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no vector unit is detected off x86-64")
    }
}

/// How one coalition's first-layer values are reached: a base, and the features
/// that move from it with their signed weights ([`Plan::move_weights`]).
struct Step<'a> {
    base: Base,
    moves: &'a [(usize, f32)],
    weights: &'a [f32],
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn coalition_avx512(
    plan: &Plan,
    step: &Step,
    prev: &[f32],
    z: &mut [f32],
    scratch: &mut [f32],
    out: &mut [f64],
) -> Option<f64> {
    tile::kernel::<super::lanes::Z>(plan, step, prev, z, scratch, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn coalition_avx2(
    plan: &Plan,
    step: &Step,
    prev: &[f32],
    z: &mut [f32],
    scratch: &mut [f32],
    out: &mut [f64],
) -> Option<f64> {
    tile::kernel::<super::lanes::Y>(plan, step, prev, z, scratch, out)
}

mod per_lane;
#[cfg(test)]
mod tests;
mod tile;

pub(crate) use per_lane::baseline_values;
