//! The probability-space route's tables (module doc of [`super`]): per tree and
//! background row, the leaf its masked row reaches as a function of the few players
//! whose splits part that background row from the explained row on the paths the
//! masked rows can take.
//!
//! Built by a game's first call from [`Walks::reached`], checking the call's stop
//! every [`CHECK_TREES`] trees (a deadline or a cancellation does not wait for the
//! whole build): a pair (tree, background row) whose masked rows all reach one leaf
//! adds it to that row's starting margin; one that depends on `k ≤`
//! [`TABLE_PLAYERS`] players keeps its leaf per subset of them, a table of `2^k`
//! values; one that depends on more keeps the leaves it can reach, each with the
//! players that decide it (tested eight coalitions at a time where the CPU has
//! AVX-512). The trees whose leaf for one background row depends on the same
//! players share one table, the sum of their leaves. A coalition's margins are then
//! one lookup per table, its key the coalition's bits at those players. Tables over
//! the same players share the keys, computed once per batch of coalitions.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::walks::{Reached, Walks};
use crate::core::explain::stop::Stop;
use crate::core::CoreResult;

/// Trees built between two checks of the call's stop: a few milliseconds' work at
/// most on the deep benchmark model (about 50 µs a tree).
const CHECK_TREES: usize = 64;

/// A pair that depends on more players than this keeps its leaves rather than a
/// table (2^this `f64`).
pub const TABLE_PLAYERS: u32 = 8;

/// The tables of one game (module doc).
pub(super) struct Tables {
    /// Per background row and output (`b × outputs + output`), the base plus every
    /// leaf that the row's masked rows reach whoever plays.
    start: Vec<f64>,
    /// The pairs with a table, grouped by the players they depend on.
    groups: Vec<Group>,
    /// Every table, one after another.
    entries: Vec<f64>,
    /// The pairs that depend on more than [`TABLE_PLAYERS`] players.
    lists: Vec<List>,
    /// Their leaves, one after another.
    leaves: Vec<Reached>,
}

/// The pairs whose leaf depends on the same players.
struct Group {
    /// Those players, one bit each.
    players: u64,
    /// Each pair's margin (`b × outputs + output`) and the offset of its table.
    pairs: Vec<(usize, usize)>,
}

/// A pair that keeps its leaves.
struct List {
    /// Its margin (`b × outputs + output`).
    margin: usize,
    /// Its leaves in [`Tables::leaves`].
    leaves: std::ops::Range<usize>,
}

impl Tables {
    /// The tables of the trees in `walks` ([`Walks::masks`] must hold) for `n`
    /// background rows and the model's `base`; `None` past `max_bytes`.
    ///
    /// # Errors
    /// `stop`'s, checked every [`CHECK_TREES`] trees.
    pub fn of<const W: usize>(
        walks: &Walks<W>,
        n: usize,
        base: &[f64],
        max_bytes: usize,
        stop: &Stop,
    ) -> CoreResult<Option<Self>> {
        Self::of_with(walks, n, base, max_bytes, stop, true)
    }

    /// [`Tables::of`], with BMI2's `pext` only when `fast` and the CPU has it (the
    /// same tables either way).
    pub fn of_with<const W: usize>(
        walks: &Walks<W>,
        n: usize,
        base: &[f64],
        max_bytes: usize,
        stop: &Stop,
        fast: bool,
    ) -> CoreResult<Option<Self>> {
        #[cfg(target_arch = "x86_64")]
        if fast && std::is_x86_feature_detected!("bmi2") {
            // SAFETY: the CPU has BMI2 (checked above).
            return unsafe { x86::of_bmi2(walks, n, base, max_bytes, stop) };
        }
        Self::build::<false, W>(walks, n, base, max_bytes, stop)
    }

