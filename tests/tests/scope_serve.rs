//! A scope keeps serving its children while one of them is inside a long
//! poll: a sibling woken meanwhile is polled before that poll ends, both
//! when the long poll runs on a helper (the owner, waiting for the helper,
//! serves) and when it runs on the owner (a helper that found nothing to do
//! lingers and serves), also when it is a re-poll of a child known to be
//! long, popped alone. And a woken body is polled beside a child that is
//! always ready, even once the re-poll budget is spent.
//!
//! The long poll spins until the sibling has finished, with a deadline: a
//! sibling left waiting until the end of the poll shows up as a flag that
//! was never set (no timing is asserted). Every test runs under a watchdog.

use std::future::poll_fn;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use tether::runtime::Builder;
use tether_tests::watchdog;

/// How long a long poll waits for its sibling before it gives up.
const DEADLINE: Duration = Duration::from_secs(5);

/// Generous: each case finishes in well under a second when it works.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Spins until `done` is set or the deadline passed.
fn spin_until(done: &AtomicBool) {
    let start = Instant::now();
    while !done.load(SeqCst) && start.elapsed() < DEADLINE {
        std::thread::yield_now();
    }
}

/// A child's wake slot: pending until `set`, then ready.
#[derive(Default)]
struct Flag {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
    /// The child has registered its waker at least once.
    registered: AtomicBool,
}

