//! Conversion between [`Instant`]s and wheel ticks.
//!
//! A tick is one whole millisecond since the clock's start. Deadlines are
//! rounded *up* to a tick and the current time *down*, so a timer is never
//! considered due before its deadline (it may fire up to about one tick
//! late).

use std::time::{Duration, Instant};

/// Nanoseconds per wheel tick: the wheel's resolution is one millisecond,
/// well below what the OS's sleep granularity and scheduling delays make
/// observable, and coarse enough that 64 slots per level reach far.
const NANOS_PER_TICK: u128 = 1_000_000;

/// The origin of a wheel's ticks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    /// Tick 0.
    start: Instant,
}

impl Clock {
    /// A clock whose tick 0 is now.
    pub(super) fn new() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// The first tick at or after `deadline` (saturating at `u64::MAX`;
    /// 0 for deadlines before the start).
    pub(super) fn deadline_tick(&self, deadline: Instant) -> u64 {
        match deadline.checked_duration_since(self.start) {
            Some(d) => u64::try_from(d.as_nanos().div_ceil(NANOS_PER_TICK)).unwrap_or(u64::MAX),
            None => 0,
        }
    }

    /// The last tick at or before `now`.
    pub(super) fn now_tick(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.start);
        u64::try_from(d.as_nanos() / NANOS_PER_TICK).unwrap_or(u64::MAX)
    }

    /// The instant of `tick`, if representable.
    pub(super) fn instant(&self, tick: u64) -> Option<Instant> {
        self.start.checked_add(Duration::from_millis(tick))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_and_now_rounds_down() {
        let clock = Clock::new();
        let at = |us| clock.start + Duration::from_micros(us);
        assert_eq!(clock.deadline_tick(at(0)), 0);
        assert_eq!(clock.deadline_tick(at(1)), 1);
        assert_eq!(clock.deadline_tick(at(1000)), 1);
        assert_eq!(clock.deadline_tick(at(1001)), 2);
        assert_eq!(clock.now_tick(at(999)), 0);
        assert_eq!(clock.now_tick(at(1000)), 1);
        assert_eq!(clock.now_tick(at(1999)), 1);
        // A deadline is due only once "now" has reached it.
        for us in [1, 999, 1000, 1001, 123_456] {
            let tick = clock.deadline_tick(at(us));
            assert!(clock.instant(tick).unwrap() >= at(us));
            assert!(clock.now_tick(at(us) - Duration::from_nanos(1)) < tick);
        }
        assert_eq!(clock.instant(5), Some(at(5000)));
    }

    #[test]
    fn extremes_saturate() {
        let clock = Clock::new();
        assert_eq!(clock.deadline_tick(clock.start - Duration::from_secs(1)), 0);
        assert_eq!(clock.now_tick(clock.start - Duration::from_secs(1)), 0);
        // Whether it is representable depends on the platform; it must
        // simply not panic.
        let _ = clock.instant(u64::MAX);
    }
}
