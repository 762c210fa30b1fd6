//! Tests of the timer driver and the timer futures against a real clock,
//! without a runtime: a test thread plays the parked worker, blocking until
//! the next expiration (or an unpark) and then processing the wheel.
//!
//! Assertions on time are lower bounds only (a timer never fires early);
//! nothing asserts how *soon* a timer fires.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use futures::FutureExt;
use futures::executor::block_on;

use super::shard::SHUTDOWN_MSG;
use super::*;
use crate::park::Unpark;

/// Counts unparks and wakes the test driver thread.
#[derive(Default)]
struct TestUnpark {
    unparks: AtomicUsize,
    pending: Mutex<bool>,
    cv: Condvar,
}

impl Unpark for TestUnpark {
    fn unpark(&self) {
        self.unparks.fetch_add(1, Ordering::SeqCst);
        *self.pending.lock().unwrap() = true;
        self.cv.notify_one();
    }
}

/// A thread that drives the timers like the runtime's parked worker.
struct TestDriver {
    handle: Handle,
    unpark: Arc<TestUnpark>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestDriver {
    fn start() -> TestDriver {
        let unpark = Arc::new(TestUnpark::default());
        let handle = Handle::new(unpark.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (handle, unpark, stop) = (handle.clone(), unpark.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let next = handle.next_expiration();
                    let mut pending = unpark.pending.lock().unwrap();
                    // Blocks with no cap: a missing unpark hangs the test.
                    while !*pending {
                        match next {
                            Some(at) => {
                                let left = at.saturating_duration_since(std::time::Instant::now());
                                if left.is_zero() {
                                    break;
                                }
                                pending = unpark.cv.wait_timeout(pending, left).unwrap().0;
                            }
                            None => pending = unpark.cv.wait(pending).unwrap(),
                        }
                    }
                    *pending = false;
                    drop(pending);
                    handle.process();
                }
            })
        };
        TestDriver {
            handle,
            unpark,
            stop,
            thread: Some(thread),
        }
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(self.handle.clone(), Instant::now().saturating_add(duration))
    }
}

impl Drop for TestDriver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.unpark.unpark();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_once<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn sleep_never_completes_early() {
    let driver = TestDriver::start();
    for d in [1, 5, 20] {
        let start = Instant::now();
        block_on(driver.sleep(ms(d)));
        let took = start.elapsed();
        assert!(took >= ms(d), "slept {took:?} < {d} ms");
    }
    assert_eq!(driver.handle.registered(), 0);
}

#[test]
fn zero_and_past_deadlines_complete_without_registering() {
    let driver = TestDriver::start();
    let waker = Waker::noop();
    let mut zero = driver.sleep(Duration::ZERO);
    assert!(zero.is_elapsed());
    assert_eq!(poll_once(&mut zero, waker), Poll::Ready(()));
    let mut past = Sleep::new(driver.handle.clone(), Instant::now() - ms(10));
    assert_eq!(poll_once(&mut past, waker), Poll::Ready(()));
    assert_eq!(driver.handle.registered(), 0);
}

#[test]
fn sleep_first_polled_after_its_deadline_completes() {
    let driver = TestDriver::start();
    let s = driver.sleep(ms(2));
    thread::sleep(ms(5));
    // Not known to be elapsed without reading the clock: it goes through
    // the wheel, whose driver fires it at its next turn.
    block_on(s);
    assert_eq!(driver.handle.registered(), 0);
}

#[test]
fn huge_durations_register_without_overflow() {
    let driver = TestDriver::start();
    let waker = Waker::noop();
    let year = Duration::from_secs(86_400 * 365);
    let mut max = driver.sleep(Duration::MAX);
    let mut century = Sleep::new(driver.handle.clone(), Instant::now() + year * 100);
    assert!(poll_once(&mut max, waker).is_pending());
    assert!(poll_once(&mut century, waker).is_pending());
    assert!(max.deadline() > Instant::now() + year * 29);
    assert!(!max.is_elapsed() && !century.is_elapsed());
    assert_eq!(driver.handle.registered(), 2);
    // Processing does not fire them and the next expiration is far away.
    driver.handle.process();
    assert!(poll_once(&mut max, waker).is_pending());
    let next = driver.handle.next_expiration().unwrap();
    assert!(next > std::time::Instant::now() + year);
    drop((max, century));
    assert_eq!(driver.handle.registered(), 0);
}

