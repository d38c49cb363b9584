//! The `from_data` section `/models/{name}/global` gains once jobs have succeeded.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Job, JobKind};
use crate::analysis::DataResult;

/// One kind's last result as `/global` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Finished {
    /// The job that computed it (`GET /jobs/{id}`).
    pub job: String,
    /// When it finished (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub computed_at: DateTime<Utc>,
    /// Seconds since then.
    pub age_seconds: f64,
    /// The result.
    #[schema(value_type = DataResult)]
    #[serde(serialize_with = "shared_one")]
    pub result: Arc<DataResult>,
}

/// The `from_data` section of `/models/{name}/global`: the last successful job of
/// each kind on this model version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FromData {
    /// Permutation importance on a labelled data set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permutation_importance: Option<Finished>,
    /// Partial dependence and ICE curves of one feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependence: Option<Finished>,
    /// Mean |φ| of an explainer over data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_abs_attribution: Option<Finished>,
}

fn shared_one<S: serde::Serializer>(v: &Arc<DataResult>, s: S) -> Result<S::Ok, S::Error> {
    v.as_ref().serialize(s)
}

/// The section for these jobs (from [`Jobs::latest`](super::Jobs::latest)) as of `now`.
pub fn from_data(latest: &[Arc<Job>], now: DateTime<Utc>) -> FromData {
    let mut section = FromData {
        permutation_importance: None,
        dependence: None,
        mean_abs_attribution: None,
    };
    for job in latest {
        let Some((result, at)) = job.outcome() else {
            continue;
        };
        let finished = Finished {
            job: job.id.clone(),
            computed_at: at,
            age_seconds: (now - at).num_milliseconds().max(0) as f64 / 1000.0,
            result,
        };
        match job.kind {
            JobKind::PermutationImportance => section.permutation_importance = Some(finished),
            JobKind::Dependence => section.dependence = Some(finished),
            JobKind::MeanAbsAttribution => section.mean_abs_attribution = Some(finished),
        }
    }
    section
}
