//! The timer driver's shared handle: the wheel behind a lock, plus the
//! conversion between [`Instant`]s and wheel ticks.
//!
//! Ticks are whole milliseconds since the handle was created. A deadline is
//! rounded *up* to a tick and the current time *down*, so a timer never
//! fires before its deadline (it may fire up to about one tick late).
//!
//! Contract with `crate::driver` (the parked worker):
//!
//! 1. [`Handle::next_expiration`] right before blocking, with the returned
//!    instant bounding the block.
//! 2. [`Handle::process`] right after waking up.
//!
//! Step 1 records the tick the driver plans to wake up at. A timer
//! registered while the driver is blocked with an earlier deadline calls
//! `unpark` (once: the recorded tick is lowered to the new deadline, so
//! later registrations with later deadlines do not unpark again). Step 2
//! clears the record, because the driver recomputes its timeout at the next
//! step 1 anyway.
//!
//! Wakers are woken, and dropped, only after the lock is released: dropping
//! the last reference to a task may drop a sleep of that task, whose `Drop`
//! takes the lock again.

use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::wake_batch::WakeBatch;
use super::wheel::{Key, Wheel};
use crate::loom::sync::{Arc, Mutex};
use crate::park::Unpark;

/// Nanoseconds per wheel tick: the wheel's resolution is one millisecond.
const NANOS_PER_TICK: u128 = 1_000_000;

/// The message of the panic raised when a timer is waited on after its
/// runtime shut down (as there is nothing left that could fire it).
pub(super) const SHUTDOWN_MSG: &str =
    "tether: a timer was polled after its runtime shut down; it can never fire";

/// Shared state of a runtime's timers. Cloning is cheap.
#[derive(Clone)]
pub(crate) struct Handle {
    /// The state shared by all clones.
    inner: Arc<Inner>,
}

/// What the clones of a [`Handle`] share.
struct Inner {
    /// Tick 0 of the wheel.
    start: Instant,
    /// Wakes the parked driver when a timer earlier than its timeout appears.
    /// (A plain `std` Arc: it only carries a trait object, no shared state.)
    unpark: std::sync::Arc<dyn Unpark>,
    /// The wheel and its bookkeeping.
    state: Mutex<State>,
}

/// Everything behind the lock.
struct State {
    /// The registered timers; each entry holds the waker of the task that
    /// waits for it.
    wheel: Wheel<Waker>,
    /// The tick the parked driver will wake up at (`u64::MAX`: it waits for
    /// I/O only); `0` while it is not parked in a timeout we computed.
    planned_wake: u64,
    /// Set by [`Handle::shutdown`]: nothing will fire timers any more.
    is_shutdown: bool,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("time::Handle").finish_non_exhaustive()
    }
}

impl Handle {
    /// Creates the timer state; `unpark` interrupts the parked driver.
    pub(crate) fn new(unpark: std::sync::Arc<dyn Unpark>) -> Handle {
        Handle {
            inner: Arc::new(Inner {
                start: Instant::now(),
                unpark,
                state: Mutex::new(State {
                    wheel: Wheel::new(),
                    planned_wake: 0,
                    is_shutdown: false,
                }),
            }),
        }
    }

    /// The instant by which the driver must call [`process`](Self::process)
    /// again, if any timer is registered. Records it as the planned wake-up
    /// (see the module docs).
    pub(crate) fn next_expiration(&self) -> Option<Instant> {
        let mut state = crate::loom::lock(&self.inner.state);
        let next = if state.is_shutdown {
            None
        } else {
            state.wheel.next_expiration()
        };
        state.planned_wake = next.unwrap_or(u64::MAX);
        drop(state);
        next.and_then(|tick| self.tick_instant(tick))
    }

    /// Fires every timer whose deadline has passed.
    pub(crate) fn process(&self) {
        let now = self.tick_floor(Instant::now());
        let mut batch = WakeBatch::new();
        let mut state = crate::loom::lock(&self.inner.state);
        state.planned_wake = 0;
        if state.is_shutdown {
            return;
        }
        state.wheel.advance(now);
        loop {
            while !batch.is_full() {
                match state.wheel.pop_ready() {
                    Some(waker) => batch.push(waker),
                    None => break,
                }
            }
            if batch.is_empty() {
                return;
            }
            drop(state);
            batch.wake_all();
            state = crate::loom::lock(&self.inner.state);
        }
    }

