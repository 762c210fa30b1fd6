//! [`TetherTimer`]: hyper's timer on tether's timer wheel.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::runtime::Handle;
use crate::time::{Instant, Sleep};

/// A [`hyper::rt::Timer`] backed by the runtime's timer wheel — what hyper
/// uses for header read timeouts, HTTP/2 keep-alive pings and the client's
/// pool idle timeout.
///
/// [`reset`](hyper::rt::Timer::reset) moves the existing timer in the wheel
/// (no new allocation) when given a sleep this timer made. Time follows
/// [`tether::time::Instant`](crate::time::Instant), so it pauses and
/// advances with the runtime's clock in tests.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer;
/// use tether::hyper::TetherTimer;
///
/// tether::Runtime::new()?.block_on(async {
///     let timer = TetherTimer::new();
///     let mut sleep = timer.sleep(Duration::from_secs(3600));
///     // hyper pushes a deadline back (e.g. on every request) with reset
///     timer.reset(&mut sleep, timer.now() + Duration::from_millis(5));
///     sleep.await;
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct TetherTimer {
    /// The runtime whose wheel is used; `None`: the current one.
    handle: Option<Handle>,
}

impl TetherTimer {
    /// A timer on the wheel of the runtime current when a sleep is created
    /// (hyper creates them while polling a connection, on the runtime).
    pub fn new() -> Self {
        TetherTimer { handle: None }
    }

    /// A timer on `handle`'s runtime, usable from any thread.
    pub fn with_handle(handle: Handle) -> Self {
        TetherTimer {
            handle: Some(handle),
        }
    }

    /// A sleep until `deadline` on this timer's wheel.
    #[track_caller]
    fn make(&self, deadline: Instant) -> TetherSleep {
        let sleep = match &self.handle {
            Some(handle) if Handle::try_current().is_err() => {
                Sleep::with_now(handle.driver().time.home_shard(), deadline, Instant::now())
            }
            _ => crate::time::sleep_until(deadline),
        };
        TetherSleep { inner: sleep }
    }
}

impl hyper::rt::Timer for TetherTimer {
    /// # Panics
    ///
    /// Panics if the timer has no handle and is called outside a tether
    /// runtime.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.make(Instant::now().saturating_add(duration)))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.make(Instant::from_std(deadline)))
    }

    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        match sleep.as_mut().downcast_mut_pin::<TetherSleep>() {
            Some(ours) => ours
                .get_mut()
                .inner
                .reset_with_now(Instant::from_std(new_deadline), Instant::now()),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

impl fmt::Debug for TetherTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TetherTimer")
            .field("pinned_to_handle", &self.handle.is_some())
            .finish()
    }
}

/// The [`hyper::rt::Sleep`] made by [`TetherTimer`]: a [`Sleep`] on the
/// runtime's wheel.
#[derive(Debug)]
pub struct TetherSleep {
    /// The wheel entry.
    inner: Sleep,
}

impl TetherSleep {
    /// The instant at which the sleep completes.
    pub fn deadline(&self) -> std::time::Instant {
        self.inner.deadline().into_std()
    }
}

impl Future for TetherSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().inner).poll(cx)
    }
}

impl hyper::rt::Sleep for TetherSleep {}
