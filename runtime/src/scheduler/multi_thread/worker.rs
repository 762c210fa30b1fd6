//! The worker loop: run local work, steal, park; and fork/join.
//!
//! # Where work comes from, in order
//!
//! 1. Every [`GLOBAL_POLL_INTERVAL`] ticks, the injector first, so tasks
//!    submitted from outside are not starved by a busy local queue.
//! 2. The worker's own fork jobs (scoped-child polls forked by a scope
//!    running here and not yet taken).
//! 3. The LIFO slot: the task most recently woken by this worker, polled
//!    next for cache locality (at most [`MAX_LIFO_POLLS_PER_TICK`] in a row).
//! 4. The local FIFO run queue, then a batch from the injector.
//! 5. Stealing (if fewer than half the workers already search): fork jobs
//!    first, since a forking worker is waiting on them, then half of a
//!    random victim's run queue, then the injector.
//! 6. Parking (see `park.rs` and `idle.rs`).
//!
//! # The core and re-entrancy
//!
//! The worker's [`Core`] (queues, LIFO slot) lives in the thread's
//! [`Context`] while a task is polled, so that wakes and spawns from inside
//! the poll can push to it; the loop takes it back afterwards. A blocking
//! wait inside a poll (the blocking scope) takes the core and runs a nested
//! loop ([`block_on_nested`]), so the worker keeps executing other tasks.
//!
//! # Fork/join
//!
//! [`fork_join`] pushes `n - 1` jobs pointing into its own stack frame onto
//! the worker's fork deque, wakes an idle worker, runs job 0 and every job
//! nobody stole, then waits on a latch for the stolen ones. It never returns
//! (nor unwinds) before every job has finished: the jobs borrow its frame.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use crossbeam_deque::{Steal, Stealer, Worker};

use super::Handle;
use super::park::Parker;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::scheduler::rand::FastRand;
use crate::scheduler::scoped::Scoped;
use crate::task::Notified;
use std::sync::Arc;

/// Ticks between forced checks of the injector. A prime, so the check does
/// not fall into lockstep with periodic task patterns.
pub(super) const GLOBAL_POLL_INTERVAL: u32 = 61;

/// Ticks between non-blocking polls of the I/O driver and timers by a busy
/// worker, so readiness is never starved while every worker is busy.
pub(super) const EVENT_INTERVAL: u32 = 61;

/// Consecutive LIFO-slot polls before the slot's task goes to the back of
/// the run queue. Two tasks waking each other forever would otherwise
/// monopolise the worker.
const MAX_LIFO_POLLS_PER_TICK: usize = 3;

/// Spin iterations a forking worker waits for stolen jobs before it sleeps.
/// Stolen jobs are single child polls, usually microseconds long; a short
/// spin avoids a futex round trip for them.
const FORK_SPIN_LIMIT: usize = if cfg!(loom) { 1 } else { 200 };

/// A worker's exclusive state.
pub(crate) struct Core {
    /// This worker's index in `Handle::remotes`.
    index: usize,
    /// Incremented every loop iteration.
    tick: u32,
    /// The most recently woken task.
    lifo_slot: Option<Notified>,
    /// Local tasks; stolen through `Remote::steal`.
    run_queue: Worker<Notified>,
    /// Fork jobs; stolen through `Remote::fork_steal`.
    fork_queue: Worker<JobRef>,
    /// True while counted in `Idle`'s searching workers.
    is_searching: bool,
    /// Picks steal victims.
    rand: FastRand,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("index", &self.index)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

/// A type-erased pointer to a fork job and the function that runs it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JobRef {
    /// The job's data (a `StackJob` in the forker's frame).
    data: *const (),
    /// Runs the job; called exactly once.
    execute: unsafe fn(*const ()),
}

// SAFETY: a JobRef is only created by `fork_join`, for a `StackJob` that
// outlives the job (the forker waits on the latch before its frame ends).
// The executor reads the job's `Fn + Sync` closure and index, writes the
// panic slot once before setting the latch, and the forker reads that slot
// only after the latch opened (acquire): no unsynchronised access.
unsafe impl Send for JobRef {}

