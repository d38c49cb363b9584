//! Cooperative cancellation of long computations.
//!
//! A [`Cancel`] token is handed to every computation that can run for long (the
//! sampling explainers, integrated gradients, TreeSHAP and its interactions,
//! interventional TreeSHAP and the recording of its background, permutation
//! importance, partial dependence). The computation calls [`Cancel::check`] between
//! blocks of work (a batch of coalitions, a block of rows, a tree, a shuffle, a grid
//! point) and gives up with
//! [`CoreError::Cancelled`] once the token is tripped: by whoever holds it (a
//! request whose client left or whose deadline passed, a server shutting down) or
//! by its own deadline. Nothing partial is returned.
//!
//! Tokens form a tree: a [`Cancel::child`] is tripped with its parent, so one root
//! tripped at shutdown stops every request's work. A check is one atomic load per
//! level (two for a request) plus a clock read when a deadline is set: tens of
//! nanoseconds, nothing next to the block of model evaluations it guards.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{CoreError, CoreResult};

/// A cancellation token: cheap to clone (clones share the flag), `Send + Sync`.
/// [`Cancel::default`] is [`Cancel::never`].
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    /// `None`: never tripped (no allocation, a check is one branch).
    node: Option<Arc<Node>>,
}

#[derive(Debug)]
struct Node {
    /// Set once by [`Cancel::cancel`]; never cleared.
    tripped: AtomicBool,
    /// Past this instant the token counts as tripped.
    deadline: Option<Instant>,
    /// Tripping the parent trips this node too.
    parent: Option<Arc<Node>>,
}

impl Node {
    fn is_cancelled(&self, now: &mut Option<Instant>) -> bool {
        if self.tripped.load(Ordering::Relaxed) {
            return true;
        }
        if let Some(deadline) = self.deadline {
            if *now.get_or_insert_with(Instant::now) >= deadline {
                return true;
            }
        }
        self.parent.as_ref().is_some_and(|p| p.is_cancelled(now))
    }
}

impl Cancel {
    /// A token that is never tripped, for callers that want no cancellation.
    pub const fn never() -> Self {
        Cancel { node: None }
    }

    /// A fresh root token, tripped only by [`Cancel::cancel`].
    pub fn new() -> Self {
        Cancel::node(None, None)
    }

    /// A token tripped when this one is, or by its own [`Cancel::cancel`].
    pub fn child(&self) -> Self {
        Cancel::node(self.node.clone(), None)
    }

    /// A child token that also counts as tripped from `deadline` on.
    pub fn child_until(&self, deadline: Instant) -> Self {
        Cancel::node(self.node.clone(), Some(deadline))
    }

    fn node(parent: Option<Arc<Node>>, deadline: Option<Instant>) -> Self {
        Cancel {
            node: Some(Arc::new(Node {
                tripped: AtomicBool::new(false),
                deadline,
                parent,
            })),
        }
    }

    /// Trip the token (and so its children). No effect on [`Cancel::never`].
    pub fn cancel(&self) {
        if let Some(node) = &self.node {
            node.tripped.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the token, its deadline or an ancestor says stop.
    pub fn is_cancelled(&self) -> bool {
        self.node
            .as_ref()
            .is_some_and(|n| n.is_cancelled(&mut None))
    }

    /// Whether this token's own deadline (not an ancestor's) has passed.
    pub fn deadline_passed(&self) -> bool {
        self.node
            .as_ref()
            .and_then(|n| n.deadline)
            .is_some_and(|d| Instant::now() >= d)
    }

    /// Call between blocks of work.
    ///
    /// # Errors
    /// [`CoreError::Cancelled`] once the token is tripped.
    #[inline]
    pub fn check(&self) -> CoreResult<()> {
        if self.is_cancelled() {
            Err(CoreError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// A guard that trips this token when dropped: hold it in the future that
    /// awaits the work, so dropping that future (a client gone, a deadline passed)
    /// stops the work.
    pub fn trip_on_drop(&self) -> TripOnDrop {
        TripOnDrop(self.clone())
    }
}

/// Trips its token when dropped (see [`Cancel::trip_on_drop`]).
#[derive(Debug)]
#[must_use = "the token is tripped as soon as the guard is dropped"]
pub struct TripOnDrop(Cancel);

impl Drop for TripOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn children_follow_their_parent_and_not_the_other_way() {
        let root = Cancel::new();
        let child = root.child();
        let sibling = root.child();
        assert!(child.check().is_ok());
        child.cancel();
        assert_eq!(child.check(), Err(CoreError::Cancelled));
        assert!(!root.is_cancelled() && !sibling.is_cancelled());
        root.cancel();
        assert!(sibling.is_cancelled());
        assert!(!Cancel::never().is_cancelled());
    }

    #[test]
    fn a_deadline_trips_the_token_and_a_guard_trips_on_drop() {
        let past = Cancel::new().child_until(Instant::now() - Duration::from_millis(1));
        assert!(past.is_cancelled() && past.deadline_passed());
        let later = Cancel::new().child_until(Instant::now() + Duration::from_secs(3600));
        assert!(!later.is_cancelled() && !later.deadline_passed());
        let token = Cancel::new();
        drop(token.trip_on_drop());
        assert!(token.is_cancelled());
    }
}
