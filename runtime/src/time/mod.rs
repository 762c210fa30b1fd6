//! Time: sleeping, deadlines and periodic ticks.
//!
//! * [`sleep()`] / [`sleep_until`] — a future that completes at a deadline.
//! * [`timeout()`] / [`timeout_at`] — limit how long a future may run.
//! * [`interval()`] / [`interval_at`] — ticks at a fixed period.
//!
//! The API mirrors tokio's `tokio::time`, so porting code is a rename.
//!
//! # How timers work
//!
//! Each runtime keeps its timers in hierarchical timing wheels (six levels
//! of 64 slots, one millisecond per slot on the lowest level; per-level
//! occupancy bitmaps find the next deadline without scanning), sharded so
//! that worker threads rarely contend on the same lock. A [`Sleep`] joins a
//! wheel on its first poll and leaves it in O(1) when dropped. The worker
//! that parks in the I/O driver uses the earliest deadline as its
//! `mio::Poll` timeout and, when it wakes up, fires the due timers in
//! deadline order.
//!
//! Timers have millisecond resolution and never fire early; they may fire
//! up to about a millisecond late, plus scheduling delay on a busy runtime.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use tether::time::{sleep, timeout};
//!
//! let rt = tether::Runtime::new()?;
//! rt.block_on(async {
//!     sleep(Duration::from_millis(1)).await;
//!     let answer = timeout(Duration::from_secs(1), async { 42 }).await;
//!     assert_eq!(answer, Ok(42));
//! });
//! # Ok::<(), std::io::Error>(())
//! ```

mod clock;
mod driver;
pub mod error;
mod instant;
mod interval;
mod pause;
mod shard;
mod sleep;
mod source;
mod timeout;
mod wake_batch;
pub(crate) mod wheel;

pub use std::time::Duration;

pub(crate) use driver::Handle;
pub use instant::Instant;
pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use pause::{advance, pause, resume};
pub use sleep::{Sleep, sleep, sleep_until};
pub(crate) use source::AutoAdvanceGuard;
pub use timeout::{Timeout, timeout, timeout_at};

/// Number of timers registered with the current runtime's wheel (pending,
/// or fired but not yet handed to their task). For tests and diagnostics;
/// not part of the stable API.
///
/// # Panics
///
/// Panics if called outside a tether runtime.
///
/// # Examples
///
/// ```
/// let rt = tether::Runtime::new()?;
/// rt.block_on(async {
///     assert_eq!(tether::time::registered_timers(), 0);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(hidden)]
#[track_caller]
pub fn registered_timers() -> usize {
    crate::runtime::Handle::current().driver().time.registered()
}
#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;