#[test]
fn dropping_a_pending_sleep_frees_its_entry() {
    let driver = TestDriver::start();
    let waker = Waker::noop();
    let mut sleeps: Vec<Sleep> = (0..1000).map(|i| driver.sleep(ms(60_000 + i))).collect();
    for s in &mut sleeps {
        assert!(poll_once(s, waker).is_pending());
    }
    assert_eq!(driver.handle.registered(), 1000);
    sleeps.truncate(300);
    assert_eq!(driver.handle.registered(), 300);
    drop(sleeps);
    assert_eq!(driver.handle.registered(), 0);
    assert_eq!(driver.handle.next_expiration(), None);
}

#[test]
fn many_sleeps_on_many_threads_all_fire() {
    let driver = Arc::new(TestDriver::start());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let driver = driver.clone();
            thread::spawn(move || {
                let start = Instant::now();
                let sleeps: Vec<Sleep> = (0..500)
                    .map(|i| driver.sleep(ms((i * 7 + t) % 40)))
                    .collect();
                let deadlines: Vec<Instant> = sleeps.iter().map(Sleep::deadline).collect();
                block_on(futures::future::join_all(sleeps));
                assert!(deadlines.iter().all(|&d| Instant::now() >= d));
                start.elapsed()
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap() >= ms(39));
    }
    assert_eq!(driver.handle.registered(), 0);
}

#[test]
fn earlier_timer_unparks_the_driver_once() {
    // No driver thread: the test plays the driver's calls itself.
    let unpark = Arc::new(TestUnpark::default());
    let handle = Handle::new(unpark.clone());
    let waker = Waker::noop();
    let unparks = || unpark.unparks.load(Ordering::SeqCst);
    let sleep = |d| Sleep::new(handle.clone(), Instant::now() + d);

    // Not parked: registering never unparks.
    let mut far = sleep(ms(60_000));
    assert!(poll_once(&mut far, waker).is_pending());
    assert_eq!(unparks(), 0);

    // Parked until `far`: a later timer does not unpark, an earlier one does,
    // and a second one between the two does not again.
    assert!(handle.next_expiration().is_some());
    let mut later = sleep(ms(120_000));
    assert!(poll_once(&mut later, waker).is_pending());
    assert_eq!(unparks(), 0);
    let mut earlier = sleep(ms(1_000));
    assert!(poll_once(&mut earlier, waker).is_pending());
    assert_eq!(unparks(), 1);
    let mut between = sleep(ms(30_000));
    assert!(poll_once(&mut between, waker).is_pending());
    assert_eq!(unparks(), 1);
    let mut earliest = sleep(ms(500));
    assert!(poll_once(&mut earliest, waker).is_pending());
    assert_eq!(unparks(), 2);

    // After processing the driver is not parked until it asks again.
    handle.process();
    let mut soon = sleep(ms(100));
    assert!(poll_once(&mut soon, waker).is_pending());
    assert_eq!(unparks(), 2);

    // Parked with no timers at all: the first timer unparks.
    drop((far, later, earlier, between, earliest, soon));
    assert_eq!(handle.next_expiration(), None);
    let mut first = sleep(ms(60_000));
    assert!(poll_once(&mut first, waker).is_pending());
    assert_eq!(unparks(), 3);
}

#[test]
fn next_expiration_is_the_deadline_rounded_up() {
    let handle = Handle::new(Arc::new(TestUnpark::default()));
    let deadline = Instant::now() + Duration::from_micros(5_000_300);
    let mut s = Sleep::new(handle.clone(), deadline);
    assert!(poll_once(&mut s, Waker::noop()).is_pending());
    let next = handle.next_expiration().unwrap();
    assert!(next >= deadline.into_std());
    assert!(next < deadline.into_std() + ms(1));
}

