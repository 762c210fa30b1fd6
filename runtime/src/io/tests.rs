//! Reactor tests on real loopback sockets, with the driver turned by hand
//! from the test thread (no scheduler involved).

use std::future::{Future, poll_fn};
use std::io::{self, Write};
use std::pin::pin;
use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::task::{ArcWake, waker};
use mio::Interest;
use mio::net::{TcpListener, TcpStream, UdpSocket};

use super::PollEvented;
use super::driver::{Driver, Handle, dispatch};
use super::ready::{Direction, Ready};
use super::registration::Registration;
use crate::loom::sync::Arc;

/// Upper bound on how long one test may wait for its futures; reaching it
/// means a wake-up was lost. It bounds a hang, it asserts no speed.
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// Records that it was woken.
struct Flag(AtomicBool);
impl ArcWake for Flag {
    fn wake_by_ref(arc_self: &StdArc<Self>) {
        arc_self.0.store(true, Ordering::SeqCst);
    }
}

/// Counts wake-ups.
struct Count(AtomicUsize);
impl ArcWake for Count {
    fn wake_by_ref(arc_self: &StdArc<Self>) {
        arc_self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (StdArc<Count>, Waker) {
    let count = StdArc::new(Count(AtomicUsize::new(0)));
    (count.clone(), waker(count))
}

/// Runs `fut` to completion, turning the driver whenever it is pending.
/// The future is polled again only after it was woken, so a lost wake-up
/// shows up as a hang (caught by [`HANG_LIMIT`]).
fn run<F: Future>(driver: &mut Driver, handle: &Handle, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let flag = StdArc::new(Flag(AtomicBool::new(true)));
    let waker = waker(flag.clone());
    let start = Instant::now();
    loop {
        if flag.0.swap(false, Ordering::SeqCst) {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                return out;
            }
            continue;
        }
        assert!(
            start.elapsed() < HANG_LIMIT,
            "future never woken: lost wake-up"
        );
        driver.turn(handle, Some(Duration::from_millis(100)));
    }
}

fn localhost() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn rw() -> Interest {
    Interest::READABLE | Interest::WRITABLE
}

/// Connects a client to `addr` through the reactor and waits until the
/// connection is established.
async fn connect(
    handle: &Arc<Handle>,
    addr: std::net::SocketAddr,
) -> io::Result<PollEvented<TcpStream>> {
    let stream = PollEvented::new_with_handle(TcpStream::connect(addr)?, rw(), handle.clone())?;
    let reg = stream.registration();
    poll_fn(|cx| reg.poll_write_ready(cx)).await?;
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    stream.peer_addr()?;
    Ok(stream)
}

async fn write_all(s: &PollEvented<TcpStream>, mut buf: &[u8]) {
    while !buf.is_empty() {
        let n = poll_fn(|cx| s.poll_write(cx, buf)).await.unwrap();
        buf = &buf[n..];
    }
}

async fn read_to_end(s: &PollEvented<TcpStream>, out: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    loop {
        match poll_fn(|cx| s.poll_read(cx, &mut buf)).await.unwrap() {
            0 => return,
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn tcp_echo_through_the_reactor() {
    let (mut driver, handle) = Driver::new().unwrap();
    let listener = PollEvented::new_with_handle(
        TcpListener::bind(localhost()).unwrap(),
        Interest::READABLE,
        handle.clone(),
    )
    .unwrap();
    let addr = listener.local_addr().unwrap();
    // Larger than the loopback buffers, so both sides really block and
    // resume on readiness many times.
    let payload: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();

    let server = async {
        let (s, _) = listener
            .registration()
            .async_io(Direction::Read, || listener.accept())
            .await
            .unwrap();
        let s = PollEvented::new_with_handle(s, rw(), handle.clone()).unwrap();
        let mut buf = vec![0u8; 8192];
        loop {
            let n = poll_fn(|cx| s.poll_read(cx, &mut buf)).await.unwrap();
            if n == 0 {
                s.shutdown(std::net::Shutdown::Write).unwrap();
                return;
            }
            write_all(&s, &buf[..n]).await;
        }
    };
    let client = async {
        let s = connect(&handle, addr).await.unwrap();
        let mut echoed = Vec::new();
        let writer = async {
            write_all(&s, &payload).await;
            s.shutdown(std::net::Shutdown::Write).unwrap();
        };
        futures::join!(writer, read_to_end(&s, &mut echoed));
        echoed
    };
    let ((), echoed) = run(&mut driver, &handle, futures::future::join(server, client));
    assert!(echoed == payload, "echo lost or reordered bytes");
}

#[test]
fn connect_to_closed_port_is_refused() {
    let (mut driver, handle) = Driver::new().unwrap();
    // Bind then drop to get a port nobody listens on.
    let addr = std::net::TcpListener::bind(localhost())
        .unwrap()
        .local_addr()
        .unwrap();
    let err = run(&mut driver, &handle, connect(&handle, addr))
        .err()
        .unwrap();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn udp_round_trip_and_wait_for_datagram() {
    let (mut driver, handle) = Driver::new().unwrap();
    let a =
        PollEvented::new_with_handle(UdpSocket::bind(localhost()).unwrap(), rw(), handle.clone())
            .unwrap();
    let b =
        PollEvented::new_with_handle(UdpSocket::bind(localhost()).unwrap(), rw(), handle.clone())
            .unwrap();
    let b_addr = b.local_addr().unwrap();
    let got = run(&mut driver, &handle, async {
        let mut buf = [0u8; 64];
        // The receive starts waiting before anything was sent.
        let recv = b
            .registration()
            .async_io(Direction::Read, || b.recv_from(&mut buf));
        let send = async {
            a.registration()
                .async_io(Direction::Write, || a.send_to(b"ping", b_addr))
                .await
        };
        let (r, s) = futures::join!(recv, send);
        assert_eq!(s.unwrap(), 4);
        let (n, from) = r.unwrap();
        assert_eq!(from, a.local_addr().unwrap());
        buf[..n].to_vec()
    });
    assert_eq!(got, b"ping");
}

#[test]
fn readiness_is_cleared_on_would_block_or_short_read() {
    let (mut driver, handle) = Driver::new().unwrap();
    let listener = std::net::TcpListener::bind(localhost()).unwrap();
    let mut peer_std = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server_std, _) = listener.accept().unwrap();
    server_std.set_nonblocking(true).unwrap();
    let server =
        PollEvented::new_with_handle(TcpStream::from_std(server_std), rw(), handle.clone())
            .unwrap();

    peer_std.write_all(&[1; 10]).unwrap();
    let (count, w) = counting_waker();
    let mut cx = Context::from_waker(&w);
    // Wait for the edge.
    run(
        &mut driver,
        &handle,
        poll_fn(|cx| server.registration().poll_ready(cx, Direction::Read)),
    )
    .unwrap();
    // Read a part (a full buffer): readiness stays, so a second read
    // proceeds without another event even though the edge was consumed.
    let mut small = [0u8; 4];
    assert!(matches!(
        server.poll_read(&mut cx, &mut small),
        Poll::Ready(Ok(4))
    ));
    driver.turn(&handle, Some(Duration::ZERO));
    let mut rest = [0u8; 64];
    assert!(matches!(
        server.poll_read(&mut cx, &mut rest),
        Poll::Ready(Ok(6))
    ));
    // That read was short, which proves the buffer drained: readiness is
    // cleared at once, so the next read parks without a system call.
    assert!(
        server
            .registration()
            .poll_ready(&mut cx, Direction::Read)
            .is_pending()
    );
    assert!(server.poll_read(&mut cx, &mut rest).is_pending());
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
    // New data produces a new edge that wakes the reader.
    peer_std.write_all(&[2; 3]).unwrap();
    let start = Instant::now();
    while count.0.load(Ordering::SeqCst) == 0 {
        assert!(
            start.elapsed() < HANG_LIMIT,
            "new data never woke the reader"
        );
        driver.turn(&handle, Some(Duration::from_millis(100)));
    }
    assert!(matches!(
        server.poll_read(&mut cx, &mut rest),
        Poll::Ready(Ok(3))
    ));
}

#[test]
fn stale_token_wakes_nothing_after_slot_reuse() {
    let (_driver, handle) = Driver::new().unwrap();
    let mut old_sock = UdpSocket::bind(localhost()).unwrap();
    let old =
        Registration::new_with_handle(&mut old_sock, Interest::READABLE, handle.clone()).unwrap();
    let old_token = old.token();
    let (old_count, old_waker) = counting_waker();
    assert!(
        old.poll_ready(&mut Context::from_waker(&old_waker), Direction::Read)
            .is_pending()
    );
    old.deregister(&mut old_sock).unwrap();
    drop(old);

    let mut new_sock = UdpSocket::bind(localhost()).unwrap();
    let new =
        Registration::new_with_handle(&mut new_sock, Interest::READABLE, handle.clone()).unwrap();
    assert_ne!(new.token(), old_token);
    assert_eq!(
        new.token().0 & 0xFF_FFFF,
        old_token.0 & 0xFF_FFFF,
        "slot reused"
    );
    let (new_count, new_waker) = counting_waker();
    assert!(
        new.poll_ready(&mut Context::from_waker(&new_waker), Direction::Read)
            .is_pending()
    );

    // An event for the old socket, queued before it was dropped, arrives.
    let mut wakers = Vec::new();
    dispatch(
        &crate::loom::lock(handle.registrations()),
        old_token,
        Ready::READABLE,
        1,
        &mut wakers,
    );
    assert!(wakers.is_empty());
    assert_eq!(old_count.0.load(Ordering::SeqCst), 0);
    assert_eq!(new_count.0.load(Ordering::SeqCst), 0);
    assert!(
        new.poll_ready(&mut Context::from_waker(&new_waker), Direction::Read)
            .is_pending()
    );

    // The new token does reach the new socket.
    dispatch(
        &crate::loom::lock(handle.registrations()),
        new.token(),
        Ready::READABLE,
        2,
        &mut wakers,
    );
    assert_eq!(wakers.len(), 1);
    wakers.drain(..).for_each(Waker::wake);
    assert_eq!(new_count.0.load(Ordering::SeqCst), 1);
    new.deregister(&mut new_sock).unwrap();
}

#[test]
fn shutdown_fails_waiters_and_new_registrations() {
    let (_driver, handle) = Driver::new().unwrap();
    let sock =
        PollEvented::new_with_handle(UdpSocket::bind(localhost()).unwrap(), rw(), handle.clone())
            .unwrap();
    let (count, w) = counting_waker();
    let mut cx = Context::from_waker(&w);
    let mut buf = [0u8; 8];
    let mut shared = pin!(
        sock.registration()
            .async_io(Direction::Read, || sock.recv(&mut buf))
    );
    assert!(shared.as_mut().poll(&mut cx).is_pending());
    assert!(
        sock.registration()
            .poll_ready(&mut cx, Direction::Read)
            .is_pending()
    );

    handle.shutdown();
    assert_eq!(count.0.load(Ordering::SeqCst), 2, "both waiters woken");
    match shared.as_mut().poll(&mut cx) {
        Poll::Ready(Err(e)) => assert!(e.to_string().contains("shut down"), "{e}"),
        other => panic!("expected a shutdown error, got {other:?}"),
    }
    assert!(matches!(
        sock.registration().poll_ready(&mut cx, Direction::Read),
        Poll::Ready(Err(_))
    ));
    let err =
        PollEvented::new_with_handle(UdpSocket::bind(localhost()).unwrap(), rw(), handle.clone())
            .unwrap_err();
    assert!(err.to_string().contains("shut down"), "{err}");
    assert!(handle.is_shutdown());
}

#[test]
fn unpark_interrupts_a_blocking_turn() {
    let (mut driver, handle) = Driver::new().unwrap();
    let h = handle.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        h.unpark();
    });
    // Would block forever without the unpark.
    driver.turn(&handle, None);
    t.join().unwrap();
    // An unpark before the turn makes the next turn return at once.
    handle.unpark();
    driver.turn(&handle, None);
}

#[test]
fn budget_forces_yield_on_always_ready_socket() {
    let (mut driver, handle) = Driver::new().unwrap();
    let a =
        PollEvented::new_with_handle(UdpSocket::bind(localhost()).unwrap(), rw(), handle.clone())
            .unwrap();
    run(
        &mut driver,
        &handle,
        poll_fn(|cx| a.registration().poll_write_ready(cx)),
    )
    .unwrap();
    let (count, w) = counting_waker();
    let mut cx = Context::from_waker(&w);
    let target = a.local_addr().unwrap();
    let sent = crate::coop::budget(|| {
        let mut sent = 0;
        // Writable forever: without the budget this would never stop.
        while let Poll::Ready(r) = a
            .registration()
            .poll_io(&mut cx, Direction::Write, || a.send_to(b"x", target))
        {
            r.unwrap();
            sent += 1;
        }
        sent
    });
    assert_eq!(sent, crate::coop::INITIAL_BUDGET as usize);
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "the yielding task is woken"
    );
}

#[test]
fn full_buffer_reads_keep_readiness_until_would_block() {
    let (mut driver, handle) = Driver::new().unwrap();
    let listener = std::net::TcpListener::bind(localhost()).unwrap();
    let mut peer_std = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server_std, _) = listener.accept().unwrap();
    server_std.set_nonblocking(true).unwrap();
    let server =
        PollEvented::new_with_handle(TcpStream::from_std(server_std), rw(), handle.clone())
            .unwrap();
    peer_std.write_all(&[3; 8]).unwrap();
    run(
        &mut driver,
        &handle,
        poll_fn(|cx| server.registration().poll_ready(cx, Direction::Read)),
    )
    .unwrap();
    let (_, w) = counting_waker();
    let mut cx = Context::from_waker(&w);
    let mut exact = [0u8; 8];
    assert!(matches!(
        server.poll_read(&mut cx, &mut exact),
        Poll::Ready(Ok(8))
    ));
    // A full buffer proves nothing about what is left: still ready, and the
    // next read learns WouldBlock from the kernel and only then parks.
    assert!(
        server
            .registration()
            .poll_ready(&mut cx, Direction::Read)
            .is_ready()
    );
    assert!(server.poll_read(&mut cx, &mut exact).is_pending());
    assert!(
        server
            .registration()
            .poll_ready(&mut cx, Direction::Read)
            .is_pending()
    );
}
