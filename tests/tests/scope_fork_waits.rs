//! A thread that waits in a fork must not keep a helper lingering on that
//! very wait, and a helper it runs meanwhile must not linger on an
//! unrelated poll. Two waits that used to last as long as the longest
//! *other* poll in the runtime, or until a re-poll budget ran out:
//!
//! 1. A pull loop counts the poll it is about to start as in flight before
//!    it takes the child (so a helper finding nothing lingers for it). When
//!    it then forked a helper, that count stayed up until the fork's join
//!    returned: the helper lingered on a "poll in flight" that was the
//!    forker waiting for the helper. With three or more workers (two
//!    helpers), every fork of a session did this; a ticking sibling kept
//!    the helper lingering for as long as the sibling ticked.
//! 2. A thread waiting in a fork (here a `join!` in a plain task) helps by
//!    running fork jobs, among them other sessions' helpers. Such a helper
//!    lingered on its own session's long poll, so the waiting task's poll
//!    did not return until that unrelated poll ended, although its own
//!    join was done.
//!
//! 3. A `block_on` thread forks through the runtime's shared fork injector,
//!    and before it waits it pops back what nobody stole: from that shared
//!    queue, possibly another `block_on` thread's session helper, which
//!    lingered on its own session's long poll. And a helper that may not
//!    linger (run as such help) forked helpers that did.
//!
//! Each check measures the wait it is about and fails on a hang (a bound
//! far above the fixed time, and a watchdog that fails instead of hanging).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tether::ScopedJoinSet;
use tether::runtime::Builder;

/// Longest any check may wait before it fails instead of hanging.
const WATCHDOG: Duration = Duration::from_secs(20);

/// A child ready after one poll that blocks its thread for the given time.
struct Block(Duration);

impl Future for Block {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        std::thread::sleep(self.0);
        Poll::Ready(())
    }
}

/// A child ready after one poll that blocks its thread until `release` is
/// set, or for `cap` at most.
struct BlockUntil {
    release: Arc<AtomicBool>,
    cap: Duration,
}

impl Future for BlockUntil {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let start = Instant::now();
        while !self.release.load(Ordering::SeqCst) && start.elapsed() < self.cap {
            std::thread::sleep(Duration::from_millis(1));
        }
        Poll::Ready(())
    }
}

/// Longest a checked wait may take: far above its time with the fixes
/// (milliseconds), far below its time without (10 s and more).
const STALL: Duration = Duration::from_secs(3);

/// Fails if `took` (the time of `what`) is a stall.
fn assert_no_stall(took: Duration, what: std::fmt::Arguments<'_>) {
    assert!(took < STALL, "{what} took {took:?}");
}

/// Session B of the checks below: the first poll of `join_next` on a join
/// set of a child that blocks its thread until `release` is set (at most
/// 10 s), three children that block 1 ms, and a sibling that ticks a 3 ms
/// timer. Its owner loop forks helpers for the short children, then polls
/// the long one.
async fn first_poll_of_a_session_blocked_on(release: Arc<AtomicBool>) {
    let mut set = ScopedJoinSet::new();
    set.spawn(BlockUntil {
        release,
        cap: Duration::from_secs(10),
    });
    for _ in 0..3 {
        set.spawn(Block(Duration::from_millis(1)));
    }
    set.spawn(async {
        for _ in 0..5000 {
            tether::time::sleep(Duration::from_millis(3)).await;
        }
    });
    let mut next = std::pin::pin!(set.join_next());
    let _ = std::future::poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await;
}

/// Children of the forked session that never wake (see below).
const IDLE_CHILDREN: usize = 200;

/// The first poll of `join_next` on a join set of 24 children that block
/// 2 ms each, a sibling that ticks a 3 ms timer, and [`IDLE_CHILDREN`]
/// idle ones: one session, forked over `workers` workers. Returns how long
/// that poll took.
fn first_poll_of_a_forked_session(workers: usize) -> Duration {
    let rt = Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime");
    let (tx, rx) = std::sync::mpsc::channel();
    let _task = rt.spawn(async move {
        let mut set = ScopedJoinSet::new();
        for _ in 0..24 {
            set.spawn(Block(Duration::from_millis(2)));
        }
        set.spawn(async {
            loop {
                tether::time::sleep(Duration::from_millis(3)).await;
            }
        });
        // Idle children raise the session's re-poll budget, which is what
        // used to end the wait (after one tick of the sibling per re-poll).
        for _ in 0..IDLE_CHILDREN {
            set.spawn(std::future::pending::<()>());
        }
        let mut next = std::pin::pin!(set.join_next());
        let start = Instant::now();
        let _ = std::future::poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await;
        let _ = tx.send(start.elapsed());
        std::future::pending::<()>().await;
    });
    let Ok(took) = rx.recv_timeout(WATCHDOG) else {
        // Stuck: leak the runtime (its drop would wait for the stuck poll).
        std::mem::forget(rt);
        panic!("the session's first poll did not return within {WATCHDOG:?}");
    };
    rt.shutdown_timeout(Duration::from_millis(100));
    took
}

