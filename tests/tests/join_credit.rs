//! A recursive `join!` skips the worker's fork check for the joins nested
//! in a join whose check said "run inline" (a credit of 16 joins). The
//! credit must end with the poll of the join that earned it: a join that is
//! not nested in that one — its sibling, a later join of the same task,
//! another child of the same scope — asks again, and forks if a worker has
//! gone idle meanwhile.
//!
//! Each scenario keeps the second worker busy with a spinner while a task
//! on the first one earns the credit (a short side forked and left
//! unstolen in its deque, then a loop of trivial joins), lets the second
//! worker run out of work, and then runs a join whose first side waits
//! (blocking the thread, at most [`SIDE_LIMIT`]) until its second side
//! ran. Only a fork lets that join finish in time; run inline on a stale
//! credit, it waits out the limit. Every test has a watchdog.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use tether::Runtime;

/// Longest a whole test may run before the process aborts.
const WATCHDOG: Duration = Duration::from_secs(120);

/// Longest a waiting side waits for its sibling before it reports failure.
const SIDE_LIMIT: Duration = Duration::from_secs(10);

/// Trivial joins that earn the credit: more than the check's run of
/// unstolen checks (8) before it says "inline".
const WARM_UP_JOINS: usize = 12;

/// Runs `f` on a thread; aborts the process if it has not returned within
/// [`WATCHDOG`].
fn watchdog<R: Send + 'static>(name: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    if rx.recv_timeout(WATCHDOG).is_err() {
        eprintln!("watchdog: `{name}` hung for {WATCHDOG:?}; aborting");
        std::process::abort();
    }
    t.join().unwrap()
}

/// Blocks (with short sleeps) until `flag` is set or `limit` passed; true
/// if it was set.
fn wait_flag(flag: &AtomicBool, limit: Duration) -> bool {
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    true
}

/// What one side of a join does.
#[derive(Clone)]
enum Side {
    /// Returns at once.
    Nothing,
    /// Blocks until the flag is set (at most [`SIDE_LIMIT`]).
    Wait(Arc<AtomicBool>),
    /// Sets the flag.
    Set(Arc<AtomicBool>),
}

/// One side of a join: one future type for every join, so that every
/// join is the same code at the same depth.
async fn side(what: Side) -> (ThreadId, bool) {
    let ok = match what {
        Side::Nothing => true,
        Side::Wait(flag) => wait_flag(&flag, SIDE_LIMIT),
        Side::Set(flag) => {
            flag.store(true, Ordering::SeqCst);
            true
        }
    };
    (std::thread::current().id(), ok)
}

/// A join whose first side needs its second side to run elsewhere.
fn waiting_pair() -> (Side, Side) {
    let flag = Arc::new(AtomicBool::new(false));
    (Side::Wait(flag.clone()), Side::Set(flag))
}

/// A two-worker runtime whose second worker spins until the returned flag
/// is set.
fn runtime_with_spinner() -> (Runtime, Arc<AtomicBool>, tether::JoinHandle<()>) {
    let rt = tether::Runtime::builder()
        .worker_threads(2)
        .build()
        .unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let (running_tx, running_rx) = mpsc::channel();
    let spinner = rt.spawn({
        let release = release.clone();
        async move {
            running_tx.send(()).unwrap();
            while !release.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        }
    });
    running_rx.recv().unwrap();
    (rt, release, spinner)
}

/// Sets `flag` when polled: the short side of the top join, left in the
/// deque while the spinner keeps the other worker busy.
async fn mark(flag: Arc<AtomicBool>) {
    flag.store(true, Ordering::SeqCst);
}

