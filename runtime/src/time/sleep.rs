//! [`Sleep`], [`sleep`] and [`sleep_until`].
//!
//! A `Sleep` registers with the timer wheel lazily, on its first poll
//! (unless its deadline had already passed when it was created), so
//! creating one costs no lock and a sleep that is never polled never
//! touches the wheel. Dropping a registered sleep removes its entry in O(1).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::Instant;
use super::shard::TimerShard;
use super::wheel::Key;

/// Waits until `duration` has elapsed.
///
/// Equivalent to `sleep_until(Instant::now() + duration)`; a duration too
/// large to add to the current time (such as [`Duration::MAX`]) sleeps for
/// as long as the process could run. A zero duration completes on the
/// first poll. Timers have millisecond resolution and never complete
/// early.
///
/// Dropping the returned [`Sleep`] cancels it.
///
/// # Panics
///
/// Panics if called outside a tether runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::time::{Instant, sleep};
///
/// let rt = tether::Runtime::new()?;
/// rt.block_on(async {
///     let start = Instant::now();
///     sleep(Duration::from_millis(10)).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    sleep_from(Instant::now(), duration)
}

/// [`sleep`] with the current time already read: a sleep until
/// `now + duration`.
#[track_caller]
pub(crate) fn sleep_from(now: Instant, duration: Duration) -> Sleep {
    Sleep::with_now(current_timers(), now.saturating_add(duration), now)
}

/// Waits until `deadline` is reached.
///
/// A deadline in the past completes on the first poll.
///
/// # Panics
///
/// Panics if called outside a tether runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::time::{Instant, sleep_until};
///
/// let rt = tether::Runtime::new()?;
/// rt.block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(10);
///     sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::with_now(current_timers(), deadline, Instant::now())
}

/// The calling thread's shard of the current runtime's timers.
#[track_caller]
fn current_timers() -> TimerShard {
    crate::runtime::context::with_current_driver(|d| d.time.home_shard())
}

/// Future returned by [`sleep`] and [`sleep_until`]; completes at its
/// deadline.
///
/// Unlike some runtimes' sleeps, `Sleep` is `Unpin`, so it can be polled and
/// [`reset`](Sleep::reset) without pinning it first (code that pins it still
/// works). Each poll that completes spends one unit of the task's
/// cooperative budget.
///
/// Polling does not read the clock: a sleep whose deadline had passed when
/// it was created (or [reset](Sleep::reset)) completes on its first poll;
/// one whose deadline passes later completes when the runtime's timer
/// driver fires it (at the deadline, or at the driver's next turn if the
/// sleep is first polled after its deadline).
///
/// A `Sleep` stays tied to the runtime it was created in. If that runtime
/// shuts down before the deadline, polling the sleep panics (nothing could
/// ever complete it); once the deadline has passed, it completes as usual.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::time::sleep;
///
/// let rt = tether::Runtime::new()?;
/// rt.block_on(async {
///     let long = sleep(Duration::from_secs(3600));
///     assert!(!long.is_elapsed());
///     drop(long); // cancelled
///     sleep(Duration::from_millis(5)).await;
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    /// The shard of the runtime's timers the sleep registers in.
    shard: TimerShard,
    /// When the sleep completes.
    deadline: Instant,
    /// Where the sleep stands with the wheel.
    state: State,
}

/// Registration state of a [`Sleep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not in the wheel (never polled, or reset since).
    Unregistered,
    /// In the wheel under this key, until it fires or is removed.
    Registered(Key),
    /// Seen complete.
    Elapsed,
}

impl Sleep {
    /// A sleep until `deadline` on the timers of `handle`.
    #[cfg(test)]
    pub(crate) fn new(handle: super::Handle, deadline: Instant) -> Sleep {
        Sleep::with_now(handle.home_shard(), deadline, Instant::now())
    }

    /// A sleep until `deadline` in `shard`, given the current time: if the
    /// deadline has passed, the sleep is complete from the start and never
    /// touches the wheel.
    pub(crate) fn with_now(shard: TimerShard, deadline: Instant, now: Instant) -> Sleep {
        let state = if deadline <= now {
            State::Elapsed
        } else {
            State::Unregistered
        };
        Sleep {
            shard,
            deadline,
            state,
        }
    }

    /// The instant at which the sleep completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::time::{Instant, sleep_until};
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let deadline = Instant::now();
    ///     assert_eq!(sleep_until(deadline).deadline(), deadline);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has been reached (the next poll completes).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::sleep;
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     assert!(sleep(Duration::ZERO).is_elapsed());
    ///     assert!(!sleep(Duration::from_secs(60)).is_elapsed());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn is_elapsed(&self) -> bool {
        self.state == State::Elapsed || Instant::now() >= self.deadline
    }

    /// Moves the deadline to `deadline`, whether or not the sleep has
    /// completed. A task already waiting on the sleep keeps waiting, now
    /// for the new deadline (it is woken at once if that has passed).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::time::Duration;
    /// use tether::time::{Instant, sleep};
    ///
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut sleep = pin!(sleep(Duration::from_secs(3600)));
    ///     sleep.as_mut().reset(Instant::now() + Duration::from_millis(5));
    ///     sleep.await;
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.get_mut().reset_with_now(deadline, Instant::now());
    }

    /// [`reset`](Self::reset) with the current time already read.
    pub(crate) fn reset_with_now(&mut self, deadline: Instant, now: Instant) {
        self.deadline = deadline;
        self.state = match self.state {
            State::Registered(key) if deadline <= now => {
                self.shard.deregister_and_wake(key);
                State::Elapsed
            }
            State::Registered(key) => match self.shard.reregister(key, deadline.into_std()) {
                Some(key) => State::Registered(key),
                None => State::Unregistered,
            },
            State::Unregistered | State::Elapsed if deadline <= now => State::Elapsed,
            State::Unregistered | State::Elapsed => State::Unregistered,
        };
    }

    /// Polls for completion without touching the cooperative budget.
    fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.state {
            State::Elapsed => return Poll::Ready(()),
            State::Unregistered => {
                // No clock read here: a deadline found passed at creation or
                // reset is already `Elapsed`; one that passed since is due
                // at or before the wheel's clock (completes now) or fires at
                // the driver's next turn.
                match self.shard.register(self.deadline.into_std(), cx.waker()) {
                    Some(key) => self.state = State::Registered(key),
                    None => self.state = State::Elapsed,
                }
            }
            State::Registered(key) => {
                let deadline = self.deadline.into_std();
                if self
                    .shard
                    .poll_registered(key, deadline, cx.waker())
                    .is_ready()
                {
                    self.state = State::Elapsed;
                }
            }
        }
        if self.state == State::Elapsed {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut coop = ready!(crate::coop::poll_proceed(cx));
        let poll = this.poll_elapsed(cx);
        if poll.is_ready() {
            coop.made_progress();
        }
        poll
    }
}

impl Sleep {
    /// Like `poll`, given the current time: a deadline at or before `now`
    /// completes even if the driver has not fired the timer yet.
    pub(crate) fn poll_at(&mut self, cx: &mut Context<'_>, now: Instant) -> Poll<()> {
        let mut coop = ready!(crate::coop::poll_proceed(cx));
        if self.deadline <= now {
            if let State::Registered(key) = self.state {
                self.shard.deregister(key);
            }
            self.state = State::Elapsed;
        }
        let poll = self.poll_elapsed(cx);
        if poll.is_ready() {
            coop.made_progress();
        }
        poll
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let State::Registered(key) = self.state {
            self.shard.deregister(key);
        }
    }
}
