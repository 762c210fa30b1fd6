//! [`Instant`]: a point in monotonic time, as used by tether's timers.

use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// How far in the future a deadline that cannot be represented is placed:
/// 30 years, far beyond any process lifetime, yet small enough to add to any
/// realistic `Instant` without overflow.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// A measurement of the monotonic clock, for use with
/// [`sleep_until`](super::sleep_until), [`timeout_at`](super::timeout_at)
/// and [`interval_at`](super::interval_at).
///
/// A thin wrapper around [`std::time::Instant`]; convert with
/// [`from_std`](Instant::from_std) / [`into_std`](Instant::into_std) or
/// `From`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::time::Instant;
///
/// let start = Instant::now();
/// let later = start + Duration::from_millis(5);
/// assert_eq!(later - start, Duration::from_millis(5));
/// assert!(later > start);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    /// The wrapped standard-library instant.
    std: std::time::Instant,
}

impl Instant {
    /// The current time: the current runtime's clock, which follows the
    /// real monotonic clock unless it was [paused](super::pause); outside
    /// a runtime, the real clock.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = tether::time::Instant::now();
    /// let b = tether::time::Instant::now();
    /// assert!(b >= a);
    /// ```
    #[must_use]
    pub fn now() -> Instant {
        // The current runtime's clock (which may be paused, see
        // `tether::time::pause`), else the real clock.
        let now = crate::runtime::context::with_current(|h| h.driver().time.now());
        Instant::from_std(now.unwrap_or_else(std::time::Instant::now))
    }

    /// Wraps a [`std::time::Instant`].
    ///
    /// # Examples
    ///
    /// ```
    /// let std = std::time::Instant::now();
    /// assert_eq!(tether::time::Instant::from_std(std).into_std(), std);
    /// ```
    #[must_use]
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant { std }
    }

    /// The wrapped [`std::time::Instant`].
    ///
    /// # Examples
    ///
    /// ```
    /// let now = tether::time::Instant::now();
    /// let std: std::time::Instant = now.into_std();
    /// assert_eq!(tether::time::Instant::from(std), now);
    /// ```
    #[must_use]
    pub fn into_std(self) -> std::time::Instant {
        self.std
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::Instant;
    ///
    /// let a = Instant::now();
    /// let b = a + Duration::from_secs(1);
    /// assert_eq!(b.duration_since(a), Duration::from_secs(1));
    /// assert_eq!(a.duration_since(b), Duration::ZERO);
    /// ```
    #[must_use]
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// Time elapsed from `earlier` to `self`, or `None` if `earlier` is
    /// later.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::Instant;
    ///
    /// let a = Instant::now();
    /// let b = a + Duration::from_secs(1);
    /// assert_eq!(b.checked_duration_since(a), Some(Duration::from_secs(1)));
    /// assert_eq!(a.checked_duration_since(b), None);
    /// ```
    #[must_use]
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.std.checked_duration_since(earlier.std)
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::Instant;
    ///
    /// let a = Instant::now();
    /// assert_eq!(a.saturating_duration_since(a + Duration::from_secs(1)), Duration::ZERO);
    /// ```
    #[must_use]
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// Time elapsed since `self`, on the current runtime's clock (see
    /// [`Instant::now`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let start = tether::time::Instant::now();
    /// std::thread::sleep(std::time::Duration::from_millis(1));
    /// assert!(start.elapsed() >= std::time::Duration::from_millis(1));
    /// ```
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + duration`, or `None` if that is not representable.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::Instant;
    ///
    /// let now = Instant::now();
    /// assert!(now.checked_add(Duration::from_secs(1)).is_some());
    /// assert!(now.checked_add(Duration::MAX).is_none());
    /// ```
    #[must_use]
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.std.checked_add(duration).map(Instant::from_std)
    }

    /// `self - duration`, or `None` if that is not representable.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::time::Instant;
    ///
    /// let now = Instant::now();
    /// assert!(now.checked_sub(Duration::MAX).is_none());
    /// ```
    #[must_use]
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.std.checked_sub(duration).map(Instant::from_std)
    }

    /// A deadline that will not be reached while the process runs, used
    /// where `now + duration` overflows.
    pub(crate) fn far_future() -> Instant {
        Instant::now() + FAR_FUTURE
    }

    /// `self + duration`, or [`far_future`](Self::far_future) if that is not
    /// representable.
    pub(crate) fn saturating_add(self, duration: Duration) -> Instant {
        self.checked_add(duration)
            .unwrap_or_else(Instant::far_future)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Instant {
        Instant::from_std(std)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.into_std()
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    ///
    /// Panics if the result is not representable; see
    /// [`Instant::checked_add`].
    fn add(self, rhs: Duration) -> Instant {
        Instant::from_std(self.std + rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    ///
    /// Panics if the result is not representable; see
    /// [`Instant::checked_sub`].
    fn sub(self, rhs: Duration) -> Instant {
        Instant::from_std(self.std - rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Saturates at zero if `rhs` is later, like
    /// [`Instant::duration_since`].
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_round_trips() {
        let a = Instant::now();
        let mut b = a;
        b += Duration::from_millis(250);
        assert_eq!(b - a, Duration::from_millis(250));
        assert_eq!(a - b, Duration::ZERO);
        b -= Duration::from_millis(50);
        assert_eq!(b.duration_since(a), Duration::from_millis(200));
        assert_eq!(b - Duration::from_millis(200), a);
        assert_eq!(
            std::time::Instant::from(b),
            a.into_std() + Duration::from_millis(200)
        );
    }

    #[test]
    fn overflowing_deadlines_saturate_to_far_future() {
        let now = Instant::now();
        let far = now.saturating_add(Duration::MAX);
        assert!(far >= now + FAR_FUTURE);
        assert_eq!(
            now.saturating_add(Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}
