//! The timer driver's shared handle: sharded wheels, the planned wake-up of
//! the parked driver, and the operations the timer futures use.
//!
//! # Sharding
//!
//! The timers live in several wheels ("shards"), each behind its own lock,
//! so threads registering and cancelling timers concurrently rarely contend.
//! A thread uses the shard given by a per-thread hint (threads are numbered
//! in the order they first use a timer), so a runtime's workers each tend to
//! have a shard of their own. A timer stays in the shard it was registered
//! in; the key a sleep holds names the shard.
//!
//! # Contract with `crate::driver` (the parked worker)
//!
//! 1. [`Handle::next_expiration`] right before blocking; the returned
//!    instant bounds the block.
//! 2. [`Handle::process`] right after waking up.
//!
//! # No lost wake-up
//!
//! `planned_wake` holds the tick the driver is blocked until: `u64::MAX`
//! while it computes (or waits for I/O only), the computed tick while it
//! blocks, and `0` after it woke up (it recomputes before blocking again).
//!
//! Step 1 first stores `u64::MAX`, then reads every shard, then lowers
//! `planned_wake` to the minimum found. A registration inserts its timer
//! (under the shard lock) and then reads `planned_wake`; if its tick is
//! earlier, it lowers `planned_wake` to its tick with `fetch_min` and, if
//! that lowered it, unparks the driver. Either the driver's read of the
//! shard comes after the insertion (it sees the timer), or it comes before,
//! in which case the store of `u64::MAX` precedes the registration's read,
//! which therefore finds `u64::MAX` or the driver's minimum and unparks if
//! its timer is earlier. Later registrations with later deadlines find the
//! lowered value and do not unpark again.
//!
//! # Locks and wakers
//!
//! Wakers are woken, and dropped, only after the shard lock is released:
//! dropping the last reference to a task may drop a sleep of that task,
//! whose `Drop` takes the lock again.

use std::cell::Cell;
use std::task::{Poll, Waker};
use std::time::Instant;

use crossbeam_utils::CachePadded;

use super::clock::Clock;
use super::wake_batch::WakeBatch;
use super::wheel::{self, Wheel};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::park::Unpark;

/// The message of the panic raised when a timer is waited on after its
/// runtime shut down (as there is nothing left that could fire it).
pub(super) const SHUTDOWN_MSG: &str =
    "tether: a timer was polled after its runtime shut down; it can never fire";

/// Upper bound on the number of shards: beyond this many cores, contention
/// on a shard is already rare and more shards only make the driver's scan
/// over them (once per park) longer.
const MAX_SHARDS: usize = 64;

/// `planned_wake` value while the driver is not blocked in a timeout
/// computed by [`Handle::next_expiration`].
const NOT_PARKED: usize = 0;

/// `planned_wake` value while the driver computes its timeout, or blocks
/// with no timer pending.
const NO_TIMER: usize = usize::MAX;

/// Shared state of a runtime's timers. Cloning is cheap.
#[derive(Clone)]
pub(crate) struct Handle {
    /// The state shared by all clones.
    inner: Arc<Inner>,
}

/// Names a registered timer: its shard and its key in that shard's wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    /// Index into `Inner::shards`.
    shard: usize,
    /// The entry in that shard's wheel.
    key: wheel::Key,
}

/// What the clones of a [`Handle`] share.
struct Inner {
    /// Converts between instants and ticks.
    clock: Clock,
    /// Wakes the parked driver when a timer earlier than its timeout appears.
    /// (A plain `std` Arc: it only carries a trait object, no shared state.)
    unpark: std::sync::Arc<dyn Unpark>,
    /// The wheels; a power-of-two count.
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    /// The tick the parked driver blocks until (see the module docs), as
    /// given by [`planned`]. A `usize` so it is a native atomic everywhere.
    planned_wake: AtomicUsize,
}

/// One wheel and its flags, behind one lock.
struct Shard {
    /// The registered timers; each entry holds the waker of the task that
    /// waits for it.
    wheel: Wheel<Waker>,
    /// Set by [`Handle::shutdown`]: nothing will fire timers any more.
    is_shutdown: bool,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("time::Handle")
            .field("shards", &self.inner.shards.len())
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// Creates the timer state; `unpark` interrupts the parked driver.
    pub(crate) fn new(unpark: std::sync::Arc<dyn Unpark>) -> Handle {
        // Twice the core count, so the runtime's workers plus threads that
        // block on it rarely share a shard.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let shards = (cores * 2).next_power_of_two().min(MAX_SHARDS);
        Handle::with_shards(unpark, shards)
    }

