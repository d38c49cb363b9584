//! Background jobs for the data summaries that take long (permutation importance,
//! partial dependence, mean |φ| of a sampling explainer over many rows).
//!
//! A job is accepted with a checked [`Plan`](crate::analysis::Plan), queued, and run on the blocking pool
//! when one of `--global-job-concurrency` slots is free (a separate bound from the
//! explanation requests', so a long job never holds up explain traffic's permits).
//! At most `--global-job-queue` jobs may be queued or running; finished jobs are
//! kept for `GET /jobs/{id}` up to `--global-jobs-kept`, oldest dropped first. The
//! last successful result of each kind per model version is kept apart from that
//! bound, for `/models/{name}/global`. The table's `std::sync::Mutex` is never held
//! across an `.await`.
//!
//! A running job checks a cancellation token between blocks of work: it is failed,
//! with a message that says why, when it runs past `--job-timeout-secs` or when the
//! server shuts down (a job still queued then fails without running).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tracing::Instrument;

mod section;
#[cfg(test)]
mod tests;
mod view;
pub use section::{from_data, Finished, FromData};
pub use view::{JobKind, JobState, JobView};

use crate::analysis::DataResult;
use crate::core::{Cancel, CoreError, CoreResult};
use crate::registry::ModelEntry;

#[derive(Debug)]
struct Status {
    state: JobState,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    result: Option<Arc<DataResult>>,
    error: Option<String>,
}

