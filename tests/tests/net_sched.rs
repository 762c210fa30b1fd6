//! How sockets interact with the scheduler: cooperative budget, cancelled
//! waiters, runtime flavours.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use tether::net::{TcpListener, TcpStream, UdpSocket};
use tether_tests::{current_thread, multi_thread};

/// Sends the hog may make before giving up; far more than one budget, so
/// reaching it means the other task was starved for that long.
const HOG_LIMIT: usize = 100_000;

/// A task whose socket is always ready must still let the other task of a
/// one-worker runtime run.
fn always_ready_socket_does_not_starve(rt: tether::Runtime) {
    rt.block_on(async {
        let sink = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = sink.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let hog = {
            let (stop, sent) = (stop.clone(), sent.clone());
            tether::spawn(async move {
                let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                // The other task becomes runnable while the hog runs; with
                // one worker it can only run if the hog yields.
                let other = {
                    let (stop, sent) = (stop.clone(), sent.clone());
                    tether::spawn(async move {
                        stop.store(true, Ordering::Relaxed);
                        sent.load(Ordering::Relaxed)
                    })
                };
                // Never returns Pending on its own: UDP to loopback is
                // always writable.
                while !stop.load(Ordering::Relaxed) && sent.load(Ordering::Relaxed) < HOG_LIMIT {
                    tx.send_to(b"x", target).await.unwrap();
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                other.await.unwrap()
            })
        };
        let seen = hog.await.unwrap();
        assert!(
            seen < HOG_LIMIT,
            "the other task only ran after the hog gave up"
        );
        drop(sink);
    });
}

#[test]
fn always_ready_socket_does_not_starve_on_one_worker() {
    let rt = multi_thread(1);
    always_ready_socket_does_not_starve(rt);
}

#[test]
fn always_ready_socket_does_not_starve_on_current_thread() {
    let rt = current_thread();
    always_ready_socket_does_not_starve(rt);
}

#[test]
fn aborted_waiter_leaves_nothing_stale_for_the_next_socket() {
    let rt = multi_thread(2);
    rt.block_on(async {
        for _ in 0..50 {
            // A task waits on a socket it owns, then is aborted: its socket
            // is dropped (deregistered) while the task is parked on it. The
            // pending `recv_from` borrows the socket inside the same task,
            // so the task's future must be dropped in place (it is pinned).
            let victim = tether::spawn(async {
                let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                let mut buf = [0u8; 8];
                s.recv_from(&mut buf).await.unwrap();
                unreachable!("nothing is ever sent to this socket");
            });
            tether::yield_now().await;
            victim.abort();
            assert!(victim.await.unwrap_err().is_cancelled());

            // The next socket likely reuses the freed reactor slot; it must
            // see exactly its own traffic.
            let fresh = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            tx.send_to(b"mine", fresh.local_addr().unwrap())
                .await
                .unwrap();
            let mut buf = [0u8; 8];
            let (n, from) = fresh.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"mine"[..], tx.local_addr().unwrap()));
        }
    });
}

#[test]
fn current_thread_runtime_serves_tcp() {
    let rt = current_thread();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tether::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(&[7u8; 300_000]).await.unwrap();
        c.close().await.unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).await.unwrap();
        assert_eq!(back.len(), 300_000);
        assert!(back.iter().all(|&b| b == 7));
        server.await.unwrap();
    });
}
