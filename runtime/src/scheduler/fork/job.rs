//! Jobs: work published by a forker for other threads to run.
//!
//! A [`JobRef`] is a type-erased pointer to a job that lives in the
//! forker's frame (a [`StackJob`] for `join`, an [`IndexJob`] for
//! `join_all`). It is pushed onto a deque, and popped or stolen exactly
//! once; whoever gets it executes it, which writes the job's result and then
//! sets its latch. The forker reads the result only after the latch is set.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use super::latch::{ForkLatch, Latch};
use crate::loom::cell::UnsafeCell;

/// A panic payload carried from an executor back to the forker.
pub(crate) type Payload = Box<dyn Any + Send>;

/// A job that can be run through a [`JobRef`].
pub(crate) trait Job {
    /// Runs the job and signals its latch.
    ///
    /// # Safety
    ///
    /// `this` points to a live job that has not been executed yet, and no
    /// other thread executes it. The job (and its frame) may be freed as soon
    /// as the latch is signalled; the caller must not touch it afterwards.
    unsafe fn execute(this: *const Self);
}

/// A type-erased pointer to a job and the function that runs it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JobRef {
    /// The job.
    pointer: *const (),
    /// `Job::execute` of the job's type.
    execute_fn: unsafe fn(*const ()),
}

// SAFETY: a JobRef is only created (`JobRef::new`) for a job that is `Sync`
// in what the executor reads (its closure is `Send`, taken once) and whose
// forker waits for its latch before the job's frame ends; the executor
// writes the result slot once before the latch (release) and the forker
// reads it after (acquire).
unsafe impl Send for JobRef {}

impl JobRef {
    /// A reference to `job`.
    ///
    /// # Safety
    ///
    /// `job` must stay valid until the reference was executed, and the
    /// reference must be executed exactly once (whoever pops or steals it
    /// executes it). Executing it may happen on another thread: the job's
    /// closure and result must be `Send`.
    pub(crate) unsafe fn new<T: Job>(job: *const T) -> JobRef {
        /// Restores the type erased by `JobRef::new`.
        unsafe fn execute_erased<T: Job>(pointer: *const ()) {
            // SAFETY: `pointer` came from `JobRef::new::<T>`, and the
            // caller of `JobRef::execute` upholds `Job::execute`'s contract.
            unsafe { T::execute(pointer.cast::<T>()) }
        }
        JobRef {
            pointer: job.cast(),
            execute_fn: execute_erased::<T>,
        }
    }

    /// Whether this refers to the job at `job`.
    pub(crate) fn is<T>(&self, job: *const T) -> bool {
        std::ptr::eq(self.pointer, job.cast())
    }

    /// Runs the job.
    ///
    /// # Safety
    ///
    /// Called at most once per job, by whoever popped or stole the reference
    /// (see [`JobRef::new`]).
    pub(crate) unsafe fn execute(self) {
        // SAFETY: the pointer is live and unexecuted (caller contract).
        unsafe { (self.execute_fn)(self.pointer) }
    }

    /// Runs the job as *help*: on a thread inside a fork of its own that
    /// has not returned (a fork wait that steals or pops it, or a fork that
    /// pops it back before it waits; from a `block_on` thread, or on a core
    /// handed on, it may be another thread's job). A scope helper run this
    /// way does not linger (see `runtime::context`, `fork_wait_help`).
    ///
    /// # Safety
    ///
    /// As [`JobRef::execute`].
    pub(crate) unsafe fn execute_as_help(self) {
        let _help = crate::runtime::context::enter_fork_wait_help();
        // SAFETY: caller contract.
        unsafe { self.execute() }
    }
}

/// The outcome of a job.
#[derive(Debug)]
pub(crate) enum JobResult<R> {
    /// Not run (yet).
    None,
    /// Returned.
    Ok(R),
    /// Panicked; the forker resumes the payload.
    Panic(Payload),
}

impl<R> JobResult<R> {
    fn call(f: impl FnOnce() -> R) -> JobResult<R> {
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => JobResult::Ok(v),
            Err(p) => JobResult::Panic(p),
        }
    }
}

/// One side of a `join`, in the forker's frame: a closure, its result and
/// the latch the executor sets.
pub(crate) struct StackJob<F, R> {
    /// The closure; taken by whoever runs it.
    func: UnsafeCell<Option<F>>,
    /// Written by the executor before the latch is set.
    result: UnsafeCell<JobResult<R>>,
    /// Set once the job ran (on whatever thread).
    pub(crate) latch: ForkLatch,
}

impl<F, R> std::fmt::Debug for StackJob<F, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackJob")
            .field("latch", &self.latch)
            .finish_non_exhaustive()
    }
}

impl<F: FnOnce() -> R, R> StackJob<F, R> {
    pub(crate) fn new(func: F) -> Self {
        StackJob {
            func: UnsafeCell::new(Some(func)),
            result: UnsafeCell::new(JobResult::None),
            latch: ForkLatch::new(1),
        }
    }

    /// Runs the closure on the forker's thread, after the forker popped its
    /// own reference back (nobody stole it, so nobody else will run it). The
    /// latch is left unset: nobody waits on it.
    pub(crate) fn run_inline(self) -> R {
        let func = self.func.with_mut(|f| {
            // SAFETY: the forker holds the only access: the one JobRef was
            // popped back by the forker itself and will not be executed.
            unsafe { (*f).take() }
        });
        func.expect("a fork job runs once")()
    }

