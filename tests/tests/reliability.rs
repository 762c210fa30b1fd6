//! Regression tests for hangs and lost wake-ups under faults: every test
//! runs under a watchdog, so a regression fails within seconds instead of
//! hanging CI.

use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use tether::Runtime;
use tether::runtime::Builder;

/// Both runtime flavours, with I/O and timers.
fn flavours() -> Vec<(&'static str, Runtime)> {
    vec![
        (
            "current_thread",
            Builder::new_current_thread().enable_all().build().unwrap(),
        ),
        (
            "multi_thread(2)",
            Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        ),
    ]
}

/// A waker that panics when woken.
struct PanickingWaker;
impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics on purpose");
    }
}

/// Polls `fut` once with a waker that panics when woken; it must be pending.
fn register_panicking_waker<F: Future>(fut: std::pin::Pin<&mut F>) {
    let waker = Waker::from(Arc::new(PanickingWaker));
    assert!(
        fut.poll(&mut Context::from_waker(&waker)).is_pending(),
        "the future completed at once"
    );
}

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

/// One timer whose waker panics, due at the same instant as 50 others:
/// every other sleep completes, and timers keep working afterwards.
#[test]
fn timer_wheel_survives_a_panicking_waker() {
    watchdog(Duration::from_secs(30), || {
        for (name, rt) in flavours() {
            rt.block_on(async {
                let deadline = tether::time::Instant::now() + Duration::from_millis(50);
                let mut bad = Box::pin(tether::time::sleep_until(deadline));
                register_panicking_waker(bad.as_mut());
                let sleepers: Vec<_> = (0..50)
                    .map(|i| {
                        tether::spawn(async move {
                            tether::time::sleep_until(deadline).await;
                            i
                        })
                    })
                    .collect();
                let mut done = 0;
                for (i, h) in sleepers.into_iter().enumerate() {
                    assert_eq!(h.await.unwrap(), i, "{name}");
                    done += 1;
                }
                assert_eq!(done, 50, "{name}");
                // The timer whose waker panicked did fire (it is complete
                // when polled again) and the wheel still works.
                assert!(futures::poll!(bad.as_mut()).is_ready(), "{name}");
                tether::time::sleep(Duration::from_millis(5)).await;
                let t =
                    tether::time::timeout(Duration::from_millis(10), std::future::pending::<()>());
                assert!(t.await.is_err(), "{name}");
            });
        }
    });
}

/// One reader whose waker panics, made ready in the same burst as 50
/// others: every other read completes, and I/O keeps working afterwards.
#[test]
fn io_driver_survives_a_panicking_waker() {
    watchdog(Duration::from_secs(30), || {
        for (name, rt) in flavours() {
            rt.block_on(async {
                let listener = tether::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let mut clients = Vec::new();
                let mut servers = Vec::new();
                for _ in 0..51 {
                    clients.push(std::net::TcpStream::connect(addr).unwrap());
                    servers.push(listener.accept().await.unwrap().0);
                }
                let bad = servers.pop().unwrap();
                let mut bad_readable = Box::pin(bad.readable());
                register_panicking_waker(bad_readable.as_mut());
                let readers: Vec<_> = servers
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut s)| {
                        tether::spawn(async move {
                            use futures::AsyncReadExt;
                            let mut b = [0u8; 1];
                            s.read_exact(&mut b).await.unwrap();
                            assert_eq!(b[0], i as u8);
                            s
                        })
                    })
                    .collect();
                // Let every reader register, then make all 51 ready at once.
                tether::time::sleep(Duration::from_millis(20)).await;
                let mut bad_client = clients.pop().unwrap();
                bad_client.write_all(&[255]).unwrap();
                for (i, c) in clients.iter_mut().enumerate() {
                    c.write_all(&[i as u8]).unwrap();
                }
                let mut servers = Vec::new();
                for h in readers {
                    servers.push(h.await.unwrap());
                }
                assert_eq!(servers.len(), 50, "{name}");
                // The source whose waker panicked is still usable, as is
                // every other one.
                assert!(futures::poll!(bad_readable.as_mut()).is_ready(), "{name}");
                drop(bad_readable);
                let mut b = [0u8; 1];
                assert_eq!(bad.try_read(&mut b).unwrap(), 1, "{name}");
                for (i, s) in servers.iter_mut().enumerate() {
                    use futures::{AsyncReadExt, AsyncWriteExt};
                    s.write_all(&[i as u8]).await.unwrap();
                    let mut b = [0u8; 1];
                    std::io::Read::read_exact(&mut clients[i], &mut b).unwrap();
                    assert_eq!(b[0], i as u8);
                    clients[i].write_all(&[1]).unwrap();
                    s.read_exact(&mut b).await.unwrap();
                }
            });
        }
    });
}