impl Flag {
    fn fire(&self) {
        self.set.store(true, SeqCst);
        let w = self.waker.lock().unwrap().take();
        if let Some(w) = w {
            w.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            self.registered.store(true, SeqCst);
            if self.set.load(SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Runs `scope_fut` on a two-worker runtime: awaited in `block_on` (the
/// owner is the calling thread, helpers run on the workers), or inside a
/// spawned task (the owner is a worker).
fn run_scope<F>(in_task: bool, scope_fut: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if in_task {
        rt.block_on(rt.spawn(scope_fut)).unwrap();
    } else {
        rt.block_on(scope_fut);
    }
}

/// Runs `case` with the scope awaited in `block_on` and inside a task (see
/// `run_scope`), each under a watchdog named `name`, and asserts that it
/// reports its sibling(s) served during the long poll; `what` says what
/// went wrong otherwise.
fn served_both_ways(name: &str, case: fn(bool) -> bool, what: &str) {
    for in_task in [false, true] {
        let _watchdog = watchdog(name, WATCHDOG);
        assert!(case(in_task), "{what} (in_task: {in_task})");
    }
}

/// The children, in spawn order: `first` (popped alone by the owner's
/// loop, which then forks a helper), `long` (taken by the helper) and
/// `sibling`. `first` waits until `long` started; `long` waits a little (so
/// the owner's loop has found nothing left and waits for the helper),
/// wakes `sibling`, and spins until `sibling` finished.
fn long_poll_on_helper(in_task: bool) -> bool {
    let served_during = std::sync::Arc::new(AtomicBool::new(false));
    let out = served_during.clone();
    run_scope(in_task, async move {
        let long_started = AtomicBool::new(false);
        let long_inside = AtomicBool::new(false);
        let sibling_done = AtomicBool::new(false);
        let wake = Flag::default();
        let (long_started, long_inside, sibling_done, wake) =
            (&long_started, &long_inside, &sibling_done, &wake);
        let out = &out;
        tether::scope(|s| async move {
            s.spawn(async move {
                spin_until(long_started);
            });
            s.spawn(async move {
                long_inside.store(true, SeqCst);
                long_started.store(true, SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                wake.fire();
                spin_until(sibling_done);
                long_inside.store(false, SeqCst);
            });
            s.spawn(async move {
                wake.wait().await;
                out.store(long_inside.load(SeqCst), SeqCst);
                sibling_done.store(true, SeqCst);
            });
        })
        .await;
    });
    served_during.load(SeqCst)
}

/// The children: `long` (popped alone by the owner's loop, which forks a
/// helper) and `sibling` (taken by the helper, pending). `long` waits until
/// `sibling` registered its waker and the helper found nothing left, wakes
/// `sibling`, and spins until it finished: the helper must have lingered.
fn long_poll_on_owner(in_task: bool) -> bool {
    let served_during = std::sync::Arc::new(AtomicBool::new(false));
    let out = served_during.clone();
    run_scope(in_task, async move {
        let long_inside = AtomicBool::new(false);
        let sibling_done = AtomicBool::new(false);
        let wake = Flag::default();
        let (long_inside, sibling_done, wake) = (&long_inside, &sibling_done, &wake);
        let out = &out;
        tether::scope(|s| async move {
            s.spawn(async move {
                long_inside.store(true, SeqCst);
                spin_until(&wake.registered);
                std::thread::sleep(Duration::from_millis(50));
                wake.fire();
                spin_until(sibling_done);
                long_inside.store(false, SeqCst);
            });
            s.spawn(async move {
                wake.wait().await;
                out.store(long_inside.load(SeqCst), SeqCst);
                sibling_done.store(true, SeqCst);
            });
        })
        .await;
    });
    served_during.load(SeqCst)
}

#[test]
fn sibling_woken_while_a_helper_is_in_a_long_poll_is_served() {
    served_both_ways(
        "sibling_woken_while_a_helper_is_in_a_long_poll",
        long_poll_on_helper,
        "the sibling waited for the helper's long poll to end",
    );
}

#[test]
fn sibling_woken_while_the_owner_is_in_a_long_poll_is_served() {
    served_both_ways(
        "sibling_woken_while_the_owner_is_in_a_long_poll",
        long_poll_on_owner,
        "the sibling waited for the owner's long poll to end",
    );
}

/// Siblings ready together with a child whose first poll is long: the loop
/// that takes the long child may have taken some of them in the same batch;
/// it must hand them back before it starts the long poll once a helper is
/// on its way, so they are polled during it instead of after it. `long`
/// (spawned first, so at the front of the owner's batch) spins until every
/// sibling was polled.
fn siblings_in_the_batch_of_a_long_first_poll(in_task: bool) -> bool {
    const SIBLINGS: usize = 20;
    let served_during = std::sync::Arc::new(AtomicBool::new(false));
    let out = served_during.clone();
    run_scope(in_task, async move {
        let polled = std::sync::atomic::AtomicUsize::new(0);
        let all = AtomicBool::new(false);
        let (polled, all) = (&polled, &all);
        let out = &out;
        tether::scope(|s| async move {
            s.spawn(async move {
                spin_until(all);
                out.store(all.load(SeqCst), SeqCst);
            });
            for _ in 0..SIBLINGS {
                s.spawn(async move {
                    if polled.fetch_add(1, SeqCst) + 1 == SIBLINGS {
                        all.store(true, SeqCst);
                    }
                });
            }
        })
        .await;
    });
    served_during.load(SeqCst)
}

#[test]
fn siblings_taken_with_a_long_first_poll_are_served_during_it() {
    served_both_ways(
        "siblings_taken_with_a_long_first_poll",
        siblings_in_the_batch_of_a_long_first_poll,
        "siblings waited behind a long first poll",
    );
}

/// A child whose polls are long, polled again when nothing else is ready:
/// a sibling woken (by a timer) during that poll must still be served
/// during it. Off the workers the owner's loop forks only once it has run
/// a while, or before the poll of a child never polled or seen polling
/// long; the second poll of `long` here is one of those last (its first
/// poll spun for 5 ms), popped alone after the sibling's short sessions
/// (so no standby helper is woken for it either). An outside thread wakes
/// `long`; the sibling ticks a 2 ms timer until it sees `long` inside its
/// poll, or over.
fn long_re_poll(in_task: bool) -> bool {
    let served_during = std::sync::Arc::new(AtomicBool::new(false));
    let out = served_during.clone();
    let go = std::sync::Arc::new(Flag::default());
    let waker_thread = {
        let go = go.clone();
        std::thread::spawn(move || {
            spin_until(&go.registered);
            std::thread::sleep(Duration::from_millis(30));
            go.fire();
        })
    };
    run_scope(in_task, async move {
        let long_inside = AtomicBool::new(false);
        let long_over = AtomicBool::new(false);
        let sibling_done = AtomicBool::new(false);
        let (long_inside, long_over, sibling_done) = (&long_inside, &long_over, &sibling_done);
        let (out, go) = (&out, &*go);
        tether::scope(|s| async move {
            s.spawn(async move {
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(5) {
                    std::hint::spin_loop();
                }
                go.wait().await;
                long_inside.store(true, SeqCst);
                spin_until(sibling_done);
                long_inside.store(false, SeqCst);
                long_over.store(true, SeqCst);
            });
            s.spawn(async move {
                while !long_over.load(SeqCst) {
                    if long_inside.load(SeqCst) {
                        out.store(true, SeqCst);
                        sibling_done.store(true, SeqCst);
                        return;
                    }
                    tether::time::sleep(Duration::from_millis(2)).await;
                }
            });
        })
        .await;
    });
    waker_thread.join().unwrap();
    served_during.load(SeqCst)
}

#[test]
fn sibling_woken_while_the_owner_re_polls_a_long_child_is_served() {
    served_both_ways(
        "sibling_woken_while_the_owner_re_polls_a_long_child",
        long_re_poll,
        "the sibling waited for a long child's re-poll on the owner to end",
    );
}

/// Nested scopes inside the children of a scope awaited in `block_on`: a
/// nested fork wait may pop the outer session's helper job onto its own
/// stack, beneath the outer poll it would linger for. It must not wait for
/// that poll (it cannot end before the helper does): the helper gives up
/// instead of hanging.
#[test]
fn a_helper_popped_beneath_its_own_sessions_poll_does_not_hang() {
    let _watchdog = watchdog("a_helper_popped_beneath_its_own_sessions_poll", WATCHDOG);
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let total = std::sync::atomic::AtomicUsize::new(0);
    let total = &total;
    for _ in 0..200 {
        rt.block_on(tether::scope(|s| async move {
            for _ in 0..4 {
                s.spawn(async move {
                    tether::scope(|inner| async move {
                        for _ in 0..4 {
                            inner.spawn(async move {
                                tether::task::yield_now().await;
                                total.fetch_add(1, SeqCst);
                            });
                        }
                    })
                    .await;
                });
            }
        }));
    }
    assert_eq!(total.load(SeqCst), 200 * 16);
}

/// Polls of the always-ready child below, at most.
const ALWAYS_READY_POLLS: usize = 21;

/// A child that blocks its thread for `each` per poll and wakes itself,
/// `left` more times, or until `stop` is set.
struct Busy<'a> {
    each: Duration,
    left: usize,
    stop: &'a AtomicBool,
    polls: Option<&'a std::sync::atomic::AtomicUsize>,
}

impl std::future::Future for Busy<'_> {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.left == 0 || self.stop.load(SeqCst) {
            return Poll::Ready(());
        }
        if let Some(polls) = self.polls {
            polls.fetch_add(1, SeqCst);
        }
        std::thread::sleep(self.each);
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The scope's body is woken (a 20 ms timer) while a child is always ready
/// with 200 ms polls, beside short busy siblings and a ticking one, on four
/// workers: the body must resume after a few of those polls, not after all
/// of them. Once the re-poll budget was spent (the siblings spend it fast
/// on four workers), every session polled one child and ended before the
/// body's turn, and the owner's next poll started with the children again:
/// the body waited for the long child's whole run. The children stop once
/// the body resumed, and a stall shows up as a count, not as time. Returns
/// the long polls made before the body resumed.
fn long_polls_before_the_body_resumes() -> usize {
    let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let out = polls.clone();
    let rt = Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let scope_fut = async move {
        let resumed = AtomicBool::new(false);
        let long_polls = std::sync::atomic::AtomicUsize::new(0);
        let (resumed, long_polls) = (&resumed, &long_polls);
        tether::scope(|s| async move {
            s.spawn(Busy {
                each: Duration::from_millis(200),
                left: ALWAYS_READY_POLLS,
                stop: resumed,
                polls: Some(long_polls),
            });
            for _ in 0..9 {
                s.spawn(Busy {
                    each: Duration::from_millis(3),
                    left: ALWAYS_READY_POLLS,
                    stop: resumed,
                    polls: None,
                });
            }
            s.spawn(async move {
                while !resumed.load(SeqCst) {
                    tether::time::sleep(Duration::from_millis(2)).await;
                }
            });
            tether::time::sleep(Duration::from_millis(20)).await;
            out.store(long_polls.load(SeqCst), SeqCst);
            resumed.store(true, SeqCst);
        })
        .await;
    };
    rt.block_on(rt.spawn(scope_fut)).unwrap();
    polls.load(SeqCst)
}

#[test]
fn a_woken_body_is_polled_beside_an_always_ready_child() {
    for _ in 0..3 {
        let _watchdog = watchdog(
            "a_woken_body_is_polled_beside_an_always_ready_child",
            WATCHDOG,
        );
        let before = long_polls_before_the_body_resumes();
        assert!(
            before < ALWAYS_READY_POLLS / 2,
            "the body resumed only after {before} of the long child's {ALWAYS_READY_POLLS} polls"
        );
    }
}
