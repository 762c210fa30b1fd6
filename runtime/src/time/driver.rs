//! The timer driver's handle: the shards, the clock, and the planned
//! wake-up of the parked driver.
//!
//! # Sharding
//!
//! The timers live in several wheels ("shards"), each behind its own lock,
//! so threads registering and cancelling timers concurrently rarely contend.
//! A thread uses the shard given by a per-thread hint (threads are numbered
//! in the order they first use a timer), so a runtime's workers each tend to
//! have a shard of their own. A timer stays in the shard it was registered
//! in: a sleep holds a reference to its shard (`shard.rs`).
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
//! Wakers are woken, and dropped, only after the shard locks are released
//! (see `shard.rs`). Only [`Handle::process`] holds more than one shard
//! lock at a time, taking them in index order.

use std::task::Waker;
use std::time::Instant;

use super::clock::Clock;
use super::shard::{Shard, TimerShard};
use super::source::TimeSource;
use super::wake_batch::WakeBatch;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, MutexGuard};
use crate::park::Unpark;

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

/// What the clones of a [`Handle`] share.
struct Inner {
    /// What every shard needs too.
    shared: std::sync::Arc<Shared>,
    /// The shards; a power-of-two count.
    shards: Box<[TimerShard]>,
}

/// State common to all shards of a runtime's timers.
pub(super) struct Shared {
    /// Converts between instants and ticks.
    pub(super) clock: Clock,
    /// The runtime's clock: real, or paused/virtual (`source.rs`).
    source: TimeSource,
    /// Wakes the parked driver when a timer earlier than its timeout appears.
    unpark: std::sync::Arc<dyn Unpark>,
    /// The tick the parked driver blocks until (see the module docs), as
    /// given by [`planned`]. A `usize` so it is a native atomic everywhere.
    planned_wake: AtomicUsize,
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
        let shared = std::sync::Arc::new(Shared {
            clock: Clock::new(),
            source: TimeSource::new(false),
            unpark,
            planned_wake: AtomicUsize::new(NOT_PARKED),
        });
        let shards = (0..shards)
            .map(|_| TimerShard::new(shared.clone()))
            .collect();
        Handle {
            inner: Arc::new(Inner { shared, shards }),
        }
    }

    /// The runtime's clock.
    pub(crate) fn source(&self) -> &TimeSource {
        &self.inner.shared.source
    }

    /// Pauses the runtime's clock (see `source.rs`), aligned to a wheel
    /// tick.
    pub(crate) fn pause(&self) -> Result<(), &'static str> {
        let clock = self.inner.shared.clock;
        self.inner
            .shared
            .source
            .pause(|now| clock.instant(clock.deadline_tick(now)).unwrap_or(now))
    }

    /// The current time on the runtime's clock.
    pub(crate) fn now(&self) -> Instant {
        self.inner.shared.source.now()
    }

    /// The shard the calling thread registers its timers in.
    pub(crate) fn home_shard(&self) -> TimerShard {
        let shards = &self.inner.shards;
        shards[thread_hint() & (shards.len() - 1)].clone()
    }

    /// Shard `i` (tests place timers in chosen shards).
    #[cfg(test)]
    pub(super) fn shard(&self, i: usize) -> TimerShard {
        self.inner.shards[i].clone()
    }

    /// The instant by which the driver must call [`process`](Self::process)
    /// again, if any timer is registered. Records it as the planned wake-up
    /// (see the module docs).
    pub(crate) fn next_expiration(&self) -> Option<Instant> {
        let planned_wake = &self.inner.shared.planned_wake;
        planned_wake.store(NO_TIMER, SeqCst);
        let next = self
            .inner
            .shards
            .iter()
            .filter_map(|shard| {
                let shard = shard.lock();
                if shard.is_shutdown {
                    None
                } else {
                    shard.wheel.next_expiration()
                }
            })
            .min();
        planned_wake.fetch_min(next.map_or(NO_TIMER, planned), SeqCst);
        next.and_then(|tick| self.inner.shared.clock.instant(tick))
    }

    /// Fires every timer whose deadline has passed, in deadline order
    /// across all shards.
    pub(crate) fn process(&self) {
        let shared = &self.inner.shared;
        shared.planned_wake.store(NOT_PARKED, SeqCst);
        let now = shared.clock.now_tick(shared.source.now());
        let mut any_ready = false;
        for shard in self.inner.shards.iter() {
            let mut shard = shard.lock();
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
    /// in batches: all shard locks are held (taken in index order) while a
    /// batch is collected, and none while it is woken.
    fn fire_ready(&self) {
        let mut batch = WakeBatch::new();
        let mut locked: Vec<MutexGuard<'_, Shard>> = Vec::with_capacity(self.inner.shards.len());
        loop {
            locked.extend(self.inner.shards.iter().map(TimerShard::lock));
            while !batch.is_full() {
                let earliest = locked
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| Some((s.wheel.peek_ready()?, i)))
                    .min();
                match earliest {
                    Some((_, i)) => batch.push(locked[i].wheel.pop_ready().expect("peeked")),
                    None => break,
                }
            }
            locked.clear();
            if batch.is_empty() {
                return;
            }
            batch.wake_all();
        }
    }

    /// Wakes every waiting timer at runtime shutdown. Afterwards no timer
    /// fires; waiting on one whose deadline has not passed panics (see
    /// `shard::SHUTDOWN_MSG`).
    pub(crate) fn shutdown(&self) {
        let mut wakers = Vec::new();
        for shard in self.inner.shards.iter() {
            let mut shard = shard.lock();
            if std::mem::replace(&mut shard.is_shutdown, true) {
                continue;
            }
            // Entries stay registered (with an inert waker), so a sleep can
            // tell "shut down before firing" from "fired".
            shard
                .wheel
                .for_each_mut(|w| wakers.push(std::mem::replace(w, Waker::noop().clone())));
        }
        // A panicking waker must not stop the others (or the shutdown).
        wakers.into_iter().for_each(crate::park::wake_contained);
    }

    /// Number of registered timers (fired ones not yet handed out count).
    pub(crate) fn registered(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|shard| shard.lock().wheel.len())
            .sum()
    }
}

impl Shared {
    /// Called after registering a timer due at `tick`: unparks the driver if
    /// it is blocked until later (see the module docs).
    pub(super) fn plan_wake(&self, tick: u64) {
        let tick = planned(tick);
        if tick < self.planned_wake.load(SeqCst) && tick < self.planned_wake.fetch_min(tick, SeqCst)
        {
            self.unpark.unpark();
        }
    }
}

/// `tick` as stored in `planned_wake`. Exact where `usize` has 64 bits;
/// with 32 bits, ticks from 49 days on saturate to [`NO_TIMER`], which only
/// costs extra unparks (every registration then sees an earlier tick).
fn planned(tick: u64) -> usize {
    usize::try_from(tick).unwrap_or(NO_TIMER)
}

/// A small number unique to the calling thread, to spread threads over
/// shards (kept in the thread's runtime context).
fn thread_hint() -> usize {
    crate::runtime::context::thread_hint()
}
