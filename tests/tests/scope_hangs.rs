//! Regression tests for waits that used to hang: blocking scopes on
//! workers, forks whose jobs wait for tasks, a runtime dropped from a
//! stolen child or from a child of a `block_on` session, child outputs
//! whose destructor panics, and a scope of a
//! current-thread runtime called from inside another runtime.
//!
//! Every test runs under a watchdog: a hang aborts the test process with a
//! message instead of stalling CI.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tether::runtime::Builder;

/// Generous: each case finishes in milliseconds when it works.
const WATCHDOG: Duration = Duration::from_secs(20);

/// Runs `f` on its own thread; aborts the process if it has not finished
/// within [`WATCHDOG`]. Panics of `f` are re-raised.
fn watchdog<R: Send + 'static>(name: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        let _ = tx.send(());
        r
    });
    if rx.recv_timeout(WATCHDOG).is_err() {
        eprintln!("watchdog: `{name}` hung for {WATCHDOG:?}; aborting");
        std::process::abort();
    }
    match t.join().unwrap() {
        Ok(r) => r,
        Err(p) => panic::resume_unwind(p),
    }
}

fn multi_thread(workers: usize) -> tether::Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

/// Issue 8 (a): task `S` runs a blocking scope, then sends on a oneshot;
/// task `T` runs a blocking scope whose child waits for that oneshot. When
/// a scope's wait ran other tasks on its own stack, `T`'s wait could run
/// on top of `S`'s and bury `S`'s continuation (the send) under it.
#[test]
fn blocking_scope_waits_do_not_bury_a_sender() {
    for workers in [1, 2] {
        for _ in 0..20 {
            watchdog("blocking_scope_waits_do_not_bury_a_sender", move || {
                let rt = multi_thread(workers);
                let (tx, rx) = futures::channel::oneshot::channel::<u32>();
                let sender = rt.spawn(async move {
                    let handle = tether::runtime::Handle::current();
                    handle.scope(|s| {
                        s.spawn(tether::time::sleep(Duration::from_millis(5)));
                    });
                    tx.send(7).unwrap();
                });
                let receiver = rt.spawn(async move {
                    let handle = tether::runtime::Handle::current();
                    handle.scope(|s| s.spawn(async move { rx.await.unwrap() }).join().unwrap())
                });
                let got = rt.block_on(async move {
                    sender.await.unwrap();
                    receiver.await.unwrap()
                });
                assert_eq!(got, 7, "{workers} workers");
            });
        }
    }
}

/// Issue 8 (b): an async scope forks its two ready children. One spawns a
/// task (into the forking worker's queue); the other — possibly stolen by
/// the other worker — waits in a blocking scope for a message from that
/// task. The task must stay stealable while the forker waits.
#[test]
fn stolen_child_waits_for_a_task_spawned_by_its_sibling() {
    for _ in 0..50 {
        watchdog(
            "stolen_child_waits_for_a_task_spawned_by_its_sibling",
            || {
                let rt = multi_thread(2);
                let got = rt.block_on(rt.spawn(async {
                    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
                    let rx = Mutex::new(Some(rx));
                    let tx = Mutex::new(Some(tx));
                    let (rx, tx) = (&rx, &tx);
                    tether::scope(|s| async move {
                        s.spawn(async move {
                            let tx = tx.lock().unwrap().take().unwrap();
                            tether::spawn(async move { tx.send(11).unwrap() });
                        });
                        let waiter = s.spawn(async move {
                            let rx = rx.lock().unwrap().take().unwrap();
                            tether::runtime::Handle::current().scope(|bs| {
                                bs.spawn(async move { rx.await.unwrap() }).join().unwrap()
                            })
                        });
                        waiter.await.unwrap()
                    })
                    .await
                }));
                assert_eq!(got.unwrap(), 11);
            },
        );
    }
}

/// Issue 8 (c): a scoped child — possibly stolen by another worker, whose
/// forker waits for it — drops the runtime. The drop must return (it may
/// not join the forker, which waits for this very child).
#[test]
fn stolen_child_drops_the_runtime() {
    for _ in 0..20 {
        watchdog("stolen_child_drops_the_runtime", || {
            let rt = Arc::new(Mutex::new(Some(multi_thread(2))));
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let task = {
                let rt2 = rt.clone();
                let guard = rt.lock().unwrap();
                guard.as_ref().unwrap().spawn(async move {
                    let rt2 = &rt2;
                    let done_tx = &done_tx;
                    tether::scope(|s| async move {
                        s.spawn(async {
                            std::thread::sleep(Duration::from_millis(2));
                        });
                        s.spawn(async move {
                            let rt = rt2.lock().unwrap().take();
                            drop(rt);
                            done_tx.send(()).unwrap();
                        });
                    })
                    .await;
                })
            };
            done_rx
                .recv_timeout(WATCHDOG)
                .expect("the runtime drop never returned");
            drop(task);
        });
    }
}