    /// Wakes every waiting timer at runtime shutdown. Afterwards no timer
    /// fires; waiting on one whose deadline has not passed panics with
    /// [`SHUTDOWN_MSG`].
    pub(crate) fn shutdown(&self) {
        let mut wakers = Vec::new();
        let mut state = crate::loom::lock(&self.inner.state);
        if std::mem::replace(&mut state.is_shutdown, true) {
            return;
        }
        state.planned_wake = 0;
        // Entries stay registered (with an inert waker), so a sleep can tell
        // "shut down before firing" from "fired".
        state
            .wheel
            .for_each_mut(|w| wakers.push(std::mem::replace(w, Waker::noop().clone())));
        drop(state);
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
    pub(crate) fn register(&self, deadline: Instant, waker: &Waker) -> Option<Key> {
        let tick = self.tick_ceil(deadline);
        let mut state = crate::loom::lock(&self.inner.state);
        if state.is_shutdown {
            drop(state);
            check_deadline_after_shutdown(deadline);
            return None;
        }
        match state.wheel.insert(tick, waker.clone()) {
            Ok(key) => {
                let unpark = state.plan_wake(tick);
                drop(state);
                if unpark {
                    self.inner.unpark.unpark();
                }
                Some(key)
            }
            Err(waker) => {
                drop(state);
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
    pub(crate) fn poll_registered(&self, key: Key, deadline: Instant, waker: &Waker) -> Poll<()> {
        let mut state = crate::loom::lock(&self.inner.state);
        let is_shutdown = state.is_shutdown;
        let replaced = match state.wheel.get_mut(key) {
            None => return Poll::Ready(()),
            Some(_) if is_shutdown => {
                // Either way the entry is done with: the sleep completes or
                // the poll panics.
                let waker = state.wheel.remove(key);
                drop(state);
                drop(waker);
                check_deadline_after_shutdown(deadline);
                return Poll::Ready(());
            }
            Some(registered) if registered.will_wake(waker) => None,
            Some(registered) => Some(std::mem::replace(registered, waker.clone())),
        };
        drop(state);
        drop(replaced);
        Poll::Pending
    }

    /// Moves the timer of `key` to `deadline`, keeping its waker. Returns
    /// the new key, or `None` if the timer had already fired (nothing is
    /// registered then) or the new deadline is already due (the waker is
    /// woken, so its task polls again and sees the deadline passed).
    pub(crate) fn reregister(&self, key: Key, deadline: Instant) -> Option<Key> {
        let tick = self.tick_ceil(deadline);
        let mut state = crate::loom::lock(&self.inner.state);
        let waker = state.wheel.remove(key)?;
        if state.is_shutdown {
            drop(state);
            drop(waker);
            return None;
        }
        match state.wheel.insert(tick, waker) {
            Ok(key) => {
                let unpark = state.plan_wake(tick);
                drop(state);
                if unpark {
                    self.inner.unpark.unpark();
                }
                Some(key)
            }
            Err(waker) => {
                drop(state);
                waker.wake();
                None
            }
        }
    }

    /// Cancels the timer of `key`, if it has not fired. O(1).
    pub(crate) fn deregister(&self, key: Key) {
        let waker = crate::loom::lock(&self.inner.state).wheel.remove(key);
        // Dropped after unlocking: a waker's drop may run arbitrary code.
        drop(waker);
    }

    /// Number of registered timers (fired ones not yet handed out count).
    pub(crate) fn registered(&self) -> usize {
        crate::loom::lock(&self.inner.state).wheel.len()
    }

    /// The first tick at or after `instant`.
    fn tick_ceil(&self, instant: Instant) -> u64 {
        match instant.checked_duration_since(self.inner.start) {
            Some(d) => u64::try_from(d.as_nanos().div_ceil(NANOS_PER_TICK)).unwrap_or(u64::MAX),
            None => 0,
        }
    }

    /// The last tick at or before `instant`.
    fn tick_floor(&self, instant: Instant) -> u64 {
        let d = instant.saturating_duration_since(self.inner.start);
        u64::try_from(d.as_nanos() / NANOS_PER_TICK).unwrap_or(u64::MAX)
    }

    /// The instant of `tick`, if representable.
    fn tick_instant(&self, tick: u64) -> Option<Instant> {
        self.inner.start.checked_add(Duration::from_millis(tick))
    }
}

impl State {
    /// Notes a new timer due at `tick`; returns whether the parked driver
    /// must be woken to shorten its timeout.
    fn plan_wake(&mut self, tick: u64) -> bool {
        if tick < self.planned_wake {
            self.planned_wake = tick;
            true
        } else {
            false
        }
    }
}

/// Waiting on a timer after shutdown is fine if its deadline has passed;
/// otherwise this panics, as nothing will ever fire it.
fn check_deadline_after_shutdown(deadline: Instant) {
    if Instant::now() < deadline {
        panic!("{SHUTDOWN_MSG}");
    }
}
