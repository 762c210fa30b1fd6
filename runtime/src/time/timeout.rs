//! [`Timeout`], [`timeout`] and [`timeout_at`].

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project::pin_project;

use super::error::Elapsed;
use super::sleep::sleep_from;
use super::{Instant, Sleep, sleep_until};

/// Runs `future` with a time limit of `duration`.
///
/// Resolves to `Ok(output)` if the future completes first, or
/// `Err(`[`Elapsed`]`)` once `duration` has passed; the future is then
/// dropped with the [`Timeout`]. The future is always polled before the
/// deadline is checked, so one that is ready at once wins even with a zero
/// duration. A duration too large to add to the current time (such as
/// [`Duration::MAX`]) never times out.
///
/// # Panics
///
/// Panics if called outside a tether runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::time::{sleep, timeout};
///
/// let rt = tether::Runtime::new()?;
/// rt.block_on(async {
///     assert_eq!(timeout(Duration::from_secs(60), async { 7 }).await, Ok(7));
///     let slow = sleep(Duration::from_secs(60));
///     assert!(timeout(Duration::from_millis(5), slow).await.is_err());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    Timeout::new(future.into_future(), sleep_from(Instant::now(), duration))
}

/// Runs `future` until `deadline`; like [`timeout`] with an instant.
///
/// # Panics
///
/// Panics if called outside a tether runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::time::{Instant, timeout_at};
///
/// let rt = tether::Runtime::new()?;
/// rt.block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     let never = std::future::pending::<()>();
///     let err = timeout_at(deadline, never).await.unwrap_err();
///     assert_eq!(std::io::Error::from(err).kind(), std::io::ErrorKind::TimedOut);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout::new(future.into_future(), sleep_until(deadline))
}

/// Future returned by [`timeout`] and [`timeout_at`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::time::timeout;
///
/// let rt = tether::Runtime::new()?;
/// rt.block_on(async {
///     let limited: tether::time::Timeout<_> = timeout(Duration::from_secs(1), async { "done" });
///     assert_eq!(limited.await, Ok("done"));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[pin_project]
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Timeout<F> {
    /// The future being limited.
    #[pin]
    value: F,
    /// Completes at the deadline.
    delay: Sleep,
}

impl<F> Timeout<F> {
    /// Limits `value` to complete before `delay` does.
    pub(crate) fn new(value: F, delay: Sleep) -> Timeout<F> {
        Timeout { value, delay }
    }

    /// The inner future.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let t = tether::time::timeout(Duration::from_secs(1), std::future::ready(3));
    ///     let _inner: &std::future::Ready<i32> = t.get_ref();
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.value
    }

    /// The inner future, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut t = tether::time::timeout(Duration::from_secs(1), std::future::ready(3));
    ///     let _inner: &mut std::future::Ready<i32> = t.get_mut();
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.value
    }

    /// Discards the time limit and returns the inner future.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = tether::Runtime::new()?;
    /// rt.block_on(async {
    ///     let t = tether::time::timeout(Duration::ZERO, std::future::ready(3));
    ///     assert_eq!(t.into_inner().await, 3);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_inner(self) -> F {
        self.value
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let had_budget = crate::coop::has_budget_remaining();
        if let Poll::Ready(output) = this.value.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        // If the inner future spent the last of the budget, the deadline is
        // still checked: otherwise a future that keeps its resources busy
        // could run past its deadline indefinitely.
        let delay = Pin::new(this.delay);
        let poll = if had_budget && !crate::coop::has_budget_remaining() {
            crate::coop::unconstrained(|| delay.poll(cx))
        } else {
            delay.poll(cx)
        };
        poll.map(|()| Err(Elapsed::new()))
    }
}
