//! Runtime builder options: thread hooks, scheduler intervals, the
//! tokio-compatibility no-ops, and their validation.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use tether::runtime::Builder;
use tether_tests::watchdog;

#[test]
fn thread_hooks_run_on_every_worker_and_blocking_thread() {
    let started = Arc::new(Mutex::new(HashSet::new()));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s, t) = (started.clone(), stopped.clone());
    let rt = Builder::new_multi_thread()
        .worker_threads(3)
        .thread_name("hooked")
        .on_thread_start(move || {
            let me = thread::current();
            assert_eq!(me.name(), Some("hooked"));
            s.lock().unwrap().insert(me.id());
        })
        .on_thread_stop(move || {
            t.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    let (worker, blocking) = rt.block_on(async {
        let worker = tether::spawn(async { thread::current().id() })
            .await
            .unwrap();
        let blocking = tether::spawn_blocking(|| thread::current().id())
            .await
            .unwrap();
        (worker, blocking)
    });
    {
        let started = started.lock().unwrap();
        // Each hook runs before the thread runs anything.
        assert!(started.contains(&worker));
        assert!(started.contains(&blocking));
    }
    drop(rt);
    let started = started.lock().unwrap().len();
    assert_eq!(started, 4, "three workers and one blocking thread");
    assert_eq!(
        stopped.load(SeqCst),
        started,
        "every started thread stopped"
    );
}

#[test]
fn current_thread_hooks_run_on_blocking_threads() {
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let rt = Builder::new_current_thread()
        .on_thread_start(move || {
            s.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    // The current-thread runtime starts no worker: the caller drives it.
    assert_eq!(started.load(SeqCst), 0);
    rt.block_on(async { tether::spawn_blocking(|| ()).await })
        .unwrap();
    assert_eq!(started.load(SeqCst), 1);
}

/// Mixed work on a runtime with extreme intervals: every tick looks at the
/// driver and the global queue (1), or almost never (large values).
fn mixed_work(rt: tether::Runtime) {
    let _w = watchdog("builder_intervals", Duration::from_secs(60));
    rt.block_on(async {
        // Tasks that keep themselves runnable, plus timers, plus tasks
        // injected from another thread, plus I/O.
        let spinners: Vec<_> = (0..4)
            .map(|_| {
                tether::spawn(async {
                    for _ in 0..200 {
                        tether::task::yield_now().await;
                    }
                })
            })
            .collect();
        let handle = tether::runtime::Handle::current();
        let injected = thread::spawn(move || handle.spawn(async { 5 }))
            .join()
            .unwrap();
        tether::time::sleep(Duration::from_millis(5)).await;
        let udp = tether::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        udp.send_to(b"x", udp.local_addr().unwrap()).await.unwrap();
        let mut buf = [0u8; 1];
        udp.recv_from(&mut buf).await.unwrap();
        assert_eq!(injected.await.unwrap(), 5);
        for s in spinners {
            s.await.unwrap();
        }
    });
}

#[test]
fn event_and_global_queue_intervals_are_honoured() {
    for (event, global) in [(1, 1), (1, 1_000_000), (1_000_000, 1), (7, 13)] {
        mixed_work(
            Builder::new_multi_thread()
                .worker_threads(2)
                .event_interval(event)
                .global_queue_interval(global)
                .build()
                .unwrap(),
        );
        mixed_work(
            Builder::new_current_thread()
                .event_interval(event)
                .global_queue_interval(global)
                .build()
                .unwrap(),
        );
    }
}

#[test]
fn zero_intervals_are_rejected() {
    for builder in [
        Builder::new_multi_thread().event_interval(0).clone(),
        Builder::new_current_thread()
            .global_queue_interval(0)
            .clone(),
    ] {
        let err = builder.clone().build().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{builder:?}");
        assert!(err.to_string().contains("interval"), "{err}");
    }
}

#[test]
fn tokio_style_enable_calls_are_accepted() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .enable_io()
        .enable_time()
        .enable_all()
        .thread_stack_size(4 * 1024 * 1024)
        .build()
        .unwrap();
    rt.block_on(async {
        tether::time::sleep(Duration::from_millis(1)).await;
        tether::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    });
}
