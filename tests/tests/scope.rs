//! Behaviour of async scopes, join sets and joins on real runtimes: the
//! multi-thread runtime (parallelism), the current-thread runtime and tokio
//! (portability).

use std::collections::HashSet;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use tether_tests::{current_thread, multi_thread};

/// Counts drops of the value it is attached to.
struct DropCounter<'a>(&'a AtomicUsize);

impl Drop for DropCounter<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A scope borrowing locals, inside a future handed to `tether::spawn`:
/// the scope future is `Send`.
#[test]
fn future_containing_a_scope_can_be_spawned() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let rt = multi_thread(2);
    let total = rt.block_on(async {
        tether::spawn(assert_send(async {
            let data: Vec<u64> = (1..=100).collect();
            let data = &data;
            tether::scope(|s| async move {
                let hs: Vec<_> = data
                    .chunks(10)
                    .map(|c| s.spawn(async move { c.iter().sum::<u64>() }))
                    .collect();
                let mut t = 0;
                for h in hs {
                    t += h.await.unwrap();
                }
                t
            })
            .await
        }))
        .await
        .unwrap()
    });
    assert_eq!(total, 5050);
}

/// CPU-bound children of one scope poll at the same time on different
/// workers. Each child spins inside one poll until it has seen another child
/// inside concurrently (or a generous cap passes, which fails the test).
/// A CPU-bound child that records its thread and spins until some other
/// child runs at the same time (or a cap passes).
async fn overlap_probe(
    inside: &AtomicUsize,
    max_inside: &AtomicUsize,
    threads: &Mutex<HashSet<ThreadId>>,
) {
    // A cap, not a timing goal: the overlap normally shows within
    // milliseconds; on a loaded machine the other worker may take a while.
    const CAP: Duration = Duration::from_secs(20);
    threads.lock().unwrap().insert(thread::current().id());
    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
    max_inside.fetch_max(now, Ordering::SeqCst);
    let start = Instant::now();
    while max_inside.load(Ordering::SeqCst) < 2 && start.elapsed() < CAP {
        std::hint::spin_loop();
    }
    inside.fetch_sub(1, Ordering::SeqCst);
}

#[test]
fn cpu_bound_children_run_on_several_workers_at_once() {
    const CHILDREN: usize = 4;
    let rt = multi_thread(2);
    let inside = AtomicUsize::new(0);
    let max_inside = AtomicUsize::new(0);
    let threads = Mutex::new(HashSet::<ThreadId>::new());
    let (inside, max_inside, threads) = (&inside, &max_inside, &threads);
    // The blocking scope runs the async scope as a task, on a worker.
    rt.scope(|bs| {
        bs.spawn(tether::scope(|s| async move {
            for _ in 0..CHILDREN {
                s.spawn(overlap_probe(inside, max_inside, threads));
            }
        }));
    });
    assert!(
        max_inside.load(Ordering::SeqCst) >= 2,
        "children never overlapped"
    );
    assert!(
        threads.lock().unwrap().len() >= 2,
        "children all ran on one thread"
    );
}

/// A scope awaited directly in `block_on` (as in `#[tether::main]`): the
/// calling thread is not a worker, yet idle workers still poll children.
#[test]
fn scope_awaited_in_block_on_runs_children_on_workers() {
    const CHILDREN: usize = 4;
    let rt = multi_thread(2);
    let inside = AtomicUsize::new(0);
    let max_inside = AtomicUsize::new(0);
    let threads = Mutex::new(HashSet::<ThreadId>::new());
    let (inside, max_inside, threads) = (&inside, &max_inside, &threads);
    rt.block_on(tether::scope(|s| async move {
        for _ in 0..CHILDREN {
            s.spawn(overlap_probe(inside, max_inside, threads));
        }
    }));
    assert!(
        max_inside.load(Ordering::SeqCst) >= 2,
        "children never overlapped"
    );
    let me = thread::current().id();
    assert!(
        threads.lock().unwrap().iter().any(|t| *t != me),
        "no worker polled a child"
    );
}

#[test]
fn ten_thousand_children() {
    const N: u64 = 10_000;
    let rt = multi_thread(2);
    let data: Vec<u64> = (0..N).collect();
    let sum = rt.block_on(async {
        let data = &data;
        tether::scope(|s| async move {
            let hs: Vec<_> = data.iter().map(|x| s.spawn(async move { x * 2 })).collect();
            let mut sum = 0;
            for h in hs {
                sum += h.await.unwrap();
            }
            sum
        })
        .await
    });
    assert_eq!(sum, N * (N - 1));
}

fn nest<'a>(depth: usize, hits: &'a AtomicUsize) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        if depth == 0 {
            hits.fetch_add(1, Ordering::SeqCst);
            return;
        }
        tether::scope(|s| async move {
            s.spawn(nest(depth - 1, hits)).await.unwrap();
        })
        .await;
    })
}

