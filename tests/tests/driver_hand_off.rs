//! The I/O driver between a `block_on` thread that owns a scope (the
//! driver's *preferred* thread: it waits in the driver, so its children's
//! wake-ups land on the thread that polls them) and the workers: whoever
//! needs the driver gets it.
//!
//! - When the preferred thread leaves `block_on`, or its future goes on
//!   after the scope ended, a worker that left the driver to it takes it
//!   back: timers fire.
//! - While the preferred thread is inside a long poll, a worker takes the
//!   driver: tasks' timers fire during that poll, also when every worker
//!   had left the driver to it before the poll began.
//!
//! Progress is shown by flags and channels, not timings; every test runs
//! under a watchdog.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use tether::runtime::Builder;
use tether_tests::watchdog;

/// Generous: each case finishes in well under a second when it works.
const WATCHDOG: Duration = Duration::from_secs(60);

/// How long a test waits for progress before it reports a stall.
const DEADLINE: Duration = Duration::from_secs(10);

fn runtime() -> tether::Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

#[test]
fn a_task_timer_fires_after_the_scope_owning_block_on_returned() {
    let _w = watchdog("after block_on", WATCHDOG);
    let rt = runtime();
    for round in 0..10 {
        let (tx, rx) = std::sync::mpsc::channel();
        rt.block_on(async {
            // The task's timer is registered while this thread prefers the
            // driver, and fires after `block_on` returned.
            tether::spawn(async move {
                tether::time::sleep(Duration::from_millis(40)).await;
                tx.send(()).unwrap();
            });
            // Long enough for both workers to park (and leave the driver to
            // this thread) before the scope ends.
            // (One child: no fork, whose wait would also hand the driver on.)
            tether::scope(|s| async move {
                s.spawn(tether::time::sleep(Duration::from_millis(20)));
            })
            .await;
        });
        // Nobody calls into the runtime from here on: a worker must be in
        // the driver for the task's timer to fire.
        rx.recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("round {round}: the task's timer never fired"));
    }
}

#[test]
fn timers_fire_after_the_scope_ended_inside_block_on() {
    let _w = watchdog("after the scope", WATCHDOG);
    let rt = runtime();
    for _ in 0..5 {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn({
            let handle = rt.handle().clone();
            move || {
                handle.block_on(async {
                    // Long enough for both workers to leave the driver to
                    // this thread.
                    tether::scope(|s| async move {
                        s.spawn(tether::time::sleep(Duration::from_millis(20)));
                    })
                    .await;
                    // No scope any more: this thread waits off the driver,
                    // so a worker must take it for these timers to fire.
                    for _ in 0..3 {
                        tether::time::sleep(Duration::from_millis(5)).await;
                    }
                });
                tx.send(()).unwrap();
            }
        });
        rx.recv_timeout(DEADLINE)
            .expect("the timers after the scope never fired");
        thread.join().unwrap();
    }
}

#[test]
fn task_timers_fire_while_the_preferred_thread_is_inside_a_long_poll() {
    let _w = watchdog("long poll", WATCHDOG);
    let rt = runtime();
    for round in 0..5 {
        let ticked = AtomicBool::new(false);
        let ticked = &ticked;
        rt.block_on(async {
            // Make this thread the preferred one: it owns a scope and waits
            // in the driver between polls.
            tether::scope(|s| async move {
                s.spawn(tether::time::sleep(Duration::from_millis(2)));
            })
            .await;
            let (tx, rx) = futures::channel::oneshot::channel();
            tether::spawn(async move {
                for _ in 0..10 {
                    tether::time::sleep(Duration::from_millis(1)).await;
                }
                tx.send(()).unwrap();
            });
            tether::scope(|s| async move {
                s.spawn(async move {
                    // One long poll on this thread: the task's timers must
                    // fire meanwhile, on a worker.
                    let start = Instant::now();
                    let mut rx = rx;
                    while start.elapsed() < DEADLINE {
                        if let Ok(Some(())) = rx.try_recv() {
                            ticked.store(true, SeqCst);
                            break;
                        }
                        std::thread::yield_now();
                    }
                });
            })
            .await;
        });
        assert!(
            ticked.load(SeqCst),
            "round {round}: no timer fired during the owner's long poll"
        );
    }
}

#[test]
fn task_timers_fire_when_the_owner_goes_busy_after_the_workers_left_it_the_driver() {
    let _w = watchdog("left, then busy", WATCHDOG);
    let rt = runtime();
    for round in 0..5 {
        let ticks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let ticked = AtomicBool::new(false);
        let ticked = &ticked;
        let (task_ticks, task_stop) = (ticks.clone(), stop.clone());
        rt.block_on(async move {
            tether::spawn(async move {
                while !task_stop.load(SeqCst) {
                    tether::time::sleep(Duration::from_millis(2)).await;
                    task_ticks.fetch_add(1, SeqCst);
                }
            });
            tether::scope(|s| async move {
                s.spawn(async move {
                    // Long enough for both workers to park and leave the
                    // driver to this thread, which then wakes for this
                    // child and stays in one long poll.
                    tether::time::sleep(Duration::from_millis(50)).await;
                    let before = ticks.load(SeqCst);
                    let start = Instant::now();
                    while start.elapsed() < DEADLINE {
                        if ticks.load(SeqCst) >= before + 3 {
                            ticked.store(true, SeqCst);
                            break;
                        }
                        std::hint::spin_loop();
                    }
                });
            })
            .await;
            stop.store(true, SeqCst);
        });
        assert!(
            ticked.load(SeqCst),
            "round {round}: the task's timers stalled during the owner's long poll"
        );
    }
}
