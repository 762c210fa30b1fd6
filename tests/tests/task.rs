//! The `tether::task` API on real runtimes: the eager `'static` `JoinSet`,
//! `spawn_local`, task ids and task-local values.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::channel::oneshot;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use tether::net::{TcpListener, TcpStream};
use tether::task::{self, JoinSet};
use tether_tests::{current_thread, flavours, multi_thread, watchdog};

/// Counts drops of the value it is attached to.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn join_set_children_run_before_the_set_is_awaited() {
    let _w = watchdog(
        "join_set_children_run_in_background",
        Duration::from_secs(60),
    );
    for (name, rt) in flavours() {
        rt.block_on(async {
            let mut set = JoinSet::new();
            let (tx, rx) = oneshot::channel();
            set.spawn(async move {
                tx.send(()).unwrap();
                7
            });
            // The set is not polled here: the child must run on its own.
            rx.await.unwrap();
            assert_eq!(set.join_next().await.unwrap().unwrap(), 7, "{name}");
            assert!(set.join_next().await.is_none(), "{name}");
        });
    }
}

#[test]
fn join_set_yields_results_in_completion_order() {
    let _w = watchdog("join_set_completion_order", Duration::from_secs(60));
    for (name, rt) in flavours() {
        rt.block_on(async {
            let mut set = JoinSet::new();
            let mut gates = Vec::new();
            for i in 0..5u32 {
                let (tx, rx) = oneshot::channel::<()>();
                gates.push(tx);
                set.spawn(async move {
                    rx.await.unwrap();
                    i
                });
            }
            // Release the children in reverse order, each after the
            // previous one was joined.
            for expected in (0..5u32).rev() {
                gates.pop().unwrap().send(()).unwrap();
                assert_eq!(set.join_next().await.unwrap().unwrap(), expected, "{name}");
            }
            assert!(set.is_empty());
        });
    }
}

#[test]
fn join_set_many_tasks_all_joined_once() {
    let _w = watchdog("join_set_many_tasks", Duration::from_secs(120));
    let rt = multi_thread(4);
    rt.block_on(async {
        let mut set = JoinSet::new();
        for i in 0..10_000u64 {
            set.spawn(async move {
                if i % 7 == 0 {
                    task::yield_now().await;
                }
                i
            });
        }
        assert_eq!(set.len(), 10_000);
        let mut seen = HashSet::new();
        while let Some(res) = set.join_next_with_id().await {
            let (id, i) = res.unwrap();
            assert!(seen.insert(i));
            let _ = id;
        }
        assert_eq!(seen.len(), 10_000);
    });
}

#[test]
fn join_set_ids_match_spawn_and_errors() {
    let rt = multi_thread(2);
    rt.block_on(async {
        let mut set = JoinSet::new();
        let ok = set.spawn(async { task::id() });
        let (id, inner) = set.join_next_with_id().await.unwrap().unwrap();
        assert_eq!(id, ok.id());
        assert_eq!(inner, id);

        let pending = set.spawn(std::future::pending());
        pending.abort();
        let err = set.join_next().await.unwrap().unwrap_err();
        assert!(err.is_cancelled());
        assert_eq!(err.id(), pending.id());

        set.spawn(async { panic!("child failed") });
        let err = set.join_next().await.unwrap().unwrap_err();
        assert!(err.is_panic());
    });
}

#[test]
fn dropping_join_set_aborts_its_tasks() {
    let _w = watchdog("dropping_join_set_aborts", Duration::from_secs(60));
    for (name, rt) in flavours() {
        let drops = Arc::new(AtomicUsize::new(0));
        let aborts = rt.block_on(async {
            let mut set = JoinSet::new();
            let mut aborts = Vec::new();
            for _ in 0..8 {
                let guard = DropCount(drops.clone());
                aborts.push(set.spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                }));
            }
            drop(set);
            // Every task is cancelled, so its future (and guard) is dropped.
            while drops.load(Ordering::SeqCst) < 8 {
                task::yield_now().await;
            }
            aborts
        });
        assert!(aborts.iter().all(|a| a.is_finished()), "{name}");
    }
}

