//! [`join`] and [`join_all`]: fork, run one part inline, pop back what
//! nobody stole, help until the rest finished.

use std::panic;

use crate::util::panic::keep_first;

use super::job::{IndexJob, JobRef, JobResult, StackJob};
use super::latch::{ForkLatch, NoServe, Serve};
use crate::scheduler::multi_thread::worker::{self, Forker};

/// Runs `a` and `b`, possibly in parallel, and returns both results.
///
/// On a worker of a multi-thread runtime, `b` is pushed onto the worker's
/// fork deque where idle workers may steal it, `a` runs inline, and `b` is
/// popped back and run inline if nobody took it; otherwise the caller helps
/// with other fork jobs until `b` finished. Elsewhere `a` then `b` run one
/// after the other on the calling thread.
///
/// Returns only after both closures returned or unwound. If either
/// panicked, the panic is resumed after both finished (`a`'s first).
#[allow(
    dead_code,
    reason = "the two-way fork for `join!`-style callers; covered by the tests below"
)]
pub(crate) fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    join_serving(a, b, &NoServe)
}

/// [`join`], whose caller, if it waits for a stolen `b`, calls `serve`
/// meanwhile and is woken by it (see `latch`'s "Serving while waiting").
pub(crate) fn join_serving<A, B, RA, RB>(a: A, b: B, serve: &dyn Serve) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    join_standby(a, b, serve, true)
}

/// [`join_serving`] that publishes `b` as a *standby* job unless `wake`:
/// no parked worker is woken for it, so it costs a push and a pop when
/// nobody is free, and a worker that becomes free (one that comes out of
/// the driver, or finishes its task) steals it.
pub(crate) fn join_standby<A, B, RA, RB>(a: A, b: B, serve: &dyn Serve, wake: bool) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    worker::with_forker(false, move |forker| match forker {
        Some(forker) => join_forked(&forker, a, b, serve, wake),
        None => join_sequential(a, b),
    })
}

/// [`join_serving`] on a worker that can fork: joins `a` and `b` and
/// returns `None`; elsewhere gives both back untouched, for the caller's
/// own fallback. One thread-local lookup where a check followed by
/// [`join_serving`] would make two (fine-grained recursive joins pay it on
/// every fork).
pub(crate) fn join_on_worker<A, B>(a: A, b: B, serve: &dyn Serve) -> Option<(A, B)>
where
    A: FnOnce() + Send,
    B: FnOnce() + Send,
{
    worker::with_forker(false, move |forker| match forker {
        Some(forker) => {
            join_forked(&forker, a, b, serve, true);
            None
        }
        None => Some((a, b)),
    })
}

/// True if a nested two-way join (`join!`'s) should poll its sides one
/// after the other instead of forking: on a worker whose fork deque already
/// holds one job per other worker that nobody stole, while no worker is
/// parked or searching and the last few checks saw no steal
/// ([`worker::enough_fork_jobs_published`] says why the last two).
///
/// Why that loses no parallelism: the jobs waiting in the deque were
/// published by forks further up this thread's stack, so in a recursive
/// divide and conquer they are older and larger than this join's second
/// side, and thieves take the oldest first. A thief that takes one makes
/// room, and the next join on this thread publishes again. What it saves
/// is most of a fine-grained join's cost when every worker is busy, which
/// is when nobody would have stolen the second side anyway (one
/// thread-local access instead of a job, a latch, a push and a pop).
#[inline]
pub(crate) fn nested_join_inline() -> bool {
    worker::enough_fork_jobs_published()
}

/// `join` with nobody to help: `a`, then `b` (also if `a` panicked, whose
/// panic is resumed after `b` returned).
pub(crate) fn join_sequential<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB,
{
    let ra = panic::catch_unwind(panic::AssertUnwindSafe(a));
    let rb = b();
    match ra {
        Ok(ra) => (ra, rb),
        Err(p) => panic::resume_unwind(p),
    }
}

