//! Live importance: the attributions explaind serves, aggregated per model version
//! while it serves them.
//!
//! Every successful explanation of `instances` (`POST /explain`,
//! `/models/{name}/explain`, KServe's `:explain` and the waterfall picture, which
//! share one flow) is recorded here: the served feature values, binned for the
//! population stability index against the background ([`crate::core::global::drift`]),
//! and, for attributions to single features in raw output space, the count, Σ|φ|
//! and Σφ per feature. Attributions in probability space, or to feature groups,
//! are not comparable with the raw-space background baseline and are not added
//! (their rows still count for drift). Multi-output models pool the explained
//! outputs: each served explanation counts once, whatever output it explains, and
//! the count per output is kept so that the baseline can be weighed by the same mix.
//!
//! # Cost on the explain path
//! The state of a version is allocated when the version is registered, in a few
//! shards (one per core, at most [`MAX_SHARDS`]); a request locks the shard of its
//! worker thread, so the `std::sync::Mutex` is uncontended, held for a few additions
//! per feature and never across an `.await`. Nothing is allocated or formatted.
//!
//! # Time
//! Each shard keeps a ring of `window / bucket` time buckets; when the ring comes
//! round to a bucket again, its sums move to a "retired" tally and it is cleared. A
//! record touches only the current bucket; a read adds the buckets of the last
//! `window` (the current, partial one included) for the window, and the retired
//! tally plus every bucket for the total since the version was loaded in this
//! process. Time is a millisecond count passed in, so tests drive
//! the clock; the service passes [`now_ms`].

mod tally;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use ndarray::ArrayView2;

use crate::core::global::drift::FeatureBins;
use crate::core::models::{OutputSpace, RawFeatures};
use crate::explainer::Outcome;
use tally::{Layout, Tally};

/// Most shards a version's state is split into.
pub const MAX_SHARDS: usize = 4;

/// How live statistics are kept; from the `--live-*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveConfig {
    /// Length of the sliding window, in seconds.
    pub window_secs: u64,
    /// Width of one time bucket, in seconds (the window's resolution).
    pub bucket_secs: u64,
    /// Value bins per feature for the PSI (at most; ties give fewer).
    pub bins: usize,
    /// Fewest background rows per bin (`--min-summary-rows`): a small background
    /// gets fewer bins, so that no bin edge singles out a row.
    pub min_bin_rows: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            window_secs: 300,
            bucket_secs: 10,
            bins: 10,
            min_bin_rows: 10,
        }
    }
}

impl LiveConfig {
    /// Check the settings.
    ///
    /// # Errors
    /// A message naming the setting when the bucket is 0 s, the window shorter than
    /// one bucket or longer than 1000 buckets, or the bins not between 1 and 100.
    pub fn validate(&self) -> Result<(), String> {
        if self.bucket_secs == 0 {
            return Err("--live-bucket-secs must be at least 1".into());
        }
        if self.window_secs < self.bucket_secs || self.window_secs / self.bucket_secs > 1000 {
            return Err(
                "--live-window-secs must hold between 1 and 1000 buckets of --live-bucket-secs"
                    .into(),
            );
        }
        if !(1..=100).contains(&self.bins) {
            return Err("--live-bins must be between 1 and 100".into());
        }
        Ok(())
    }

    fn buckets(&self) -> usize {
        (self.window_secs / self.bucket_secs).max(1) as usize
    }
}

/// Milliseconds on a monotonic clock that starts with the process.
pub fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Ring slot number of a slot that never held anything.
const EMPTY: u64 = u64::MAX;

/// One shard: the ring of time buckets and what has left it.
#[derive(Debug)]
struct Shard {
    /// Everything since the version was loaded that is no longer in the ring: a
    /// bucket is added here when its slot is reused, so a record touches only the
    /// current bucket and the total is `retired` plus the whole ring.
    retired: Tally,
    /// `(bucket number, sums)` per ring slot; the number says which stretch of time
    /// the slot holds, so a stale slot is recognised and cleared.
    ring: Vec<(u64, Tally)>,
}

/// The live statistics of one model version.
#[derive(Debug)]
pub struct LiveStats {
    /// Sizes and bins shared by every tally.
    layout: Layout,
    /// Window settings.
    config: LiveConfig,
    /// Independently locked parts; readers add them up.
    shards: Box<[Mutex<Shard>]>,
}

