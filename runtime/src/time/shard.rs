//! One shard of a runtime's timers — a wheel behind its own lock — and the
//! operations a timer future performs on it.
//!
//! A [`TimerShard`] is a reference to one shard, held by every [`Sleep`]
//! registered in it. Each shard sits in its own reference-counted
//! allocation, so threads that create sleeps in different shards do not
//! contend on one shared reference count either.
//!
//! Wakers are woken, and dropped, only after the shard lock is released:
//! dropping the last reference to a task may drop a sleep of that task,
//! whose `Drop` takes the lock again.
//!
//! [`Sleep`]: super::Sleep

use std::task::{Poll, Waker};
use std::time::Instant;

use crossbeam_utils::CachePadded;

use super::driver::Shared;
use super::wheel::{Key, Wheel};
use crate::loom::sync::{Arc, Mutex, MutexGuard};

/// The message of the panic raised when a timer is waited on after its
/// runtime shut down (as there is nothing left that could fire it).
pub(super) const SHUTDOWN_MSG: &str =
    "tether: a timer was polled after its runtime shut down; it can never fire";

/// A reference to one shard of a runtime's timers. Cloning is cheap.
#[derive(Clone)]
pub(crate) struct TimerShard {
    /// The shard, on cache lines of its own.
    cell: Arc<CachePadded<ShardCell>>,
}

/// What the clones of a [`TimerShard`] share.
struct ShardCell {
    /// State common to all shards of the runtime.
    shared: std::sync::Arc<Shared>,
    /// The wheel and its flag.
    state: Mutex<Shard>,
}

/// One wheel and its flag, behind one lock.
pub(super) struct Shard {
    /// The registered timers; each entry holds the waker of the task that
    /// waits for it.
    pub(super) wheel: Wheel<Waker>,
    /// Set at runtime shutdown: nothing will fire timers any more.
    pub(super) is_shutdown: bool,
}

impl std::fmt::Debug for TimerShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerShard").finish_non_exhaustive()
    }
}

impl TimerShard {
    /// An empty shard of the timers described by `shared`.
    pub(super) fn new(shared: std::sync::Arc<Shared>) -> TimerShard {
        TimerShard {
            cell: Arc::new(CachePadded::new(ShardCell {
                shared,
                state: Mutex::new(Shard {
                    wheel: Wheel::new(),
                    is_shutdown: false,
                }),
            })),
        }
    }

    /// Locks the shard.
    pub(super) fn lock(&self) -> MutexGuard<'_, Shard> {
        crate::loom::lock(&self.cell.state)
    }

    /// Registers a timer due at `deadline` that wakes `waker`. Returns
    /// `None` (registering nothing) if the deadline is not after the wheel's
    /// clock: it is already due.
    ///
    /// # Panics
    ///
    /// Panics with [`SHUTDOWN_MSG`] if the runtime has shut down and
    /// `deadline` has not passed.
    pub(crate) fn register(&self, deadline: Instant, waker: &Waker) -> Option<Key> {
        let shared = &self.cell.shared;
        let tick = shared.clock.deadline_tick(deadline);
        let mut shard = self.lock();
        if shard.is_shutdown {
            drop(shard);
            check_deadline_after_shutdown(deadline);
            return None;
        }
        match shard.wheel.insert(tick, waker.clone()) {
            Ok(key) => {
                drop(shard);
                shared.plan_wake(tick);
                Some(key)
            }
            Err(waker) => {
                drop(shard);
                drop(waker);
                None
            }
        }
    }

    /// Whether the timer of `key` (due at `deadline`) has fired; if not,
    /// makes `waker` the one it wakes.
    ///
    /// # Panics
    ///
    /// Panics with [`SHUTDOWN_MSG`] if the runtime has shut down before the
    /// timer fired and `deadline` has not passed.
    pub(crate) fn poll_registered(&self, key: Key, deadline: Instant, waker: &Waker) -> Poll<()> {
        let mut shard = self.lock();
        let is_shutdown = shard.is_shutdown;
        let replaced = match shard.wheel.get_mut(key) {
            None => return Poll::Ready(()),
            Some(_) if is_shutdown => {
                // Either way the entry is done with: the sleep completes or
                // the poll panics.
                let waker = shard.wheel.remove(key);
                drop(shard);
                drop(waker);
                check_deadline_after_shutdown(deadline);
                return Poll::Ready(());
            }
            Some(registered) if registered.will_wake(waker) => None,
            Some(registered) => Some(std::mem::replace(registered, waker.clone())),
        };
        drop(shard);
        drop(replaced);
        Poll::Pending
    }

    /// Moves the timer of `key` to `deadline`, keeping its waker. Returns
    /// the new key, or `None` if the timer had already fired (nothing is
    /// registered then) or the new deadline is already due (the waker is
    /// woken, so its task polls again and sees the deadline passed).
    pub(crate) fn reregister(&self, key: Key, deadline: Instant) -> Option<Key> {
        let shared = &self.cell.shared;
        let tick = shared.clock.deadline_tick(deadline);
        let mut shard = self.lock();
        let waker = shard.wheel.remove(key)?;
        if shard.is_shutdown {
            drop(shard);
            drop(waker);
            return None;
        }
        match shard.wheel.insert(tick, waker) {
            Ok(new) => {
                drop(shard);
                shared.plan_wake(tick);
                Some(new)
            }
            Err(waker) => {
                drop(shard);
                waker.wake();
                None
            }
        }
    }

    /// Cancels the timer of `key` and wakes its waker if it had not fired
    /// yet (its deadline moved into the past).
    pub(crate) fn deregister_and_wake(&self, key: Key) {
        let waker = self.lock().wheel.remove(key);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Cancels the timer of `key`, if it has not fired. O(1).
    pub(crate) fn deregister(&self, key: Key) {
        let waker = self.lock().wheel.remove(key);
        // Dropped after unlocking: a waker's drop may run arbitrary code.
        drop(waker);
    }
}

/// Waiting on a timer after shutdown is fine if its deadline has passed;
/// otherwise this panics, as nothing will ever fire it.
fn check_deadline_after_shutdown(deadline: Instant) {
    if Instant::now() < deadline {
        panic!("{SHUTDOWN_MSG}");
    }
}