fn join_forked<A, B, RA, RB>(
    forker: &Forker<'_>,
    a: A,
    b: B,
    serve: &dyn Serve,
    wake: bool,
) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    // Wherever `b` runs, it runs as part of the forking task.
    let task = crate::runtime::context::task_id();
    let job_b = StackJob::new(move || {
        let _id = crate::task::id::enter(task);
        b()
    });
    // SAFETY: `job_b` lives in this frame, which does not end (nor unwind)
    // before the reference was executed: either we pop it back below (and
    // run the closure ourselves), or `WaitFor` waits for its latch. The
    // closure and result are `Send`.
    let job_b_ref = unsafe { JobRef::new(&job_b) };
    let fork = forker.enter();
    let (woke, ra, inline_b) = {
        // Waits for `b` when this block ends, unwinding included, unless `b`
        // was popped back. Dropped in place at the end of the block: moving
        // it (a `drop(wait)` after writing `armed`) compiled to a byte store
        // and a wider reload of the same slot, a store-forwarding stall
        // that cost a quarter of this function's time in fine-grained
        // recursive joins.
        let mut wait = WaitFor {
            forker,
            latch: &job_b.latch,
            serve,
            armed: true,
        };
        let woke = if wake {
            forker.push(job_b_ref)
        } else {
            forker.push_quiet(job_b_ref);
            false
        };
        let ra = panic::catch_unwind(panic::AssertUnwindSafe(a));

        // Pop `b` back if it is still ours; run whatever else we pop (jobs
        // of enclosing forks of this thread, pushed earlier) until then.
        let mut inline_b = false;
        while !job_b.latch.probe() {
            match forker.pop() {
                Some(job) if job.is(&job_b) => {
                    inline_b = true;
                    break;
                }
                // SAFETY: popped exactly once; its forker waits for it.
                Some(job) => unsafe { job.execute_as_help() },
                None => break,
            }
        }
        // Popped back: nobody else holds a reference to `job_b`, there is
        // nothing to wait for.
        wait.armed = !inline_b;
        (woke, ra, inline_b)
    };
    let rb = if inline_b {
        fork.finish(woke, false);
        panic::catch_unwind(panic::AssertUnwindSafe(|| job_b.run_inline()))
    } else {
        fork.finish(woke, true);
        match job_b.into_result() {
            JobResult::Ok(v) => Ok(v),
            JobResult::Panic(p) => Err(p),
            JobResult::None => unreachable!("a joined job left no result"),
        }
    };
    match (ra, rb) {
        (Ok(ra), Ok(rb)) => (ra, rb),
        (Err(p), rb) => {
            if let Err(other) = rb {
                crate::util::panic::discard_payload(other);
            }
            panic::resume_unwind(p)
        }
        (Ok(_), Err(p)) => panic::resume_unwind(p),
    }
}

/// Waits (helping) for a latch when dropped, on every exit path of a fork,
/// unwinding included: published jobs borrow the frame.
struct WaitFor<'a, 'f> {
    /// How to help while waiting.
    forker: &'a Forker<'f>,
    /// The latch of the published jobs.
    latch: &'a ForkLatch,
    /// What else to do while waiting.
    serve: &'a dyn Serve,
    /// False once the jobs were taken back, so there is nothing to wait for.
    armed: bool,
}

impl Drop for WaitFor<'_, '_> {
    fn drop(&mut self) {
        if self.armed {
            self.forker.wait(self.latch, self.serve);
        }
    }
}

/// Runs `job(i)` for every `i in 0..n`, possibly in parallel on other
/// workers of the current runtime, and returns only after every call has
/// returned or unwound. If any call panicked, the first panic is resumed on
/// the calling thread after all calls finished; further payloads are
/// discarded by the crate's policy (`util::panic`: dropped, without letting
/// a panicking destructor unwind).
#[allow(
    dead_code,
    reason = "the plain n-way fork; scope code forks through `join_all_serving`"
)]
pub(crate) fn join_all(n: usize, job: &(dyn Fn(usize) + Sync)) {
    join_all_serving(n, job, &NoServe);
}

/// [`join_all`], whose caller, while it waits for stolen jobs, calls
/// `serve` and is woken by it (see `latch`'s "Serving while waiting").
pub(crate) fn join_all_serving(n: usize, job: &(dyn Fn(usize) + Sync), serve: &dyn Serve) {
    if n >= 2
        && worker::with_forker(true, |forker| {
            forker.map(|f| join_all_forked(&f, n, job, serve))
        })
        .is_some()
    {
        return;
    }
    let mut first_panic = None;
    for i in 0..n {
        if let Err(p) = panic::catch_unwind(panic::AssertUnwindSafe(|| job(i))) {
            keep_first(&mut first_panic, p);
        }
    }
    if let Some(p) = first_panic {
        panic::resume_unwind(p);
    }
}

