//! [`Interval`], [`interval`], [`interval_at`] and [`MissedTickBehavior`].

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::{Instant, Sleep, sleep_until};

/// A stream of ticks every `period`, the first one at once.
///
/// Equivalent to `interval_at(Instant::now(), period)`.
///
/// # Panics
///
/// Panics if `period` is zero, or if called outside a tether runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::time::{Instant, interval};
///
/// let rt = tether::Runtime::new()?;
/// rt.block_on(async {
///     let start = Instant::now();
///     let mut ticks = interval(Duration::from_millis(5));
///     ticks.tick().await; // at once
///     ticks.tick().await;
///     ticks.tick().await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// A stream of ticks at `start`, `start + period`, `start + 2 * period`, …
///
/// # Panics
///
/// Panics if `period` is zero, or if called outside a tether runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::time::{Instant, interval_at};
///
/// let rt = tether::Runtime::new()?;
/// rt.block_on(async {
///     let start = Instant::now() + Duration::from_millis(5);
///     let mut ticks = interval_at(start, Duration::from_millis(5));
///     assert_eq!(ticks.tick().await, start);
///     assert_eq!(ticks.tick().await, start + Duration::from_millis(5));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "`period` must be non-zero");
    Interval::new(sleep_until(start), period)
}

/// What an [`Interval`] does when a tick is missed: when it fires so late
/// (a busy task, a blocked worker) that the *next* scheduled tick is already
/// in the past as well.
///
/// With `period = 10ms`, ticks scheduled at 0, 10, 20, …, and the tick of
/// time 10 observed only at time 35:
///
/// | behaviour | ticks after the one at 35 |
/// |---|---|
/// | `Burst` | 20 and 30 at once (catch up), then 40, 50, … |
/// | `Delay` | 45, 55, 65, … (period measured from the late tick) |
/// | `Skip`  | 40, 50, 60, … (missed ticks dropped, schedule kept) |
///
/// A tick that is late by less than a period is not "missed": the next one
/// stays on schedule under every behaviour.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::time::{MissedTickBehavior, interval};
///
/// let rt = tether::Runtime::new()?;
/// rt.block_on(async {
///     let mut ticks = interval(Duration::from_millis(10));
///     ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
///     assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Skip);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks as fast as possible until the schedule has
    /// caught up (the default). Keeps the total number of ticks right.
    #[default]
    Burst,
    /// Restart the schedule from the late tick: the next tick is one period
    /// after the moment the late tick was observed.
    Delay,
    /// Drop the missed ticks and resume with the first tick of the original
    /// schedule that is still in the future.
    Skip,
}

impl MissedTickBehavior {
    /// The deadline of the tick after the one `scheduled` for, observed at
    /// `now`.
    fn next_deadline(self, scheduled: Instant, now: Instant, period: Duration) -> Instant {
        let next = scheduled.saturating_add(period);
        if next > now {
            return next;
        }
        match self {
            MissedTickBehavior::Burst => next,
            MissedTickBehavior::Delay => now.saturating_add(period),
            MissedTickBehavior::Skip => {
                // `now - scheduled` fits in u64 nanoseconds (it is real
                // elapsed time), so the remainder does too.
                let behind = now.duration_since(scheduled).as_nanos();
                let into_period = behind % period.as_nanos();
                let into_period = Duration::from_nanos(u64::try_from(into_period).unwrap_or(0));
                now.saturating_add(period - into_period)
            }
        }
    }
}

