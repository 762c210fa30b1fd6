//! Foundation behaviour: spawning, joining, aborting, panics, wakes,
//! fairness, blocking pool and shutdown, on both runtime flavours.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use tether::JoinHandle;
use tether::runtime::Builder;
use tether_tests::{Rendezvous, current_thread as current, flavours, multi_thread as multi};

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
    const CAP: usize = 3;
    const JOBS: usize = 6;
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(CAP)
        .thread_keep_alive(Duration::from_millis(50))
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    // The first CAP jobs meet here: they can only all arrive if CAP pool
    // threads run them at the same time.
    let meet = Arc::new(Rendezvous::new(CAP));
    // Closed until the test has checked that no more than CAP jobs run.
    let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let handles: Vec<_> = (0..JOBS)
        .map(|i| {
            let (running, peak, meet, gate) =
                (running.clone(), peak.clone(), meet.clone(), gate.clone());
            rt.spawn_blocking(move || {
                let now = running.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(now, SeqCst);
                let met = i >= CAP || meet.wait(Duration::from_secs(30));
                let (open, cv) = &*gate;
                let open = cv
                    .wait_timeout_while(open.lock().unwrap(), Duration::from_secs(30), |o| !*o)
                    .unwrap()
                    .0;
                running.fetch_sub(1, SeqCst);
                met && *open
            })
        })
        .collect();
    // Parallelism: CAP jobs are running at once (the rendezvous completes).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while meet.arrived() < CAP {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} blocking jobs ran concurrently; expected {CAP}",
            meet.arrived()
        );
        thread::sleep(Duration::from_millis(1));
    }
    // The cap: while they hold their threads, the other jobs wait queued.
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        running.load(SeqCst),
        CAP,
        "cap exceeded or a job stopped early"
    );
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    rt.block_on(async {
        for h in handles {
            assert!(
                h.await.unwrap(),
                "a job timed out at the rendezvous or gate"
            );
        }
    });
    assert_eq!(peak.load(SeqCst), CAP, "peak concurrency");
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
    // Two tasks that each hold their worker until both have arrived: they
    // can only meet if the two workers run them at the same time.
    let rt = multi(2);
    let meet = Arc::new(Rendezvous::new(2));
    let ids = rt.block_on(async {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let meet = meet.clone();
                tether::spawn(async move {
                    assert!(
                        meet.wait(Duration::from_secs(30)),
                        "the other task never ran while this one held its worker"
                    );
                    thread::current().id()
                })
            })
            .collect();
        let mut ids = Vec::new();
        for h in handles {
            ids.push(h.await.unwrap());
        }
        ids
    });
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn idle_worker_steals_from_a_busy_worker() {
    // A task spawns children onto its own worker's queue and then holds
    // that worker until one of the children has run: only a steal by the
    // other worker can make that happen.
    let rt = multi(2);
    let meet = Arc::new(Rendezvous::new(2));
    rt.block_on(async {
        let meet2 = meet.clone();
        tether::spawn(async move {
            let me = thread::current().id();
            let children: Vec<_> = (0..8)
                .map(|_| {
                    let meet = meet2.clone();
                    tether::spawn(async move {
                        if thread::current().id() != me {
                            meet.wait(Duration::from_secs(30));
                        }
                    })
                })
                .collect();
            assert!(
                meet2.wait(Duration::from_secs(30)),
                "no child was stolen by the idle worker"
            );
            children
        })
        .await
        .unwrap();
    });
}
