//! Integration tests of `tether::time` on real runtimes.
//!
//! Assertions on time are lower bounds (a timer never fires early) or
//! orderings; how late a timer fires is printed, never asserted, so a
//! loaded machine cannot make these tests flaky.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use tether::time::{
    Instant, MissedTickBehavior, error::Elapsed, interval, interval_at, sleep, sleep_until,
    timeout, timeout_at,
};
use tether_tests::{both_flavours, current_thread, multi_thread, paused, watchdog};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A tiny deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[test]
fn sleep_50ms_never_wakes_early() {
    for (flavor, rt) in both_flavours() {
        let took = rt.block_on(async {
            let start = Instant::now();
            sleep(ms(50)).await;
            start.elapsed()
        });
        println!(
            "{flavor}: sleep(50ms) took {took:?} (overshoot {:?})",
            took - ms(50)
        );
        assert!(took >= ms(50), "{flavor}: woke after {took:?}");
    }
}

#[test]
fn sleep_in_spawned_tasks_on_both_flavors() {
    for (flavor, rt) in both_flavours() {
        let start = Instant::now();
        let handles: Vec<_> = (0..50u64)
            .map(|i| {
                rt.spawn(async move {
                    sleep(ms(i % 10)).await;
                    i
                })
            })
            .collect();
        let sum: u64 = rt.block_on(async {
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, (0..50).sum::<u64>(), "{flavor}");
        assert!(start.elapsed() >= ms(9), "{flavor}");
    }
}

#[test]
fn sleep_created_outside_a_runtime_panics_clearly() {
    let err = std::panic::catch_unwind(|| sleep(ms(1))).unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    assert!(msg.contains("no tether runtime"), "unclear message: {msg}");
}

/// Wraps a sleep and records, in a shared counter, the order in which the
/// timer driver *wakes* it (the order timers fire), independent of the order
/// in which tasks are then scheduled.
struct RecordWake<F> {
    inner: F,
    counter: Arc<AtomicUsize>,
    seq: Arc<AtomicUsize>,
}

struct WakeHook {
    inner: Waker,
    counter: Arc<AtomicUsize>,
    seq: Arc<AtomicUsize>,
}

impl Wake for WakeHook {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let _ = self
            .seq
            .compare_exchange(usize::MAX, n, Ordering::SeqCst, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

impl<F: Future + Unpin> Future for RecordWake<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let waker = Waker::from(Arc::new(WakeHook {
            inner: cx.waker().clone(),
            counter: self.counter.clone(),
            seq: self.seq.clone(),
        }));
        Pin::new(&mut self.inner).poll(&mut Context::from_waker(&waker))
    }
}

#[test]
fn hundred_thousand_sleeps_fire_in_deadline_order_buckets() {
    const N: usize = 100_000;
    let rt = multi_thread(2);
    let counter = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng(0x5eed);
    let results = rt.block_on(async {
        let handles: Vec<_> = (0..N)
            .map(|_| {
                let delay = Duration::from_micros(rng.below(200_000));
                let counter = counter.clone();
                tether::spawn(async move {
                    // The deadline is fixed when the task first runs, so
                    // (nearly) every sleep waits on the wheel however long
                    // spawning takes.
                    let deadline = Instant::now() + delay;
                    let seq = Arc::new(AtomicUsize::new(usize::MAX));
                    RecordWake {
                        inner: sleep_until(deadline),
                        counter,
                        seq: seq.clone(),
                    }
                    .await;
                    (deadline, Instant::now(), seq.load(Ordering::SeqCst))
                })
            })
            .collect();
        let mut results = Vec::with_capacity(N);
        for h in handles {
            results.push(h.await.unwrap());
        }
        results
    });
    assert_eq!(results.len(), N);
    let mut fired: Vec<(usize, Instant)> = Vec::new();
    let mut max_late = Duration::ZERO;
    for &(deadline, done, seq) in &results {
        assert!(
            done >= deadline,
            "a sleep completed {:?} early",
            deadline - done
        );
        max_late = max_late.max(done - deadline);
        if seq != usize::MAX {
            fired.push((seq, deadline));
        }
    }
    // Timers fire in deadline order at the wheel's 1 ms resolution: a
    // timer may fire before another whose deadline is less than 1 ms
    // earlier (same tick), never before one that is due a tick earlier.
    fired.sort_unstable_by_key(|&(seq, _)| seq);
    for pair in fired.windows(2) {
        let ((_, a), (_, b)) = (pair[0], pair[1]);
        assert!(
            b + ms(1) > a,
            "fired {a:?} before {b:?}, which is due over 1 ms earlier"
        );
    }
    println!(
        "{N} sleeps: {} woken by the timer, latest completion {max_late:?} after its deadline",
        fired.len()
    );
    assert!(
        fired.len() > N * 9 / 10,
        "most sleeps should have waited on the wheel"
    );
    rt.block_on(async { assert_eq!(tether::time::registered_timers(), 0) });
}

#[test]
fn timeout_on_fast_and_slow_futures() {
    for (flavor, rt) in both_flavours() {
        rt.block_on(async {
            // The future finishes first.
            let fast = async {
                sleep(ms(5)).await;
                "done"
            };
            assert_eq!(timeout(Duration::from_secs(60), fast).await, Ok("done"));
            // It does not.
            let start = Instant::now();
            let slow = sleep(Duration::from_secs(60));
            let err: Elapsed = timeout(ms(20), slow).await.unwrap_err();
            assert!(start.elapsed() >= ms(20), "{flavor}");
            let io_err = io::Error::from(err);
            assert_eq!(io_err.kind(), io::ErrorKind::TimedOut);
            // Deadline form, with a pending future.
            let deadline = Instant::now() + ms(5);
            let never = std::future::pending::<()>();
            assert!(timeout_at(deadline, never).await.is_err());
            assert!(Instant::now() >= deadline);
            // Nothing stays registered.
            assert_eq!(tether::time::registered_timers(), 0, "{flavor}");
        });
    }
}

#[test]
fn dropping_a_pending_sleep_frees_its_slot() {
    for (flavor, rt) in both_flavours() {
        rt.block_on(async {
            let base = tether::time::registered_timers();
            let mut sleeps: Vec<_> = (0..1000).map(|i| sleep(ms(60_000 + i))).collect();
            // Registration happens on the first poll.
            for s in &mut sleeps {
                assert!(s.now_or_never().is_none());
            }
            assert_eq!(tether::time::registered_timers(), base + 1000, "{flavor}");
            sleeps.truncate(10);
            assert_eq!(tether::time::registered_timers(), base + 10, "{flavor}");
            drop(sleeps);
            assert_eq!(tether::time::registered_timers(), base, "{flavor}");
            // Timing out also cancels the losing side's timer.
            let _ = timeout(ms(1), sleep(Duration::from_secs(60))).await;
            assert_eq!(tether::time::registered_timers(), base, "{flavor}");
        });
    }
}

#[test]
fn zero_and_huge_durations() {
    let rt = multi_thread(2);
    rt.block_on(async {
        // Zero: ready at once, nothing registered.
        let mut zero = sleep(Duration::ZERO);
        assert!(zero.is_elapsed());
        assert_eq!((&mut zero).now_or_never(), Some(()));
        assert_eq!(tether::time::registered_timers(), 0);
        assert_eq!(timeout(Duration::ZERO, async { 1 }).await, Ok(1));

        // Huge: no overflow, no panic, simply pending.
        let year = Duration::from_secs(86_400 * 365);
        let mut max = sleep(Duration::MAX);
        let mut century = sleep_until(Instant::now() + year * 100);
        assert!((&mut max).now_or_never().is_none());
        assert!((&mut century).now_or_never().is_none());
        assert!(max.deadline() > Instant::now() + year);
        assert_eq!(tether::time::registered_timers(), 2);
        assert!(timeout(ms(5), max).await.is_err());
        assert_eq!(timeout(Duration::MAX, async { 2 }).await, Ok(2));
        drop(century);
        assert_eq!(tether::time::registered_timers(), 0);
    });
}

#[test]
fn reset_moves_the_deadline() {
    let rt = multi_thread(2);
    rt.block_on(async {
        let start = Instant::now();
        let mut s = Box::pin(sleep(Duration::from_secs(3600)));
        assert!(s.as_mut().now_or_never().is_none());
        s.as_mut().reset(Instant::now() + ms(10));
        s.as_mut().await;
        assert!(start.elapsed() >= ms(10));
        assert!(s.is_elapsed());
        // Reset after completion waits again.
        let deadline = Instant::now() + ms(5);
        s.as_mut().reset(deadline);
        assert_eq!(s.deadline(), deadline);
        s.await;
        assert!(Instant::now() >= deadline);
    });
}

#[test]
fn sleeping_task_does_not_delay_an_earlier_timer() {
    // A task sleeping for an hour leaves the driver parked with a long
    // timeout; a later, shorter sleep must still fire (the driver is
    // unparked to shorten its timeout). If it is not, the sleep would wait
    // for the hour: the watchdog turns that hang into a failure.
    let _watchdog = watchdog(
        "sleeping_task_does_not_delay_an_earlier_timer",
        Duration::from_secs(60),
    );
    for (flavor, rt) in both_flavours() {
        let long = rt.spawn(async { sleep(Duration::from_secs(3600)).await });
        rt.block_on(async {
            sleep(ms(20)).await;
            let start = Instant::now();
            sleep(ms(10)).await;
            assert!(start.elapsed() >= ms(10), "{flavor}");
        });
        long.abort();
    }
}

#[test]
fn sleep_from_another_thread_through_the_handle() {
    let rt = multi_thread(2);
    let handle = rt.handle().clone();
    let out = std::thread::spawn(move || {
        handle.block_on(async {
            let start = Instant::now();
            sleep(ms(15)).await;
            start.elapsed()
        })
    })
    .join()
    .unwrap();
    assert!(out >= ms(15));
}

#[test]
fn interval_ticks_on_schedule() {
    // The paused clock makes the current-thread run exact and instant; the
    // multi-thread runtime (which cannot pause) runs on the real clock.
    for (flavor, rt) in [
        ("paused current_thread", paused()),
        ("multi_thread", multi_thread(2)),
    ] {
        rt.block_on(async {
            let start = Instant::now() + ms(5);
            let period = ms(10);
            let mut ticks = interval_at(start, period);
            for k in 0..4u32 {
                let at = ticks.tick().await;
                assert_eq!(at, start + period * k, "{flavor}");
                assert!(Instant::now() >= at, "{flavor}: tick {k} early");
            }
        });
    }
}

/// Runs an interval with `behavior` on a paused clock; after the first
/// tick the task stalls for 4.5 periods (the clock is advanced while the
/// interval is not polled), then the next `n` ticks are collected with
/// whether each was ready at once. Takes no real time, and every instant
/// is exact.
fn ticks_after_stall(behavior: MissedTickBehavior, n: usize) -> (Instant, Vec<(Instant, bool)>) {
    let rt = paused();
    rt.block_on(async {
        let period = ms(10);
        let mut ticks = interval(period);
        ticks.set_missed_tick_behavior(behavior);
        let start = ticks.tick().await;
        // Ticks 1..=4 are missed while the task is busy elsewhere.
        tether::time::advance(period * 9 / 2).await;
        let mut out = Vec::new();
        for _ in 0..n {
            match ticks.tick().now_or_never() {
                Some(at) => out.push((at, true)),
                None => out.push((ticks.tick().await, false)),
            }
        }
        (start, out)
    })
}

#[test]
fn interval_missed_tick_burst() {
    let p = ms(10);
    let (start, ticks) = ticks_after_stall(MissedTickBehavior::Burst, 5);
    // The four missed ticks come at once, on the original schedule.
    for (k, &(at, immediate)) in ticks.iter().take(4).enumerate() {
        assert_eq!(at, start + p * (k as u32 + 1));
        assert!(immediate, "burst tick {k} should be ready at once");
    }
    // Then the schedule goes on: tick 5 waits until its time.
    assert_eq!(ticks[4], (start + p * 5, false));
}

#[test]
fn interval_missed_tick_delay() {
    let p = ms(10);
    let (start, ticks) = ticks_after_stall(MissedTickBehavior::Delay, 3);
    // The late tick is delivered, then the schedule restarts from it: one
    // period after the end of the stall, and every period after that.
    let stall_end = start + p * 9 / 2;
    assert_eq!(ticks[0], (start + p, true));
    assert_eq!(ticks[1], (stall_end + p, false));
    assert_eq!(ticks[2], (stall_end + p * 2, false));
}

#[test]
fn interval_missed_tick_skip() {
    let p = ms(10);
    let (start, ticks) = ticks_after_stall(MissedTickBehavior::Skip, 3);
    // The late tick is delivered; missed ticks 2..=4 are dropped, and the
    // next ones stay on the original grid.
    assert_eq!(ticks[0], (start + p, true));
    assert_eq!(ticks[1], (start + p * 5, false));
    assert_eq!(ticks[2], (start + p * 6, false));
}

#[test]
fn sleep_polled_after_its_runtime_shut_down_panics() {
    let rt = multi_thread(2);
    let (mut pending, mut due) = rt.block_on(async {
        let mut pending = sleep(Duration::from_secs(60));
        let mut due = sleep(ms(1));
        assert!((&mut pending).now_or_never().is_none());
        // Registers it (unless it already fired: the outcome below is the
        // same either way).
        let _ = (&mut due).now_or_never();
        (pending, due)
    });
    drop(rt);
    std::thread::sleep(ms(2));
    // The deadline passed: completes as usual.
    assert_eq!((&mut due).now_or_never(), Some(()));
    // It did not: nothing can fire it any more.
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = (&mut pending).now_or_never();
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("shut down"), "{msg}");
}

