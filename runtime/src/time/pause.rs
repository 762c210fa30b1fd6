//! [`pause`], [`resume`] and [`advance`]: control of the runtime's clock,
//! for tests. See `source.rs` for the model.

use std::time::Duration;

use crate::runtime::context::with_current_driver;

/// Pauses the current runtime's clock: [`Instant::now`](super::Instant::now)
/// stops moving, and when the runtime has nothing left to do it jumps the
/// clock straight to the next timer's deadline (*auto-advance*), so sleeps,
/// timeouts and intervals complete at once, in deadline order, without
/// waiting in real time.
///
/// `#[tether::test(start_paused = true)]` and
/// [`Builder::start_paused`](crate::runtime::Builder::start_paused) start
/// with the clock paused.
///
/// # Panics
///
/// Outside a runtime; on the multi-thread runtime (only the current-thread
/// runtime can tell that it is idle); if the clock is already paused.
///
/// ```
/// use std::time::Duration;
/// use tether::time::{Instant, sleep};
///
/// #[tether::main(flavor = "current_thread")]
/// async fn main() {
///     tether::time::pause();
///     let start = Instant::now();
///     sleep(Duration::from_secs(24 * 3600)).await; // returns at once
///     assert_eq!(start.elapsed(), Duration::from_secs(24 * 3600));
/// }
/// ```
#[track_caller]
pub fn pause() {
    if let Err(msg) = with_current_driver(|d| d.time.pause()) {
        panic!("{msg}");
    }
}

/// Lets a paused clock run again, at real speed, from the time it shows
/// (which may be ahead of the real clock after [`advance`] or
/// auto-advance).
///
/// # Panics
///
/// Outside a runtime, or if the clock is not paused.
///
/// ```
/// # let rt = tether::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// tether::time::pause();
/// let frozen = tether::time::Instant::now();
/// tether::time::resume();
/// std::thread::sleep(std::time::Duration::from_millis(1));
/// assert!(tether::time::Instant::now() > frozen);
/// # });
/// ```
#[track_caller]
pub fn resume() {
    if let Err(msg) = with_current_driver(|d| d.time.source().resume()) {
        panic!("{msg}");
    }
}

/// Moves a paused clock forward by `duration`, fires the timers that are
/// due by then, and yields so their tasks can run before this returns.
///
/// Timers due within `duration` complete even though no real time passes.
/// (With auto-advance an idle runtime does this on its own; `advance`
/// moves time while tasks are still busy, or by an exact amount.)
///
/// # Panics
///
/// Outside a runtime, if the clock is not paused, or if the new time
/// overflows.
///
/// ```
/// use std::time::Duration;
/// use tether::time::{Instant, sleep};
///
/// # let rt = tether::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// tether::time::pause();
/// let start = Instant::now();
/// let timer = tether::spawn(sleep(Duration::from_secs(5)));
/// tether::time::advance(Duration::from_secs(5)).await;
/// assert!(timer.is_finished());
/// assert_eq!(start.elapsed(), Duration::from_secs(5));
/// # });
/// ```
pub async fn advance(duration: Duration) {
    let res = with_current_driver(|d| {
        d.time.source().advance(duration)?;
        d.time.process();
        Ok::<(), &'static str>(())
    });
    if let Err(msg) = res {
        panic!("{msg}");
    }
    crate::task::yield_now().await;
}