/// Ticks at a fixed period; created by [`interval`] and [`interval_at`].
///
/// Each tick resolves to the instant it was scheduled for (not the moment it
/// was observed). Ticks do not queue up while nobody waits: what happens
/// to ticks missed that way is set by [`MissedTickBehavior`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::time::interval;
///
/// let rt = tether::Runtime::new()?;
/// rt.block_on(async {
///     let mut ticks = interval(Duration::from_millis(2));
///     let first = ticks.tick().await;
///     let second = ticks.tick().await;
///     assert_eq!(second - first, Duration::from_millis(2));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Interval {
    /// Completes at the next tick.
    delay: Sleep,
    /// Time between ticks.
    period: Duration,
    /// How ticks missed by more than a period are made up.
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Ticks every `period`, the first tick when `delay` completes.
    pub(crate) fn new(delay: Sleep, period: Duration) -> Interval {
        Interval {
            delay,
            period,
            missed_tick_behavior: MissedTickBehavior::default(),
        }
    }

    /// Waits for the next tick and returns the instant it was scheduled for.
    ///
    /// Cancel-safe: if the returned future is dropped before completing, no
    /// tick is consumed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::{Instant, interval};
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(3));
    ///     let first = ticks.tick().await;
    ///     assert!(first <= Instant::now());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick; `Ready(instant)` consumes it. The waker of
    /// the last `Pending` poll is woken when the tick is due.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::time::Duration;
    /// use tether::time::interval;
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(3));
    ///     let first = poll_fn(|cx| ticks.poll_tick(cx)).await;
    ///     let second = poll_fn(|cx| ticks.poll_tick(cx)).await;
    ///     assert_eq!(second - first, Duration::from_millis(3));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        // With the clock read anyway, a tick that is due completes without
        // waiting for the driver to fire its timer (missed ticks under
        // `Burst` come at once).
        let now = Instant::now();
        ready!(self.delay.poll_at(cx, now));
        let scheduled = self.delay.deadline();
        let next = self
            .missed_tick_behavior
            .next_deadline(scheduled, now, self.period);
        // A next tick that is already due (a burst) completes at once.
        self.delay.reset_with_now(next, now);
        Poll::Ready(scheduled)
    }

    /// Restarts the schedule: the next tick is one period from now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::{Instant, interval};
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(5));
    ///     let before = Instant::now();
    ///     ticks.reset();
    ///     assert!(ticks.tick().await >= before + Duration::from_millis(5));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset(&mut self) {
        self.reset_at(Instant::now().saturating_add(self.period));
    }

    /// Restarts the schedule with a tick due at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::interval;
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut ticks = interval(Duration::from_secs(3600));
    ///     ticks.tick().await;
    ///     ticks.reset_immediately();
    ///     ticks.tick().await; // does not wait an hour
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset_immediately(&mut self) {
        self.reset_at(Instant::now());
    }

    /// Restarts the schedule with the next tick `after` from now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::interval;
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut ticks = interval(Duration::from_secs(3600));
    ///     ticks.tick().await;
    ///     ticks.reset_after(Duration::from_millis(2));
    ///     ticks.tick().await;
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset_after(&mut self, after: Duration) {
        self.reset_at(Instant::now().saturating_add(after));
    }

    /// Restarts the schedule with the next tick at `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::{Instant, interval};
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut ticks = interval(Duration::from_secs(3600));
    ///     let at = Instant::now() + Duration::from_millis(2);
    ///     ticks.reset_at(at);
    ///     assert_eq!(ticks.tick().await, at);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset_at(&mut self, deadline: Instant) {
        Pin::new(&mut self.delay).reset(deadline);
    }

    /// How missed ticks are handled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::{MissedTickBehavior, interval};
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let ticks = interval(Duration::from_millis(10));
    ///     assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets how missed ticks are handled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::{MissedTickBehavior, interval};
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut ticks = interval(Duration::from_millis(10));
    ///     ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// The time between ticks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::interval;
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     assert_eq!(interval(Duration::from_millis(10)).period(), Duration::from_millis(10));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const P: Duration = Duration::from_millis(10);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn on_time_ticks_keep_the_schedule_under_every_behavior() {
        let t0 = Instant::now();
        for b in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            // Observed on time, or late by less than a period.
            assert_eq!(b.next_deadline(t0, t0, P), t0 + P);
            assert_eq!(b.next_deadline(t0, t0 + ms(9), P), t0 + P);
        }
    }

    #[test]
    fn missed_ticks_follow_the_documented_table() {
        // The table in the `MissedTickBehavior` docs: tick of time 10
        // observed at 35.
        let t0 = Instant::now();
        let (scheduled, now) = (t0 + ms(10), t0 + ms(35));
        assert_eq!(
            MissedTickBehavior::Burst.next_deadline(scheduled, now, P),
            t0 + ms(20)
        );
        assert_eq!(
            MissedTickBehavior::Delay.next_deadline(scheduled, now, P),
            t0 + ms(45)
        );
        assert_eq!(
            MissedTickBehavior::Skip.next_deadline(scheduled, now, P),
            t0 + ms(40)
        );
        // Exactly one period late counts as missed; skip moves past `now`.
        let now = t0 + ms(20);
        assert_eq!(
            MissedTickBehavior::Skip.next_deadline(scheduled, now, P),
            t0 + ms(30)
        );
    }

    #[test]
    fn huge_periods_do_not_overflow() {
        let t0 = Instant::now();
        for b in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            assert!(b.next_deadline(t0, t0, Duration::MAX) > t0 + ms(1_000_000));
        }
    }
}