#[test]
fn many_sleeps_in_one_task_with_futures_unordered() {
    let rt = current_thread();
    rt.block_on(async {
        let start = Instant::now();
        let mut set: FuturesUnordered<_> = (0..10_000u64)
            .map(|i| {
                let d = ms(i % 30);
                sleep(d).map(move |()| d)
            })
            .collect();
        let mut last = Duration::ZERO;
        let mut count = 0;
        while let Some(d) = set.next().await {
            assert!(start.elapsed() >= d);
            last = last.max(d);
            count += 1;
        }
        assert_eq!(count, 10_000);
        assert_eq!(last, ms(29));
    });
}

#[test]
fn concurrent_registration_from_many_tasks() {
    let rt = multi_thread(2);
    let done = Arc::new(Mutex::new(0));
    rt.block_on(async {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let done = done.clone();
                tether::spawn(async move {
                    for i in 0..200u64 {
                        let mut s = sleep(Duration::from_secs(60 + i));
                        assert!((&mut s).now_or_never().is_none());
                        if i % 2 == t % 2 {
                            sleep(ms(i % 3)).await;
                        }
                    }
                    *done.lock().unwrap() += 1;
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(tether::time::registered_timers(), 0);
    });
    assert_eq!(*done.lock().unwrap(), 8);
}