#[test]
fn abort_all_shutdown_and_detach_all() {
    let _w = watchdog("abort_all_shutdown_detach", Duration::from_secs(60));
    for (name, rt) in flavours() {
        rt.block_on(async {
            let mut set = JoinSet::new();
            for _ in 0..4 {
                set.spawn(std::future::pending::<()>());
            }
            set.abort_all();
            let mut cancelled = 0;
            while let Some(res) = set.join_next().await {
                assert!(res.unwrap_err().is_cancelled(), "{name}");
                cancelled += 1;
            }
            assert_eq!(cancelled, 4);

            let drops = Arc::new(AtomicUsize::new(0));
            for _ in 0..4 {
                let guard = DropCount(drops.clone());
                set.spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                });
            }
            set.shutdown().await;
            assert!(set.is_empty());
            assert_eq!(
                drops.load(Ordering::SeqCst),
                4,
                "{name}: shutdown waits for the drops"
            );

            let (tx, rx) = oneshot::channel();
            set.spawn(async move {
                task::yield_now().await;
                tx.send(5).unwrap();
            });
            set.detach_all();
            drop(set);
            assert_eq!(
                rx.await.unwrap(),
                5,
                "{name}: a detached task keeps running"
            );
        });
    }
}

#[test]
fn join_all_try_join_next_and_collect() {
    let rt = multi_thread(2);
    rt.block_on(async {
        let set: JoinSet<u32> = (0..10).map(|i| async move { i }).collect();
        let mut out = set.join_all().await;
        out.sort_unstable();
        assert_eq!(out, (0..10).collect::<Vec<_>>());

        let mut set = JoinSet::new();
        assert!(set.try_join_next().is_none());
        set.extend((1..=2).map(|i| async move { i }));
        set.spawn_blocking(|| 3);
        let mut sum = 0;
        while !set.is_empty() {
            match set.try_join_next() {
                Some(res) => sum += res.unwrap(),
                None => task::yield_now().await,
            }
        }
        assert_eq!(sum, 6);
    });
}

#[test]
fn join_all_resumes_a_child_panic() {
    let rt = multi_thread(2);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async { panic!("child panic payload") });
            set.join_all().await
        })
    }));
    let payload = res.unwrap_err();
    assert_eq!(*payload.downcast::<&str>().unwrap(), "child panic payload");
}

/// A server that spawns each connection into a `JoinSet` and then goes
/// back to `accept`: the connections must be served while it waits there
/// (the children run in the background, not only while the set is polled).
#[test]
fn server_serves_connections_in_a_join_set_while_awaiting_accept() {
    let _w = watchdog("join_set_server", Duration::from_secs(60));
    for (name, rt) in flavours() {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            const CLIENTS: usize = 8;
            let server = tether::spawn(async move {
                let mut connections = JoinSet::new();
                // One more accept than there are clients: the server sits
                // in `accept` while the clients wait for their replies.
                for _ in 0..=CLIENTS {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    connections.spawn(async move {
                        let mut buf = [0u8; 5];
                        stream.read_exact(&mut buf).await.unwrap();
                        stream.write_all(&buf).await.unwrap();
                        buf
                    });
                }
                connections.join_all().await.len()
            });
            for i in 0..CLIENTS {
                let mut client = TcpStream::connect(addr).await.unwrap();
                let msg = format!("hey{i:02}");
                client.write_all(msg.as_bytes()).await.unwrap();
                let mut reply = [0u8; 5];
                client.read_exact(&mut reply).await.unwrap();
                assert_eq!(&reply, msg.as_bytes(), "{name}");
            }
            // The last connection lets the server leave its accept loop.
            let mut last = TcpStream::connect(addr).await.unwrap();
            last.write_all(b"last!").await.unwrap();
            let mut reply = [0u8; 5];
            last.read_exact(&mut reply).await.unwrap();
            assert_eq!(server.await.unwrap(), CLIENTS + 1, "{name}");
        });
    }
}

