//! Regression tests for hangs and lost wake-ups under faults: every test
//! runs under a watchdog, so a regression fails within seconds instead of
//! hanging CI.

use std::sync::mpsc;
use std::time::Duration;

use tether::runtime::Builder;

/// Runs `f` on its own thread and aborts the process if it has not
/// finished within `limit` (a hung thread cannot be cancelled, and a hang
/// must fail the run, not stall it). A panic in `f` fails the test.
fn watchdog<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(limit) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            eprintln!("watchdog: the test did not finish within {limit:?}; aborting");
            std::process::abort();
        }
    }
}

/// The `block_on` future of a current-thread runtime is woken while a
/// blocking scope nested in that same poll drives the runtime: the nested
/// run loop must not consume the outer wake-up.
#[test]
fn current_thread_outer_wake_during_nested_blocking_scope_is_not_lost() {
    watchdog(Duration::from_secs(20), || {
        let rt = Builder::new_current_thread().enable_all().build().unwrap();
        let handle = rt.handle().clone();
        for _ in 0..20 {
            let (tx, rx) = futures::channel::oneshot::channel::<u32>();
            let h = handle.clone();
            let (got, ()) = rt.block_on(async move {
                h.spawn(async move {
                    tether::time::sleep(Duration::from_millis(5)).await;
                    let _ = tx.send(7);
                });
                // `futures::join!` polls each branch once per poll (no
                // session that re-polls a branch woken meanwhile), so the
                // outer wake-up is the only way `rx` is looked at again.
                futures::join!(rx, async {
                    h.scope(|s| {
                        s.spawn(tether::time::sleep(Duration::from_millis(30)))
                            .join()
                            .unwrap()
                    })
                })
            });
            assert_eq!(got, Ok(7));
        }
    });
}
