//! Foundation behaviour: spawning, joining, aborting, panics, wakes,
//! fairness, blocking pool and shutdown, on both runtime flavours.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use tether::runtime::Builder;
use tether::{JoinHandle, Runtime};

fn multi(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

fn current() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

fn flavours() -> Vec<(&'static str, Runtime)> {
    vec![
        ("current_thread", current()),
        ("multi_thread(1)", multi(1)),
        ("multi_thread(2)", multi(2)),
        ("multi_thread(4)", multi(4)),
    ]
}

/// Counts how many times values embedding it were dropped.
struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Pending until woken through the waker it publishes.
struct WaitForWake {
    slot: Arc<Mutex<Option<Waker>>>,
    woken: Arc<AtomicBool>,
}
impl Future for WaitForWake {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.woken.load(SeqCst) {
            return Poll::Ready(());
        }
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        if self.woken.load(SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn hundred_thousand_tasks_all_complete_with_their_values() {
    for (name, rt) in flavours() {
        let total: u64 = rt.block_on(async {
            let handles: Vec<JoinHandle<u64>> = (0..100_000u64)
                .map(|i| tether::spawn(async move { i * 2 }))
                .collect();
            let mut sum = 0;
            for (i, h) in handles.into_iter().enumerate() {
                let v = h.await.unwrap();
                assert_eq!(v, i as u64 * 2);
                sum += v;
            }
            sum
        });
        assert_eq!(total, 99_999 * 100_000, "{name}");
        assert_eq!(rt.metrics().num_alive_tasks(), 0, "{name}");
    }
}

#[test]
fn spawn_from_outside_inside_and_blocking_thread() {
    for (name, rt) in flavours() {
        // From outside (no block_on) via the handle.
        let outside = rt.spawn(async { 1 });
        // From inside a task, and from a blocking thread.
        let (inside, blocking) = rt.block_on(async {
            let inner = tether::spawn(async { tether::spawn(async { 2 }).await.unwrap() });
            let from_blocking = tether::spawn_blocking(|| tether::spawn(async { 3 }))
                .await
                .unwrap();
            (inner.await.unwrap(), from_blocking.await.unwrap())
        });
        assert_eq!(rt.block_on(outside).unwrap(), 1, "{name}");
        assert_eq!((inside, blocking), (2, 3), "{name}");
        // From another plain thread through a cloned Handle.
        let handle = rt.handle().clone();
        let other = thread::spawn(move || handle.block_on(handle.spawn(async { 4 })).unwrap());
        assert_eq!(other.join().unwrap(), 4, "{name}");
    }
}

#[test]
fn abort_before_while_and_after_running() {
    for (name, rt) in flavours() {
        rt.block_on(async {
            // Before it ever runs: aborted right after spawn.
            let drops = Arc::new(AtomicUsize::new(0));
            let guard = DropCount(drops.clone());
            let h = tether::spawn(async move {
                let _g = guard;
                std::future::pending::<()>().await;
            });
            h.abort();
            assert!(h.await.unwrap_err().is_cancelled(), "{name}");
            assert_eq!(drops.load(SeqCst), 1, "{name}");

            // While it is idle (pending), and while it is running (aborts
            // itself mid-poll).
            let (tx, rx) = futures::channel::oneshot::channel::<()>();
            let h = tether::spawn(async move {
                let _ = rx.await;
            });
            tether::yield_now().await;
            h.abort();
            assert!(h.await.unwrap_err().is_cancelled(), "{name}");
            drop(tx);

            let slot: Arc<Mutex<Option<tether::AbortHandle>>> = Arc::new(Mutex::new(None));
            let s2 = slot.clone();
            let (ready_tx, ready_rx) = futures::channel::oneshot::channel::<()>();
            let h = tether::spawn(async move {
                let _ = ready_rx.await;
                s2.lock().unwrap().take().unwrap().abort();
                // Still running: the abort takes effect at the next yield.
                tether::yield_now().await;
                unreachable!("an aborted task was resumed");
            });
            *slot.lock().unwrap() = Some(h.abort_handle());
            ready_tx.send(()).unwrap();
            assert!(h.await.unwrap_err().is_cancelled(), "{name}");

            // After it finished: the output is still delivered.
            let h = tether::spawn(async { 9 });
            while !h.is_finished() {
                tether::yield_now().await;
            }
            h.abort();
            assert_eq!(h.await.unwrap(), 9, "{name}");
        });
    }
}

#[test]
fn panicking_task_gives_join_error_and_runtime_keeps_working() {
    for (name, rt) in flavours() {
        rt.block_on(async {
            for _ in 0..10 {
                let err = tether::spawn(async { panic!("boom") }).await.unwrap_err();
                assert!(err.is_panic(), "{name}");
                assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
            }
            assert_eq!(tether::spawn(async { 5 }).await.unwrap(), 5, "{name}");
        });
    }
}

#[test]
fn wake_from_another_thread_after_completion_and_dropped_waker() {
    for (name, rt) in flavours() {
        rt.block_on(async {
            // Woken from a plain thread.
            let slot = Arc::new(Mutex::new(None));
            let woken = Arc::new(AtomicBool::new(false));
            let h = tether::spawn(WaitForWake {
                slot: slot.clone(),
                woken: woken.clone(),
            });
            let waker = loop {
                if let Some(w) = slot.lock().unwrap().take() {
                    break w;
                }
                tether::yield_now().await;
            };
            let spare = waker.clone();
            let t = thread::spawn(move || {
                woken.store(true, SeqCst);
                waker.wake();
            });
            h.await.unwrap();
            t.join().unwrap();
            // Wake after completion is a no-op.
            spare.wake_by_ref();
            spare.wake();

            // A task whose waker is dropped without waking stays pending and
            // can still be aborted.
            let slot = Arc::new(Mutex::new(None));
            let h = tether::spawn(WaitForWake {
                slot: slot.clone(),
                woken: Arc::new(AtomicBool::new(false)),
            });
            loop {
                if let Some(w) = slot.lock().unwrap().take() {
                    drop(w);
                    break;
                }
                tether::yield_now().await;
            }
            assert!(!h.is_finished(), "{name}");
            h.abort();
            assert!(h.await.unwrap_err().is_cancelled(), "{name}");
        });
    }
}

#[test]
fn busy_task_does_not_starve_others() {
    // One worker: the busy task only lets the other run because the
    // cooperative budget forces it to yield.
    for (name, rt) in [("current_thread", current()), ("multi_thread(1)", multi(1))] {
        rt.block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let s = stop.clone();
            let busy = tether::spawn(async move {
                let mut spins = 0u64;
                while !s.load(SeqCst) {
                    tether::task::consume_budget().await;
                    spins += 1;
                }
                spins
            });
            tether::spawn(async move { stop.store(true, SeqCst) })
                .await
                .unwrap();
            assert!(busy.await.unwrap() > 0, "{name}");
        });
    }
}

#[test]
fn many_yields_interleave() {
    for (name, rt) in flavours() {
        let counter = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let handles: Vec<_> = (0..50)
                .map(|_| {
                    let c = counter.clone();
                    tether::spawn(async move {
                        for _ in 0..100 {
                            c.fetch_add(1, SeqCst);
                            tether::yield_now().await;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        assert_eq!(counter.load(SeqCst), 5000, "{name}");
    }
}

#[test]
fn shutdown_drops_every_pending_task_exactly_once() {
    for (name, rt) in flavours() {
        let drops = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            for i in 0..10_000 {
                let g = DropCount(drops.clone());
                let s = started.clone();
                // Half are idle in their wakers, half never polled.
                let h = tether::spawn(async move {
                    let _g = g;
                    s.fetch_add(1, SeqCst);
                    std::future::pending::<()>().await;
                });
                if i % 2 == 0 {
                    drop(h);
                } else {
                    std::mem::forget(h.abort_handle());
                    drop(h);
                }
            }
            tether::yield_now().await;
        });
        assert!(started.load(SeqCst) <= 10_000);
        drop(rt);
        assert_eq!(drops.load(SeqCst), 10_000, "{name}");
    }
}

#[test]
fn join_handles_report_cancellation_after_shutdown() {
    for (name, rt) in flavours() {
        let h = rt.spawn(std::future::pending::<()>());
        let h2 = rt.spawn(async { 1 });
        drop(rt);
        let other = current();
        assert!(other.block_on(h).unwrap_err().is_cancelled(), "{name}");
        // h2 either ran before shutdown or was cancelled; never lost.
        match other.block_on(h2) {
            Ok(v) => assert_eq!(v, 1),
            Err(e) => assert!(e.is_cancelled()),
        }
    }
}

#[test]
fn block_on_inside_runtime_panics_with_clear_message() {
    let rt = multi(2);
    let handle = rt.handle().clone();
    let err = rt
        .block_on(rt.spawn(async move { handle.block_on(async {}) }))
        .unwrap_err();
    let msg = err.into_panic();
    let msg = msg
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| msg.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    assert!(msg.contains("already driving a tether runtime"), "{msg}");
}

#[test]
#[should_panic(expected = "outside a tether runtime")]
fn spawn_outside_runtime_panics() {
    drop(tether::spawn(async {}));
}

#[test]
fn blocking_pool_runs_in_parallel_and_respects_cap() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(3)
        .thread_keep_alive(Duration::from_millis(50))
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let (tx, rx) = mpsc::channel::<()>();
        let rx = Arc::new(Mutex::new(rx));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (running, peak, rx) = (running.clone(), peak.clone(), rx.clone());
                tether::spawn_blocking(move || {
                    let now = running.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(now, SeqCst);
                    // Hold the thread until released.
                    let _ = rx.lock().unwrap().recv_timeout(Duration::from_secs(5));
                    running.fetch_sub(1, SeqCst);
                })
            })
            .collect();
        // Release them one by one.
        for _ in 0..6 {
            tx.send(()).unwrap();
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert!(
        peak.load(SeqCst) <= 3,
        "cap exceeded: {}",
        peak.load(SeqCst)
    );
}

#[test]
fn blocking_task_panic_is_a_join_error() {
    let rt = multi(2);
    rt.block_on(async {
        let err = tether::spawn_blocking(|| panic!("blocking boom"))
            .await
            .unwrap_err();
        assert!(err.is_panic());
        assert_eq!(tether::spawn_blocking(|| 3).await.unwrap(), 3);
    });
}

#[test]
fn invalid_builder_settings_are_errors() {
    let e = Builder::new_multi_thread()
        .worker_threads(0)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = Builder::new_current_thread()
        .max_blocking_threads(0)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn current_thread_block_on_from_two_threads() {
    let rt = Arc::new(current());
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let rt2 = rt.clone();
    let t = thread::spawn(move || rt2.block_on(async { rx.await.unwrap() }));
    let v = rt.block_on(async {
        tether::spawn(async move { tx.send(7).unwrap() })
            .await
            .unwrap();
        1
    });
    assert_eq!(v, 1);
    assert_eq!(t.join().unwrap(), 7);
}

#[test]
fn tasks_run_on_several_workers() {
    let rt = multi(2);
    let ids = Arc::new(Mutex::new(std::collections::HashSet::new()));
    rt.block_on(async {
        let handles: Vec<_> = (0..64)
            .map(|_| {
                let ids = ids.clone();
                tether::spawn(async move {
                    // Enough CPU work that the other worker steals some.
                    let mut x = 0u64;
                    for i in 0..200_000u64 {
                        x = x.wrapping_mul(31).wrapping_add(i);
                    }
                    std::hint::black_box(x);
                    ids.lock().unwrap().insert(thread::current().id());
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(ids.lock().unwrap().len(), 2, "work was not stolen");
}
