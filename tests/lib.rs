//! Helpers shared by tether's integration tests (in `tests/tests/`): the
//! runtimes the tests run on, and a watchdog that turns a hang into a
//! failure.
//!
//! ```
//! use tether_tests::{current_thread, flavours, watchdog};
//!
//! let _guard = watchdog("doc example", std::time::Duration::from_secs(60));
//! assert_eq!(current_thread().block_on(async { 1 }), 1);
//! for (name, rt) in flavours() {
//!     assert_eq!(rt.block_on(async { 2 }), 2, "{name}");
//! }
//! ```
#![warn(missing_docs, missing_debug_implementations)]

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tether::Runtime;
use tether::runtime::Builder;

/// A multi-thread runtime with `workers` worker threads.
///
/// ```
/// let rt = tether_tests::multi_thread(2);
/// assert_eq!(rt.metrics().num_workers(), 2);
/// ```
pub fn multi_thread(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .expect("failed to build a multi-thread runtime")
}

/// A current-thread runtime.
///
/// ```
/// let rt = tether_tests::current_thread();
/// assert_eq!(rt.metrics().num_workers(), 1);
/// ```
pub fn current_thread() -> Runtime {
    Builder::new_current_thread()
        .build()
        .expect("failed to build a current-thread runtime")
}

/// A current-thread runtime whose clock starts paused (what
/// `#[tether::test(start_paused = true)]` builds): timers auto-advance the
/// clock when the runtime is idle, so tests of time take no real time.
///
/// ```
/// use std::time::Duration;
/// let rt = tether_tests::paused();
/// let start = std::time::Instant::now();
/// rt.block_on(tether::time::sleep(Duration::from_secs(3600)));
/// assert!(start.elapsed() < Duration::from_secs(60));
/// ```
pub fn paused() -> Runtime {
    Builder::new_current_thread()
        .start_paused(true)
        .build()
        .expect("failed to build a paused current-thread runtime")
}

/// Every flavour worth running a behaviour test on: current-thread and
/// multi-thread with 1, 2 and 4 workers, each with its name for messages.
///
/// ```
/// assert_eq!(tether_tests::flavours().len(), 4);
/// ```
pub fn flavours() -> Vec<(&'static str, Runtime)> {
    vec![
        ("current_thread", current_thread()),
        ("multi_thread(1)", multi_thread(1)),
        ("multi_thread(2)", multi_thread(2)),
        ("multi_thread(4)", multi_thread(4)),
    ]
}

/// The two flavours for tests that only need one of each: current-thread
/// and a two-worker multi-thread runtime.
///
/// ```
/// let [(a, _), (b, _)] = tether_tests::both_flavours();
/// assert_ne!(a, b);
/// ```
pub fn both_flavours() -> [(&'static str, Runtime); 2] {
    [
        ("multi_thread", multi_thread(2)),
        ("current_thread", current_thread()),
    ]
}

/// Aborts the process if not dropped within `limit`: a test that could
/// hang holds one, so a lost wake-up fails CI with a message instead of
/// stalling it until a global timeout.
///
/// ```
/// let guard = tether_tests::watchdog("quick", std::time::Duration::from_secs(30));
/// drop(guard); // in time: nothing happens
/// ```
pub fn watchdog(name: &str, limit: Duration) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    let name = name.to_string();
    thread::Builder::new()
        .name(format!("watchdog-{name}"))
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: `{name}` still running after {limit:?}; aborting");
                std::process::abort();
            }
        })
        .expect("failed to start a watchdog thread");
    Watchdog { _done: tx }
}

/// Disarms its [`watchdog`] when dropped.
#[derive(Debug)]
pub struct Watchdog {
    /// Dropping the sender wakes the watchdog thread, which then exits.
    _done: mpsc::Sender<()>,
}