impl JobRef {
    /// # Safety
    ///
    /// Must be called exactly once, while the job's data is alive.
    unsafe fn execute(self) {
        // SAFETY: caller contract.
        unsafe { (self.execute)(self.data) }
    }
}

/// Work found by the loop.
enum Work {
    /// A task to poll.
    Task(Notified),
    /// A fork job to run.
    Job(JobRef),
}

/// The per-thread state of a running worker.
pub(crate) struct Context {
    /// The runtime.
    handle: Arc<Handle>,
    /// This worker's index.
    index: usize,
    /// The core, while a task or job is being run (see module docs).
    core: RefCell<Option<Box<Core>>>,
}

thread_local! {
    /// The worker context of this thread, if it is a worker.
    static CURRENT: Scoped<Context> = const { Scoped::new() };
}

fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    CURRENT.with(|c| c.with(f))
}

impl Core {
    pub(super) fn new(index: usize) -> (Box<Core>, Stealer<Notified>, Stealer<JobRef>) {
        let run_queue = Worker::new_fifo();
        let fork_queue = Worker::new_lifo();
        let steal = run_queue.stealer();
        let fork_steal = fork_queue.stealer();
        let core = Box::new(Core {
            index,
            tick: 0,
            lifo_slot: None,
            run_queue,
            fork_queue,
            is_searching: false,
            rand: FastRand::new(index as u64 + 1),
        });
        (core, steal, fork_steal)
    }

    fn has_local_work(&self) -> bool {
        self.lifo_slot.is_some() || !self.run_queue.is_empty() || !self.fork_queue.is_empty()
    }

    /// Pushes a task scheduled on this worker. Returns true if other workers
    /// should be told there is work to steal.
    fn schedule_local(&mut self, task: Notified, is_yield: bool) -> bool {
        if is_yield {
            self.run_queue.push(task);
            return true;
        }
        match self.lifo_slot.replace(task) {
            Some(prev) => {
                self.run_queue.push(prev);
                true
            }
            None => false,
        }
    }

