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

/// Runs `f` to completion on a two-worker multi-thread runtime, failing
/// (instead of hanging) if it takes longer than `limit`.
///
/// ```
/// tether_tests::block_on_timed(std::time::Duration::from_secs(60), async {
///     assert_eq!(tether::spawn(async { 3 }).await.unwrap(), 3);
/// });
/// ```
pub fn block_on_timed<F: std::future::Future<Output = ()> + Send>(limit: Duration, f: F) {
    multi_thread(2).block_on(async move {
        tether::time::timeout(limit, f)
            .await
            .expect("test timed out: a wake-up was lost or the test hung");
    });
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
/// rt.block_on(async { tether::time::sleep(Duration::from_secs(3600)).await });
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

/// A meeting point for `parties` threads, with a deadline: each caller of
/// [`Rendezvous::wait`] blocks until all have arrived. Tests use it to
/// *prove* that work runs in parallel (the parties can only all arrive if
/// they run at the same time) instead of hoping to observe it.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let meet = Arc::new(tether_tests::Rendezvous::new(2));
/// let other = meet.clone();
/// let t = std::thread::spawn(move || other.wait(Duration::from_secs(30)));
/// assert!(meet.wait(Duration::from_secs(30)));
/// assert!(t.join().unwrap());
/// ```
#[derive(Debug)]
pub struct Rendezvous {
    /// How many must arrive.
    parties: usize,
    /// How many have arrived.
    arrived: std::sync::Mutex<usize>,
    /// Signalled when the last party arrives.
    all_here: std::sync::Condvar,
}

impl Rendezvous {
    /// A rendezvous of `parties` callers.
    pub fn new(parties: usize) -> Rendezvous {
        Rendezvous {
            parties,
            arrived: std::sync::Mutex::new(0),
            all_here: std::sync::Condvar::new(),
        }
    }

    /// Arrives and blocks until every party has arrived (true) or `limit`
    /// has passed (false: the others never came, so they were not running
    /// concurrently with this caller).
    pub fn wait(&self, limit: Duration) -> bool {
        let mut arrived = self.arrived.lock().unwrap_or_else(|e| e.into_inner());
        *arrived += 1;
        if *arrived >= self.parties {
            self.all_here.notify_all();
            return true;
        }
        let (arrived, _) = self
            .all_here
            .wait_timeout_while(arrived, limit, |n| *n < self.parties)
            .unwrap_or_else(|e| e.into_inner());
        *arrived >= self.parties
    }

    /// How many parties have arrived so far.
    pub fn arrived(&self) -> usize {
        *self.arrived.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A fresh directory under the system temp dir, unique to this process and
/// call (`name` says which test made it), removed with its contents on drop.
///
/// ```
/// let dir = tether_tests::TempDir::new("doc");
/// std::fs::write(dir.join("a"), b"x").unwrap();
/// assert!(dir.0.join("a").exists());
/// ```
#[derive(Debug)]
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// Creates the directory (emptied first if a stale one exists).
    pub fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tether-test-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("failed to create a temp dir");
        TempDir(dir)
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
