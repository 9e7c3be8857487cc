//! Running collection work under a deadline while keeping whatever it gathered so far.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// State a collector fills in step by step, readable after the deadline cut it short.
#[derive(Debug, Default)]
pub(crate) struct Shared<T> {
    state: Arc<Mutex<T>>,
    cancelled: Arc<AtomicBool>,
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            state: self.state.clone(),
            cancelled: self.cancelled.clone(),
        }
    }
}

impl<T> Shared<T> {
    pub(crate) fn new(state: T) -> Self {
        Shared {
            state: Arc::new(Mutex::new(state)),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Changes the state; a poisoned lock (a panicked collector) is taken as is.
    pub(crate) fn update(&self, f: impl FnOnce(&mut T)) {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard);
    }

    /// Reads the state as it is now.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    /// The deadline passed: a blocking collector should stop at its next step.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Runs `work` for at most `budget`; true when it finished, false when the budget ran out
/// (the work is dropped and told to stop; what it wrote into `shared` stays).
pub(crate) async fn within<T>(
    budget: Duration,
    shared: &Shared<T>,
    work: impl Future<Output = ()>,
) -> bool {
    let done = tokio::time::timeout(budget, work).await.is_ok();
    if !done {
        shared.cancelled.store(true, Ordering::SeqCst);
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_slow_collector_is_cut_at_the_budget_keeping_its_first_part() {
        let shared = Shared::new(Vec::<&str>::new());
        let start = tokio::time::Instant::now();
        let work = {
            let shared = shared.clone();
            async move {
                shared.update(|s| s.push("first"));
                tokio::time::sleep(Duration::from_secs(10)).await;
                shared.update(|s| s.push("second"));
            }
        };
        let done = within(Duration::from_secs(2), &shared, work).await;
        assert!(!done);
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(shared.read(|s| s.clone()), ["first"]);
        assert!(shared.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn a_quick_collector_finishes() {
        let shared = Shared::new(0);
        let work = {
            let shared = shared.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                shared.update(|n| *n += 1);
            }
        };
        assert!(within(Duration::from_secs(2), &shared, work).await);
        assert_eq!(shared.read(|n| *n), 1);
        assert!(!shared.is_cancelled());
    }
}
