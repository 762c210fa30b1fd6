//! `tether::sync` (tokio's primitives, re-exported) under tether's
//! multi-thread runtime, with spawned tasks and with scoped children that
//! borrow the primitives from the caller's stack.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tether::sync::{
    Barrier, Mutex, Notify, OnceCell, RwLock, Semaphore, TryAcquireError, broadcast, mpsc, oneshot,
    watch,
};

/// Watchdog for every test: a lost wake-up fails the test instead of
/// hanging CI.
const WATCHDOG: Duration = Duration::from_secs(30);

fn run<F: Future<Output = ()> + Send>(f: F) {
    tether_tests::block_on_timed(WATCHDOG, f);
}

#[test]
fn mpsc_bounded_applies_backpressure_and_delivers_in_order() {
    run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(4);
        let producer = tether::spawn(async move {
            for i in 0..1000 {
                tx.send(i).await.unwrap();
            }
        });
        for expected in 0..1000 {
            assert_eq!(rx.recv().await, Some(expected));
        }
        producer.await.unwrap();
        assert_eq!(rx.recv().await, None, "all senders dropped");

        let (tx, _rx) = mpsc::channel::<u8>(1);
        tx.try_send(1).unwrap();
        assert!(matches!(
            tx.try_send(2),
            Err(mpsc::error::TrySendError::Full(2))
        ));
    });
}

#[test]
fn mpsc_unbounded_with_many_producers() {
    run(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
        for p in 0..8 {
            let tx = tx.clone();
            tether::spawn(async move {
                for i in 0..100 {
                    tx.send(p * 1000 + i).unwrap();
                }
            });
        }
        drop(tx);
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got.sort_unstable();
        let want: Vec<usize> = (0..8)
            .flat_map(|p| (0..100).map(move |i| p * 1000 + i))
            .collect();
        assert_eq!(got, want);
    });
}

#[test]
fn oneshot_delivers_and_reports_a_dropped_sender() {
    run(async {
        let (tx, rx) = oneshot::channel();
        tether::spawn(async move { tx.send("answer").unwrap() });
        assert_eq!(rx.await.unwrap(), "answer");

        let (tx, rx) = oneshot::channel::<u8>();
        drop(tx);
        assert!(rx.await.is_err());
    });
}

#[test]
fn broadcast_reaches_every_receiver_and_reports_lag() {
    run(async {
        let (tx, _) = broadcast::channel::<u32>(16);
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let mut rx = tx.subscribe();
                tether::spawn(async move {
                    let mut sum = 0;
                    while let Ok(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                })
            })
            .collect();
        for i in 1..=10 {
            // Wait for room so no receiver lags in this half of the test.
            while tx.len() >= 8 {
                tether::yield_now().await;
            }
            tx.send(i).unwrap();
        }
        drop(tx);
        for r in receivers {
            assert_eq!(r.await.unwrap(), 55);
        }

        let (tx, mut rx) = broadcast::channel::<u32>(2);
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.recv().await, Err(broadcast::error::RecvError::Lagged(3)));
        assert_eq!(rx.recv().await, Ok(3));
    });
}

#[test]
fn watch_sees_the_latest_value() {
    run(async {
        let (tx, mut rx) = watch::channel(0u32);
        let waiter =
            tether::spawn(async move { rx.wait_for(|v| *v == 3).await.map(|v| *v).unwrap() });
        for i in 1..=3 {
            tx.send(i).unwrap();
        }
        assert_eq!(waiter.await.unwrap(), 3);
        assert_eq!(*tx.borrow(), 3);
    });
}

#[test]
fn borrowed_mutex_shared_by_scoped_children_without_arc() {
    run(async {
        let counter = Mutex::new(0u64);
        let log = Mutex::new(Vec::new());
        let (counter, log) = (&counter, &log);
        tether::scope(|s| async move {
            for child in 0..16u64 {
                s.spawn(async move {
                    for _ in 0..100 {
                        let mut guard = counter.lock().await;
                        let before = *guard;
                        // Hold the lock across a yield: another child that
                        // got in would break the increment.
                        tether::yield_now().await;
                        *guard = before + 1;
                    }
                    log.lock().await.push(child);
                });
            }
        })
        .await;
        assert_eq!(*counter.lock().await, 1600);
        let mut log = log.lock().await.clone();
        log.sort_unstable();
        assert_eq!(log, (0..16).collect::<Vec<_>>());
    });
}

