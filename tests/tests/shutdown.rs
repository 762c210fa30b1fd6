//! `Runtime::shutdown_timeout` and `Runtime::shutdown_background`: bounded
//! waits for stuck workers and blocking jobs, tasks still cancelled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Aborts the process if `f` takes longer than 30 s.
fn watchdog<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(30)) {
            eprintln!("watchdog: `{name}` hung; aborting");
            std::process::abort();
        }
    });
    let r = f();
    drop(tx);
    r
}

/// Sets its flag when dropped.
struct OnDrop(Arc<AtomicBool>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn multi_thread() -> tether::Runtime {
    tether::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Waits (bounded) until `flag` is set.
fn eventually(flag: &AtomicBool, what: &str) {
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn shutdown_timeout_does_not_wait_for_a_stuck_blocking_job() {
    watchdog("stuck_blocking_job", || {
        for rt in [
            multi_thread(),
            tether::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
        ] {
            let finished = Arc::new(AtomicBool::new(false));
            let f = finished.clone();
            let cancelled = Arc::new(AtomicBool::new(false));
            let guard = OnDrop(cancelled.clone());
            let started = Arc::new(AtomicBool::new(false));
            let s = started.clone();
            rt.spawn_blocking(move || {
                s.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1500));
                f.store(true, Ordering::SeqCst);
            });
            // A job still queued at shutdown is cancelled, not run: this
            // test is about one that is already running.
            eventually(&started, "the blocking job starting");
            rt.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
            let start = Instant::now();
            rt.shutdown_timeout(Duration::from_millis(100));
            let took = start.elapsed();
            assert!(took < Duration::from_millis(1000), "took {took:?}");
            assert!(!finished.load(Ordering::SeqCst));
            // The pending task was cancelled (dropped) all the same.
            eventually(&cancelled, "cancelling the pending task");
            // The blocking job still runs to completion in the background.
            eventually(&finished, "the blocking job finishing");
        }
    });
}

#[test]
fn shutdown_timeout_returns_while_a_worker_is_stuck_in_a_poll() {
    watchdog("stuck_worker", || {
        let rt = multi_thread();
        let entered = Arc::new(AtomicBool::new(false));
        let e = entered.clone();
        let cancelled = Arc::new(AtomicBool::new(false));
        let guard = OnDrop(cancelled.clone());
        rt.spawn(async move {
            e.store(true, Ordering::SeqCst);
            // Blocks its worker thread (what a misbehaving task does).
            std::thread::sleep(Duration::from_millis(800));
        });
        rt.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        eventually(&entered, "the blocking poll starting");
        let start = Instant::now();
        rt.shutdown_timeout(Duration::from_millis(50));
        assert!(
            start.elapsed() < Duration::from_millis(600),
            "{:?}",
            start.elapsed()
        );
        // Once the worker is free, the rest of the shutdown completes in
        // the background and cancels the pending task.
        eventually(&cancelled, "cancelling the pending task");
    });
}

#[test]
fn shutdown_timeout_with_nothing_stuck_is_a_full_shutdown() {
    watchdog("full_shutdown", || {
        let rt = multi_thread();
        let dropped = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let count = scopeguard(dropped.clone());
            rt.spawn(async move {
                let _count = count;
                std::future::pending::<()>().await;
            });
        }
        rt.shutdown_timeout(Duration::from_secs(10));
        // Nothing was stuck, so every task was dropped before it returned.
        assert_eq!(dropped.load(Ordering::SeqCst), 100);
    });
}

/// Increments `n` when dropped.
fn scopeguard(n: Arc<AtomicUsize>) -> impl Drop {
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    Count(n)
}

#[test]
fn shutdown_background_from_inside_another_runtime() {
    watchdog("shutdown_background", || {
        let outer = multi_thread();
        let inner = multi_thread();
        let cancelled = Arc::new(AtomicBool::new(false));
        let guard = OnDrop(cancelled.clone());
        inner.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        outer.block_on(async move {
            // Dropping a runtime may block; shutting it down in the
            // background never does, so it is fine inside async code.
            let start = Instant::now();
            inner.shutdown_background();
            assert!(start.elapsed() < Duration::from_millis(500));
        });
        eventually(&cancelled, "cancelling the inner runtime's task");
    });
}