    /// Creates the timer state with `shards` wheels (a power of two).
    pub(super) fn with_shards(unpark: std::sync::Arc<dyn Unpark>, shards: usize) -> Handle {
        debug_assert!(shards.is_power_of_two());
        let shards = (0..shards)
            .map(|_| {
                CachePadded::new(Mutex::new(Shard {
                    wheel: Wheel::new(),
                    is_shutdown: false,
                }))
            })
            .collect();
        Handle {
            inner: Arc::new(Inner {
                clock: Clock::new(),
                unpark,
                shards,
                planned_wake: AtomicUsize::new(NOT_PARKED),
            }),
        }
    }

    /// The instant by which the driver must call [`process`](Self::process)
    /// again, if any timer is registered. Records it as the planned wake-up
    /// (see the module docs).
    pub(crate) fn next_expiration(&self) -> Option<Instant> {
        self.inner.planned_wake.store(NO_TIMER, SeqCst);
        let next = (0..self.inner.shards.len())
            .filter_map(|i| {
                let shard = self.lock(i);
                if shard.is_shutdown {
                    None
                } else {
                    shard.wheel.next_expiration()
                }
            })
            .min();
        self.inner
            .planned_wake
            .fetch_min(next.map_or(NO_TIMER, planned), SeqCst);
        next.and_then(|tick| self.inner.clock.instant(tick))
    }

    /// Fires every timer whose deadline has passed, in deadline order
    /// across all shards.
    pub(crate) fn process(&self) {
        self.inner.planned_wake.store(NOT_PARKED, SeqCst);
        let now = self.inner.clock.now_tick(Instant::now());
        let mut any_ready = false;
        for i in 0..self.inner.shards.len() {
            let mut shard = self.lock(i);
            if !shard.is_shutdown {
                shard.wheel.advance(now);
                any_ready |= shard.wheel.peek_ready().is_some();
            }
        }
        if any_ready {
            self.fire_ready();
        }
    }