/// A child of a session that a `block_on` thread owns drops the runtime,
/// while a worker runs one of that session's helpers. The drop must return:
/// it may not join that worker, whose helper lingers while this very poll
/// is in flight (a ticking sibling keeps it lingering).
#[test]
fn block_on_child_drops_the_runtime() {
    for workers in [2, 3, 4] {
        for _ in 0..3 {
            watchdog("block_on_child_drops_the_runtime", move || {
                let rt = Builder::new_multi_thread()
                    .worker_threads(workers)
                    .enable_all()
                    .build()
                    .unwrap();
                let handle = rt.handle().clone();
                let slot = Mutex::new(Some(rt));
                let dropped = AtomicUsize::new(0);
                let (slot, dropped) = (&slot, &dropped);
                // The runtime is gone when the drop returns: the `block_on`
                // future then ends by the cancelled timer's panic.
                let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                    handle.block_on(async {
                        let mut set = tether::ScopedJoinSet::new();
                        // Children that block their thread for a few polls
                        // each: the session forks helpers for them.
                        for _ in 0..8 {
                            set.spawn(async {
                                for _ in 0..5 {
                                    std::thread::sleep(Duration::from_millis(2));
                                    tether::task::yield_now().await;
                                }
                            });
                        }
                        set.spawn(async {
                            loop {
                                tether::time::sleep(Duration::from_millis(2)).await;
                            }
                        });
                        set.spawn(async move {
                            tether::time::sleep(Duration::from_millis(20)).await;
                            std::thread::sleep(Duration::from_millis(2));
                            drop(slot.lock().unwrap().take());
                            dropped.fetch_add(1, Ordering::SeqCst);
                        });
                        while let Some(r) = set.join_next().await {
                            if r.is_err() {
                                break;
                            }
                        }
                    })
                }));
                assert_eq!(
                    dropped.load(Ordering::SeqCst),
                    1,
                    "the runtime was not dropped"
                );
            });
        }
    }
}

/// Counts drops, and panics in its destructor.
struct PanicOnDrop(Arc<AtomicUsize>);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("output destructor panicked");
    }
}

/// Issue 9 (3): a child's output whose `Drop` panics (its handle dropped
/// first, so the child drops it) must not skip the count-down that lets
/// `scope` return; the panic is re-raised by `scope`.
#[test]
fn child_output_with_panicking_drop_does_not_hang_the_scope() {
    watchdog("child_output_with_panicking_drop", || {
        let rt = multi_thread(2);
        let drops = Arc::new(AtomicUsize::new(0));
        for blocking in [false, true] {
            let d = drops.clone();
            let res = panic::catch_unwind(AssertUnwindSafe(|| {
                rt.scope(|s| {
                    if blocking {
                        drop(s.spawn_blocking(move || PanicOnDrop(d)));
                    } else {
                        drop(s.spawn(async move { PanicOnDrop(d) }));
                    }
                })
            }));
            let payload = res.expect_err("the destructor's panic is re-raised");
            assert_eq!(
                payload.downcast_ref::<&str>(),
                Some(&"output destructor panicked"),
                "blocking: {blocking}"
            );
        }
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        // The runtime is still usable.
        assert_eq!(rt.block_on(async { 5 }), 5);
    });
}

/// Issue 9 (7): a current-thread runtime's `Handle::scope` called inside
/// another runtime's `block_on` panics cleanly before spawning anything,
/// instead of aborting the process.
#[test]
fn current_thread_scope_inside_another_block_on_panics_cleanly() {
    watchdog("current_thread_scope_inside_another_block_on", || {
        let outer = multi_thread(1);
        let inner = Builder::new_current_thread().build().unwrap();
        let ran = AtomicUsize::new(0);
        let res = outer.block_on(async {
            panic::catch_unwind(AssertUnwindSafe(|| {
                inner.handle().scope(|s| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    s.spawn(async {});
                })
            }))
        });
        assert!(res.is_err(), "the call must panic");
        assert_eq!(ran.load(Ordering::SeqCst), 0, "nothing ran");
        // Both runtimes still work.
        assert_eq!(inner.block_on(async { 1 }), 1);
        assert_eq!(outer.block_on(async { 2 }), 2);
    });
}
