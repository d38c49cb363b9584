//! When a sampling call must stop: its own time limit ([`Deadline`]) or its
//! [`Cancel`] token tripped from outside, checked together by [`Stop`] before each
//! block of work.

use std::time::{Duration, Instant};

use super::sampling::SamplingOptions;
use crate::core::{Cancel, CoreError, CoreResult};

/// When a call must give up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// The instant past which work stops.
    at: Instant,
    /// The limit, for the error message.
    limit: Duration,
}

impl Deadline {
    /// A deadline `limit` from now, or none.
    pub(crate) fn after(limit: Option<Duration>) -> Option<Self> {
        limit.map(|limit| Deadline {
            at: Instant::now() + limit,
            limit,
        })
    }

    /// The time left before the deadline (zero once it has passed).
    pub(crate) fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Fail with [`CoreError::Timeout`] once the deadline has passed.
    pub(crate) fn check(deadline: Option<Self>) -> CoreResult<()> {
        match deadline {
            Some(d) if Instant::now() > d.at => Err(CoreError::Timeout {
                limit_ms: d.limit.as_millis() as u64,
            }),
            _ => Ok(()),
        }
    }
}

/// When a call must stop: its own time limit, or its token tripped from outside.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stop {
    /// The request's own time limit (answered as [`CoreError::Timeout`]).
    pub deadline: Option<Deadline>,
    /// The caller's token (answered as [`CoreError::Cancelled`]).
    pub cancel: Cancel,
}

/// A stop that never comes, for games played outside an explain call.
pub(crate) static NEVER: Stop = Stop {
    deadline: None,
    cancel: Cancel::never(),
};

impl Stop {
    /// The stop of a call with these options, its time limit counted from now.
    pub(crate) fn of(options: &SamplingOptions) -> Self {
        Stop {
            deadline: Deadline::after(options.timeout()),
            cancel: options.cancel().clone(),
        }
    }

    /// Call before each block of work.
    ///
    /// # Errors
    /// [`CoreError::Timeout`] past the deadline, [`CoreError::Cancelled`] once the
    /// token is tripped.
    pub(crate) fn check(&self) -> CoreResult<()> {
        Deadline::check(self.deadline)?;
        self.cancel.check()
    }
}