    /// Wakes every ready timer, merging the shards' ready lists (each in
    /// deadline order) so that timers fire in deadline order overall. Works
    /// in batches: all shard locks are held (taken in index order, the only
    /// place more than one is held) while a batch is collected, and none
    /// while it is woken.
    fn fire_ready(&self) {
        let mut batch = WakeBatch::new();
        let mut shards: Vec<MutexGuard<'_, Shard>> = Vec::with_capacity(self.inner.shards.len());
        loop {
            shards.extend((0..self.inner.shards.len()).map(|i| self.lock(i)));
            while !batch.is_full() {
                let earliest = shards
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| Some((s.wheel.peek_ready()?, i)))
                    .min();
                match earliest {
                    Some((_, i)) => batch.push(shards[i].wheel.pop_ready().expect("peeked")),
                    None => break,
                }
            }
            shards.clear();
            if batch.is_empty() {
                return;
            }
            batch.wake_all();
        }
    }

    /// Wakes every waiting timer at runtime shutdown. Afterwards no timer
    /// fires; waiting on one whose deadline has not passed panics with
    /// [`SHUTDOWN_MSG`].
    pub(crate) fn shutdown(&self) {
        let mut wakers = Vec::new();
        for i in 0..self.inner.shards.len() {
            let mut shard = self.lock(i);
            if std::mem::replace(&mut shard.is_shutdown, true) {
                continue;
            }
            // Entries stay registered (with an inert waker), so a sleep can
            // tell "shut down before firing" from "fired".
            shard
                .wheel
                .for_each_mut(|w| wakers.push(std::mem::replace(w, Waker::noop().clone())));
        }
        for waker in wakers {
            waker.wake();
        }
    }

    /// Registers a timer due at `deadline` that wakes `waker`. Returns
    /// `None` (registering nothing) if the deadline is already due.
    ///
    /// # Panics
    ///
    /// Panics with [`SHUTDOWN_MSG`] if the driver has shut down and
    /// `deadline` has not passed.
    pub(crate) fn register(&self, deadline: Instant, waker: &Waker) -> Option<TimerKey> {
        let tick = self.inner.clock.deadline_tick(deadline);
        let shard_index = self.home_shard();
        let mut shard = self.lock(shard_index);
        if shard.is_shutdown {
            drop(shard);
            check_deadline_after_shutdown(deadline);
            return None;
        }
        match shard.wheel.insert(tick, waker.clone()) {
            Ok(key) => {
                drop(shard);
                self.plan_wake(tick);
                Some(TimerKey {
                    shard: shard_index,
                    key,
                })
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
    /// Panics with [`SHUTDOWN_MSG`] if the driver has shut down before the
    /// timer fired and `deadline` has not passed.
    pub(crate) fn poll_registered(
        &self,
        key: TimerKey,
        deadline: Instant,
        waker: &Waker,
    ) -> Poll<()> {
        let mut shard = self.lock(key.shard);
        let is_shutdown = shard.is_shutdown;
        let replaced = match shard.wheel.get_mut(key.key) {
            None => return Poll::Ready(()),
            Some(_) if is_shutdown => {
                // Either way the entry is done with: the sleep completes or
                // the poll panics.
                let waker = shard.wheel.remove(key.key);
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
    pub(crate) fn reregister(&self, key: TimerKey, deadline: Instant) -> Option<TimerKey> {
        let tick = self.inner.clock.deadline_tick(deadline);
        let mut shard = self.lock(key.shard);
        let waker = shard.wheel.remove(key.key)?;
        if shard.is_shutdown {
            drop(shard);
            drop(waker);
            return None;
        }
        match shard.wheel.insert(tick, waker) {
            Ok(new) => {
                drop(shard);
                self.plan_wake(tick);
                Some(TimerKey { key: new, ..key })
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
    pub(crate) fn deregister_and_wake(&self, key: TimerKey) {
        let waker = self.lock(key.shard).wheel.remove(key.key);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Cancels the timer of `key`, if it has not fired. O(1).
    pub(crate) fn deregister(&self, key: TimerKey) {
        let waker = self.lock(key.shard).wheel.remove(key.key);
        // Dropped after unlocking: a waker's drop may run arbitrary code.
        drop(waker);
    }

    /// Number of registered timers (fired ones not yet handed out count).
    pub(crate) fn registered(&self) -> usize {
        (0..self.inner.shards.len())
            .map(|i| self.lock(i).wheel.len())
            .sum()
    }

    /// Locks shard `i`.
    fn lock(&self, i: usize) -> MutexGuard<'_, Shard> {
        crate::loom::lock(&self.inner.shards[i])
    }

    /// The shard this thread registers its timers in.
    fn home_shard(&self) -> usize {
        thread_hint() & (self.inner.shards.len() - 1)
    }

    /// Called after registering a timer due at `tick`: unparks the driver if
    /// it is blocked until later (see the module docs).
    fn plan_wake(&self, tick: u64) {
        let (tick, planned_wake) = (planned(tick), &self.inner.planned_wake);
        if tick < planned_wake.load(SeqCst) && tick < planned_wake.fetch_min(tick, SeqCst) {
            self.inner.unpark.unpark();
        }
    }
}

/// `tick` as stored in `planned_wake`. Exact where `usize` has 64 bits;
/// with 32 bits, ticks from 49 days on saturate to [`NO_TIMER`], which only
/// costs extra unparks (every registration then sees an earlier tick).
fn planned(tick: u64) -> usize {
    usize::try_from(tick).unwrap_or(NO_TIMER)
}

/// A small number unique to the calling thread (assigned in the order
/// threads first ask), used to spread threads over shards.
fn thread_hint() -> usize {
    /// Next number to hand out. Only a hint: not used for synchronisation.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static HINT: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    HINT.try_with(|hint| {
        if hint.get() == usize::MAX {
            hint.set(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        }
        hint.get()
    })
    // During thread teardown: any shard is correct, just less spread.
    .unwrap_or(0)
}

/// Waiting on a timer after shutdown is fine if its deadline has passed;
/// otherwise this panics, as nothing will ever fire it.
fn check_deadline_after_shutdown(deadline: Instant) {
    if Instant::now() < deadline {
        panic!("{SHUTDOWN_MSG}");
    }
}