#[test]
fn spawn_on_and_spawn_blocking_on_use_the_given_runtime() {
    let rt = multi_thread(2);
    let other = current_thread();
    let mut set = JoinSet::new();
    set.spawn_on(async { task::id() }, rt.handle());
    set.spawn_blocking_on(|| task::id(), rt.handle());
    let ids = other.block_on(async {
        let mut ids = Vec::new();
        while let Some(res) = set.join_next().await {
            ids.push(res.unwrap());
        }
        ids
    });
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn task_ids_are_unique_and_visible_inside_tasks() {
    assert!(task::try_id().is_none());
    for (name, rt) in flavours() {
        rt.block_on(async {
            assert!(
                task::try_id().is_none(),
                "{name}: block_on's future is no task"
            );
            let handles: Vec<_> = (0..16).map(|_| task::spawn(async { task::id() })).collect();
            let expected: Vec<_> = handles.iter().map(|h| h.id()).collect();
            let mut seen = HashSet::new();
            for (h, want) in handles.into_iter().zip(expected) {
                let got = h.await.unwrap();
                assert_eq!(got, want, "{name}");
                assert!(seen.insert(got));
            }
            let blocking = task::spawn_blocking(task::try_id);
            let id = blocking.id();
            assert_eq!(blocking.await.unwrap(), Some(id), "{name}");
        });
    }
}

#[test]
fn task_id_is_set_while_a_cancelled_future_is_dropped() {
    struct RecordOnDrop(Arc<std::sync::Mutex<Option<task::Id>>>);
    impl Drop for RecordOnDrop {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = task::try_id();
        }
    }
    let rt = multi_thread(2);
    rt.block_on(async {
        let seen = Arc::new(std::sync::Mutex::new(None));
        let guard = RecordOnDrop(seen.clone());
        let handle = tether::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        let id = handle.id();
        handle.abort();
        assert!(handle.await.unwrap_err().is_cancelled());
        assert_eq!(*seen.lock().unwrap(), Some(id));
    });
}

#[test]
fn spawn_local_runs_not_send_tasks_on_the_current_thread() {
    let _w = watchdog("spawn_local", Duration::from_secs(60));
    let rt = current_thread();
    let caller = std::thread::current().id();
    rt.block_on(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut handles = Vec::new();
        for i in 0..4 {
            let log = log.clone();
            handles.push(task::spawn_local(async move {
                assert_eq!(std::thread::current().id(), caller);
                for step in 0..3 {
                    log.borrow_mut().push((i, step));
                    task::yield_now().await;
                }
                Rc::new(i)
            }));
        }
        let mut outs = Vec::new();
        for h in handles {
            outs.push(*h.await.unwrap());
        }
        assert_eq!(outs, [0, 1, 2, 3]);
        assert_eq!(log.borrow().len(), 12);
        // Interleaved: every task took its first step before any finished.
        let firsts: Vec<_> = log.borrow().iter().take(4).map(|(i, _)| *i).collect();
        assert_eq!(firsts, [0, 1, 2, 3]);
    });
}

#[test]
fn spawn_local_from_a_task_and_woken_from_another_thread() {
    let _w = watchdog("spawn_local_remote_wake", Duration::from_secs(60));
    let rt = current_thread();
    rt.block_on(async {
        let (tx, rx) = oneshot::channel::<u32>();
        let inner = tether::spawn(async move {
            // spawn_local from inside an ordinary task of the runtime.
            task::spawn_local(async move {
                let marker = Rc::new(());
                let v = rx.await.unwrap();
                drop(marker);
                v * 2
            })
            .abort_handle()
        })
        .await
        .unwrap();
        // Wake the local task from a plain thread while this thread waits
        // in the driver.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(21).unwrap();
        });
        while !inner.is_finished() {
            tether::time::sleep(Duration::from_millis(1)).await;
        }
    });
}