/// A sibling of the join that earned the credit, after the other worker
/// went idle: `join!(A, mark)` forks `mark`; A runs the warm-up joins,
/// releases the spinner, waits until the other worker ran `mark` and had
/// time to park, then runs `join!(Wait, Set)` at the same depth as the
/// warm-up joins.
#[test]
fn a_sibling_of_the_earning_join_forks_to_an_idle_worker() {
    let outcomes = watchdog(
        "a_sibling_of_the_earning_join_forks_to_an_idle_worker",
        || {
            (0..3)
                .map(|_| {
                    let (rt, release, spinner) = runtime_with_spinner();
                    let rel = release.clone();
                    let outcome = rt
                        .block_on(rt.spawn(async move {
                            let mark_ran = Arc::new(AtomicBool::new(false));
                            let a = tether::parallel({
                                let mark_ran = mark_ran.clone();
                                async move {
                                    let mut plan: Vec<(Side, Side)> = (0..WARM_UP_JOINS)
                                        .map(|_| (Side::Nothing, Side::Nothing))
                                        .collect();
                                    plan.push(waiting_pair());
                                    let mut last = (false, false);
                                    for (i, (x, y)) in plan.into_iter().enumerate() {
                                        if i == WARM_UP_JOINS {
                                            rel.store(true, Ordering::SeqCst);
                                            assert!(
                                                wait_flag(&mark_ran, SIDE_LIMIT),
                                                "the other worker never took the forked side"
                                            );
                                            // Let it look for work and park.
                                            std::thread::sleep(Duration::from_millis(5));
                                        }
                                        let ((ta, oka), (tb, okb)) =
                                            tether::join!(side(x), side(y));
                                        last = (ta != tb, oka && okb);
                                    }
                                    last
                                }
                            });
                            let (last, ()) = tether::join!(a, mark(mark_ran));
                            last
                        }))
                        .unwrap();
                    release.store(true, Ordering::SeqCst);
                    rt.block_on(spinner).unwrap();
                    outcome
                })
                .collect::<Vec<_>>()
        },
    );
    for (parallel, ok) in outcomes {
        assert!(
            parallel && ok,
            "join!(Wait, Set) ran inline on a stale credit (parallel: {parallel}, finished: {ok})"
        );
    }
}

/// A child of an async scope that earns the credit, then spawns a second
/// child (same future type, so both children's joins sit at the same
/// depth of the session) after the other worker went idle. The children
/// carry their owner's task id, so only the end of the earning join's poll
/// stands between the second child's `join!(Wait, Set)` and the credit.
fn child<'env>(
    s: tether::scope::Scope<'env>,
    first: bool,
    release: Arc<AtomicBool>,
    out: &'env Mutex<Vec<(bool, bool)>>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'env>> {
    Box::pin(async move {
        let plan: Vec<(Side, Side)> = if first {
            (0..WARM_UP_JOINS)
                .map(|_| (Side::Nothing, Side::Nothing))
                .collect()
        } else {
            vec![waiting_pair()]
        };
        for (x, y) in plan {
            let ((ta, oka), (tb, okb)) = tether::join!(side(x), side(y));
            if !first {
                out.lock().unwrap().push((ta != tb, oka && okb));
            }
        }
        if first {
            release.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            let next = s.clone();
            drop(s.spawn(child(next, false, release, out)));
        }
    })
}

#[test]
fn a_later_child_of_the_same_scope_does_not_spend_the_credit() {
    let outcomes = watchdog(
        "a_later_child_of_the_same_scope_does_not_spend_the_credit",
        || {
            let mut outcomes = Vec::new();
            for _ in 0..3 {
                let (rt, release, spinner) = runtime_with_spinner();
                let rel = release.clone();
                let out = rt
                    .block_on(rt.spawn(async move {
                        let out = Mutex::new(Vec::new());
                        let out_ref = &out;
                        tether::scope(|s| async move {
                            let next = s.clone();
                            drop(s.spawn(child(next, true, rel, out_ref)));
                        })
                        .await;
                        out.into_inner().unwrap()
                    }))
                    .unwrap();
                release.store(true, Ordering::SeqCst);
                rt.block_on(spinner).unwrap();
                outcomes.extend(out);
            }
            outcomes
        },
    );
    assert_eq!(outcomes.len(), 3, "every second child ran its join");
    for (_, ok) in outcomes {
        assert!(
            ok,
            "the second child's join!(Wait, Set) ran inline on the first child's credit"
        );
    }
}