/// One job.
#[derive(Debug)]
pub struct Job {
    /// Its id, unique for the life of the process.
    pub id: String,
    /// What it computes.
    pub kind: JobKind,
    /// The model, and which registration of it (version and time), so a result is
    /// never shown for another model registered later under the same name.
    pub model: String,
    /// The model version it runs on.
    pub version: u64,
    model_created: DateTime<Utc>,
    /// The data set, or none for the background.
    pub dataset: Option<String>,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// Share done, 0..1, as the bits of an `f64`.
    progress: AtomicU64,
    status: Mutex<Status>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Job {
    /// The job's public view, with its result when `with_result`.
    pub fn view(&self, with_result: bool) -> JobView {
        let s = lock(&self.status);
        JobView {
            id: self.id.clone(),
            kind: self.kind,
            model: self.model.clone(),
            version: self.version,
            dataset: self.dataset.clone(),
            state: s.state,
            progress: self.progress(),
            created_at: self.created_at,
            started_at: s.started_at,
            finished_at: s.finished_at,
            result: s.result.clone().filter(|_| with_result),
            error: s.error.clone(),
        }
    }

    /// Share done, 0..1.
    pub fn progress(&self) -> f64 {
        f64::from_bits(self.progress.load(Ordering::Relaxed))
    }

    /// The result and when it was finished, once succeeded.
    pub fn outcome(&self) -> Option<(Arc<DataResult>, DateTime<Utc>)> {
        let s = lock(&self.status);
        Some((s.result.clone()?, s.finished_at?))
    }

    /// Whether the job ran on this registration of the model.
    pub fn is_for(&self, entry: &ModelEntry) -> bool {
        self.model == entry.name
            && self.version == entry.version
            && self.model_created == entry.created_at
    }

    fn set_progress(&self, p: f64) {
        // Threads report out of order: keep the largest share seen.
        let mut current = self.progress.load(Ordering::Relaxed);
        while f64::from_bits(current) < p {
            match self.progress.compare_exchange_weak(
                current,
                p.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
    }
}

#[derive(Debug, Default)]
struct Table {
    next: u64,
    jobs: HashMap<String, Arc<Job>>,
    /// Ids of finished jobs, oldest first, for the retention bound.
    finished: VecDeque<String>,
    /// Queued or running.
    active: usize,
    /// (model, kind) → the last job of that kind that succeeded.
    latest: HashMap<(String, JobKind), Arc<Job>>,
}

/// The error of a job stopped by shutdown.
const SHUT_DOWN: &str = "the server shut down before the job finished; submit it again";

/// Why a job was not accepted.
#[derive(Debug, thiserror::Error)]
#[error("{0} data-summary jobs are queued or running already; retry later")]
pub struct QueueFull(pub usize);

/// Every job.
#[derive(Debug)]
pub struct Jobs {
    table: Mutex<Table>,
    /// Jobs that may run at once.
    permits: Arc<Semaphore>,
    /// Most jobs queued or running.
    max_active: usize,
    /// Most finished jobs kept.
    kept: usize,
    /// How long a job may run.
    timeout: Option<Duration>,
    /// Tripped at shutdown: every job's token descends from it.
    stop: Cancel,
}

/// What [`Jobs::new`] needs.
#[derive(Debug, Clone, Copy)]
pub struct JobLimits {
    /// Jobs running at once (at least 1).
    pub concurrency: usize,
    /// Most jobs queued or running.
    pub max_active: usize,
    /// Most finished jobs kept.
    pub kept: usize,
    /// How long a job may run before it is stopped and failed; `None`: no limit.
    pub timeout: Option<Duration>,
}

impl Jobs {
    /// Stop every job, running or queued (the server is shutting down).
    pub fn stop_all(&self) {
        self.stop.cancel();
    }

    /// An empty table; tripping `stop` stops every job, running or queued.
    pub fn new(limits: JobLimits, stop: Cancel) -> Self {
        Jobs {
            table: Mutex::default(),
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            max_active: limits.max_active.max(1),
            kept: limits.kept.max(1),
            timeout: limits.timeout,
            stop,
        }
    }

    /// Accept a job and start it in the background (needs a Tokio runtime): `work`
    /// (a checked [`crate::analysis::Plan`]'s `run`, say) gets a progress callback
    /// and a cancellation token to check between blocks of work.
    ///
    /// # Errors
    /// [`QueueFull`] when `max_active` jobs are queued or running.
    pub fn submit(
        self: &Arc<Self>,
        kind: JobKind,
        entry: &ModelEntry,
        dataset: Option<String>,
        work: impl FnOnce(&(dyn Fn(f64) + Sync), &Cancel) -> CoreResult<DataResult> + Send + 'static,
    ) -> Result<Arc<Job>, QueueFull> {
        let job = {
            let mut t = lock(&self.table);
            if t.active >= self.max_active {
                return Err(QueueFull(t.active));
            }
            t.next += 1;
            t.active += 1;
            let job = Arc::new(Job {
                id: t.next.to_string(),
                kind,
                model: entry.name.clone(),
                version: entry.version,
                model_created: entry.created_at,
                dataset,
                created_at: Utc::now(),
                progress: AtomicU64::new(0f64.to_bits()),
                status: Mutex::new(Status {
                    state: JobState::Queued,
                    started_at: None,
                    finished_at: None,
                    result: None,
                    error: None,
                }),
            });
            t.jobs.insert(job.id.clone(), Arc::clone(&job));
            job
        };
        let this = Arc::clone(self);
        let running = Arc::clone(&job);
        let span = tracing::info_span!("job", id = %job.id, kind = ?kind, model = %job.model);
        tokio::spawn(
            async move {
                let Ok(permit) = Arc::clone(&this.permits).acquire_owned().await else {
                    return this.finish(&running, Err("job pool closed".into()));
                };
                if this.stop.is_cancelled() {
                    return this.finish(&running, Err(SHUT_DOWN.into()));
                }
                lock(&running.status).state = JobState::Running;
                lock(&running.status).started_at = Some(Utc::now());
                let worker = Arc::clone(&running);
                let span = tracing::Span::current();
                let cancel = match this.timeout {
                    Some(limit) => this.stop.child_until(Instant::now() + limit),
                    None => this.stop.child(),
                };
                let token = cancel.clone();
                // Dropped with this task (the runtime torn down): the work stops.
                let _trip = cancel.trip_on_drop();
                // The permit goes with the work: a job stopped on the async side
                // (the runtime shutting down) keeps its slot until it returns.
                let outcome = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    span.in_scope(|| work(&|p| worker.set_progress(p), &token))
                })
                .await;
                let outcome = match outcome {
                    // A number the JSON answer could only write as null fails the job.
                    Ok(Ok(result)) => crate::core::serde_finite::check(&result, "the result")
                        .map(|()| result)
                        .map_err(|e| e.to_string()),
                    Ok(Err(CoreError::Cancelled)) => Err(this.stopped_because(&cancel)),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => {
                        tracing::error!(error = %e, "job panicked");
                        Err("internal error (see the server log)".into())
                    }
                };
                this.finish(&running, outcome);
            }
            .instrument(span),
        );
        Ok(job)
    }

    /// Why a job's token was tripped, for its `error`.
    fn stopped_because(&self, cancel: &Cancel) -> String {
        match self.timeout {
            Some(limit) if !self.stop.is_cancelled() && cancel.deadline_passed() => format!(
                "the job ran past its time limit of {} s and was stopped (--job-timeout-secs, \
                 EXPLAIND_JOB_TIMEOUT_SECS); use fewer rows, repeats or samples, or raise the limit",
                limit.as_secs()
            ),
            _ => SHUT_DOWN.into(),
        }
    }

    fn finish(&self, job: &Arc<Job>, outcome: Result<DataResult, String>) {
        let succeeded = outcome.is_ok();
        {
            let mut s = lock(&job.status);
            s.finished_at = Some(Utc::now());
            match outcome {
                Ok(result) => {
                    s.state = JobState::Succeeded;
                    s.result = Some(Arc::new(result));
                    job.set_progress(1.0);
                }
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "job failed");
                    s.state = JobState::Failed;
                    s.error = Some(e);
                }
            }
        }
        let mut t = lock(&self.table);
        t.active -= 1;
        if succeeded {
            // A job on an older registration never hides a newer one's result.
            let key = (job.model.clone(), job.kind);
            let newer = t.latest.get(&key).is_some_and(|held| {
                (held.model_created, held.version) > (job.model_created, job.version)
            });
            if !newer {
                t.latest.insert(key, Arc::clone(job));
            }
        }
        t.finished.push_back(job.id.clone());
        while t.finished.len() > self.kept {
            if let Some(old) = t.finished.pop_front() {
                t.jobs.remove(&old);
            }
        }
    }

    /// One job.
    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        lock(&self.table).jobs.get(id).cloned()
    }

    /// A model's jobs still kept, newest first.
    pub fn list(&self, model: &str) -> Vec<Arc<Job>> {
        let t = lock(&self.table);
        let mut all: Vec<_> = t
            .jobs
            .values()
            .filter(|j| j.model == model)
            .cloned()
            .collect();
        all.sort_by_key(|j| std::cmp::Reverse(j.id.parse::<u64>().unwrap_or(0)));
        all
    }

    /// The last successful job of each kind on this registration of the model.
    pub fn latest(&self, entry: &ModelEntry) -> Vec<Arc<Job>> {
        let t = lock(&self.table);
        JobKind::ALL
            .iter()
            .filter_map(|&k| t.latest.get(&(entry.name.clone(), k)))
            .filter(|j| j.is_for(entry))
            .cloned()
            .collect()
    }

    /// Drop a model's latest results (it was deleted); its jobs stay readable by id.
    pub fn forget_model(&self, model: &str) {
        lock(&self.table).latest.retain(|(m, _), _| m != model);
    }
}