#[test]
fn spawn_local_abort_and_runtime_drop_cancel_on_the_owner_thread() {
    let rt = current_thread();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let handle = rt.block_on(async move {
        let guard = DropCount(d.clone());
        let aborted = task::spawn_local(async move {
            let _g = guard;
            let _rc = Rc::new(());
            std::future::pending::<()>().await;
        });
        aborted.abort();
        assert!(aborted.await.unwrap_err().is_cancelled());
        let guard = DropCount(d);
        let pending = task::spawn_local(async move {
            let _g = guard;
            std::future::pending::<()>().await;
        });
        // Returned as a value, to await after the runtime is gone.
        (pending,)
    });
    let (handle,) = handle;
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(rt);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "shutdown drops the pending local task"
    );
    let err = futures::executor::block_on(handle).unwrap_err();
    assert!(err.is_cancelled());
}

#[test]
fn spawn_local_on_the_multi_thread_runtime_panics_with_advice() {
    let rt = multi_thread(1);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            drop(task::spawn_local(async {}));
        })
    }));
    let payload = res.unwrap_err();
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(msg.contains("multi-thread runtime"), "{msg}");
    assert!(msg.contains("current_thread"), "{msg}");
}

#[tether::test]
async fn spawn_local_works_in_the_default_test_runtime() {
    let shared = Rc::new(RefCell::new(0));
    let s = shared.clone();
    task::spawn_local(async move { *s.borrow_mut() += 1 })
        .await
        .unwrap();
    assert_eq!(*shared.borrow(), 1);
}

tether::task_local! {
    static REQUEST: String;
    static DEPTH: u32;
}

#[test]
fn task_locals_follow_their_future_across_polls_and_threads() {
    let rt = multi_thread(2);
    rt.block_on(async {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                tether::spawn(REQUEST.scope(format!("req-{i}"), async move {
                    for _ in 0..10 {
                        task::yield_now().await;
                        assert_eq!(REQUEST.get(), format!("req-{i}"));
                    }
                    // A spawned task does not inherit the value.
                    let inherited = tether::spawn(async { REQUEST.try_with(|r| r.clone()) })
                        .await
                        .unwrap();
                    assert!(inherited.is_err());
                    REQUEST.with(|r| r.len())
                }))
            })
            .collect();
        for h in handles {
            assert_eq!(h.await.unwrap(), 5);
        }
        assert!(REQUEST.try_with(|_| ()).is_err());
    });
}

#[test]
fn task_local_scopes_nest_and_restore() {
    let rt = current_thread();
    rt.block_on(async {
        let out = DEPTH
            .scope(1, async {
                let inner = DEPTH.scope(2, async { DEPTH.get() }).await;
                (inner, DEPTH.get())
            })
            .await;
        assert_eq!(out, (2, 1));
        assert_eq!(
            DEPTH.sync_scope(5, || DEPTH.sync_scope(6, || DEPTH.get()) + DEPTH.get()),
            11
        );
        assert!(DEPTH.try_with(|d| *d).is_err());
    });
}

#[test]
fn task_local_is_set_while_its_future_is_dropped() {
    struct ReadOnDrop(Arc<std::sync::Mutex<Option<u32>>>);
    impl Drop for ReadOnDrop {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = DEPTH.try_with(|d| *d).ok();
        }
    }
    let seen = Arc::new(std::sync::Mutex::new(None));
    let guard = ReadOnDrop(seen.clone());
    let fut = DEPTH.scope(9, async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    drop(fut);
    assert_eq!(*seen.lock().unwrap(), Some(9));
}

#[test]
fn task_local_with_outside_scope_panics() {
    let res = std::panic::catch_unwind(|| DEPTH.with(|d| *d));
    assert!(res.is_err());
}