fn join_all_forked(forker: &Forker<'_>, n: usize, job: &(dyn Fn(usize) + Sync), serve: &dyn Serve) {
    // Wherever a job runs, it runs as part of the forking task.
    let task = crate::runtime::context::task_id();
    let job = &|i| {
        let _id = crate::task::id::enter(task);
        job(i)
    };
    let latch = ForkLatch::new(n - 1);
    let jobs: Vec<IndexJob<'_>> = (1..n).map(|i| IndexJob::new(job, i, &latch)).collect();
    let fork = forker.enter();
    // The guard exists before any job is visible to another thread, so no
    // unwind can leave a published job behind.
    let wait = WaitFor {
        forker,
        latch: &latch,
        serve,
        armed: true,
    };
    // Pushed last-first, so this thread pops job 1 first and thieves take
    // the far end.
    let woke = forker.push_all(jobs.iter().rev().map(|j| {
        // SAFETY: `jobs` outlives the fork: `wait` waits for the latch,
        // which counts every job, before this frame ends or unwinds.
        unsafe { JobRef::new(j) }
    }));
    let first = panic::catch_unwind(panic::AssertUnwindSafe(|| job(0)));
    // Run whatever nobody stole (and older jobs of this thread popped on
    // the way, which someone must run anyway).
    while !latch.probe() {
        match forker.pop() {
            // SAFETY: popped exactly once; its forker waits for it.
            Some(job_ref) => unsafe { job_ref.execute_as_help() },
            None => break,
        }
    }
    let taken = !latch.probe();
    drop(wait);
    fork.finish(woke, taken);

    let mut panic = first.err();
    for j in &jobs {
        if let Some(p) = j.take_panic() {
            keep_first(&mut panic, p);
        }
    }
    if let Some(payload) = panic {
        panic::resume_unwind(payload);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fib(n: u32) -> u64 {
        if n < 2 {
            return n.into();
        }
        let (a, b) = join(|| fib(n - 1), || fib(n - 2));
        a + b
    }

    #[test]
    fn join_outside_a_runtime_runs_both() {
        assert_eq!(fib(10), 55);
    }

    #[test]
    fn join_on_workers_recursive() {
        let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
        let n = if cfg!(miri) { 8 } else { 22 };
        let expect = fib(n);
        let got = rt.block_on(rt.spawn(async move { fib(n) })).unwrap();
        assert_eq!(got, expect);
    }

    #[test]
    fn join_waits_for_both_and_resumes_the_panic() {
        let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
        let ran = std::sync::Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let res = rt.block_on(rt.spawn(async move {
            join(
                || -> () { panic!("left") },
                || {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    r.fetch_add(1, Ordering::SeqCst);
                },
            )
        }));
        assert!(res.unwrap_err().is_panic());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    /// `a` spawns a task; `b` (inline or stolen) waits for that task to run.
    /// The task must not be stuck: not in the forker's LIFO slot (off while
    /// it forks), nor in its run queue while the forker waits for a stolen
    /// `b` and the other worker is busy with `b` (the forker hands its core
    /// on after a short wait). Watchdog: the test thread aborts on a hang.
    #[test]
    fn join_whose_stolen_half_waits_for_a_task_of_the_forker() {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if done_rx
                .recv_timeout(std::time::Duration::from_secs(30))
                .is_err()
            {
                eprintln!("join_whose_stolen_half_waits_for_a_task_of_the_forker hung; aborting");
                std::process::abort();
            }
        });
        let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
        for _ in 0..if cfg!(miri) { 1 } else { 50 } {
            rt.block_on(rt.spawn(async {
                let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                let f = flag.clone();
                join(
                    move || {
                        drop(crate::spawn(async move { f.store(true, Ordering::SeqCst) }));
                        // Long enough for the other worker to steal `b`.
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    },
                    || {
                        while !flag.load(Ordering::SeqCst) {
                            std::thread::sleep(std::time::Duration::from_micros(50));
                        }
                    },
                );
            }))
            .unwrap();
        }
        done_tx.send(()).unwrap();
        watchdog.join().unwrap();
    }

    /// The nested-join rule: off the workers and on a worker whose fork
    /// deque is empty a join forks; with one unstolen job per other worker
    /// in the deque, every worker busy and a run of checks without a steal,
    /// it runs inline; once that job is gone it forks again.
    #[test]
    fn nested_joins_run_inline_while_enough_jobs_wait_to_be_stolen() {
        use std::sync::atomic::AtomicBool;
        assert!(!nested_join_inline(), "off the workers");
        let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
        assert!(!rt.block_on(async { nested_join_inline() }), "in block_on");
        // Keep the other worker busy, so that nobody steals `b` below.
        let release = std::sync::Arc::new(AtomicBool::new(false));
        let (running_tx, running_rx) = std::sync::mpsc::channel();
        let spinner = rt.spawn({
            let release = release.clone();
            async move {
                running_tx.send(()).unwrap();
                while !release.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
            }
        });
        /// Stops the spinner however the test ends (a spinning worker
        /// would hang the runtime's drop).
        struct Release(std::sync::Arc<AtomicBool>);
        impl Drop for Release {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let release = Release(release);
        running_rx.recv().unwrap();
        let seen = rt
            .block_on(rt.spawn(async {
                let empty = nested_join_inline();
                let (with_b_queued, ()) = join(
                    || {
                        // Inline only after a run of checks that saw no
                        // steal (a thief may be on its way at first).
                        let first = nested_join_inline();
                        let mut later = false;
                        for _ in 0..64 {
                            later = nested_join_inline();
                        }
                        (first, later)
                    },
                    || {},
                );
                (empty, with_b_queued, nested_join_inline())
            }))
            .unwrap();
        drop(release);
        rt.block_on(spinner).unwrap();
        assert_eq!(seen, (false, (false, true), false));
        let single = crate::Runtime::builder().worker_threads(1).build().unwrap();
        assert!(
            !single
                .block_on(single.spawn(async { nested_join_inline() }))
                .unwrap()
        );
    }

    #[test]
    fn join_all_runs_every_index_once() {
        let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
        let hits: Vec<AtomicUsize> = (0..16).map(|_| AtomicUsize::new(0)).collect();
        let hits = std::sync::Arc::new(hits);
        let h = hits.clone();
        rt.block_on(rt.spawn(async move {
            join_all(16, &|i| {
                h[i].fetch_add(1, Ordering::SeqCst);
            });
        }))
        .unwrap();
        assert!(hits.iter().all(|h| h.load(Ordering::SeqCst) == 1));
    }

    /// A fork whose inline half blocks (a blocking scope hands the worker's
    /// core on) while the runtime shuts down: the core, with the fork's
    /// unstolen other half still in its deque, goes back to the runtime
    /// instead of to a new worker, and nobody may run that half. The forker
    /// must still finish (the shutdown joins it). Watchdog: aborts on a hang.
    #[test]
    fn fork_half_left_in_a_core_handed_off_at_shutdown_still_runs() {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if done_rx
                .recv_timeout(std::time::Duration::from_secs(30))
                .is_err()
            {
                eprintln!(
                    "fork_half_left_in_a_core_handed_off_at_shutdown_still_runs hung; aborting"
                );
                std::process::abort();
            }
        });
        fn shutting_down() -> bool {
            crate::runtime::context::with_current(|h| match h {
                crate::scheduler::Handle::MultiThread(h) => h.is_shutdown(),
                _ => true,
            })
            .unwrap_or(true)
        }
        let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
        let handle = rt.handle().clone();
        // Keep one worker busy until shutdown, so it cannot steal `b`.
        let (busy_tx, busy_rx) = std::sync::mpsc::channel::<()>();
        drop(rt.spawn(async move {
            busy_tx.send(()).unwrap();
            while !shutting_down() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }));
        busy_rx.recv().unwrap();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let b_ran = std::sync::Arc::new(AtomicUsize::new(0));
        let b = b_ran.clone();
        drop(rt.spawn(async move {
            join(
                move || {
                    handle.scope(|s| {
                        drop(s.spawn(std::future::pending::<()>()));
                        go_tx.send(()).unwrap();
                        while !shutting_down() {
                            std::thread::sleep(std::time::Duration::from_millis(1));
                        }
                    });
                },
                move || {
                    b.fetch_add(1, Ordering::SeqCst);
                },
            );
        }));
        go_rx.recv().unwrap();
        drop(rt);
        assert_eq!(b_ran.load(Ordering::SeqCst), 1);
        done_tx.send(()).unwrap();
        watchdog.join().unwrap();
    }
}
