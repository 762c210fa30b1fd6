//! The runtime's time source: the real monotonic clock, or a virtual one
//! that can be paused and advanced ([`pause`](crate::time::pause), [`resume`](crate::time::resume), [`advance`](crate::time::advance)).
//!
//! # Model
//!
//! Virtual time is `base` while paused, and `base + (real time since
//! unfrozen)` while running. Pausing freezes the current virtual time into
//! `base`; resuming records the real instant it restarts from; advancing
//! adds to `base`. Virtual time never goes backwards, and once a clock has
//! been paused it stays virtual (after `resume` it runs at real speed from
//! where it was, possibly ahead of the real clock).
//!
//! [`Instant::now`](super::Instant::now) reads the current runtime's source,
//! so every sleep, timeout and interval created on the runtime follows the
//! virtual clock; the timer driver uses the same source to decide which
//! timers are due.
//!
//! # Auto-advance
//!
//! While paused, a runtime with nothing to do does not sleep until its next
//! timer: the driver first looks for ready I/O without blocking, and if
//! nothing at all happened (no I/O, no wake-up from another thread), it
//! moves the clock straight to the earliest timer's deadline and fires it.
//! So a test of a one-hour timeout finishes at once. Blocking-pool jobs
//! inhibit auto-advance while they run: their result is about to wake the
//! runtime, and a timer racing it must not win only because the clock was
//! jumped.
//!
//! Pausing is offered only on the current-thread runtime (as in tokio): on
//! the multi-thread runtime one idle worker cannot tell that the others
//! will stay idle, so auto-advance would fire timers early.

use std::time::{Duration, Instant};

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A runtime's clock; see the module docs.
#[derive(Debug)]
pub(crate) struct TimeSource {
    /// True once the clock has been paused: from then on time is virtual
    /// (read under `state`). False: `now` is the real clock, lock-free.
    is_virtual: AtomicBool,
    /// True while paused (mirrors `state.unfrozen.is_none()` for virtual
    /// clocks; read without the lock by the driver's idle check).
    paused: AtomicBool,
    /// Whether this runtime may pause (current-thread only).
    can_pause: AtomicBool,
    /// Running blocking jobs (see the module docs).
    inhibit: AtomicUsize,
    /// The virtual clock.
    state: Mutex<State>,
}

/// The virtual clock's readings.
#[derive(Debug, Clone, Copy)]
struct State {
    /// Virtual time when paused, or at `unfrozen`.
    base: Instant,
    /// The real instant the clock last resumed; `None` while paused.
    unfrozen: Option<Instant>,
}

impl State {
    fn now(&self) -> Instant {
        match self.unfrozen {
            Some(since) => self.base + since.elapsed(),
            None => self.base,
        }
    }
}

impl TimeSource {
    /// A source on the real clock; `can_pause` for current-thread
    /// runtimes.
    pub(crate) fn new(can_pause: bool) -> TimeSource {
        TimeSource {
            is_virtual: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            can_pause: AtomicBool::new(can_pause),
            inhibit: AtomicUsize::new(0),
            state: Mutex::new(State {
                base: Instant::now(),
                unfrozen: Some(Instant::now()),
            }),
        }
    }

    /// The current time.
    pub(crate) fn now(&self) -> Instant {
        if !self.is_virtual.load(Ordering::Acquire) {
            return Instant::now();
        }
        crate::loom::lock(&self.state).now()
    }