#[test]
fn async_scope_nested_64_deep() {
    for rt in [multi_thread(2), current_thread()] {
        let hits = AtomicUsize::new(0);
        rt.block_on(nest(64, &hits));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }
}

/// Aborting the task that owns a scope drops every child exactly once.
#[test]
fn cancelling_the_owner_drops_every_child_once() {
    let rt = multi_thread(2);
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    const CHILDREN: usize = 500;
    rt.block_on(async {
        let task = tether::spawn(async {
            let data = vec![0u8; 16];
            let data = &data;
            tether::scope(|s| async move {
                for _ in 0..CHILDREN {
                    s.spawn(async move {
                        let _d = DropCounter(&DROPS);
                        STARTED.fetch_add(1, Ordering::SeqCst);
                        let _ = data.len();
                        std::future::pending::<()>().await;
                    });
                }
                std::future::pending::<()>().await;
            })
            .await
        });
        while STARTED.load(Ordering::SeqCst) < CHILDREN {
            tether::yield_now().await;
        }
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    });
    assert_eq!(DROPS.load(Ordering::SeqCst), CHILDREN);
}

/// Children talking to each other through channels (cross wakes during
/// forked polls): every message and every result arrives.
#[test]
fn results_are_never_lost_under_cross_wakes() {
    use futures::channel::mpsc;
    use futures::{SinkExt, StreamExt};
    const STAGES: usize = 8;
    const MSGS: u64 = 2_000;
    for rt in [multi_thread(2), current_thread()] {
        let total = rt.block_on(rt.spawn(async {
            tether::scope(|s| async move {
                let (first_tx, mut rx) = mpsc::channel::<u64>(4);
                for _ in 0..STAGES {
                    let (mut tx, next_rx) = mpsc::channel::<u64>(4);
                    let mut input = std::mem::replace(&mut rx, next_rx);
                    s.spawn(async move {
                        while let Some(v) = input.next().await {
                            tx.send(v + 1).await.unwrap();
                        }
                    });
                }
                let producer = s.spawn(async move {
                    let mut tx = first_tx;
                    for i in 0..MSGS {
                        tx.send(i).await.unwrap();
                    }
                });
                let mut total = 0;
                while let Some(v) = rx.next().await {
                    total += v;
                }
                producer.await.unwrap();
                total
            })
            .await
        }));
        let expected: u64 = (0..MSGS).map(|i| i + STAGES as u64).sum();
        assert_eq!(total.unwrap(), expected);
    }
}

#[test]
fn child_panic_in_forked_poll_reaches_the_task() {
    let rt = multi_thread(2);
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let err = rt.block_on(rt.spawn(async {
        tether::scope(|s| async move {
            for i in 0..16 {
                s.spawn(async move {
                    let _d = DropCounter(&DROPS);
                    if i == 5 {
                        panic!("child {i} failed");
                    }
                    std::future::pending::<()>().await;
                });
            }
        })
        .await
    }));
    let err = err.unwrap_err();
    assert!(err.is_panic());
    assert_eq!(
        *err.into_panic().downcast::<String>().unwrap(),
        "child 5 failed"
    );
    assert_eq!(DROPS.load(Ordering::SeqCst), 16);
}

#[test]
fn join_set_on_workers() {
    let rt = multi_thread(2);
    let words: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
    let total = rt.block_on(rt.spawn(async move {
        let mut set = tether::ScopedJoinSet::new();
        for w in &words {
            set.spawn(async move { w.len() });
        }
        let mut total = 0;
        while let Some(r) = set.join_next().await {
            total += r.unwrap();
        }
        total
    }));
    assert_eq!(total.unwrap(), 10 * 2 + 90 * 3 + 900 * 4);
}

#[test]
fn join_all_and_join_on_workers() {
    let rt = multi_thread(2);
    let v: Vec<u32> = (0..100).collect();
    let (sums, (a, b)) = rt.block_on(async {
        let v = &v;
        let sums =
            tether::join_all(v.chunks(10).map(|c| async move { c.iter().sum::<u32>() })).await;
        let ab = tether::join!(async { v.len() }, async { v[99] });
        (sums, ab)
    });
    assert_eq!(sums.len(), 10);
    assert_eq!(sums.iter().sum::<u32>(), 4950);
    assert_eq!((a, b), (100, 99));
}

/// Under tokio the same scope runs its children concurrently on one thread.
#[test]
fn scope_under_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let data = vec![3u32; 64];
    let sum = rt.block_on(async {
        let data = &data;
        tether::scope(|s| async move {
            let (tx, rx) = futures::channel::oneshot::channel();
            // The second child waits for the first: needs concurrency.
            let waiter = s.spawn(async move { rx.await.unwrap() + data[0] });
            s.spawn(async move { tx.send(data.iter().sum::<u32>()).unwrap() });
            waiter.await.unwrap()
        })
        .await
    });
    assert_eq!(sum, 64 * 3 + 3);
}