#[test]
fn waker_is_updated_on_repoll() {
    // No driver thread: the test fires the timer itself, so nothing can
    // fire it between the two polls.
    let handle = Handle::new(Arc::new(TestUnpark::default()));
    let (a, b) = (
        Arc::new(CountWaker::default()),
        Arc::new(CountWaker::default()),
    );
    let mut s = Sleep::new(handle.clone(), Instant::now() + ms(2));
    assert!(poll_once(&mut s, &Waker::from(a.clone())).is_pending());
    assert!(poll_once(&mut s, &Waker::from(b.clone())).is_pending());
    thread::sleep(ms(3));
    handle.process();
    assert_eq!(b.0.load(Ordering::SeqCst), 1, "the current waker was woken");
    assert_eq!(
        a.0.load(Ordering::SeqCst),
        0,
        "the replaced waker was woken"
    );
    assert_eq!(poll_once(&mut s, Waker::noop()), Poll::Ready(()));
}

#[test]
fn reset_moves_a_registered_sleep_both_ways() {
    let driver = TestDriver::start();
    // Earlier: a one-hour sleep reset to 5 ms completes (the driver, parked
    // for an hour, must be unparked for this to finish).
    let start = Instant::now();
    let mut s = pin!(driver.sleep(Duration::from_secs(3600)));
    assert!(poll_once(&mut s, Waker::noop()).is_pending());
    s.as_mut().reset(Instant::now() + ms(5));
    block_on(s.as_mut());
    assert!(start.elapsed() >= ms(5));
    // Later: after completing, reset makes it wait again.
    s.as_mut().reset(Instant::now() + Duration::from_secs(3600));
    assert!(!s.is_elapsed());
    assert!(poll_once(&mut s, Waker::noop()).is_pending());
    assert_eq!(driver.handle.registered(), 1);
    // Into the past: the waiting task is woken and the sleep completes.
    let w = Arc::new(CountWaker::default());
    assert!(poll_once(&mut s, &Waker::from(w.clone())).is_pending());
    s.as_mut().reset(Instant::now() - ms(1));
    assert_eq!(w.0.load(Ordering::SeqCst), 1);
    assert_eq!(driver.handle.registered(), 0);
    assert_eq!(poll_once(&mut s, Waker::noop()), Poll::Ready(()));
}

#[test]
fn shutdown_wakes_waiters_and_later_polls_panic() {
    let unpark = Arc::new(TestUnpark::default());
    let handle = Handle::new(unpark);
    let w = Arc::new(CountWaker::default());
    let mut pending = Sleep::new(handle.clone(), Instant::now() + Duration::from_secs(60));
    let mut soon = Sleep::new(handle.clone(), Instant::now() + ms(2));
    assert!(poll_once(&mut pending, &Waker::from(w.clone())).is_pending());
    assert!(poll_once(&mut soon, Waker::noop()).is_pending());
    handle.shutdown();
    handle.shutdown(); // idempotent
    assert_eq!(w.0.load(Ordering::SeqCst), 1, "waiter woken at shutdown");
    assert_eq!(handle.next_expiration(), None);

    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = poll_once(&mut pending, Waker::noop());
    }))
    .unwrap_err();
    assert_eq!(
        panic.downcast_ref::<String>().map(String::as_str),
        Some(SHUTDOWN_MSG)
    );
    // A sleep whose deadline passed still completes.
    thread::sleep(ms(3));
    assert_eq!(poll_once(&mut soon, Waker::noop()), Poll::Ready(()));
    // A new sleep that is due completes; one that is not panics.
    let mut due = Sleep::new(handle.clone(), Instant::now());
    assert_eq!(poll_once(&mut due, Waker::noop()), Poll::Ready(()));
    let mut fresh = Sleep::new(handle.clone(), Instant::now() + Duration::from_secs(60));
    assert!(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(
            &mut fresh,
            Waker::noop()
        )))
        .is_err()
    );
    // Dropping everything after shutdown frees the entries.
    drop((pending, soon));
    assert_eq!(handle.registered(), 0);
}

