//! One async lock per model name, so that every change to a model and to what
//! hangs off it (its registration, its file, its data sets) happens one at a time
//! for that name, while changes to other models go on in parallel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Name → its lock, while anyone holds or waits for it.
///
/// The map keeps weak references: a lock lives as long as a guard or a waiter
/// holds it, and its slot is swept on the next call, so the map stays as small
/// as the set of names being changed right now. The `std` mutex around the map is
/// never held across an `.await`.
#[derive(Debug, Default)]
pub struct NameLocks {
    locks: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
}

/// Proof that the holder alone may change the model `name` and its data sets:
/// the operations that do take one, and the lock is released when it drops.
#[derive(Debug)]
pub struct NameGuard {
    name: String,
    _held: OwnedMutexGuard<()>,
}

impl NameGuard {
    /// The model name this guard locks.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl NameLocks {
    /// Wait until no one else holds `name`, then hold it until the guard drops.
    pub async fn lock(&self, name: &str) -> NameGuard {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.retain(|_, weak| weak.strong_count() > 0);
            match locks.get(name).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(AsyncMutex::new(()));
                    locks.insert(name.to_string(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        NameGuard {
            name: name.to_string(),
            _held: lock.lock_owned().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_per_name_and_no_leftover_slots() {
        let locks = NameLocks::default();
        let a = locks.lock("a").await;
        let _b = locks.lock("b").await;
        let waiting = locks.lock("a");
        tokio::pin!(waiting);
        assert!(
            poll_briefly(waiting.as_mut()).await.is_none(),
            "a second holder of 'a' must wait"
        );
        drop(a);
        assert_eq!(waiting.await.name(), "a");
        let _c = locks.lock("c").await;
        let slots = locks.locks.lock().unwrap().len();
        assert_eq!(slots, 2, "only the names held now keep a slot ('b', 'c')");
    }

    async fn poll_briefly<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        tokio::time::timeout(std::time::Duration::from_millis(20), f)
            .await
            .ok()
    }
}