    /// [`Tables::of`], with BMI2's `pext` when `BMI2` (which the CPU must have).
    #[inline(always)]
    fn build<const BMI2: bool, const W: usize>(
        walks: &Walks<W>,
        n: usize,
        base: &[f64],
        max_bytes: usize,
        stop: &Stop,
    ) -> CoreResult<Option<Self>> {
        let outputs = base.len();
        let mut tables = Tables {
            start: base.iter().cycle().take(n * outputs).copied().collect(),
            groups: Vec::new(),
            entries: Vec::new(),
            lists: Vec::new(),
            leaves: Vec::new(),
        };
        let mut group_of: HashMap<u64, usize, BuildHasherDefault<MixHasher>> = HashMap::default();
        // Per group, the offset of each margin's table (`u32::MAX`: none yet),
        // counted in the bytes the tables take.
        let mut slots: Vec<Vec<u32>> = Vec::new();
        let slot_bytes = n * outputs * size_of::<u32>();
        let (mut reached, mut listed) = (Vec::new(), Vec::new());
        // Per background row, the players its leaves depend on in the tree at hand
        // and where its table starts.
        let (mut players, mut offsets) = (vec![0u64; n], vec![0usize; n]);
        for (t, head) in walks.heads.iter().enumerate() {
            if t % CHECK_TREES == 0 {
                stop.check()?;
            }
            reached.clear();
            walks.reached(head.root, &mut reached);
            players.fill(0);
            for (b, leaf) in &reached {
                players[*b as usize] |= leaf.decided;
            }
            for (b, (&players, offset)) in players.iter().zip(&mut offsets).enumerate() {
                let k = players.count_ones();
                let margin = b * outputs + head.output;
                if k > 0 && k <= TABLE_PLAYERS {
                    let g = *group_of.entry(players).or_insert_with(|| {
                        tables.groups.push(Group {
                            players,
                            pairs: Vec::new(),
                        });
                        slots.push(vec![u32::MAX; n * outputs]);
                        tables.groups.len() - 1
                    });
                    // The trees whose leaf for this margin depends on the same
                    // players share one table: their leaves' sum.
                    let slot = &mut slots[g][margin];
                    if *slot == u32::MAX {
                        let Ok(at) = u32::try_from(tables.entries.len()) else {
                            return Ok(None);
                        };
                        *slot = at;
                        tables.entries.resize(tables.entries.len() + (1 << k), 0.0);
                        tables.groups[g].pairs.push((margin, *slot as usize));
                    }
                    *offset = *slot as usize;
                }
            }
            for &(b, leaf) in &reached {
                let b = b as usize;
                let (players, margin) = (players[b], b * outputs + head.output);
                match players.count_ones() {
                    0 => tables.start[margin] += leaf.value,
                    k if k > TABLE_PLAYERS => listed.push((b, leaf)),
                    k => {
                        let table = &mut tables.entries[offsets[b]..][..1 << k];
                        fill::<BMI2>(table, players, &leaf);
                    }
                }
            }
            // The kept leaves by background row, each row's in the walk's order.
            listed.sort_by_key(|&(b, _)| b);
            for run in listed.chunk_by(|x, y| x.0 == y.0) {
                let from = tables.leaves.len();
                tables.leaves.extend(run.iter().map(|&(_, leaf)| leaf));
                let margin = run[0].0 * outputs + head.output;
                let leaves = from..tables.leaves.len();
                tables.lists.push(List { margin, leaves });
            }
            listed.clear();
            if tables.bytes() + slots.len() * slot_bytes > max_bytes {
                return Ok(None);
            }
        }
        // The vector lookups read 16 entries from the start of every table.
        tables.entries.resize(tables.entries.len() + 16, 0.0);
        Ok(Some(tables))
    }

    /// How many pairs keep a table, and how many their leaves.
    #[cfg(test)]
    pub fn pairs(&self) -> (usize, usize) {
        let tabled = self.groups.iter().map(|g| g.pairs.len()).sum();
        (tabled, self.lists.len())
    }

    /// Bytes the tables and lists take.
    fn bytes(&self) -> usize {
        self.entries.len() * size_of::<f64>()
            + self.leaves.len() * size_of::<Reached>()
            + self.lists.len() * size_of::<List>()
    }

    /// The margins of the coalitions of `masks` (one bit a player) into `margins`,
    /// margin-major: margin `m` of coalition `c` at `m × masks.len() + c`. `keys`
    /// is scratch.
    pub fn margins(&self, masks: &[u64], margins: &mut [f64], keys: &mut Vec<u64>) {
        self.margins_with(masks, margins, keys, true);
    }

