//! A session kept busy by always-ready children still ends soon after
//! something its owner must act on, and still sees I/O and timers:
//!
//! * a child panic ends it (the scope re-raises, a join set returns it),
//!   instead of the whole re-poll budget running first;
//! * a completed child of a `ScopedJoinSet` ends it (`join_next` returns the
//!   result) after at most one more re-poll per loop;
//! * a sibling waiting for a timer is woken while the session runs, not at
//!   its end;
//! * a runtime's drop does not wait for busy sessions to spend their
//!   budget.
//!
//! Always-ready children spin for a short while per poll and yield. Each
//! test counts the polls they start between the event and the owner's
//! reaction (no timing is asserted) and requires fewer than half the
//! session's re-poll budget (16 per child): without these rules the count
//! came close to the budget (243–270 of 288, 1 004 of 1 056), with them
//! it stayed at a few dozen at most (the most with four workers on two
//! cores, where a preempted thread's poll keeps a spent session serving). Every case runs under a watchdog, on 2 and 4 workers, with the
//! owner in `block_on` and in a task.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tether::runtime::Builder;
use tether_tests::watchdog;

/// Generous: every case takes well under a second when it works.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Always-ready children beside the one that matters.
const BUSY: usize = 16;

/// How long an always-ready child spins per poll.
const BUSY_POLL: Duration = Duration::from_micros(300);

/// Counts of the always-ready children's polls.
#[derive(Default)]
struct Busy {
    /// Set by the test: the children return.
    stop: AtomicBool,
    /// Set when the event happened (a panic, a completion, a timer armed).
    event: AtomicBool,
    /// Polls started after `event` was set.
    after: AtomicUsize,
}

impl Busy {
    /// An always-ready child: spins for `BUSY_POLL` per poll and yields,
    /// until `stop`.
    async fn child(&self) {
        while !self.stop.load(SeqCst) {
            if self.event.load(SeqCst) {
                self.after.fetch_add(1, SeqCst);
            }
            let start = Instant::now();
            while start.elapsed() < BUSY_POLL {
                std::hint::spin_loop();
            }
            tether::task::yield_now().await;
        }
    }

    /// The child that matters: yields three times (behind the busy ones
    /// each time), then sets `event` and completes, or panics if `panics`.
    async fn quick_child(&self, panics: bool) {
        for _ in 0..3 {
            tether::task::yield_now().await;
        }
        self.event.store(true, SeqCst);
        assert!(!panics, "child panic");
    }
}

/// Runs `f` on a runtime of `workers` workers (0: the current-thread
/// runtime), awaited in `block_on` or inside a task, under a watchdog.
fn run<F>(name: &str, workers: usize, in_task: bool, f: F)
where
    F: Future<Output = ()> + Send,
{
    let _watchdog = watchdog(name, WATCHDOG);
    let rt = if workers == 0 {
        Builder::new_current_thread().enable_all().build().unwrap()
    } else {
        Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap()
    };
    if in_task {
        let f: Pin<Box<dyn Future<Output = ()> + Send + '_>> = Box::pin(f);
        rt.scope(|s| {
            s.spawn(f);
        });
    } else {
        rt.block_on(f);
    }
}

/// Every (workers, in_task) combination.
fn each_setup(mut case: impl FnMut(usize, bool)) {
    for workers in [0, 1, 2, 4] {
        for in_task in [false, true] {
            case(workers, in_task);
        }
    }
}

/// Panics once and catches it: the first panic of a process takes tens of
/// milliseconds to unwind here (the unwinder sets up its tables), during
/// which the siblings run on; that is not what the tests measure.
fn warm_up_unwinding() {
    let _ = std::panic::catch_unwind(|| panic!("warm-up panic (expected)"));
}

/// The re-poll budget of the sessions below, in polls (16 per child, the
/// body counting as one): what the counts would reach without the rules.
fn budget(children: usize) -> usize {
    16 * (children + 1)
}

#[test]
fn a_child_panic_ends_the_scope_session() {
    warm_up_unwinding();
    each_setup(|workers, in_task| {
        let busy = Busy::default();
        run("scope_panic", workers, in_task, async {
            let busy = &busy;
            let res = AssertUnwindSafe(tether::scope(|s| async move {
                for _ in 0..BUSY {
                    s.spawn(busy.child());
                }
                s.spawn(busy.quick_child(true));
            }))
            .catch_unwind()
            .await;
            assert!(res.is_err(), "the scope re-raises its child's panic");
        });
        busy.stop.store(true, SeqCst);
        let after = busy.after.load(SeqCst);
        let budget = budget(BUSY + 1);
        assert!(
            after < budget / 2,
            "{after} always-ready polls started between a child's panic and the scope's \
             re-raise (budget {budget}; workers {workers}, in_task {in_task})"
        );
    });
}