#[test]
fn borrowed_rwlock_readers_share_writers_exclude() {
    run(async {
        let config = RwLock::new(String::from("v0"));
        let config = &config;
        let readers_inside = AtomicUsize::new(0);
        let readers_inside = &readers_inside;
        tether::scope(|s| async move {
            for _ in 0..4 {
                s.spawn(async move {
                    for _ in 0..50 {
                        let guard = config.read().await;
                        readers_inside.fetch_add(1, Ordering::SeqCst);
                        assert!(guard.starts_with('v'));
                        tether::yield_now().await;
                        readers_inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
            s.spawn(async move {
                for i in 1..=10 {
                    let mut guard = config.write().await;
                    assert_eq!(readers_inside.load(Ordering::SeqCst), 0);
                    *guard = format!("v{i}");
                }
            });
        })
        .await;
        assert_eq!(*config.read().await, "v10");
    });
}

#[test]
fn semaphore_caps_concurrency() {
    run(async {
        const PERMITS: usize = 3;
        let sem = Semaphore::new(PERMITS);
        let inside = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let (sem, inside, peak) = (&sem, &inside, &peak);
        tether::scope(|s| async move {
            for _ in 0..20 {
                s.spawn(async move {
                    let _permit = sem.acquire().await.unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tether::time::sleep(Duration::from_millis(2)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            }
        })
        .await;
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=PERMITS).contains(&peak), "peak {peak}");
        assert_eq!(sem.available_permits(), PERMITS);

        sem.close();
        assert!(sem.acquire().await.is_err());
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    });
}

#[test]
fn notify_wakes_a_waiting_task() {
    run(async {
        let notify = Notify::new();
        let notify = &notify;
        let done = AtomicUsize::new(0);
        let done = &done;
        tether::scope(|s| async move {
            s.spawn(async move {
                notify.notified().await;
                done.store(1, Ordering::SeqCst);
            });
            // `notify_one` stores a permit if the child is not waiting yet.
            notify.notify_one();
        })
        .await;
        assert_eq!(done.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn barrier_releases_all_parties_together_with_one_leader() {
    run(async {
        const PARTIES: usize = 6;
        let barrier = Barrier::new(PARTIES);
        let arrived = AtomicUsize::new(0);
        let (barrier, arrived) = (&barrier, &arrived);
        let leaders = tether::scope(|s| async move {
            let handles: Vec<_> = (0..PARTIES)
                .map(|_| {
                    s.spawn(async move {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        let res = barrier.wait().await;
                        // Nobody passes before everyone arrived.
                        assert_eq!(arrived.load(Ordering::SeqCst), PARTIES);
                        res.is_leader()
                    })
                })
                .collect();
            let mut leaders = 0;
            for h in handles {
                leaders += usize::from(h.await.unwrap());
            }
            leaders
        })
        .await;
        assert_eq!(leaders, 1);
    });
}

#[test]
fn once_cell_initializes_once_under_contention() {
    run(async {
        let cell = OnceCell::<u32>::new();
        let inits = AtomicUsize::new(0);
        let (cell, inits) = (&cell, &inits);
        tether::scope(|s| async move {
            for _ in 0..8 {
                s.spawn(async move {
                    let v = cell
                        .get_or_init(|| async {
                            inits.fetch_add(1, Ordering::SeqCst);
                            tether::yield_now().await;
                            42
                        })
                        .await;
                    assert_eq!(*v, 42);
                });
            }
        })
        .await;
        assert_eq!(inits.load(Ordering::SeqCst), 1);
        assert_eq!(cell.get(), Some(&42));
    });
}