    /// Freezes the clock, at the current time moved forward by `align`
    /// (to a timer-wheel tick, so that deadlines a whole number of
    /// milliseconds away fall exactly on ticks; never backwards).
    pub(crate) fn pause(&self, align: impl FnOnce(Instant) -> Instant) -> Result<(), &'static str> {
        if !self.can_pause.load(Ordering::Acquire) {
            return Err(
                "`tether::time::pause` needs a current-thread runtime: the multi-thread \
                 runtime cannot tell when all of its workers are idle, so it cannot advance a \
                 paused clock safely",
            );
        }
        let mut state = crate::loom::lock(&self.state);
        if self.is_virtual.load(Ordering::Acquire) && state.unfrozen.is_none() {
            return Err("`tether::time::pause` called while the clock is already paused");
        }
        let now = if self.is_virtual.load(Ordering::Acquire) {
            state.now()
        } else {
            Instant::now()
        };
        *state = State {
            base: align(now).max(now),
            unfrozen: None,
        };
        self.paused.store(true, Ordering::Release);
        self.is_virtual.store(true, Ordering::Release);
        Ok(())
    }

    /// Lets the clock run again from where it stands.
    pub(crate) fn resume(&self) -> Result<(), &'static str> {
        let mut state = crate::loom::lock(&self.state);
        if !self.paused.load(Ordering::Acquire) {
            return Err("`tether::time::resume` called while the clock is not paused");
        }
        state.unfrozen = Some(Instant::now());
        self.paused.store(false, Ordering::Release);
        Ok(())
    }

    /// Moves a paused clock forward by `by`.
    pub(crate) fn advance(&self, by: Duration) -> Result<(), &'static str> {
        let mut state = crate::loom::lock(&self.state);
        if !self.paused.load(Ordering::Acquire) {
            return Err("`tether::time::advance` called while the clock is not paused");
        }
        state.base = state
            .base
            .checked_add(by)
            .ok_or("`tether::time::advance` by a duration that overflows the clock")?;
        Ok(())
    }

    /// Moves a paused clock forward to `to` (no-op if it is already
    /// there).
    pub(crate) fn advance_to(&self, to: Instant) {
        let mut state = crate::loom::lock(&self.state);
        if state.unfrozen.is_none() && to > state.base {
            state.base = to;
        }
    }

    /// Allows pausing (the runtime is a current-thread one).
    pub(crate) fn allow_pausing(&self) {
        self.can_pause.store(true, Ordering::Release);
    }

    /// True while paused.
    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// True if an idle driver may jump the clock to the next timer.
    pub(crate) fn can_auto_advance(&self) -> bool {
        self.is_paused() && self.inhibit.load(Ordering::Acquire) == 0
    }

    /// Stops auto-advance until the matching [`allow_auto_advance`].
    ///
    /// [`allow_auto_advance`]: TimeSource::allow_auto_advance
    pub(crate) fn inhibit_auto_advance(&self) {
        self.inhibit.fetch_add(1, Ordering::AcqRel);
    }

    /// Ends one [`inhibit_auto_advance`](TimeSource::inhibit_auto_advance).
    pub(crate) fn allow_auto_advance(&self) {
        self.inhibit.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Inhibits auto-advance of a paused clock while it lives (held by a
/// blocking-pool job until it has completed).
#[derive(Debug)]
pub(crate) struct AutoAdvanceGuard {
    /// The timers whose clock is held.
    time: super::Handle,
}

impl AutoAdvanceGuard {
    /// A guard if `time`'s clock is paused; `None` (nothing to inhibit)
    /// otherwise.
    pub(crate) fn new(time: &super::Handle) -> Option<AutoAdvanceGuard> {
        if !time.source().is_paused() {
            return None;
        }
        time.source().inhibit_auto_advance();
        Some(AutoAdvanceGuard { time: time.clone() })
    }
}

impl Drop for AutoAdvanceGuard {
    fn drop(&mut self) {
        self.time.source().allow_auto_advance();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn real_until_paused_then_frozen_advanced_and_resumed() {
        let source = TimeSource::new(true);
        let a = source.now();
        assert!(!source.is_paused());
        source.pause(|now| now).unwrap();
        let frozen = source.now();
        assert!(frozen >= a);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(source.now(), frozen);
        source.advance(Duration::from_secs(3600)).unwrap();
        assert_eq!(source.now(), frozen + Duration::from_secs(3600));
        source.advance_to(frozen); // never backwards
        assert_eq!(source.now(), frozen + Duration::from_secs(3600));
        assert!(source.pause(|now| now).is_err());
        source.resume().unwrap();
        assert!(source.resume().is_err());
        assert!(source.advance(Duration::from_secs(1)).is_err());
        std::thread::sleep(Duration::from_millis(2));
        assert!(source.now() >= frozen + Duration::from_secs(3600) + Duration::from_millis(2));
    }

    #[test]
    fn multi_thread_sources_refuse_to_pause() {
        let source = TimeSource::new(false);
        assert!(source.pause(|now| now).is_err());
        assert!(!source.is_paused());
    }

    #[test]
    fn inhibit_blocks_auto_advance() {
        let source = TimeSource::new(true);
        source
            .pause(|now| now + Duration::from_micros(300))
            .unwrap();
        assert!(source.can_auto_advance());
        source.inhibit_auto_advance();
        assert!(!source.can_auto_advance());
        source.allow_auto_advance();
        assert!(source.can_auto_advance());
    }
}
