//! Loom models of one registration's readiness/waker hand-off.
//!
//! The driver thread publishes readiness and wakes; the task thread polls
//! readiness, parks its waker, performs a simulated non-blocking operation
//! and clears readiness when it sees `WouldBlock`. Every model must finish
//! for every interleaving: a lost wake-up leaves the task parked forever,
//! which loom reports as a deadlock; a stale clear (one that erased the
//! driver's newer event) has the same effect.

use std::future::poll_fn;
use std::task::Poll;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use super::ready::{Direction, Ready};
use super::scheduled_io::ScheduledIo;

/// Wakes the model thread that runs [`block_on`]. (A loom `Notify` rather
/// than `Thread::unpark`: loom mistakes an unpark that lands while the
/// thread is blocked in `join` for a wake-up of that `join`.)
struct Notifier(loom::sync::Notify);

impl std::task::Wake for Notifier {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.notify();
    }
}

/// Polls `fut` on the current model thread, blocking between polls. A lost
/// wake-up leaves the thread blocked forever, which loom reports.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let notifier = std::sync::Arc::new(Notifier(loom::sync::Notify::new()));
    let waker = std::task::Waker::from(notifier.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        notifier.0.wait();
    }
}

/// A fake socket: `available` bytes can be read without blocking.
struct FakeSocket {
    available: AtomicUsize,
}

impl FakeSocket {
    fn read(&self) -> std::io::Result<usize> {
        match self.available.swap(0, Ordering::AcqRel) {
            0 => Err(std::io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
}

/// Reads until `want` bytes arrived, the way `Registration::poll_io` does.
fn read_exactly(io: &ScheduledIo, sock: &FakeSocket, want: usize, shared: bool) {
    let mut got = 0;
    let mut key = None;
    block_on(poll_fn(|cx| {
        loop {
            let poll = if shared {
                io.poll_ready_shared(cx, Direction::Read, &mut key)
            } else {
                io.poll_ready(cx, Direction::Read)
            };
            let Poll::Ready(event) = poll else {
                return Poll::Pending;
            };
            match sock.read() {
                Ok(n) => {
                    got += n;
                    if got >= want {
                        return Poll::Ready(());
                    }
                }
                Err(_) => io.clear_readiness(event),
            }
        }
    }));
    if let Some(key) = key {
        io.remove_shared_waiter(key);
    }
}

/// The driver delivering `bytes` in turn `tick`: data first (the kernel),
/// then readiness, then the wake-up.
fn deliver(io: &ScheduledIo, sock: &FakeSocket, bytes: usize, tick: usize) {
    sock.available.fetch_add(bytes, Ordering::AcqRel);
    io.set_readiness(tick, Ready::READABLE);
    io.wake(Ready::READABLE);
}

fn model(shared: bool) {
    loom::model(move || {
        let io = Arc::new(ScheduledIo::new(0));
        let sock = Arc::new(FakeSocket {
            available: AtomicUsize::new(0),
        });
        // A stale edge from an earlier turn whose data is already consumed:
        // the task's first read sees WouldBlock and clears concurrently
        // with the driver's new event, which that clear must not erase.
        io.set_readiness(1, Ready::READABLE);

        let driver = {
            let (io, sock) = (io.clone(), sock.clone());
            thread::spawn(move || deliver(&io, &sock, 1, 2))
        };
        read_exactly(&io, &sock, 1, shared);
        driver.join().unwrap();
    });
}

#[test]
fn loom_readiness_handoff_no_lost_wakeup() {
    model(false);
}

#[test]
fn loom_shared_waiter_handoff_no_lost_wakeup() {
    model(true);
}

#[test]
fn loom_two_turns_deliver_everything() {
    loom::model(|| {
        let io = Arc::new(ScheduledIo::new(0));
        let sock = Arc::new(FakeSocket {
            available: AtomicUsize::new(0),
        });
        let driver = {
            let (io, sock) = (io.clone(), sock.clone());
            thread::spawn(move || {
                deliver(&io, &sock, 1, 1);
                deliver(&io, &sock, 1, 2);
            })
        };
        read_exactly(&io, &sock, 2, false);
        driver.join().unwrap();
    });
}

#[test]
fn loom_shutdown_wakes_waiter() {
    loom::model(|| {
        let io = Arc::new(ScheduledIo::new(0));
        let driver = {
            let io = io.clone();
            thread::spawn(move || {
                io.shutdown();
                io.wake(Ready::EMPTY);
            })
        };
        let event = block_on(poll_fn(|cx| io.poll_ready(cx, Direction::Write)));
        assert!(event.is_shutdown);
        driver.join().unwrap();
    });
}
