//! The job table: states, failures (errors and panics), retention and the latest
//! result per kind.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::*;
use crate::analysis::{DataResult, DependenceView, Head};
use crate::core::CoreError;
use crate::registry::ModelEntry;

fn entry(version: u64) -> ModelEntry {
    let spec: crate::spec::ModelSpec = serde_json::from_value(serde_json::json!({
        "kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0]}
    }))
    .unwrap();
    let head = crate::registry::EntryHead {
        name: "m".into(),
        version,
        created_at: Utc::now(),
        description: None,
    };
    ModelEntry::new(
        head,
        crate::spec::build(&spec).unwrap(),
        crate::live::LiveConfig::default(),
    )
}

fn result() -> DataResult {
    DataResult::Dependence(DependenceView {
        head: Head {
            model: "m".into(),
            version: 1,
            dataset: None,
            rows: 1,
        },
        feature: "a".into(),
        output_space: "raw".into(),
        grid: vec![0.0],
        categories: None,
        ice_rows: 0,
        outputs: vec![],
    })
}

fn jobs(kept: usize) -> Arc<Jobs> {
    let limits = JobLimits {
        concurrency: 1,
        max_active: 4,
        kept,
        timeout: None,
    };
    Arc::new(Jobs::new(limits, Cancel::new()))
}

/// Work that runs until its token is tripped (or ten minutes pass).
fn until_stopped(_: &(dyn Fn(f64) + Sync), cancel: &Cancel) -> CoreResult<DataResult> {
    let end = std::time::Instant::now() + Duration::from_secs(600);
    while std::time::Instant::now() < end {
        cancel.check()?;
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(result())
}

/// The job's final view. The work is instant, but on a loaded machine the blocking
/// pool can take seconds to run it: the wait is generous, the poll frequent.
async fn finished(job: &Job) -> JobView {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let view = job.view(true);
        if matches!(view.state, JobState::Succeeded | JobState::Failed) {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("job {} did not finish within a minute", job.id);
}

#[tokio::test]
async fn errors_and_panics_fail_the_job_and_keep_the_last_success() {
    let table = jobs(10);
    let e = entry(1);
    let ok = table
        .submit(JobKind::Dependence, &e, None, |p, _| {
            p(0.5);
            Ok(result())
        })
        .unwrap();
    assert_eq!(finished(&ok).await.state, JobState::Succeeded);
    assert_eq!(ok.progress(), 1.0);

    let err = table
        .submit(JobKind::Dependence, &e, None, |_, _| {
            Err(CoreError::InvalidArgument("no luck".into()))
        })
        .unwrap();
    let view = finished(&err).await;
    assert_eq!(view.state, JobState::Failed);
    assert_eq!(view.error.as_deref(), Some("no luck"));
    assert!(view.result.is_none());

    let boom = table
        .submit(JobKind::Dependence, &e, None, |_, _| panic!("a bug"))
        .unwrap();
    let view = finished(&boom).await;
    assert_eq!(view.state, JobState::Failed);
    assert!(view.error.unwrap().contains("internal error"));

    // Failures never replace the last success.
    let latest = table.latest(&e);
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].id, ok.id);
    assert!(
        table.latest(&entry(2)).is_empty(),
        "other versions see nothing"
    );
    table.forget_model("m");
    assert!(table.latest(&e).is_empty());
}

#[tokio::test]
async fn finished_jobs_beyond_the_bound_are_dropped_oldest_first() {
    let table = jobs(2);
    let e = entry(1);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let job = table
            .submit(JobKind::Dependence, &e, None, |_, _| Ok(result()))
            .unwrap();
        finished(&job).await;
        ids.push(job.id.clone());
    }
    assert!(table.get(&ids[0]).is_none());
    assert!(table.get(&ids[1]).is_some() && table.get(&ids[2]).is_some());
    let listed: Vec<String> = table.list("m").iter().map(|j| j.id.clone()).collect();
    assert_eq!(listed, vec![ids[2].clone(), ids[1].clone()]);
}

#[tokio::test]
async fn a_full_queue_refuses() {
    let limits = JobLimits {
        concurrency: 1,
        max_active: 1,
        kept: 10,
        timeout: None,
    };
    let table = Arc::new(Jobs::new(limits, Cancel::new()));
    let e = entry(1);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let first = table
        .submit(JobKind::Dependence, &e, None, move |_, _| {
            rx.recv().ok();
            Ok(result())
        })
        .unwrap();
    assert!(table
        .submit(JobKind::Dependence, &e, None, |_, _| Ok(result()))
        .is_err());
    tx.send(()).unwrap();
    assert_eq!(finished(&first).await.state, JobState::Succeeded);
    assert!(table
        .submit(JobKind::Dependence, &e, None, |_, _| Ok(result()))
        .is_ok());
}

#[tokio::test]
async fn a_job_past_its_time_limit_is_stopped_and_failed() {
    let limits = JobLimits {
        concurrency: 1,
        max_active: 4,
        kept: 10,
        timeout: Some(Duration::from_millis(50)),
    };
    let table = Arc::new(Jobs::new(limits, Cancel::new()));
    let job = table
        .submit(JobKind::Dependence, &entry(1), None, until_stopped)
        .unwrap();
    let view = finished(&job).await;
    assert_eq!(view.state, JobState::Failed);
    let error = view.error.unwrap();
    assert!(
        error.contains("time limit") && error.contains("--job-timeout-secs"),
        "{error}"
    );
}

#[tokio::test]
async fn shutdown_stops_running_and_queued_jobs() {
    let stop = Cancel::new();
    let limits = JobLimits {
        concurrency: 1,
        max_active: 4,
        kept: 10,
        timeout: None,
    };
    let table = Arc::new(Jobs::new(limits, stop.child()));
    let e = entry(1);
    let running = table
        .submit(JobKind::Dependence, &e, None, until_stopped)
        .unwrap();
    let queued = table
        .submit(JobKind::Dependence, &e, None, until_stopped)
        .unwrap();
    while running.view(false).state != JobState::Running {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    stop.cancel();
    for job in [&running, &queued] {
        let view = finished(job).await;
        assert_eq!(view.state, JobState::Failed);
        assert!(view.error.unwrap().contains("shut down"));
    }
}
