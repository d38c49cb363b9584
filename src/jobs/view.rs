//! What a job is and shows: its kind, its state, and its public view.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::analysis::DataResult;

/// What a job computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Permutation importance on a labelled data set.
    PermutationImportance,
    /// Partial dependence and ICE curves of one feature.
    Dependence,
    /// Mean |φ| of an explainer over data.
    MeanAbsAttribution,
}

impl JobKind {
    /// Every kind, in the order `/global` lists them.
    pub const ALL: [JobKind; 3] = [
        JobKind::PermutationImportance,
        JobKind::Dependence,
        JobKind::MeanAbsAttribution,
    ];
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a slot.
    Queued,
    /// Computing.
    Running,
    /// Done; `result` holds the answer.
    Succeeded,
    /// Stopped; `error` says why.
    Failed,
}

/// A job as `GET /jobs/{id}` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// What it computes.
    pub kind: JobKind,
    /// Model name.
    pub model: String,
    /// Model version it runs on.
    pub version: u64,
    /// The data set; null for the model's background.
    pub dataset: Option<String>,
    /// queued, running, succeeded or failed.
    pub state: JobState,
    /// Share done, from 0 to 1.
    pub progress: f64,
    /// When it was accepted (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// When it started running.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<DateTime<Utc>>,
    /// The answer, once succeeded (omitted in listings).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "shared")]
    #[schema(value_type = Option<DataResult>)]
    pub result: Option<Arc<DataResult>>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Serialise a shared result as the value itself.
fn shared<S: serde::Serializer>(v: &Option<Arc<DataResult>>, s: S) -> Result<S::Ok, S::Error> {
    v.as_deref().serialize(s)
}
