//! The I/O driver stays attended when its holder leaves it for work:
//! while one worker is in a long poll, an idle worker must still hold the
//! I/O driver, so timers keep firing.
//!
//! `Idle::worker_to_notify` pops the most recently parked worker, which is
//! usually the one that took the (free) driver; so a task submitted from
//! outside is taken by the driver holder, which leaves the driver for it.
//! If the last searcher that found work woke nobody because the queues were
//! empty, the other workers stayed on their condvars and I/O and timers
//! were unattended for the whole poll (every round stalled once it started:
//! the holder parks last again and is popped again). It must count an
//! unattended driver as pending work.
//!
//! A task woken by the driver's holder itself (a timer) is the other way
//! out of the driver: the holder leaves it to run that task. While the
//! runtime is busy nobody is woken for the driver then; a sleeping worker,
//! the watch, looks every few milliseconds and takes it if it is free.
//!
//! Progress is shown by a ticker, not timings of the runtime: a plain
//! thread in `block_on` (its timer wake lands on its own parker, never in a
//! worker's queue), or a task (so the runtime is busy). Every test runs
//! under a watchdog.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use tether::runtime::Builder;
use tether_tests::watchdog;

/// A long poll that waits longer than this for two 1 ms ticks counts as a
/// stall (an attended driver needs a few ms).
const STALL: Duration = Duration::from_secs(2);

const ROUNDS: usize = 200;

/// Where the long poll of each round comes from.
#[derive(Clone, Copy, Debug)]
enum LongPoll {
    /// A task spawned from outside (through the injector), with the ticker
    /// in `block_on` on a plain thread.
    FromOutside,
    /// A task woken by a timer, so the driver's holder wakes it into its
    /// own queue and leaves the driver to run it; the ticker is a task too,
    /// so the runtime is busy (its watch sleeps with a timeout instead of
    /// being woken on every leave).
    WokenByTimer,
}

/// Returns the number of rounds until the first stall (`None`: no stall).
fn first_stall(workers: usize, long_poll: LongPoll) -> Option<usize> {
    let rt = Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (ticks, stop) = (ticks.clone(), stop.clone());
        let handle = rt.handle().clone();
        let tick = async move {
            while !stop.load(SeqCst) {
                tether::time::sleep(Duration::from_millis(1)).await;
                ticks.fetch_add(1, SeqCst);
            }
        };
        std::thread::spawn(move || match long_poll {
            LongPoll::FromOutside => handle.block_on(tick),
            LongPoll::WokenByTimer => handle.block_on(handle.spawn(tick)).unwrap(),
        })
    };
    let mut stalled = None;
    for round in 0..ROUNDS {
        // Start after a tick, with the workers idle.
        let seen = ticks.load(SeqCst);
        let start = Instant::now();
        while ticks.load(SeqCst) == seen && start.elapsed() < STALL {
            std::thread::yield_now();
        }
        // Then let the workers settle (the ticker's next timer is
        // registered, the driver holder back in its wait).
        std::thread::sleep(Duration::from_micros(300 + 100 * (round as u64 % 8)));
        let (tx, rx) = std::sync::mpsc::channel();
        let t = ticks.clone();
        // A task from outside: one long poll that waits for two ticks.
        rt.spawn(async move {
            if let LongPoll::WokenByTimer = long_poll {
                tether::time::sleep(Duration::from_micros(500)).await;
            }
            let before = t.load(SeqCst);
            let start = Instant::now();
            while t.load(SeqCst) < before + 2 && start.elapsed() < STALL {
                std::thread::yield_now();
            }
            tx.send(start.elapsed()).unwrap();
        });
        let took = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the task never ran");
        if took >= STALL {
            stalled = Some(round);
            break;
        }
    }
    stop.store(true, SeqCst);
    ticker.join().unwrap();
    stalled
}

fn check(workers: usize, long_poll: LongPoll) {
    let _w = watchdog("timers during a long poll", Duration::from_secs(120));
    if let Some(round) = first_stall(workers, long_poll) {
        panic!(
            "{workers} workers, {long_poll:?}, round {round}: no timer fired for {STALL:?} while \
             one worker was in a long poll and the others were idle (nobody took the I/O driver)"
        );
    }
}

#[test]
fn timers_fire_while_a_task_from_outside_polls_long_two_workers() {
    check(2, LongPoll::FromOutside);
}

#[test]
fn timers_fire_while_a_task_from_outside_polls_long_three_workers() {
    check(3, LongPoll::FromOutside);
}

#[test]
fn timers_fire_while_a_task_from_outside_polls_long_four_workers() {
    check(4, LongPoll::FromOutside);
}

#[test]
fn timers_fire_while_a_task_woken_by_a_timer_polls_long_two_workers() {
    check(2, LongPoll::WokenByTimer);
}

#[test]
fn timers_fire_while_a_task_woken_by_a_timer_polls_long_three_workers() {
    check(3, LongPoll::WokenByTimer);
}