#[test]
fn scope_local_on_current_thread_runtime() {
    let rt = current_thread();
    let cell = std::cell::Cell::new(0);
    rt.block_on(async {
        let cell = &cell;
        tether::scope_local(|s| async move {
            for i in 1..=10 {
                s.spawn_local(async move {
                    tether::yield_now().await;
                    cell.set(cell.get() + i);
                });
            }
        })
        .await
    });
    assert_eq!(cell.get(), 55);
}

#[test]
fn escaped_scope_handle_after_scope_ended() {
    let rt = multi_thread(2);
    let escaped = Mutex::new(None);
    rt.block_on(async {
        let escaped = &escaped;
        tether::scope(|s| async move {
            *escaped.lock().unwrap() = Some(s.clone());
        })
        .await;
        let s = escaped.lock().unwrap().take().unwrap();
        let res = panic::catch_unwind(AssertUnwindSafe(|| s.spawn(async { 1 })));
        assert!(res.unwrap().await.unwrap_err().is_cancelled());
    });
}

#[test]
fn blocking_scope_borrows_mutably() {
    let rt = multi_thread(2);
    let mut cells = vec![0u64; 64];
    let factor = 3;
    rt.scope(|s| {
        for (i, c) in cells.iter_mut().enumerate() {
            let factor = &factor;
            s.spawn(async move {
                tether::yield_now().await;
                *c = i as u64 * factor;
            });
        }
    });
    assert_eq!(cells.iter().sum::<u64>(), 3 * 63 * 64 / 2);
}

fn nest_blocking(depth: usize, hits: &AtomicUsize) {
    if depth == 0 {
        hits.fetch_add(1, Ordering::SeqCst);
        return;
    }
    tether::Handle::current().scope(|s| {
        s.spawn(async move { nest_blocking(depth - 1, hits) });
    });
}