/// Aggregates of one stretch of time, added over the shards.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Attribution vectors counted.
    pub explanations: u64,
    /// Attribution vectors left out of the sums (and of `explanations`): one of their
    /// values was not finite or beyond ±10²⁸⁰, where sums would overflow.
    pub out_of_range: u64,
    /// Of those, per output index.
    pub by_output: Vec<u64>,
    /// Σ|φ| per feature.
    pub abs_sum: Vec<f64>,
    /// Σφ per feature.
    pub sum: Vec<f64>,
    /// Σ max(φ, 0) per feature (a monotonic counter for Prometheus).
    pub positive_sum: Vec<f64>,
    /// Instances whose values were binned.
    pub rows: u64,
    /// Per feature, the count of served values in each bin (as [`LiveStats::bins`]).
    pub bin_counts: Vec<Vec<u64>>,
}

fn shard_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_SHARDS)
    })
}

/// This thread's shard number (before taking it modulo the shard count).
fn thread_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SHARD.with(|s| *s)
}

impl LiveStats {
    /// Empty statistics for a model with `n_features` inputs and `n_outputs`
    /// outputs; `background` (rows × features), when there is one, fixes the PSI bins.
    /// `raw`, when some features are categorical, gives those bins per category.
    pub fn new(
        n_features: usize,
        n_outputs: usize,
        background: Option<ArrayView2<f64>>,
        raw: Option<&RawFeatures>,
        config: LiveConfig,
    ) -> Self {
        let bins = background.map(|b| {
            b.columns()
                .into_iter()
                .enumerate()
                .map(|(j, c)| match raw.and_then(|r| r.categories(j)) {
                    Some(cats) => FeatureBins::from_categories(c, cats.len(), config.min_bin_rows),
                    None => FeatureBins::from_background(c, config.bins, config.min_bin_rows),
                })
                .collect()
        });
        let layout = Layout::new(n_features, n_outputs, bins);
        let shards = (0..shard_count())
            .map(|_| {
                Mutex::new(Shard {
                    retired: layout.tally(),
                    ring: (0..config.buckets())
                        .map(|_| (EMPTY, layout.tally()))
                        .collect(),
                })
            })
            .collect();
        LiveStats {
            layout,
            config,
            shards,
        }
    }

    /// The window settings.
    pub fn config(&self) -> LiveConfig {
        self.config
    }

    /// The PSI bins per feature, when the version has a background.
    pub fn bins(&self) -> Option<&[FeatureBins]> {
        self.layout.bins.as_deref()
    }

    /// Record a served answer at the current time; see [`LiveStats::record_at`].
    pub fn record(&self, inputs: ArrayView2<f64>, outcome: &Outcome, space: OutputSpace) {
        self.record_at(now_ms(), inputs, outcome, space);
    }

    /// Record a served answer at `now_ms`: the binned values of each instance in
    /// `inputs`, and the attributions of `outcome` when they are per feature and in
    /// raw space (module doc). Explanations with an attribution not finite or beyond
    /// ±10²⁸⁰ are counted in [`Snapshot::out_of_range`], not in the sums.
    pub fn record_at(
        &self,
        now_ms: u64,
        inputs: ArrayView2<f64>,
        outcome: &Outcome,
        space: OutputSpace,
    ) {
        let bucket = now_ms / (self.config.bucket_secs * 1000);
        let per_feature = !outcome.grouped && space == OutputSpace::Raw;
        let shard = &self.shards[thread_shard() % self.shards.len()];
        let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
        let Shard { retired, ring } = &mut *shard;
        let slot = (bucket % ring.len() as u64) as usize;
        let (number, current) = &mut ring[slot];
        let target = if *number == bucket {
            current
        } else if *number != EMPTY && bucket < *number {
            // A late record (its time read before a newer one took the slot):
            // it still counts in the total.
            retired
        } else {
            if *number != EMPTY {
                retired.merge(current);
            }
            current.clear();
            *number = bucket;
            current
        };
        for row in inputs.rows() {
            target.add_row(&self.layout, row);
        }
        if per_feature {
            for e in &outcome.explanations {
                target.add_explanation(&self.layout, e);
            }
        }
    }

    /// Totals since the version was loaded, and over the window ending at `now_ms`.
    pub fn snapshot_at(&self, now_ms: u64) -> (Snapshot, Snapshot) {
        let bucket = now_ms / (self.config.bucket_secs * 1000);
        let mut total = self.layout.tally();
        let mut window = self.layout.tally();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            total.merge(&shard.retired);
            for (number, tally) in shard.ring.iter().filter(|(n, _)| *n != EMPTY) {
                total.merge(tally);
                let recent = *number <= bucket && bucket - *number < shard.ring.len() as u64;
                if recent {
                    window.merge(tally);
                }
            }
        }
        (total.snapshot(&self.layout), window.snapshot(&self.layout))
    }
}

#[cfg(test)]
mod tests;