    /// [`Tables::margins`], in AVX-512 lanes only when `fast` and the CPU has them
    /// (the same sums in the same order either way).
    pub fn margins_with(
        &self,
        masks: &[u64],
        margins: &mut [f64],
        keys: &mut Vec<u64>,
        fast: bool,
    ) {
        #[cfg(target_arch = "x86_64")]
        let fast = fast
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("bmi2");
        #[cfg(not(target_arch = "x86_64"))]
        let _ = fast;
        let count = masks.len();
        for (row, &start) in margins.chunks_exact_mut(count).zip(&self.start) {
            row.fill(start);
        }
        for group in &self.groups {
            #[cfg(target_arch = "x86_64")]
            if fast {
                // SAFETY: the CPU has both (checked above).
                unsafe { x86::group_avx512(self, group, masks, margins, keys) };
                continue;
            }
            self.group_portable(group, masks, margins, keys);
        }
        for list in &self.lists {
            let leaves = &self.leaves[list.leaves.clone()];
            let row = &mut margins[list.margin * count..(list.margin + 1) * count];
            #[cfg(target_arch = "x86_64")]
            if fast {
                // SAFETY: the CPU has AVX-512F (checked above).
                unsafe { x86::list_avx512(leaves, masks, row) };
                continue;
            }
            list_portable(leaves, masks, row);
        }
    }

    /// What the pairs of `group` add to the margins of [`Tables::margins`], for
    /// every CPU: the same sums in the same order as [`x86::group_avx512`].
    fn group_portable(
        &self,
        group: &Group,
        masks: &[u64],
        margins: &mut [f64],
        keys: &mut Vec<u64>,
    ) {
        let count = masks.len();
        keys.clear();
        keys.extend(masks.iter().map(|&mask| pext(mask, group.players)));
        let size = 1 << group.players.count_ones();
        for &(margin, offset) in &group.pairs {
            let table = &self.entries[offset..offset + size];
            let row = &mut margins[margin * count..(margin + 1) * count];
            for (m, &key) in row.iter_mut().zip(keys.iter()) {
                *m += table[key as usize];
            }
        }
    }
}

/// What a pair that keeps its `leaves` adds to the margins `row` of the coalitions
/// of `masks`: the value of the one leaf each coalition's masked row reaches.
fn list_portable(leaves: &[Reached], masks: &[u64], row: &mut [f64]) {
    for (m, &mask) in row.iter_mut().zip(masks) {
        let leaf = leaves.iter().find(|l| mask & l.decided == l.inside);
        *m += leaf.map_or(0.0, |l| l.value);
    }
}

/// Add `leaf`'s value to the entries of `table` (one per subset of `players`, in
/// [`pext`] order) whose masked row reaches it: every subset agreeing with its
/// decided players. A tree's leaves cover each entry once.
#[inline(always)]
fn fill<const BMI2: bool>(table: &mut [f64], players: u64, leaf: &Reached) {
    let all = table.len() as u64 - 1;
    let decided = pext_with::<BMI2>(leaf.decided, players);
    let inside = pext_with::<BMI2>(leaf.inside, players);
    let free = all & !decided;
    let mut subset = free;
    loop {
        table[(inside | subset) as usize] += leaf.value;
        if subset == 0 {
            break;
        }
        subset = (subset - 1) & free;
    }
}

/// [`pext`], by BMI2's instruction when `BMI2` (which the CPU must have).
#[inline(always)]
fn pext_with<const BMI2: bool>(x: u64, players: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if BMI2 {
        // SAFETY: the caller's promise.
        return unsafe { std::arch::x86_64::_pext_u64(x, players) };
    }
    pext(x, players)
}

/// A hasher for one `u64` key: its bits mixed by a multiply (the keys are sets of
/// players, not chosen by a stranger).
#[derive(Default)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = (self.0.rotate_left(5) ^ key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The bits of `x` at the set bits of `players`, packed from bit 0 up (the BMI2
/// instruction `pext`).
#[inline]
fn pext(x: u64, players: u64) -> u64 {
    let mut key = 0;
    let (mut rest, mut bit) = (players, 0);
    while rest != 0 {
        let lowest = rest & rest.wrapping_neg();
        key |= u64::from(x & lowest != 0) << bit;
        bit += 1;
        rest ^= lowest;
    }
    key
}

#[cfg(target_arch = "x86_64")]
mod x86;