/// 64 levels of blocking scopes on 2 workers: each waiting worker keeps
/// running tasks, so this cannot deadlock.
#[test]
fn blocking_scope_nested_64_deep() {
    let rt = multi_thread(2);
    let hits = AtomicUsize::new(0);
    let hits = &hits;
    rt.scope(|s| {
        s.spawn(async move { nest_blocking(64, hits) });
    });
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn blocking_scope_on_current_thread_runtime() {
    let rt = current_thread();
    let v = [1, 2, 3];
    let sum = rt.scope(|s| {
        let a = s.spawn(async { v[0] + v[1] });
        let b = s.spawn_blocking(|| v[2]);
        a.join().unwrap() + b.join().unwrap()
    });
    assert_eq!(sum, 6);
}

#[test]
fn blocking_scope_reraises_child_panic_after_all_finished() {
    let rt = multi_thread(2);
    let finished = AtomicUsize::new(0);
    let res = panic::catch_unwind(AssertUnwindSafe(|| {
        rt.scope(|s| {
            s.spawn(async { panic!("blocking child") });
            for _ in 0..8 {
                s.spawn(async {
                    tether::yield_now().await;
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
    }));
    assert_eq!(
        *res.unwrap_err().downcast::<&str>().unwrap(),
        "blocking child"
    );
    assert_eq!(finished.load(Ordering::SeqCst), 8);
}

#[test]
fn blocking_scope_spawn_blocking_borrows() {
    let rt = multi_thread(2);
    let mut parts = vec![String::new(); 4];
    rt.scope(|s| {
        for (i, p) in parts.iter_mut().enumerate() {
            s.spawn_blocking(move || p.push_str(&i.to_string()));
        }
    });
    assert_eq!(parts.concat(), "0123");
}

/// Boxed recursive `fib` by `join!`, with a leaf that takes a while.
fn join_fib(
    n: u32,
    leaves: &Mutex<Vec<ThreadId>>,
) -> Pin<Box<dyn Future<Output = u64> + Send + '_>> {
    Box::pin(async move {
        if n < 2 {
            let start = Instant::now();
            while start.elapsed() < Duration::from_micros(200) {
                std::hint::spin_loop();
            }
            leaves.lock().unwrap().push(thread::current().id());
            return u64::from(n);
        }
        let (a, b) = tether::join!(join_fib(n - 1, leaves), join_fib(n - 2, leaves));
        a + b
    })
}

/// A recursive `join!` (nested joins: most of them run inline while an
/// older fork of the same thread waits to be stolen) still spreads over
/// both workers and computes the right result.
#[test]
fn recursive_join_macro_uses_every_worker() {
    let rt = multi_thread(2);
    let leaves = Mutex::new(Vec::new());
    let leaves = &leaves;
    let fib = rt.block_on(async {
        tether::scope(|s| async move { s.spawn(join_fib(12, leaves)).await }).await
    });
    assert_eq!(fib.unwrap(), 144);
    let leaves = leaves.lock().unwrap();
    assert_eq!(leaves.len(), 233);
    assert!(
        leaves.iter().collect::<HashSet<_>>().len() >= 2,
        "one thread ran every leaf"
    );
}

/// `join!(join!(long, long), short)` with the other worker idle: the outer
/// join publishes `short` and wakes the other worker, which has not taken
/// it yet when the inner join runs. The inner join must still fork (the
/// woken worker counts as searching), or both long sides run on one thread
/// once the other worker took `short`.
#[test]
fn nested_join_forks_while_a_worker_is_on_its_way() {
    let rt = multi_thread(2);
    for round in 0..10 {
        let overlapped = rt
            .block_on(rt.spawn(async {
                let inside = AtomicUsize::new(0);
                let max_inside = AtomicUsize::new(0);
                let threads = Mutex::new(HashSet::<ThreadId>::new());
                let (inside, max_inside, threads) = (&inside, &max_inside, &threads);
                tether::join!(
                    tether::parallel(async move {
                        tether::join!(
                            overlap_probe(inside, max_inside, threads),
                            overlap_probe(inside, max_inside, threads),
                        );
                    }),
                    tether::parallel(async {}),
                );
                max_inside.load(Ordering::SeqCst) >= 2
            }))
            .unwrap();
        assert!(
            overlapped,
            "round {round}: the inner join's sides never overlapped"
        );
    }
}

/// A nested `join!` that runs inline (the outer join's other side waits
/// in the worker's deque, the other worker is busy, and many joins saw no
/// steal) keeps the fork's panic
/// rule: the second side is polled too, then the first side's panic is
/// resumed.
#[test]
fn inline_nested_join_polls_both_sides_and_resumes_the_panic() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    /// Stops the spinner however the test ends.
    struct Release(Arc<AtomicBool>);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    let rt = multi_thread(2);
    let release = Release(Arc::new(AtomicBool::new(false)));
    let (running_tx, running_rx) = std::sync::mpsc::channel();
    let spinner = rt.spawn({
        let release = release.0.clone();
        async move {
            running_tx.send(()).unwrap();
            while !release.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        }
    });
    running_rx.recv().unwrap();
    let second_polled = Arc::new(AtomicBool::new(false));
    let flag = second_polled.clone();
    let res = rt.block_on(rt.spawn(async move {
        tether::join!(
            tether::parallel(async move {
                // Enough joins without a steal for the rule to go inline.
                for _ in 0..64 {
                    tether::join!(tether::parallel(async {}), tether::parallel(async {}));
                }
                tether::join!(
                    tether::parallel(async { panic!("nested boom") }),
                    tether::parallel(async move { flag.store(true, Ordering::SeqCst) }),
                );
            }),
            tether::parallel(async {}),
        );
    }));
    drop(release);
    rt.block_on(spinner).unwrap();
    let payload = res.unwrap_err().into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"nested boom"));
    assert!(second_polled.load(Ordering::SeqCst));
}

/// `join!` of `Send` futures (named: their type says they are `Send`) runs
/// its sides in parallel on the workers, from a task and from `block_on`;
/// `!Send` ones still join, on the caller's thread.
#[test]
fn join_macro_runs_send_sides_in_parallel() {
    let rt = multi_thread(2);
    for from_task in [true, false] {
        let inside = AtomicUsize::new(0);
        let max_inside = AtomicUsize::new(0);
        let threads = Mutex::new(HashSet::<ThreadId>::new());
        let (inside, max_inside, threads) = (&inside, &max_inside, &threads);
        let run = async move {
            tether::join!(
                overlap_probe(inside, max_inside, threads),
                overlap_probe(inside, max_inside, threads),
            );
        };
        if from_task {
            rt.block_on(async { tether::scope(|s| async move { s.spawn(run).await }).await })
                .unwrap();
        } else {
            rt.block_on(run);
        }
        assert!(
            max_inside.load(Ordering::SeqCst) >= 2,
            "join! sides never overlapped (from_task: {from_task})"
        );
        assert!(threads.lock().unwrap().len() >= 2);
    }

    let rc = std::rc::Rc::new(2);
    let (a, b) = rt.block_on(async {
        let rc = &rc;
        async fn double(v: std::rc::Rc<i32>) -> i32 {
            tether::yield_now().await;
            *v * 2
        }
        tether::join!(double(rc.clone()), async { **rc + 1 })
    });
    assert_eq!((a, b), (4, 3));
}