#[test]
fn join_next_returns_a_panic_or_a_result_beside_always_ready_children() {
    warm_up_unwinding();
    for panics in [false, true] {
        each_setup(|workers, in_task| {
            let busy = Busy::default();
            run("join_next", workers, in_task, async {
                let busy = &busy;
                let mut set = tether::ScopedJoinSet::new();
                for _ in 0..BUSY {
                    set.spawn(busy.child());
                }
                set.spawn(busy.quick_child(panics));
                let first = set.join_next().await.expect("a child");
                assert_eq!(first.is_err(), panics);
                // Counted before the rest is stopped and joined.
                let after = busy.after.load(SeqCst);
                busy.stop.store(true, SeqCst);
                while set.join_next().await.is_some() {}
                let budget = budget(BUSY + 1);
                assert!(
                    after < budget / 2,
                    "{after} always-ready polls started between a child's end (panic: \
                     {panics}) and `join_next` returning it (budget {budget}; workers \
                     {workers}, in_task {in_task})"
                );
            });
        });
    }
}

tether::task_local! {
    /// Set around the scope of the task-local case of the timer test.
    static REQUEST: u32;
}

#[test]
fn a_timer_sibling_is_woken_while_always_ready_children_keep_the_session_busy() {
    /// Always-ready children: enough that the budget is far above what
    /// the queue ahead of the woken sibling holds.
    const MANY: usize = 64;
    for task_local in [false, true] {
        each_setup(|workers, in_task| timer_sibling(MANY, workers, in_task, task_local));
    }
}

/// The timer case: `many` always-ready children and a sibling that sleeps
/// for 1 ms; inside a task-local scope if `task_local`.
fn timer_sibling(many: usize, workers: usize, in_task: bool, task_local: bool) {
    let busy = Busy::default();
    let woken_after = AtomicUsize::new(0);
    let (b, w) = (&busy, &woken_after);
    let scope = tether::scope(|s| async move {
        for _ in 0..many {
            s.spawn(b.child());
        }
        s.spawn(async move {
            // Let the busy children start, then arm the timer.
            for _ in 0..2 {
                tether::task::yield_now().await;
            }
            b.event.store(true, SeqCst);
            tether::time::sleep(Duration::from_millis(1)).await;
            w.store(b.after.load(SeqCst), SeqCst);
            b.stop.store(true, SeqCst);
        });
    });
    if task_local {
        run("timer_sibling", workers, in_task, REQUEST.scope(7, scope));
    } else {
        run("timer_sibling", workers, in_task, scope);
    }
    let after = woken_after.load(SeqCst);
    let budget = budget(many + 1);
    // Without looks at the driver from inside the session the sibling is
    // woken when the session's budget is spent: `budget` polls. With them:
    // the polls of about 1 ms per thread until a look, plus the children
    // queued ahead of it (`many`), a few times over for scheduling noise.
    assert!(
        after < budget / 2,
        "{after} always-ready polls started while a 1 ms timer of a sibling was pending \
         (budget {budget}; workers {workers}, in_task {in_task}, task_local {task_local})"
    );
}

#[test]
fn a_runtime_drop_ends_busy_sessions() {
    /// Always-ready children per scope (two scopes, each in a task).
    const PER_SCOPE: usize = 16;
    for workers in [4, 8] {
        let _watchdog = watchdog("runtime_drop", WATCHDOG);
        let busy: &'static Busy = Box::leak(Box::default());
        let rt = Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap();
        for _ in 0..2 {
            rt.spawn(tether::scope(move |s| async move {
                for _ in 0..PER_SCOPE {
                    s.spawn(busy.child());
                }
            }));
        }
        // Let the sessions get busy, then count the polls started while
        // the runtime is dropped.
        busy.event.store(true, SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        busy.after.store(0, SeqCst);
        drop(rt);
        let after = busy.after.swap(0, SeqCst);
        busy.stop.store(true, SeqCst);
        // Without the check at the driver looks, the drop waited for each
        // busy session to spend its budget.
        let budget = budget(PER_SCOPE);
        assert!(
            after < budget / 2,
            "{after} always-ready polls started while the runtime was being dropped (budget \
             {budget} per session; workers {workers})"
        );
    }
}