#[test]
fn completed_sleeps_spend_cooperative_budget() {
    let handle = Handle::new(Arc::new(TestUnpark::default()));
    let w = Arc::new(CountWaker::default());
    let waker = Waker::from(w.clone());
    let mut s = Sleep::new(handle.clone(), Instant::now());
    crate::coop::budget(|| {
        for _ in 0..crate::coop::INITIAL_BUDGET {
            assert_eq!(poll_once(&mut s, &waker), Poll::Ready(()));
        }
        assert!(
            poll_once(&mut s, &waker).is_pending(),
            "budget must force a yield"
        );
        assert_eq!(
            w.0.load(Ordering::SeqCst),
            1,
            "the yielding task is rescheduled"
        );
    });
    // A pending sleep gives its unit back.
    let mut far = Sleep::new(handle.clone(), Instant::now() + Duration::from_secs(60));
    crate::coop::budget(|| {
        for _ in 0..1000 {
            assert!(poll_once(&mut far, &waker).is_pending());
        }
        assert!(crate::coop::has_budget_remaining());
    });
}

#[test]
fn timeout_returns_the_output_or_elapsed() {
    let driver = TestDriver::start();
    let t = |d, f| Timeout::new(f, Sleep::new(driver.handle.clone(), Instant::now() + d));
    // Finishes first.
    let fast = driver.sleep(ms(1)).map(|()| 5);
    assert_eq!(block_on(t(Duration::from_secs(60), fast.boxed())), Ok(5));
    // Ready at once wins even against a zero timeout.
    assert_eq!(block_on(t(Duration::ZERO, async { 6 }.boxed())), Ok(6));
    // Never finishes.
    let start = Instant::now();
    let never = futures::future::pending::<i32>();
    assert_eq!(
        block_on(t(ms(10), never.boxed())),
        Err(error::Elapsed::new())
    );
    assert!(start.elapsed() >= ms(10));
    assert_eq!(driver.handle.registered(), 0);
}

#[test]
fn timeout_fires_even_when_the_inner_future_spends_the_budget() {
    let handle = Handle::new(Arc::new(TestUnpark::default()));
    // Spends the whole budget on every poll and never completes.
    let hog = futures::future::poll_fn(|cx| {
        while let Poll::Ready(mut g) = crate::coop::poll_proceed(cx) {
            g.made_progress();
        }
        Poll::<()>::Pending
    });
    let mut t = Timeout::new(hog, Sleep::new(handle, Instant::now()));
    let mut t = Pin::new(&mut t);
    crate::coop::budget(|| {
        assert_eq!(
            poll_once(&mut t, Waker::noop()),
            Poll::Ready(Err(error::Elapsed::new()))
        );
    });
}

#[test]
fn interval_ticks_and_missed_tick_behaviors() {
    let driver = TestDriver::start();
    let period = ms(5);
    let new = |b| {
        let start = Instant::now();
        let mut i = Interval::new(Sleep::new(driver.handle.clone(), start), period);
        i.set_missed_tick_behavior(b);
        (start, i)
    };
    let tick = |i: &mut Interval| block_on(i.tick());
    let tick_now = |i: &mut Interval| i.tick().now_or_never();

    // On schedule: each tick waits for its instant.
    let (start, mut i) = new(MissedTickBehavior::Burst);
    assert_eq!(tick(&mut i), start);
    assert_eq!(tick(&mut i), start + period);
    assert!(Instant::now() >= start + period);
    assert_eq!(tick(&mut i), start + period * 2);

    // Burst: after falling 4+ periods behind, the missed ticks come at once.
    let (start, mut i) = new(MissedTickBehavior::Burst);
    assert_eq!(tick(&mut i), start);
    thread::sleep(period * 4 + ms(1));
    for k in 1..=4 {
        assert_eq!(tick_now(&mut i), Some(start + period * k), "burst tick {k}");
    }

    // Delay: the late tick restarts the schedule from when it was observed.
    let (start, mut i) = new(MissedTickBehavior::Delay);
    assert_eq!(tick(&mut i), start);
    thread::sleep(period * 4 + ms(1));
    let before = Instant::now();
    assert_eq!(tick_now(&mut i), Some(start + period));
    let next = tick(&mut i);
    assert!(next >= before + period && next > start + period * 4);
    assert!(Instant::now() >= next);

    // Skip: missed ticks are dropped; the next is on the original grid.
    let (start, mut i) = new(MissedTickBehavior::Skip);
    assert_eq!(tick(&mut i), start);
    thread::sleep(period * 4 + ms(1));
    let before = Instant::now();
    assert_eq!(tick_now(&mut i), Some(start + period));
    let next = tick(&mut i);
    assert!(next > before && next > start + period * 4);
    assert_eq!(
        (next - start).as_nanos() % period.as_nanos(),
        0,
        "off the grid"
    );
    assert!(Instant::now() >= next);

    // Reset: the next tick is a period from now.
    let (_, mut i) = new(MissedTickBehavior::Burst);
    tick(&mut i);
    let before = Instant::now();
    i.reset();
    assert!(tick(&mut i) >= before + period);
    i.reset_immediately();
    assert!(tick_now(&mut i).is_some());
}

