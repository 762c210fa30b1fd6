//! `tether::signal`: signals raised in-process reach `ctrl_c()` and
//! `unix::signal()` listeners through the reactor; every listener of a
//! signal sees each delivery.
//!
//! Each test uses its own signal, so tests running in parallel in this
//! process do not see each other's deliveries. A listener is always
//! created *before* the signal is raised: SIGINT/SIGTERM without a handler
//! would kill the test process.

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::low_level::raise;
use tether::signal::unix::{SignalKind, signal};

/// Aborts the process if `f` takes longer than 20 s.
fn watchdog<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(20)) {
            eprintln!("watchdog: `{name}` hung; aborting");
            std::process::abort();
        }
    });
    let r = f();
    drop(tx);
    r
}

fn block_on<F: Future>(f: F) -> F::Output {
    tether::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn sigterm_reaches_two_listeners() {
    watchdog("sigterm_reaches_two_listeners", || {
        block_on(async {
            let mut a = signal(SignalKind::terminate()).unwrap();
            let mut b = signal(SignalKind::terminate()).unwrap();
            assert_eq!(a.kind(), SignalKind::terminate());
            raise(SIGTERM).unwrap();
            // Both see the same delivery, whichever waits first.
            let (x, y) = futures::join!(a.recv(), b.recv());
            assert_eq!((x, y), (Some(()), Some(())));
            // And the next one too; nothing is pending in between.
            let mut next = std::pin::pin!(a.recv());
            assert!(futures::poll!(next.as_mut()).is_pending());
            raise(SIGTERM).unwrap();
            assert_eq!(next.await, Some(()));
            assert_eq!(b.recv().await, Some(()));
        });
    });
}

#[test]
fn ctrl_c_resolves_on_sigint_for_every_waiter() {
    watchdog("ctrl_c_resolves_on_sigint_for_every_waiter", || {
        block_on(async {
            // Installed by the calls, before the signal is raised.
            let first = tether::signal::ctrl_c();
            let second = tether::signal::ctrl_c();
            let mut stream = signal(SignalKind::interrupt()).unwrap();
            raise(SIGINT).unwrap();
            let (a, b, c) = futures::join!(first, second, stream.recv());
            a.unwrap();
            b.unwrap();
            assert_eq!(c, Some(()));
        });
    });
}

#[test]
fn waiting_task_is_woken_by_a_later_signal() {
    watchdog("waiting_task_is_woken_by_a_later_signal", || {
        block_on(async {
            let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
            let waiter = tether::spawn(async move {
                usr1.recv().await;
                usr1
            });
            tether::time::sleep(Duration::from_millis(50)).await;
            assert!(!waiter.is_finished());
            // From another thread, as a real signal would come.
            std::thread::spawn(|| raise(SIGUSR1).unwrap())
                .join()
                .unwrap();
            let mut usr1 = waiter.await.unwrap();
            // Coalesced: two deliveries before the next recv count once.
            raise(SIGUSR1).unwrap();
            raise(SIGUSR1).unwrap();
            assert_eq!(usr1.recv().await, Some(()));
            let mut next = std::pin::pin!(usr1.recv());
            tether::time::sleep(Duration::from_millis(20)).await;
            assert!(futures::poll!(next.as_mut()).is_pending());
        });
    });
}

#[test]
fn signal_stream_and_dropping_a_listener() {
    use futures::StreamExt;
    watchdog("signal_stream_and_dropping_a_listener", || {
        block_on(async {
            let dropped = signal(SignalKind::user_defined2()).unwrap();
            let mut kept = signal(SignalKind::user_defined2()).unwrap();
            drop(dropped);
            raise(SIGUSR2).unwrap();
            assert_eq!(kept.next().await, Some(()));
        });
    });
}

#[test]
fn forbidden_signals_are_an_error() {
    block_on(async {
        let err = signal(SignalKind::from_raw(signal_hook::consts::SIGKILL)).unwrap_err();
        assert!(!err.to_string().is_empty());
        for bad in [-1, 0, 100, 128, 1000] {
            let err = signal(SignalKind::from_raw(bad)).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
        }
    });
}