    fn next_local_work(&mut self, handle: &Handle) -> Option<Work> {
        if self.tick % handle.global_queue_interval == 0
            && let Some(task) = steal_one(&handle.inject)
        {
            return Some(Work::Task(task));
        }
        if let Some(job) = self.fork_queue.pop() {
            return Some(Work::Job(job));
        }
        if let Some(task) = self.lifo_slot.take().or_else(|| self.run_queue.pop()) {
            return Some(Work::Task(task));
        }
        loop {
            match handle.inject.steal_batch_and_pop(&self.run_queue) {
                Steal::Success(task) => return Some(Work::Task(task)),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
    }

    fn steal_work(&mut self, handle: &Handle) -> Option<Work> {
        if !self.is_searching {
            if !handle.idle.transition_worker_to_searching() {
                return None;
            }
            self.is_searching = true;
        }
        let n = handle.remotes.len();
        let start = self.rand.next_below(n);
        loop {
            let mut retry = false;
            match handle.fork_inject.steal() {
                Steal::Success(job) => return Some(Work::Job(job)),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            for i in 0..n {
                let victim = (start + i) % n;
                if victim == self.index {
                    continue;
                }
                match handle.remotes[victim].fork_steal.steal() {
                    Steal::Success(job) => return Some(Work::Job(job)),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            for i in 0..n {
                let victim = (start + i) % n;
                if victim == self.index {
                    continue;
                }
                match handle.remotes[victim]
                    .steal
                    .steal_batch_and_pop(&self.run_queue)
                {
                    Steal::Success(task) => return Some(Work::Task(task)),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            match handle.inject.steal_batch_and_pop(&self.run_queue) {
                Steal::Success(task) => return Some(Work::Task(task)),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            if !retry {
                return None;
            }
        }
    }

    /// Registers as parked unless there is local work. Returns true if the
    /// worker should sleep.
    fn transition_to_parked(&mut self, handle: &Handle) -> bool {
        if self.has_local_work() {
            return false;
        }
        let is_last_searcher = handle
            .idle
            .transition_worker_to_parked(self.index, self.is_searching);
        self.is_searching = false;
        if is_last_searcher {
            handle.notify_if_work_pending();
        }
        true
    }

    /// Drops every queued task reference (at shutdown, after the owned list
    /// cancelled the tasks).
    pub(super) fn drain(self) {
        debug_assert!(self.fork_queue.is_empty(), "fork jobs left at shutdown");
        drop(self.lifo_slot);
        while let Some(task) = self.run_queue.pop() {
            drop(task);
        }
    }
}

fn steal_one(inject: &crossbeam_deque::Injector<Notified>) -> Option<Notified> {
    loop {
        match inject.steal() {
            Steal::Success(task) => return Some(task),
            Steal::Retry => continue,
            Steal::Empty => return None,
        }
    }
}

/// Runs a worker thread until the runtime shuts down.
pub(crate) fn run(handle: Arc<Handle>, core: Box<Core>) {
    let cx = Context {
        index: core.index,
        handle: handle.clone(),
        core: RefCell::new(None),
    };
    let _enter = crate::runtime::context::enter_runtime(&crate::scheduler::Handle::MultiThread(
        handle.clone(),
    ));
    let core = CURRENT.with(|c| c.set(&cx, || run_until(&cx, core, &|| false)));
    crate::loom::lock(&handle.cores).push(core);
}

/// The worker loop. Returns when `until()` holds or the runtime shuts down.
fn run_until(cx: &Context, mut core: Box<Core>, until: &dyn Fn() -> bool) -> Box<Core> {
    loop {
        if until() || cx.handle.is_shutdown() {
            return core;
        }
        core.tick = core.tick.wrapping_add(1);
        if core.tick % cx.handle.event_interval == 0 {
            core = with_core_in_context(cx, core, || cx.handle.driver.poll_nonblocking());
        }
        let work = match core.next_local_work(&cx.handle) {
            Some(work) => Some(work),
            None => core.steal_work(&cx.handle),
        };
        core = match work {
            Some(work) => run_work(cx, core, work),
            None => park(cx, core, until),
        };
    }
}

/// Puts the core where schedule calls can reach it while `f` runs.
fn with_core_in_context(cx: &Context, core: Box<Core>, f: impl FnOnce()) -> Box<Core> {
    *cx.core.borrow_mut() = Some(core);
    f();
    cx.core
        .borrow_mut()
        .take()
        .expect("the worker core was not returned")
}

fn run_work(cx: &Context, mut core: Box<Core>, work: Work) -> Box<Core> {
    if core.is_searching {
        core.is_searching = false;
        if cx.handle.idle.transition_worker_from_searching() {
            // We were the last searcher: let another worker look for the
            // rest of the work.
            cx.handle.notify_parked();
        }
    }
    with_core_in_context(cx, core, || {
        crate::coop::budget(|| match work {
            Work::Task(task) => {
                task.run();
                run_lifo_tasks(cx);
            }
            // SAFETY: each JobRef is popped or stolen exactly once from a
            // deque, and its forker waits for it (module docs).
            Work::Job(job) => unsafe { job.execute() },
        })
    })
}

/// Polls tasks from the LIFO slot, sharing the budget of the task that
/// woke them, up to [`MAX_LIFO_POLLS_PER_TICK`].
fn run_lifo_tasks(cx: &Context) {
    let mut polls = 0;
    loop {
        let task = {
            let mut guard = cx.core.borrow_mut();
            let Some(core) = guard.as_mut() else { return };
            let Some(task) = core.lifo_slot.take() else {
                return;
            };
            if polls >= MAX_LIFO_POLLS_PER_TICK || !crate::coop::has_budget_remaining() {
                core.run_queue.push(task);
                drop(guard);
                cx.handle.notify_parked();
                return;
            }
            task
        };
        polls += 1;
        task.run();
    }
}

fn park(cx: &Context, mut core: Box<Core>, until: &dyn Fn() -> bool) -> Box<Core> {
    if !core.transition_to_parked(&cx.handle) {
        return core;
    }
    let parker = &cx.handle.remotes[cx.index].parker;
    loop {
        core = with_core_in_context(cx, core, || parker.park());
        if !cx.handle.idle.is_parked(cx.index) {
            // Woken by `notify_parked`, which counted us as searching.
            core.is_searching = true;
            break;
        }
        if until() || cx.handle.is_shutdown() || core.has_local_work() {
            if !cx.handle.idle.unpark_worker_by_id(cx.index) {
                // A notify raced with us and already counted us searching.
                core.is_searching = true;
            }
            break;
        }
    }
    if core.has_local_work() {
        cx.handle.notify_parked();
    }
    core
}

/// Called by `Handle::schedule_task`: pushes to the current worker's core
/// if this thread is a worker of `handle` with its core at hand.
pub(super) fn try_schedule_local(
    handle: &Arc<Handle>,
    task: Notified,
    is_yield: bool,
) -> Result<(), Notified> {
    with_current(|cx| {
        let Some(cx) = cx.filter(|cx| Arc::ptr_eq(&cx.handle, handle)) else {
            return Err(task);
        };
        let Ok(mut guard) = cx.core.try_borrow_mut() else {
            return Err(task);
        };
        let Some(core) = guard.as_mut() else {
            return Err(task);
        };
        let notify = core.schedule_local(task, is_yield);
        drop(guard);
        if notify {
            handle.notify_parked();
        }
        Ok(())
    })
}

/// Wakes a worker blocked in [`block_on_nested`].
struct NestedWake {
    /// Set by a wake; cleared before each poll.
    woken: AtomicBool,
    /// The runtime of the waiting worker.
    handle: Arc<Handle>,
    /// The waiting worker.
    index: usize,
}

impl Wake for NestedWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.handle.remotes[self.index].parker.unpark();
    }
}

/// If this thread is a worker (of any multi-thread runtime) polling a task,
/// blocks until `fut` completes while running the runtime's other tasks.
/// Returns the future back if this thread is not such a worker.
pub(crate) fn block_on_nested<F: Future>(fut: F) -> Result<F::Output, F> {
    with_current(|cx| {
        let Some(cx) = cx else { return Err(fut) };
        let Some(mut core) = cx.core.try_borrow_mut().ok().and_then(|mut c| c.take()) else {
            return Err(fut);
        };
        let wake = std::sync::Arc::new(NestedWake {
            woken: AtomicBool::new(true),
            handle: cx.handle.clone(),
            index: cx.index,
        });
        let waker = Waker::from(wake.clone());
        let mut fut = pin!(fut);
        let parker = &cx.handle.remotes[cx.index].parker;
        loop {
            if wake.woken.swap(false, Ordering::AcqRel) {
                let mut out = None;
                core = with_core_in_context(cx, core, || {
                    if let Poll::Ready(v) = fut.as_mut().poll(&mut TaskContext::from_waker(&waker))
                    {
                        out = Some(v);
                    }
                });
                if let Some(v) = out {
                    *cx.core.borrow_mut() = Some(core);
                    return Ok(v);
                }
            }
            if cx.handle.is_shutdown() {
                // Nobody else will run the tasks we wait for: cancel them
                // here (as shutdown would) so the future can finish.
                cx.handle.owned.close_and_shutdown();
                while !wake.woken.load(Ordering::Acquire) {
                    parker.park_condvar_only();
                }
                continue;
            }
            core = run_until(cx, core, &|| wake.woken.load(Ordering::Acquire));
        }
    })
}

/// Who waits for a fork, and how to wake it.
enum Waiter {
    /// A worker; its parker is owned by the runtime, which outlives every
    /// job (thieves hold the runtime through their context).
    Worker(*const Parker),
    /// A thread that is not a worker (inside `block_on`); its parker is
    /// shared, so an executor can keep it alive past the latch.
    Thread(std::sync::Arc<crate::scheduler::current_thread::ThreadWake>),
}

impl Waiter {
    fn unpark(&self) {
        match self {
            // SAFETY: see `Waiter::Worker`: the parker outlives the jobs.
            Waiter::Worker(parker) => unsafe { (**parker).unpark() },
            Waiter::Thread(thread) => thread.unpark(),
        }
    }

    fn park(&self) {
        match self {
            // SAFETY: as in `unpark`; here the forker itself owns the runtime.
            Waiter::Worker(parker) => unsafe { (**parker).park_condvar_only() },
            Waiter::Thread(thread) => thread.park(),
        }
    }
}

/// Latch of one fork: counts stolen-or-pending jobs.
struct ForkLatch {
    /// Jobs not yet finished (excluding job 0, run inline).
    pending: AtomicUsize,
    /// The forker.
    waiter: Waiter,
}

impl ForkLatch {
    /// Marks one job finished.
    ///
    /// Takes a raw pointer, not `&self`: the forker may free the latch as
    /// soon as `pending` reaches zero, and a reference argument would have
    /// to stay valid for the whole call. What is needed to wake the forker
    /// is copied out before the decrement; nothing of the latch is touched
    /// after it.
    ///
    /// # Safety
    ///
    /// `this` points to a live latch whose `pending` count includes the
    /// job being finished.
    unsafe fn set(this: *const ForkLatch) {
        // SAFETY: the latch is alive until our decrement (contract).
        let waiter = match unsafe { &(*this).waiter } {
            Waiter::Worker(parker) => Waiter::Worker(*parker),
            Waiter::Thread(thread) => Waiter::Thread(thread.clone()),
        };
        // SAFETY: as above; the temporary reference ends with the RMW.
        let prev = unsafe { (*this).pending.fetch_sub(1, Ordering::AcqRel) };
        if prev == 1 {
            waiter.unpark();
        }
    }

    fn is_done(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }
}

/// One forked call `job(index)`, living in the forker's frame.
struct StackJob<'a> {
    /// The function to run.
    job: &'a (dyn Fn(usize) + Sync),
    /// Its argument.
    index: usize,
    /// The fork's latch (a raw pointer: see [`ForkLatch::set`]).
    latch: *const ForkLatch,
    /// Ties the job to the forker's frame.
    _frame: std::marker::PhantomData<&'a ForkLatch>,
    /// The panic payload, if the call panicked. Written by the executor
    /// before `latch.set()`, read by the forker after the latch is done.
    panic: UnsafeCell<Option<Box<dyn Any + Send>>>,
}

impl StackJob<'_> {
    fn as_job_ref(&self) -> JobRef {
        JobRef {
            data: (self as *const Self).cast(),
            execute: execute_stack_job,
        }
    }
}

unsafe fn execute_stack_job(data: *const ()) {
    let this = data as *const StackJob<'_>;
    // SAFETY: `data` is a live `StackJob` (JobRef contract): its forker
    // waits for the latch before the frame holding it ends.
    let (job, index, latch) = unsafe { ((*this).job, (*this).index, (*this).latch) };
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| job(index))) {
        // SAFETY: only this executor writes the slot, and the forker reads it
        // only after the latch (release) is done.
        unsafe { (*this).panic.with_mut(|p| *p = Some(payload)) };
    }
    // SAFETY: the latch is alive until this decrement; neither it nor the
    // job is touched afterwards.
    unsafe { ForkLatch::set(latch) };
}

/// Waits for a fork's latch, on every exit path of `fork_join`.
struct JoinGuard<'a> {
    /// The latch to wait for.
    latch: &'a ForkLatch,
}

impl Drop for JoinGuard<'_> {
    fn drop(&mut self) {
        let mut spins = 0;
        while !self.latch.is_done() {
            if spins < FORK_SPIN_LIMIT {
                spins += 1;
                crate::loom::spin_loop();
            } else {
                self.latch.waiter.park();
            }
        }
    }
}