/// Records the order in which wakers are woken.
struct OrderWaker {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
}

impl Wake for OrderWaker {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.id);
    }
}

#[test]
fn timers_fire_in_deadline_order_across_shards() {
    let handle = Handle::with_shards(Arc::new(TestUnpark::default()), 4);
    let log = Arc::new(Mutex::new(Vec::new()));
    // Registered straight with the handle (which only compares with the
    // wheel's clock, still at 0), so a slow thread cannot make a deadline
    // pass before registration.
    let base = std::time::Instant::now() + ms(2);
    // From several threads, so they land in different shards; deadlines
    // interleave across the threads, 1 ms apart.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (handle, log) = (handle.clone(), log.clone());
            thread::spawn(move || {
                (0..25)
                    .map(|k| {
                        let id = k * 4 + t;
                        let waker = Waker::from(Arc::new(OrderWaker {
                            id,
                            log: log.clone(),
                        }));
                        handle
                            .shard(t)
                            .register(base + ms(id as u64), &waker)
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    thread::sleep((base + ms(100)).saturating_duration_since(std::time::Instant::now()));
    // One late turn fires all 100 (more than one wake batch).
    handle.process();
    assert_eq!(*log.lock().unwrap(), (0..100).collect::<Vec<_>>());
    assert_eq!(handle.registered(), 0);
}

/// A panic payload that counts its drops and panics in its destructor.
struct PayloadBomb(Arc<AtomicUsize>);

impl Drop for PayloadBomb {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("payload destructor");
    }
}

/// A waker that panics with a [`PayloadBomb`].
struct BombWaker(Arc<AtomicUsize>);

impl Wake for BombWaker {
    fn wake(self: Arc<Self>) {
        std::panic::panic_any(PayloadBomb(self.0.clone()));
    }
}

/// A waker run by the driver that panics with a payload whose destructor
/// panics too: the payload is dropped (not forgotten), nothing unwinds out
/// of `process`, and the other timer of the batch is still woken.
#[test]
fn panicking_waker_with_panicking_payload_is_contained() {
    let handle = Handle::new(Arc::new(TestUnpark::default()));
    let drops = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + ms(1);
    let mut bad = Sleep::new(handle.clone(), deadline);
    let mut good = Sleep::new(handle.clone(), deadline);
    let bomb = Waker::from(Arc::new(BombWaker(drops.clone())));
    let counted = Arc::new(CountWaker::default());
    assert!(poll_once(&mut bad, &bomb).is_pending());
    assert!(poll_once(&mut good, &Waker::from(counted.clone())).is_pending());
    drop(bomb);
    thread::sleep(ms(3));
    handle.process();
    assert_eq!(counted.0.load(Ordering::SeqCst), 1, "the other timer woken");
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the payload was dropped");
    assert_eq!(poll_once(&mut bad, Waker::noop()), Poll::Ready(()));
    assert_eq!(poll_once(&mut good, Waker::noop()), Poll::Ready(()));
}
