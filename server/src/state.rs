//! Shared state: one cloneable struct of cheap handles, passed to every handler.

use crate::access::auth::JwtKeys;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::storage::Db;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Access-token keys.
    pub keys: JwtKeys,
    /// Configuration.
    pub config: Arc<Config>,
    /// The figures served at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// How many syncs may run at once.
    pub admission: Arc<SyncAdmission>,
    /// Turns to build a large sync answer (a bootstrap page): bounds the memory they take.
    pub pages: Arc<Semaphore>,
}

impl AppState {
    /// The state of a server on `db`: sync admission sized from the configuration (by default
    /// twice the database pool's connections) and every figure at zero.
    pub fn new(db: Db, keys: JwtKeys, config: Config) -> AppState {
        let limit = config
            .max_syncs_in_flight
            .unwrap_or_else(|| 2 * db.pool.options().get_max_connections() as usize);
        let admission = SyncAdmission::new(limit, Duration::from_secs(config.sync_queue_timeout));
        AppState {
            db,
            keys,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            admission: Arc::new(admission),
            pages: Arc::new(Semaphore::new(crate::sync::BIG_PAGES_AT_ONCE)),
        }
    }
}

/// Admission control of syncs: at most `limit` hold a turn at once; a later one waits for a
/// turn up to `wait`, and is otherwise answered `503 busy` with `Retry-After`. This keeps a
/// crowd of devices from queueing on the database pool until their requests time out: the
/// excess is told at once, and clearly, to come back.
#[derive(Debug)]
pub struct SyncAdmission {
    turns: Arc<Semaphore>,
    limit: usize,
    wait: Duration,
    waiting: AtomicUsize,
}

/// A turn to run a sync, given back when dropped.
#[derive(Debug)]
pub struct Turn {
    _permit: OwnedSemaphorePermit,
}

impl SyncAdmission {
    /// `limit` turns (at least one); a sync waits up to `wait` for one.
    pub fn new(limit: usize, wait: Duration) -> SyncAdmission {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        SyncAdmission {
            turns: Arc::new(Semaphore::new(limit)),
            limit,
            wait,
            waiting: AtomicUsize::new(0),
        }
    }

    /// A turn, waiting for one up to the configured time; `None` when none came free.
    pub async fn admit(&self) -> Option<Turn> {
        if let Ok(permit) = self.turns.clone().try_acquire_owned() {
            return Some(Turn { _permit: permit });
        }
        if self.wait.is_zero() {
            return None;
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let got = tokio::time::timeout(self.wait, self.turns.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        match got {
            Ok(Ok(permit)) => Some(Turn { _permit: permit }),
            _ => None,
        }
    }

    /// Takes `n` turns at once if they are free, holding them until the result is dropped:
    /// for drills and tests that show what devices see when the server is saturated.
    pub fn hold(&self, n: usize) -> Option<Turn> {
        let n = u32::try_from(n).ok()?;
        self.turns
            .clone()
            .try_acquire_many_owned(n)
            .ok()
            .map(|permit| Turn { _permit: permit })
    }

    /// Turns held now.
    pub fn in_flight(&self) -> usize {
        self.limit.saturating_sub(self.turns.available_permits())
    }

    /// Syncs waiting for a turn now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Turns in all.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sync_waits_for_a_turn_then_gives_up() {
        let admission = SyncAdmission::new(2, Duration::from_millis(50));
        let first = admission.admit().await.expect("a free turn");
        assert_eq!(admission.in_flight(), 1);
        let held = admission.hold(1).expect("the second turn");
        assert!(admission.hold(1).is_none());
        assert_eq!(admission.in_flight(), 2);
        let started = std::time::Instant::now();
        assert!(admission.admit().await.is_none());
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(admission.waiting(), 0);
        drop(held);
        let second = admission.admit().await.expect("a turn came free");
        drop((first, second));
        assert_eq!(admission.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_waiting_sync_gets_the_turn_given_back() {
        let admission = Arc::new(SyncAdmission::new(1, Duration::from_secs(30)));
        let held = admission.hold(1).expect("the only turn");
        let waiter = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit().await.is_some() }
        });
        while admission.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        drop(held);
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn with_no_wait_a_full_server_answers_at_once() {
        let admission = SyncAdmission::new(1, Duration::ZERO);
        let _held = admission.hold(1).unwrap();
        assert!(admission.admit().await.is_none());
    }
}