/// Runs `job(i)` for `i in 0..n` with fork/join (see the module docs).
/// Returns `false` without running anything when nobody could help: this
/// thread is neither a worker with its core at hand nor a thread inside a
/// multi-thread runtime's `block_on`, or the runtime has one worker.
pub(crate) fn fork_join(n: usize, job: &(dyn Fn(usize) + Sync)) -> bool {
    if n < 2 {
        return false;
    }
    with_current(|cx| match cx {
        Some(cx) => fork_join_on_worker(cx, n, job),
        None => crate::runtime::context::with_current(|handle| match handle {
            crate::scheduler::Handle::MultiThread(h) => fork_join_remote(h, n, job),
            crate::scheduler::Handle::CurrentThread(_) => false,
        })
        .unwrap_or(false),
    })
}

/// The forked calls `1..n` of one fork, in the forker's frame.
fn stack_jobs<'a>(
    n: usize,
    job: &'a (dyn Fn(usize) + Sync),
    latch: &'a ForkLatch,
) -> Vec<StackJob<'a>> {
    (1..n)
        .map(|index| StackJob {
            job,
            index,
            latch,
            _frame: std::marker::PhantomData,
            panic: UnsafeCell::new(None),
        })
        .collect()
}

/// Runs job 0 and the jobs `next` still finds, joins the rest, then
/// resumes the first panic.
fn run_and_join(
    latch: &ForkLatch,
    jobs: &[StackJob<'_>],
    job: &(dyn Fn(usize) + Sync),
    publish: impl FnOnce(),
    mut next: impl FnMut() -> Option<JobRef>,
) {
    // The guard exists before any job is visible to another thread, so no
    // unwind (from `publish` or later) can leave a published job behind.
    let join = JoinGuard { latch };
    publish();
    let first = panic::catch_unwind(AssertUnwindSafe(|| job(0)));
    // Run whatever nobody stole.
    while !latch.is_done() {
        match next() {
            // SAFETY: popped or stolen exactly once; its forker (us, or
            // another fork that waits for it) is waiting for it.
            Some(job_ref) => unsafe { job_ref.execute() },
            None => break,
        }
    }
    drop(join);

    let mut panic = first.err();
    for stack_job in jobs {
        // SAFETY: the latch is done, so every executor finished writing.
        let p = stack_job.panic.with_mut(|p| unsafe { (*p).take() });
        match (&panic, p) {
            (None, p) => panic = p,
            // Only the first panic is resumed; the others are forgotten, not
            // dropped (a payload's destructor may itself panic).
            (Some(_), Some(other)) => std::mem::forget(other),
            (Some(_), None) => {}
        }
    }
    if let Some(payload) = panic {
        panic::resume_unwind(payload);
    }
}

fn fork_join_on_worker(cx: &Context, n: usize, job: &(dyn Fn(usize) + Sync)) -> bool {
    if cx.handle.num_workers() < 2 {
        return false;
    }
    let latch = ForkLatch {
        pending: AtomicUsize::new(n - 1),
        waiter: Waiter::Worker(&cx.handle.remotes[cx.index].parker),
    };
    let jobs = stack_jobs(n, job, &latch);
    match cx.core.try_borrow() {
        Ok(core) if core.is_some() => {}
        _ => return false,
    }
    let publish = || {
        let mut guard = cx.core.borrow_mut();
        let core = guard.as_mut().expect("worker core checked above");
        // This worker runs nothing but fork jobs until the join returns, so
        // its LIFO task (which no one can steal) moves to the run queue:
        // a stolen job may be waiting for it.
        if let Some(task) = core.lifo_slot.take() {
            core.run_queue.push(task);
        }
        // Pushed last-first, so this worker pops job 1 first and thieves
        // take the far end.
        for stack_job in jobs.iter().rev() {
            core.fork_queue.push(stack_job.as_job_ref());
        }
        drop(guard);
        cx.handle.notify_parked();
    };
    run_and_join(&latch, &jobs, job, publish, || {
        cx.core
            .borrow_mut()
            .as_mut()
            .and_then(|core| core.fork_queue.pop())
    });
    true
}

/// Fork/join from a thread that is not a worker (a scope awaited directly
/// in a multi-thread runtime's `block_on`): the jobs go to the runtime's
/// fork injector, where idle workers steal them.
fn fork_join_remote(handle: &Arc<Handle>, n: usize, job: &(dyn Fn(usize) + Sync)) -> bool {
    if handle.is_shutdown() {
        return false;
    }
    let latch = ForkLatch {
        pending: AtomicUsize::new(n - 1),
        waiter: Waiter::Thread(std::sync::Arc::new(
            crate::scheduler::current_thread::ThreadWake::new(),
        )),
    };
    let jobs = stack_jobs(n, job, &latch);
    let publish = || {
        for stack_job in &jobs {
            handle.fork_inject.push(stack_job.as_job_ref());
        }
        handle.notify_parked();
    };
    run_and_join(&latch, &jobs, job, publish, || {
        loop {
            match handle.fork_inject.steal() {
                Steal::Success(job_ref) => return Some(job_ref),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
    });
    true
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::scheduler::multi_thread::park::SharedDriver;
    use loom::thread;
    use std::sync::Arc;

    /// Moves a raw pointer into a loom thread (the test keeps it alive).
    struct SendPtr<T>(*const T);
    // SAFETY: test-only; the pointee is shared through an Arc that outlives
    // every thread.
    unsafe impl<T> Send for SendPtr<T> {}

    /// Two thieves finish stolen jobs while the forker waits in the join
    /// guard: the forker must wake and see both jobs done.
    #[test]
    fn loom_fork_latch_joins_all_jobs() {
        loom::model(|| {
            let (_, handle) = crate::driver::Driver::new().unwrap();
            let parker = Arc::new(Parker::new(Arc::new(SharedDriver::new(None, handle))));
            let latch = Arc::new(ForkLatch {
                pending: AtomicUsize::new(2),
                waiter: Waiter::Worker(&*parker),
            });
            let done = Arc::new(AtomicUsize::new(0));
            let mut thieves = Vec::new();
            for _ in 0..2 {
                let l = SendPtr(Arc::into_raw(latch.clone()));
                let d = done.clone();
                thieves.push(thread::spawn(move || {
                    let l = l;
                    d.fetch_add(1, Ordering::Relaxed);
                    // SAFETY: the Arc is reconstructed exactly once.
                    let latch = unsafe { Arc::from_raw(l.0) };
                    // SAFETY: the latch is alive (we hold an Arc).
                    unsafe { ForkLatch::set(&*latch) };
                }));
            }
            drop(JoinGuard { latch: &latch });
            assert_eq!(
                done.load(Ordering::Relaxed),
                2,
                "join returned before the jobs finished"
            );
            for t in thieves {
                t.join().unwrap();
            }
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    struct SendPtr(*const ForkLatch);
    // SAFETY: test-only, stands for a JobRef crossing to a thief.
    unsafe impl Send for SendPtr {}

    /// Mirrors `fork_join_remote`: the forker's frame (holding the latch)
    /// ends as soon as `pending` reaches zero, while the executor may still
    /// be inside `ForkLatch::set`. Under Miri (several seeds) this checks
    /// that `set` holds no reference to the latch across the decrement.
    fn one_fork() -> std::thread::JoinHandle<()> {
        let latch = ForkLatch {
            pending: AtomicUsize::new(1),
            waiter: Waiter::Thread(std::sync::Arc::new(
                crate::scheduler::current_thread::ThreadWake::new(),
            )),
        };
        let p = SendPtr(&latch);
        let t = std::thread::spawn(move || {
            let p = p;
            // SAFETY: as a stolen StackJob: the forker waits for the latch.
            unsafe { ForkLatch::set(p.0) }
        });
        drop(JoinGuard { latch: &latch });
        t
    }

    #[test]
    fn fork_latch_may_be_freed_right_after_the_last_set() {
        for _ in 0..if cfg!(miri) { 8 } else { 1000 } {
            one_fork().join().unwrap();
        }
    }
}