    /// The result, once the latch is set.
    pub(crate) fn into_result(self) -> JobResult<R> {
        debug_assert!(
            self.latch.probe(),
            "job result read before its latch was set"
        );
        self.result.with_mut(|r| {
            // SAFETY: the latch is set (acquire), so the executor's write
            // (before its release) is visible and it no longer touches the
            // job.
            unsafe { std::mem::replace(&mut *r, JobResult::None) }
        })
    }
}

impl<F: FnOnce() -> R, R> Job for StackJob<F, R> {
    unsafe fn execute(this: *const Self) {
        // SAFETY: live and unexecuted, executed only here (contract): the
        // closure slot is ours until we set the latch.
        let func = unsafe { (*this).func.with_mut(|f| (*f).take()) };
        let result = JobResult::call(func.expect("a fork job runs once"));
        // SAFETY: as above; the forker reads the slot only after the latch.
        unsafe { (*this).result.with_mut(|r| *r = result) };
        // SAFETY: the latch lives in the job, alive until this call made the
        // signal visible; nothing is touched afterwards.
        unsafe { ForkLatch::set(&raw const (*this).latch) };
    }
}

/// One call `job(index)` of a `join_all`, in the forker's frame.
pub(crate) struct IndexJob<'a> {
    /// The function to run.
    job: &'a (dyn Fn(usize) + Sync),
    /// Its argument.
    index: usize,
    /// The fork's latch (shared by every job of the fork, a raw pointer: see
    /// [`Latch::set`]).
    latch: *const ForkLatch,
    /// Ties the job to the latch's frame.
    _latch: std::marker::PhantomData<&'a ForkLatch>,
    /// The panic payload, if the call panicked. Written by the executor
    /// before the latch is set, read by the forker after.
    panic: UnsafeCell<Option<Payload>>,
}

impl std::fmt::Debug for IndexJob<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexJob")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl<'a> IndexJob<'a> {
    pub(crate) fn new(job: &'a (dyn Fn(usize) + Sync), index: usize, latch: &'a ForkLatch) -> Self {
        IndexJob {
            job,
            index,
            latch,
            _latch: std::marker::PhantomData,
            panic: UnsafeCell::new(None),
        }
    }

    /// The payload if the call panicked, once the latch is set.
    pub(crate) fn take_panic(&self) -> Option<Payload> {
        // SAFETY: the latch is set (the caller checked, acquire), so the
        // executor's write is visible and it no longer touches the job.
        self.panic.with_mut(|p| unsafe { (*p).take() })
    }
}

impl Job for IndexJob<'_> {
    unsafe fn execute(this: *const Self) {
        // SAFETY: live (contract); these fields are only read.
        let (job, index, latch) = unsafe { ((*this).job, (*this).index, (*this).latch) };
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| job(index))) {
            // SAFETY: only this executor writes the slot, and the forker
            // reads it only after the latch is set.
            unsafe { (*this).panic.with_mut(|p| *p = Some(payload)) };
        }
        // SAFETY: the latch outlives every job of its fork until its count
        // reaches zero; nothing is touched after this call.
        unsafe { ForkLatch::set(latch) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(loom)]
    use loom::thread;
    #[cfg(not(loom))]
    use std::thread;

    /// Moves a job reference to another thread, as a thief's steal does.
    struct Stolen(JobRef);

    /// A stolen `StackJob` runs on another thread while the forker waits on
    /// its latch; the forker then reads the result and frees the job (its
    /// frame) at once. The executor must not touch the job after the set.
    fn steal_and_join() {
        let job = StackJob::new(|| vec![1u8, 2, 3]);
        // SAFETY: `job` outlives the executor's use: we wait for its latch.
        let stolen = Stolen(unsafe { JobRef::new(&job) });
        let t = thread::spawn(move || {
            let stolen = stolen;
            // SAFETY: executed exactly once, while the forker waits.
            unsafe { stolen.0.execute() }
        });
        job.latch.wait(
            &crate::scheduler::fork::NoServe,
            || false,
            |_, wake| wake.park(),
        );
        match job.into_result() {
            JobResult::Ok(v) => assert_eq!(v, [1, 2, 3]),
            _ => panic!("the job's result is missing"),
        }
        t.join().unwrap();
    }

    /// A panicking stolen `IndexJob` hands its payload to the forker.
    fn steal_index_job_that_panics() {
        let latch = ForkLatch::new(1);
        let f = |i: usize| {
            if i == 1 {
                std::panic::panic_any(7usize);
            }
        };
        let job = IndexJob::new(&f, 1, &latch);
        // SAFETY: as above.
        let stolen = Stolen(unsafe { JobRef::new(&job) });
        let t = thread::spawn(move || {
            let stolen = stolen;
            // SAFETY: executed exactly once, while the forker waits.
            unsafe { stolen.0.execute() }
        });
        latch.wait(
            &crate::scheduler::fork::NoServe,
            || false,
            |_, wake| wake.park(),
        );
        let payload = job.take_panic().expect("the panic was carried back");
        assert_eq!(payload.downcast_ref::<usize>(), Some(&7));
        t.join().unwrap();
    }

    #[cfg(not(loom))]
    #[test]
    fn fork_job_result_is_read_after_a_stolen_run() {
        for _ in 0..if cfg!(miri) { 4 } else { 200 } {
            steal_and_join();
            steal_index_job_that_panics();
        }
    }

    #[cfg(loom)]
    #[test]
    fn loom_fork_stolen_job_result() {
        loom::model(steal_and_join);
    }
}