#[test]
fn a_loop_that_forks_does_not_keep_its_helper_lingering_on_the_fork_wait() {
    for workers in [3, 4] {
        for _ in 0..3 {
            let took = first_poll_of_a_forked_session(workers);
            // About 10–20 ms (24 × 2 ms over the workers). Before the fix:
            // 0.3 s without the ticking sibling; with it, until the re-poll
            // budget ran out: 1.8 s with no idle children, about 15 s here.
            assert_no_stall(
                took,
                format_args!("{workers} workers: the session's first poll"),
            );
        }
    }
}

/// Task A waits in a `join!` (20 ms and `side` of blocking) on one worker
/// while the `block_on` thread runs session B
/// ([`first_poll_of_a_session_blocked_on`]). A's waiting worker may take B's
/// helper. Returns how long A's `join!` took.
fn join_beside_a_long_poll_of_another_session(side: Duration) -> Duration {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let a_done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let done = a_done.clone();
    let _a = rt.spawn(async move {
        let start = Instant::now();
        tether::join!(Block(Duration::from_millis(20)), Block(side));
        let _ = tx.send(start.elapsed());
        done.store(true, Ordering::SeqCst);
    });
    // Let A fork and its other side be stolen first.
    std::thread::sleep(Duration::from_millis(10));
    let watchdog = std::thread::spawn(move || rx.recv_timeout(WATCHDOG));
    rt.block_on(first_poll_of_a_session_blocked_on(a_done.clone()));
    let took = watchdog
        .join()
        .expect("watchdog thread")
        .expect("A's join! did not end within the watchdog");
    rt.shutdown_timeout(Duration::from_millis(100));
    took
}

#[test]
fn a_fork_wait_does_not_linger_on_another_sessions_poll() {
    let side = Duration::from_millis(100);
    for _ in 0..5 {
        let took = join_beside_a_long_poll_of_another_session(side);
        // About `side`. Before the fix: as long as B's poll, which waits
        // for A (10 s, its cap).
        assert_no_stall(took, format_args!("A's join! (longest side {side:?})"));
    }
}

/// Thread B, in `block_on`, runs session B
/// ([`first_poll_of_a_session_blocked_on`]), whose owner loop forks helpers
/// through the runtime's fork injector (every worker being busy). Thread A, in `block_on` too, then runs a `join!` of two
/// 5 ms sides, whose fork goes to the same injector, behind B's helpers.
/// Returns how long A's `block_on` took.
fn block_on_join_beside_another_block_on_session(workers: usize) -> Duration {
    let rt = Arc::new(
        Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("runtime"),
    );
    // Every worker busy for a while: forked jobs wait in the injector.
    let started = Arc::new(AtomicUsize::new(0));
    for _ in 0..workers {
        let started = started.clone();
        drop(rt.spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
        }));
    }
    while started.load(Ordering::SeqCst) < workers {
        std::thread::sleep(Duration::from_millis(1));
    }
    let a_done = Arc::new(AtomicBool::new(false));
    let b = {
        let (rt, a_done) = (rt.clone(), a_done.clone());
        std::thread::spawn(move || {
            rt.block_on(first_poll_of_a_session_blocked_on(a_done));
        })
    };
    // B forks first: its helpers are ahead of A's job in the injector.
    std::thread::sleep(Duration::from_millis(30));
    let (tx, rx) = std::sync::mpsc::channel();
    let a = {
        let (rt, a_done) = (rt.clone(), a_done.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            rt.block_on(async {
                tether::join!(
                    Block(Duration::from_millis(5)),
                    Block(Duration::from_millis(5))
                );
            });
            let _ = tx.send(start.elapsed());
            a_done.store(true, Ordering::SeqCst);
        })
    };
    let took = rx
        .recv_timeout(WATCHDOG)
        .expect("A's block_on did not return within the watchdog");
    a.join().expect("thread A");
    b.join().expect("thread B");
    took
}

#[test]
fn a_block_on_fork_does_not_pop_back_a_lingering_helper_of_another_session() {
    for workers in [3, 8] {
        for _ in 0..2 {
            let took = block_on_join_beside_another_block_on_session(workers);
            // About 10–15 ms. Before the fix: up to B's poll (10 s, its
            // cap), which waits for A.
            assert_no_stall(took, format_args!("{workers} workers: A's join!"));
        }
    }
}