/// Dropping the runtime cancels the blocking jobs still queued: they never
/// run, and their handles report cancellation. The running job finishes.
#[test]
fn runtime_drop_cancels_queued_blocking_jobs() {
    watchdog(Duration::from_secs(30), || {
        for flavour in ["current_thread", "multi_thread(2)"] {
            let mut b = if flavour == "current_thread" {
                Builder::new_current_thread()
            } else {
                let mut b = Builder::new_multi_thread();
                b.worker_threads(2);
                b
            };
            let rt = b.max_blocking_threads(1).enable_all().build().unwrap();
            let ran = Arc::new(AtomicUsize::new(0));
            let (started_tx, started_rx) = mpsc::channel();
            let running_done = Arc::new(AtomicUsize::new(0));
            let d = running_done.clone();
            let running = rt.spawn_blocking(move || {
                started_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(200));
                d.fetch_add(1, SeqCst);
            });
            started_rx.recv().unwrap();
            let queued: Vec<_> = (0..200)
                .map(|_| {
                    let ran = ran.clone();
                    rt.spawn_blocking(move || {
                        ran.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            drop(rt);
            assert_eq!(ran.load(SeqCst), 0, "{flavour}: a queued job ran");
            assert_eq!(running_done.load(SeqCst), 1, "{flavour}");
            assert!(futures::executor::block_on(running).is_ok(), "{flavour}");
            for h in queued {
                let err = futures::executor::block_on(h).unwrap_err();
                assert!(err.is_cancelled(), "{flavour}: {err:?}");
            }
        }
    });
}

/// Dropping the runtime while a worker waits in a blocking scope for a
/// `spawn_blocking` child queued behind 200 slow jobs: the child and the
/// jobs are cancelled (none of them runs), the wait ends, the drop returns.
#[test]
fn runtime_drop_releases_a_blocking_scope_waiting_on_a_queued_job() {
    watchdog(Duration::from_secs(30), || {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel();
        rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        });
        started_rx.recv().unwrap();
        for _ in 0..200 {
            let ran = ran.clone();
            rt.spawn_blocking(move || {
                ran.fetch_add(1, SeqCst);
                std::thread::sleep(Duration::from_millis(35));
            });
        }
        let (waiting_tx, waiting_rx) = mpsc::channel();
        let (result_tx, result_rx) = mpsc::channel();
        let handle = rt.handle().clone();
        let child_ran = Arc::new(AtomicUsize::new(0));
        let c = child_ran.clone();
        rt.spawn(async move {
            let local = 5;
            let r = handle.scope(|s| {
                let h = s.spawn_blocking(|| {
                    c.fetch_add(1, SeqCst);
                    local
                });
                waiting_tx.send(()).unwrap();
                h.join()
            });
            let _ = result_tx.send(r.map_err(|e| e.is_cancelled()));
        });
        waiting_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(rt);
        assert_eq!(ran.load(SeqCst), 0, "a queued job ran");
        assert_eq!(child_ran.load(SeqCst), 0, "the queued scope child ran");
        assert_eq!(result_rx.recv().unwrap(), Err(true));
    });
}

/// A scoped echo server awaited directly in `block_on` (its sessions fork
/// from the `block_on` thread, which polls the driver while it waits for
/// its helpers) under connection churn, blocking clients on plain threads:
/// every byte comes back. The release-mode soak bench once stalled in this
/// shape for good: a worker that found the driver locked by such a
/// non-blocking poll slept on its condvar, and once both workers had, nobody
/// blocked in the driver (the protocol itself is unit-tested in
/// `scheduler::multi_thread::park`; this debug-mode test did not reproduce
/// the stall, it guards the shape).
#[test]
fn scoped_server_in_block_on_never_loses_the_driver() {
    use std::io::Read;
    const CLIENTS: usize = 32;
    const CONNECTIONS_PER_CLIENT: usize = 40;
    const MESSAGES: usize = 20;
    watchdog(Duration::from_secs(60), || {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (addr_tx, addr_rx) = mpsc::channel();
        let clients = std::thread::spawn(move || {
            let addr: std::net::SocketAddr = addr_rx.recv().unwrap();
            let threads: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    std::thread::spawn(move || {
                        for k in 0..CONNECTIONS_PER_CLIENT {
                            let mut conn = std::net::TcpStream::connect(addr).unwrap();
                            conn.set_nodelay(true).unwrap();
                            for m in 0..MESSAGES {
                                let len = 1 + (c * 131 + k * 17 + m * 7) % 3000;
                                let msg: Vec<u8> = (0..len).map(|i| (i + m) as u8).collect();
                                conn.write_all(&msg).unwrap();
                                let mut back = vec![0; len];
                                conn.read_exact(&mut back).unwrap();
                                assert_eq!(back, msg);
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        });
        let served = AtomicUsize::new(0);
        rt.block_on(async {
            use tether::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tether::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let served = &served;
            tether::scope(|s| async move {
                while served.load(SeqCst) < CLIENTS * CONNECTIONS_PER_CLIENT {
                    let (mut conn, _) = listener.accept().await.unwrap();
                    served.fetch_add(1, SeqCst);
                    s.spawn(async move {
                        let mut buf = vec![0; 4096];
                        loop {
                            match conn.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if conn.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    });
                }
            })
            .await;
        });
        clients.join().unwrap();
        assert_eq!(served.load(SeqCst), CLIENTS * CONNECTIONS_PER_CLIENT);
    });
}
