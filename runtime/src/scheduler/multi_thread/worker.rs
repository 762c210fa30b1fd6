//! The worker loop: run local work, steal, park; and the worker side of
//! fork/join.
//!
//! # Where work comes from, in order
//!
//! 1. Every `global_queue_interval` ticks a batch from the injector
//!    first, and after a task yielded one task from it (unless that task
//!    itself came from such a look), so tasks submitted from outside are
//!    not starved by a busy local queue. The interval adapts to how long
//!    polls take (see [`TARGET_GLOBAL_QUEUE_LATENCY`]): with long polls the
//!    injector is looked at more often.
//! 2. The worker's own fork jobs (scoped-child polls forked by a scope
//!    running here and not yet taken).
//! 3. The LIFO slot: the task most recently woken by this worker, polled
//!    next for cache locality (at most [`MAX_LIFO_POLLS_PER_TICK`] in a row).
//! 4. The local FIFO run queue, then a batch from the injector.
//! 5. Stealing (if fewer than half the workers already search): fork jobs
//!    first, since a forking worker is waiting on them, then half of a
//!    random victim's run queue, then the injector.
//! 6. Parking (see `park.rs` and `idle.rs`). A worker that ran fork work
//!    since it last went idle first repeats 1–5 for up to
//!    [`FORK_IDLE_SPIN`], yielding its CPU between rounds: fork/join work
//!    comes in bursts closer together than a parked thread takes to wake.
//!
//! # The core and re-entrancy
//!
//! The worker's [`Core`] (queues, LIFO slot) lives in the thread's
//! [`Context`] while a task is polled, so that wakes and spawns from inside
//! the poll can push to it; the loop takes it back afterwards. A blocking
//! wait inside a poll (the blocking scope) hands the core to a new worker
//! thread ([`block_on_nested`], tokio's `block_in_place`): the waiting
//! thread runs nothing else, and when the poll it is in returns without a
//! core, the thread exits.
//!
//! # Fork/join
//!
//! The fork/join protocol lives in `scheduler::fork`; this module gives it a
//! [`Forker`]: the worker's fork deque to publish jobs on and pop them back
//! from, and the help-while-waiting loop (own jobs, stolen jobs, I/O and
//! timers, never whole tasks). While a fork waits, the LIFO slot is off, so
//! every task woken on this thread stays stealable.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use crossbeam_deque::{Steal, Stealer, Worker};

use super::Handle;
use crate::scheduler::fork::{ForkLatch, JobRef, Serve, Unparker};
use crate::scheduler::rand::FastRand;
use crate::task::Notified;
use std::sync::Arc;

/// Ticks between forced checks of the injector before any poll time was
/// measured. A prime, so the check does not fall into lockstep with
/// periodic task patterns.
const DEFAULT_GLOBAL_QUEUE_INTERVAL: u32 = 61;

/// How long a task waiting in the injector should wait for a busy worker
/// at most, roughly: the forced-check interval is this divided by the
/// measured mean tick time, so 100 µs polls get a check every 2 ticks and
/// 1 µs polls every 127.
const TARGET_GLOBAL_QUEUE_LATENCY: std::time::Duration = std::time::Duration::from_micros(200);

/// Bounds of the adaptive forced-check interval: at least every other tick
/// leaves room for local work; at most 127 keeps the injector's latency
/// bounded when polls are tiny.
const GLOBAL_QUEUE_INTERVAL_RANGE: (u32, u32) = (2, 127);

/// Weight of the newest sample in the moving average of tick time.
const TICK_TIME_EWMA_WEIGHT: f64 = 0.1;

/// Ticks between non-blocking polls of the I/O driver and timers by a busy
/// worker, so readiness is never starved while every worker is busy.
pub(super) const EVENT_INTERVAL: u32 = 61;

/// Local tasks at which a yield no longer gives the injector a turn (see
/// `Core::yielded`): a worker that has this many tasks queued is
/// overloaded, and a look after every yield would start a new remote task
/// ahead of all of them (measured under a flood of remote tasks that
/// yield: the local queue grew on every look, and a local task yielding in
/// a loop waited 300 ms between polls). From here on the remote tasks wait
/// for the forced checks, as they did before the yield rule.
const YIELD_LOOK_MAX_QUEUED: usize = 16;

/// Consecutive LIFO-slot polls before the slot's task goes to the back of
/// the run queue. Two tasks waking each other forever would otherwise
/// monopolise the worker.
const MAX_LIFO_POLLS_PER_TICK: usize = 3;

/// How long a forker sleeps on its latch before, if tasks wait in its
/// queues, it hands its core to a new thread (a stolen job that takes this
/// long is a long child poll: the queued tasks should not wait for it).
const FORK_WAIT_BEFORE_HAND_OFF: std::time::Duration = std::time::Duration::from_millis(1);

/// Forks in a row that publish without waking a parked worker after a wake
/// that bought nothing (every job came back unstolen), at most. Waking a
/// worker costs a syscall on both sides, more than a small job; while the
/// backoff lasts, only workers that are already searching pick up jobs.
const MAX_FORK_WAKE_BACKOFF: u32 = 64;

/// A worker's exclusive state.
pub(crate) struct Core {
    /// This worker's index in `Handle::remotes`.
    index: usize,
    /// Incremented every loop iteration.
    tick: u32,
    /// Ticks between forced checks of the injector (adaptive).
    global_queue_interval: u32,
    /// When the current measuring window of tick time started.
    window_start: std::time::Instant,
    /// Ticks in the current window.
    window_ticks: u32,
    /// Moving average of the time one busy tick takes, in nanoseconds.
    mean_tick_nanos: f64,
    /// The worker parked during the current window: its time is not tick
    /// time, so the window gives no sample.
    parked_in_window: bool,
    /// The most recently woken task.
    lifo_slot: Option<Notified>,
    /// Local tasks; stolen through `Remote::steal`.
    run_queue: Worker<Notified>,
    /// Fork jobs; stolen through `Remote::fork_steal`.
    fork_queue: Worker<JobRef>,
    /// Length `fork_queue` would have if nobody stole from it since the
    /// last nested-join check: the length that check saw, plus this
    /// worker's pushes, less its own pops (see
    /// [`enough_fork_jobs_published`]).
    fork_queue_own: usize,
    /// Nested-join checks since a steal from `fork_queue` was last seen
    /// (see [`enough_fork_jobs_published`]).
    forks_unstolen_checks: u32,
    /// A task polled here re-queued itself during its poll since the loop
    /// last took work (`yield_now`, a budget-forced yield, any wake of a
    /// task while it runs): the next look takes one task from the injector
    /// first (within the limits of `took_after_yield` and
    /// [`YIELD_LOOK_MAX_QUEUED`]). A yield gives every runnable task a turn, and a task woken
    /// or spawned from outside is runnable too: without this, a remote
    /// wake behind a yield loop waited for the next forced check (twice as
    /// long as tokio, whose yields wait until the worker has looked at
    /// its injection queue).
    yielded: bool,
    /// The task being run came from a look at the injector after a yield.
    /// The next yield then does not look again: under a flood of remote
    /// tasks that yield, looks after yields would otherwise take a new
    /// remote task on every tick and never resume a yielded one (measured:
    /// a local task yielding in a loop got 2 polls in 500 ms, and 31 of
    /// 61 000 started remote tasks finished). With this rule the local
    /// queue and the injector alternate at worst.
    took_after_yield: bool,
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
    /// Forks of this thread that are waiting for their jobs. While it is
    /// not zero the LIFO slot is off: a task woken here goes to the run
    /// queue, where other workers can steal it (a stolen job may wait for
    /// it).
    forking: Cell<usize>,
    /// Unstolen jobs in this worker's fork deque at which a nested `join!`
    /// runs inline (see `enough_fork_jobs_published`): one per other worker,
    /// as each thief takes one job at a time. Zero with a single worker,
    /// which never forks.
    fork_jobs_enough: usize,
    /// Forks left that publish without waking a parked worker.
    fork_wake_skip: Cell<u32>,
    /// The next value of `fork_wake_skip` after a wake that bought nothing.
    fork_wake_backoff: Cell<u32>,
    /// Fork work (a fork job, or a fork of this thread) ran since the
    /// worker loop last found no work: the next time it finds none, it
    /// looks again for a while before it parks (see [`spin_for_work`]).
    fork_spin: Cell<bool>,
    /// Free task cells kept for this thread's next spawns
    /// (`task::pool`). Boxed: half a kilobyte, which would make every
    /// scheduler context that large.
    task_pool: Box<crate::task::pool::Local>,
}

/// Runs `f` with the worker context of this thread, if it is a worker (the
/// innermost scheduler loop of the thread's runtime context).
#[inline]
fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    crate::runtime::context::with_scheduler(|cx| {
        f(match cx {
            Some(crate::scheduler::Context::MultiThread(cx)) => Some(cx),
            _ => None,
        })
    })
}

/// Runs `f` with this worker's task-cell cache and its runtime's pool, or
/// with `None` on a thread that is not a worker (`task::pool`).
#[inline]
pub(crate) fn with_task_pool<R>(
    f: impl FnOnce(Option<(&crate::task::pool::Local, &crate::task::pool::Shared)>) -> R,
) -> R {
    with_current(|cx| f(cx.map(|cx| (&*cx.task_pool, &cx.handle.task_pool))))
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
            global_queue_interval: DEFAULT_GLOBAL_QUEUE_INTERVAL,
            window_start: std::time::Instant::now(),
            window_ticks: 0,
            mean_tick_nanos: 0.0,
            parked_in_window: false,
            lifo_slot: None,
            run_queue,
            fork_queue,
            fork_queue_own: 0,
            forks_unstolen_checks: 0,
            yielded: false,
            took_after_yield: false,
            is_searching: false,
            rand: FastRand::new(index as u64 + 1),
        });
        (core, steal, fork_steal)
    }

    /// Tasks and fork jobs in this core's queues (the LIFO slot included).
    fn queued_tasks(&self) -> usize {
        usize::from(self.lifo_slot.is_some()) + self.run_queue.len() + self.fork_queue.len()
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

    /// Publishes a fork job, counting it in `fork_queue_own`.
    fn push_fork_job(&mut self, job: JobRef) {
        self.fork_queue.push(job);
        self.fork_queue_own += 1;
    }

    /// Takes back this worker's newest fork job, if nobody stole it,
    /// counting it out of `fork_queue_own`. The deque now holds one job
    /// fewer than the last check of [`enough_fork_jobs_published`] saw, so
    /// its credit of inline joins is void.
    fn pop_fork_job(&mut self) -> Option<JobRef> {
        let job = self.fork_queue.pop()?;
        self.fork_queue_own = self.fork_queue_own.saturating_sub(1);
        crate::runtime::context::clear_inline_joins();
        Some(job)
    }

    fn next_local_work(&mut self, handle: &Handle) -> Option<Work> {
        let forced_check = self.tick % self.global_queue_interval == 0;
        let after_yield = std::mem::take(&mut self.yielded) && !self.took_after_yield;
        self.took_after_yield = false;
        if after_yield
            && !forced_check
            && self.run_queue.len() < YIELD_LOOK_MAX_QUEUED
            && let Some(task) = steal_retrying(|| handle.inject.steal())
        {
            // One task, not a batch: a yield is a turn for the next task,
            // and a batch would grow the local queue on every yield of a
            // flood.
            self.took_after_yield = true;
            return Some(Work::Task(task));
        }
        if forced_check
            && !handle.inject.is_empty()
            && let Some(task) =
                steal_retrying(|| handle.inject.steal_batch_and_pop(&self.run_queue))
        {
            // A batch, not one task: a burst of remote spawns drains in
            // a few checks even while the local queue never runs dry.
            return Some(Work::Task(task));
        }
        if let Some(job) = self.pop_fork_job() {
            return Some(Work::Job(job));
        }
        if let Some(task) = self.lifo_slot.take().or_else(|| self.run_queue.pop()) {
            return Some(Work::Task(task));
        }
        steal_retrying(|| handle.inject.steal_batch_and_pop(&self.run_queue)).map(Work::Task)
    }

    /// Local work first, then stealing (steps 1–5 of the module docs).
    fn find_work(&mut self, handle: &Handle) -> Option<Work> {
        self.next_local_work(handle)
            .or_else(|| self.steal_work(handle))
    }

    fn steal_work(&mut self, handle: &Handle) -> Option<Work> {
        if !self.is_searching {
            if !handle.idle.transition_worker_to_searching() {
                return None;
            }
            self.is_searching = true;
        }
        let start = self.rand.next_below(handle.remotes.len());
        if let Some(job) = steal_fork_job(handle, self.index, start) {
            return Some(Work::Job(job));
        }
        let others = other_workers(handle, self.index, start);
        steal_retrying(|| {
            others
                .clone()
                .map(|r| r.steal.steal_batch_and_pop(&self.run_queue))
                .chain(std::iter::once_with(|| {
                    handle.inject.steal_batch_and_pop(&self.run_queue)
                }))
                .collect()
        })
        .map(Work::Task)
    }

    /// Updates the mean tick time and the forced-check interval from the
    /// window that just ended (called every event interval of busy ticks;
    /// [`EVENT_INTERVAL`] unless set on the builder). A global queue
    /// interval set on the builder is used as is.
    fn tune_global_queue_interval(&mut self, handle: &Handle) {
        if let Some(fixed) = handle.global_queue_interval {
            // Set on the builder: no adaptation.
            self.global_queue_interval = fixed;
            self.window_ticks = 0;
            return;
        }
        let now = std::time::Instant::now();
        if !std::mem::take(&mut self.parked_in_window) {
            let elapsed = now.duration_since(self.window_start).as_nanos() as f64;
            let sample = elapsed / f64::from(self.window_ticks.max(1));
            self.mean_tick_nanos = if self.mean_tick_nanos == 0.0 {
                sample
            } else {
                TICK_TIME_EWMA_WEIGHT * sample
                    + (1.0 - TICK_TIME_EWMA_WEIGHT) * self.mean_tick_nanos
            };
            let target = TARGET_GLOBAL_QUEUE_LATENCY.as_nanos() as f64;
            let (min, max) = GLOBAL_QUEUE_INTERVAL_RANGE;
            let interval = (target / self.mean_tick_nanos.max(1.0)) as u32;
            self.global_queue_interval = interval.clamp(min, max);
        }
        self.window_start = now;
        self.window_ticks = 0;
    }

    /// Registers as parked unless there is local work. Returns true if the
    /// worker should sleep.
    fn transition_to_parked(&mut self, handle: &Handle) -> bool {
        if self.has_local_work() {
            return false;
        }
        let nobody_searches = handle
            .idle
            .transition_worker_to_parked(self.index, self.is_searching);
        self.is_searching = false;
        if nobody_searches {
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

/// Repeats `attempt` while it reports [`Steal::Retry`] (a race with another
/// thief or the owner; crossbeam-deque's retry idiom). `attempt` may try
/// several sources, combined with `collect::<Steal<_>>()`, which stops at
/// the first success and reports a retry if any source asked for one.
pub(super) fn steal_retrying<T>(mut attempt: impl FnMut() -> Steal<T>) -> Option<T> {
    loop {
        match attempt() {
            Steal::Success(t) => return Some(t),
            Steal::Empty => return None,
            Steal::Retry => crate::loom::spin_loop(),
        }
    }
}

/// The other workers' remotes, starting at `start` (rotated, so thieves
/// spread over victims).
fn other_workers(
    handle: &Handle,
    me: usize,
    start: usize,
) -> impl Iterator<Item = &super::handle::Remote> + Clone {
    let n = handle.remotes.len();
    (0..n)
        .map(move |i| (start + i) % n)
        .filter(move |&victim| victim != me)
        .map(move |victim| &handle.remotes[victim])
}

/// Steals a fork job: from the fork injector (jobs of `block_on` threads),
/// then from the other workers' fork deques.
fn steal_fork_job(handle: &Handle, me: usize, start: usize) -> Option<JobRef> {
    let others = other_workers(handle, me, start);
    steal_retrying(|| {
        std::iter::once_with(|| handle.fork_inject.steal())
            .chain(others.clone().map(|r| r.fork_steal.steal()))
            .collect()
    })
}

/// Runs a worker thread until the runtime shuts down, or until the thread
/// hands its core to another thread (see [`block_on_nested`]).
pub(crate) fn run(handle: Arc<Handle>, core: Box<Core>) {
    let scheduler = crate::scheduler::Context::MultiThread(Context {
        index: core.index,
        handle: handle.clone(),
        core: RefCell::new(None),
        forking: Cell::new(0),
        fork_jobs_enough: handle.num_workers() - 1,
        fork_wake_skip: Cell::new(0),
        fork_wake_backoff: Cell::new(1),
        fork_spin: Cell::new(false),
        task_pool: Box::new(crate::task::pool::Local::new()),
    });
    let crate::scheduler::Context::MultiThread(cx) = &scheduler else {
        unreachable!("built as a worker context just above")
    };
    let _enter = crate::runtime::context::enter_runtime(&crate::scheduler::Handle::MultiThread(
        handle.clone(),
    ));
    let core = crate::runtime::context::set_scheduler(&scheduler, || run_until_shutdown(cx, core));
    if let Some(core) = core {
        crate::loom::lock(&handle.cores).push(core);
    }
}

/// The worker loop. Returns the core when the runtime shuts down, or
/// `None` once a poll handed the core to another thread.
fn run_until_shutdown(cx: &Context, mut core: Box<Core>) -> Option<Box<Core>> {
    if let Some(fixed) = cx.handle.global_queue_interval {
        core.global_queue_interval = fixed;
    }
    loop {
        if cx.handle.is_shutdown() {
            return Some(core);
        }
        core.tick = core.tick.wrapping_add(1);
        core.window_ticks += 1;
        if core.tick % cx.handle.event_interval == 0 {
            core.tune_global_queue_interval(&cx.handle);
            core = with_core_in_context(cx, core, || cx.handle.poll_driver_nonblocking())?;
        }
        let (looked, work) = match core.find_work(&cx.handle) {
            None if cx.fork_spin.replace(false) => spin_for_work(cx, core)?,
            work => (core, work),
        };
        core = match work {
            Some(work) => run_work(cx, looked, work)?,
            None => park(cx, looked),
        };
    }
}

/// Looks for work for up to [`FORK_IDLE_SPIN`] before the worker parks,
/// yielding the CPU between looks; called by a worker that ran fork work
/// since it last went idle. Returns the core with the work found, or with
/// `None` (then park); `None` instead if a driver poll handed the core on.
///
/// Every look starts with a non-blocking poll of the I/O driver and timers
/// (a no-op if another thread is in the driver): a worker that looks is not
/// parked in the driver, and while fork bursts keep the workers looking
/// they never park, so without it I/O and timers would be served only by
/// the busy loop's poll every `event_interval` ticks, each tick now
/// including a look (measured: a UDP round trip through a task beside
/// fork bursts 40 µs apart went from 30–70 µs to 2.3–4.1 ms).
///
/// The worker stays counted as searching if it was (a producer then leaves
/// the wake to it, as to any searcher, and the usual hand-over applies
/// when it finds work or parks); if another worker holds the searching
/// slot, it still takes new tasks from its own queues and the injector,
/// and fork jobs from anywhere.
fn spin_for_work(cx: &Context, mut core: Box<Core>) -> Option<(Box<Core>, Option<Work>)> {
    let start = std::time::Instant::now();
    // Spun time is not tick time (see `tune_global_queue_interval`).
    core.parked_in_window = true;
    loop {
        crate::loom::yield_now();
        if cx.handle.is_shutdown() {
            return Some((core, None));
        }
        core = with_core_in_context(cx, core, || cx.handle.poll_driver_nonblocking())?;
        if let Some(work) = core.find_work(&cx.handle) {
            return Some((core, Some(work)));
        }
        if !core.is_searching {
            let from = core.rand.next_below(cx.handle.remotes.len());
            if let Some(job) = steal_fork_job(&cx.handle, cx.index, from) {
                return Some((core, Some(Work::Job(job))));
            }
        }
        if start.elapsed() >= FORK_IDLE_SPIN {
            return Some((core, None));
        }
    }
}

/// Puts the core where schedule calls can reach it while `f` runs. Returns
/// it afterwards, or `None` if `f` handed it to another thread.
fn with_core_in_context(cx: &Context, core: Box<Core>, f: impl FnOnce()) -> Option<Box<Core>> {
    *cx.core.borrow_mut() = Some(core);
    f();
    cx.core.borrow_mut().take()
}

fn run_work(cx: &Context, mut core: Box<Core>, work: Work) -> Option<Box<Core>> {
    if core.is_searching {
        core.is_searching = false;
        if cx.handle.idle.transition_worker_from_searching() {
            // We were the last searcher: a producer that saw us searching
            // woke nobody, so if work is left in a queue, or nobody is in
            // the I/O driver (we may have left it for this work), wake
            // another worker. Not for the work we took: on a fork of one
            // job, or a wake of one task, an unconditional wake here only
            // makes a second worker search, find nothing and park again
            // (two futex calls per hand-off, measured on the echo soak).
            cx.handle.notify_if_work_or_driver_pending();
        }
    }
    with_core_in_context(cx, core, || {
        crate::coop::budget(|| match work {
            Work::Task(task) => {
                task.run();
                run_lifo_tasks(cx);
            }
            Work::Job(job) => {
                cx.fork_spin.set(true);
                // SAFETY: each JobRef is popped or stolen exactly once
                // from a deque, and its forker waits for it
                // (`scheduler::fork`).
                unsafe { job.execute() }
            }
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

fn park(cx: &Context, mut core: Box<Core>) -> Box<Core> {
    if !core.transition_to_parked(&cx.handle) {
        return core;
    }
    let parker = &cx.handle.remotes[cx.index].parker;
    loop {
        // Only wakers run while parked: they never take the core.
        core = with_core_in_context(cx, core, || parker.park())
            .expect("the worker core is not handed off while parked");
        if !cx.handle.idle.is_parked(cx.index) {
            // Woken by `notify_parked`, which counted us as searching.
            core.is_searching = true;
            break;
        }
        // A wake from the driver (I/O, timers) may have made a standby fork
        // job worth taking: the children it woke are polled by whoever runs
        // their scope's helper (`fork::join_standby`).
        if cx.handle.is_shutdown() || core.has_local_work() || cx.handle.has_fork_jobs() {
            if !cx.handle.idle.unpark_worker_by_id(cx.index) {
                // A notify raced with us and already counted us searching.
                core.is_searching = true;
            }
            break;
        }
    }
    if core.has_local_work() {
        // This thread leaves the driver for tasks its turn woke. It runs
        // the first itself; another worker is woken for the rest, and for
        // the driver unless a watch sleeps (see `park`, "The watch of a
        // busy runtime").
        let watched = cx.handle.driver.leave_with_work();
        if !watched || core.queued_tasks() > 1 {
            cx.handle.notify_parked();
        }
    }
    // Parked time is not tick time; no clock read here (parks are hot).
    core.parked_in_window = true;
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
        core.yielded |= is_yield;
        // While this thread forks, nothing may sit in the unstealable slot.
        let notify = core.schedule_local(task, is_yield || cx.forking.get() > 0);
        drop(guard);
        if notify {
            handle.notify_parked();
        }
        Ok(())
    })
}

/// True if the calling thread is (or was, before it handed its core on) a
/// worker thread of `handle`'s runtime.
pub(crate) fn is_worker_of(handle: &Arc<Handle>) -> bool {
    with_current(|cx| cx.is_some_and(|cx| Arc::ptr_eq(&cx.handle, handle)))
}

/// If this thread is a worker thread (of any multi-thread runtime), blocks
/// until `fut` completes; returns the future back otherwise.
///
/// A worker holding its core first hands the core to a new worker thread
/// (as tokio's `block_in_place`), so its queued tasks, its fork jobs and its
/// share of the pool keep running while this thread sleeps; nothing
/// unrelated runs on top of the waiting stack. After the wait this thread
/// finishes the poll it is in without a core and then exits. If the runtime
/// shuts down meanwhile, the wait cancels the runtime's tasks itself (the
/// future may be waiting for them) and keeps waiting.
pub(crate) fn block_on_nested<F: Future>(fut: F) -> Result<F::Output, F> {
    with_current(|cx| {
        let Some(cx) = cx else { return Err(fut) };
        hand_off_core(cx);
        Ok(wait_blocked(&cx.handle, fut))
    })
}

/// Gives this worker's core (if it holds it) to a new worker thread.
fn hand_off_core(cx: &Context) {
    let Some(core) = cx.core.try_borrow_mut().ok().and_then(|mut c| c.take()) else {
        return;
    };
    if cx.handle.is_shutdown() {
        // Shutdown drains the cores that were given back.
        crate::loom::lock(&cx.handle.cores).push(core);
        return;
    }
    if let Err(e) = cx.handle.spawn_worker(core) {
        // The core went back to `cores`; the runtime runs one worker short.
        eprintln!("tether: could not start a worker thread to stand in for a blocked one: {e}");
        if let Some(core) = cx.handle.take_cores().pop() {
            *cx.core.borrow_mut() = Some(core);
        }
    }
}

/// Parks this thread until `fut` completes (see [`block_on_nested`]).
fn wait_blocked<F: Future>(handle: &Arc<Handle>, fut: F) -> F::Output {
    let thread = std::sync::Arc::new(crate::scheduler::current_thread::ThreadWake::new());
    let waker = Waker::from(thread.clone());
    handle.register_blocked(&thread);
    struct Unregister<'a>(
        &'a Handle,
        &'a std::sync::Arc<crate::scheduler::current_thread::ThreadWake>,
    );
    impl Drop for Unregister<'_> {
        fn drop(&mut self) {
            self.0.unregister_blocked(self.1);
        }
    }
    let _unregister = Unregister(handle, &thread);
    let mut fut = pin!(fut);
    let mut cancelled = false;
    loop {
        let polled =
            crate::coop::budget(|| fut.as_mut().poll(&mut TaskContext::from_waker(&waker)));
        if let Poll::Ready(v) = polled {
            return v;
        }
        if !cancelled && handle.is_shutdown() {
            // Nobody else may run the tasks we wait for: cancel them here
            // (as shutdown would) so the future can finish.
            cancelled = true;
            handle.owned.close_and_shutdown();
            continue;
        }
        thread.park();
    }
}

/// What a fork (`scheduler::fork`) needs from the thread it runs on: where
/// to publish jobs, where to pop them back, how to help while waiting.
#[derive(Debug)]
pub(crate) enum Forker<'a> {
    /// A worker holding its core: jobs go to its fork deque.
    Worker(&'a Context),
    /// A thread inside a multi-thread runtime's `block_on`: jobs go to the
    /// runtime's fork injector.
    Remote(&'a Arc<Handle>),
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("index", &self.index)
            .field("forking", &self.forking.get())
            .finish_non_exhaustive()
    }
}

/// Runs `f` with the current thread's [`Forker`], or `None` when nobody
/// could help: not a worker holding its core (nor, with `allow_remote`, a
/// thread in a multi-thread runtime's `block_on`), or a single worker.
pub(crate) fn with_forker<R>(allow_remote: bool, f: impl FnOnce(Option<Forker<'_>>) -> R) -> R {
    // `Err`: a task-local value is in place on this thread, and what is
    // polled inside its scope must stay here (see `runtime::context`,
    // `task_locals`). One thread-local access for both (a fine-grained
    // `join!` pays it on every fork).
    crate::runtime::context::with_scheduler_unless_task_locals(|cx| match cx {
        Ok(Some(crate::scheduler::Context::MultiThread(cx))) => {
            let has_core = matches!(cx.core.try_borrow(), Ok(core) if core.is_some());
            if has_core && cx.fork_jobs_enough > 0 {
                f(Some(Forker::Worker(cx)))
            } else {
                f(None)
            }
        }
        Ok(_) if allow_remote => {
            let handle = crate::runtime::context::with_current(|h| match h {
                crate::scheduler::Handle::MultiThread(h) if !h.is_shutdown() => Some(h.clone()),
                _ => None,
            })
            .flatten();
            match handle {
                Some(h) => f(Some(Forker::Remote(&h))),
                None => f(None),
            }
        }
        _ => f(None),
    })
}

/// How long a worker that ran fork work keeps looking for work, yielding
/// its CPU between looks, before it parks. Fork/join work comes in bursts
/// close together: back-to-back fan-outs of a caller, the levels of a
/// recursive `join!`, the sessions of a busy scope. Waking a parked thread
/// costs more than a burst's pieces (10–50 µs from the wake to the thread
/// running on the 2-vCPU VM the benches run on, more under load), and a
/// fan-out of a hundred small children paid two such wakes when every
/// worker had parked in between. Measured on `scope_fanout` at N = 100
/// (the blocking `Runtime::scope` around a scope in a task), ratio to moro
/// in the same run: 0.79–0.99 with no look, 0.57–1.46 with a 50 µs look
/// (a caller whose own wake-up took longer found the workers parked),
/// 0.61–0.87 with 200 µs (0.61–0.72 without other load). The yields give
/// the CPU to any other runnable thread, so the look costs CPU only when
/// nothing else wants it. A worker that ran no fork work parks at once:
/// plain task workloads, such as remote spawns from a busy outside thread,
/// never look.
const FORK_IDLE_SPIN: std::time::Duration = std::time::Duration::from_micros(200);

/// Nested-join checks in a row that must see no steal from this worker's
/// fork deque before a nested join may run inline (see
/// [`enough_fork_jobs_published`]). Joins nested a few deep right after a
/// publish (`join!(join!(long, long), short)`, where a thief woken for
/// `short` has not taken it yet) still fork; a fine-grained recursion
/// makes this many checks within a microsecond. Measured on `join_fib`:
/// 8 and 32 keep the coarse grain at rayon's time; 8 saves more of the
/// fine grain's forks.
const UNSTOLEN_CHECKS_BEFORE_INLINE: u32 = 8;

/// Nested joins that run inline without a check after a check said they
/// may (see [`enough_fork_jobs_published`]). The check follows five
/// dependent loads (the context, the core, the deque and its two ends) and
/// was a third of a fine-grained join node's own time (`join_fib/fine`).
/// A worker going idle voids the credit at once (the idle epoch); a steal
/// by a busy worker is seen at the next check, and sixteen joins of the
/// fine grain take about a microsecond. Measured in one process against
/// `rayon::join`, `fib(32)` below 6, median ratio: 2.8–3.2 with a check on
/// every join, 2.5–2.7 with 16 (64 did no better than 16); the coarse
/// grain (below 20) stayed at 1.0.
const INLINE_JOINS_PER_CHECK: u32 = 16;

/// True on a worker that can fork, whose fork deque holds as many unstolen
/// jobs as there are other workers to steal them, while every worker is
/// busy (none parked or searching) and nobody stole from this deque during
/// the last [`UNSTOLEN_CHECKS_BEFORE_INLINE`] checks: one more job would
/// only wait behind the others (see `fork::nested_join_inline`). The same
/// checks as [`with_forker`] plus these, in one pass: fine-grained `join!`
/// asks on every join.
///
/// A check that says yes lets the next [`INLINE_JOINS_PER_CHECK`] joins of
/// the same task on this thread, nested at or below the asking join's
/// frame, run inline without one while no worker goes idle (a credit in
/// the thread's context, cleared when the task id changes). The frame rule
/// keeps a credit earned deep in one recursion from deciding a later,
/// shallower join, such as a task's own `join!(long, long)` after the
/// recursion returned; the idle epoch ([`super::idle::idle_epoch`], one
/// relaxed load of a process-wide counter) voids the credit as soon as a
/// worker starts to search or parks, which is when the full check would
/// fork: a sibling join after the other worker ran out of work asks again.
///
/// The last two conditions are for a join that comes right after this
/// thread published (`join!(join!(long, long), short)`): a worker woken for
/// `short` has not taken it yet, and a join that ran inline meanwhile would
/// leave it nothing to take once it took `short`. The idle state shows a
/// worker counted as searching; the run of checks without a steal covers a
/// worker that is awake but not yet counted, and a deque whose jobs are
/// being taken.
#[inline]
pub(crate) fn enough_fork_jobs_published() -> bool {
    // The asking join's depth on this stack: the address of a local of
    // this function, which is inlined into the join's poll or called from
    // it. Either way, joins nested in that poll ask from deeper frames, at
    // lower addresses (the stack grows down on every target we build
    // for; where it did not, a credit would never be spent, which is only
    // slower).
    let here = 0u8;
    let frame = std::ptr::addr_of!(here) as usize;
    let epoch = super::idle::idle_epoch();
    if crate::runtime::context::take_inline_join(frame, epoch) {
        return true;
    }
    let inline = crate::runtime::context::with_scheduler_unless_task_locals(|cx| match cx {
        Ok(Some(crate::scheduler::Context::MultiThread(cx))) if cx.fork_jobs_enough > 0 => {
            let Ok(mut core) = cx.core.try_borrow_mut() else {
                return false;
            };
            let Some(core) = core.as_mut() else {
                return false;
            };
            let len = core.fork_queue.len();
            if len < core.fork_queue_own {
                core.forks_unstolen_checks = 0;
            } else {
                core.forks_unstolen_checks = core.forks_unstolen_checks.saturating_add(1);
            }
            core.fork_queue_own = len;
            len >= cx.fork_jobs_enough
                && core.forks_unstolen_checks > UNSTOLEN_CHECKS_BEFORE_INLINE
                && cx.handle.idle.all_busy()
        }
        _ => false,
    });
    if inline {
        crate::runtime::context::grant_inline_joins(INLINE_JOINS_PER_CHECK, frame, epoch);
    }
    inline
}

/// Polls the I/O driver and timers without blocking, if this thread runs
/// inside a multi-thread runtime (a worker, or a thread in its `block_on`)
/// and nobody else is in the driver. A scope's session is one poll of its
/// owner, however many child polls it runs; without this, a session kept
/// busy by always-ready children (up to its whole re-poll budget) would
/// leave I/O and timers unwatched while every worker is inside it, and a
/// sibling waiting for a timer would wait for the end of the session. A
/// pull loop calls this between child polls, about as often as the worker
/// loop looks between tasks (see `scope::engine`'s `DRIVER_LOOK_EVERY`).
///
/// On a worker, the look runs as a fork does (see [`Forker::enter`]): the
/// tasks it wakes go to the run queue, where other workers steal them, not
/// to the LIFO slot, where they would wait for the end of this session.
///
/// Every thread of the runtime looks, also where no fork is possible (a
/// one-worker runtime, a task-local scope): there the session may be the
/// only thing any worker runs.
///
/// Returns true if the runtime is shutting down: the session should stop
/// (its workers are waited for by the runtime's drop).
pub(crate) fn poll_driver_from_session() -> bool {
    let handle = crate::runtime::context::with_current(|h| match h {
        crate::scheduler::Handle::MultiThread(h) => Some(h.clone()),
        _ => None,
    })
    .flatten();
    let Some(handle) = handle else { return false };
    if handle.is_shutdown() {
        return true;
    }
    with_current(|cx| match cx {
        Some(cx) if Arc::ptr_eq(&cx.handle, &handle) => {
            let forker = Forker::Worker(cx);
            let _stealable = forker.enter();
            handle.poll_driver_nonblocking();
        }
        _ => handle.poll_driver_nonblocking(),
    });
    false
}

/// True on a worker thread that holds its core.
pub(crate) fn on_worker() -> bool {
    with_forker(false, |f| matches!(f, Some(Forker::Worker(_))))
}

/// A fork in progress on this thread; see [`Forker::enter`].
#[derive(Debug)]
pub(crate) struct ForkScope<'a> {
    /// The worker, if the fork runs on one.
    cx: Option<&'a Context>,
}

impl ForkScope<'_> {
    /// Records how the fork went, for the wake policy: `woke` says whether
    /// publishing woke a parked worker, `taken` whether another thread took
    /// any of the jobs.
    pub(crate) fn finish(&self, woke: bool, taken: bool) {
        let Some(cx) = self.cx else { return };
        if taken {
            cx.fork_wake_backoff.set(1);
        } else if woke {
            // The wake bought nothing: skip the next few, longer each time.
            let backoff = cx.fork_wake_backoff.get();
            cx.fork_wake_skip.set(backoff);
            cx.fork_wake_backoff
                .set((backoff * 2).min(MAX_FORK_WAKE_BACKOFF));
        }
    }
}

impl Drop for ForkScope<'_> {
    fn drop(&mut self) {
        if let Some(cx) = self.cx {
            cx.forking.set(cx.forking.get() - 1);
        }
    }
}

impl Forker<'_> {
    /// Starts a fork: until the returned scope drops, tasks woken on this
    /// thread stay stealable (the LIFO slot is off, and its task moves to
    /// the run queue).
    pub(crate) fn enter(&self) -> ForkScope<'_> {
        let Forker::Worker(cx) = self else {
            return ForkScope { cx: None };
        };
        let depth = cx.forking.get();
        cx.forking.set(depth + 1);
        cx.fork_spin.set(true);
        if depth == 0 {
            let moved = cx.core.borrow_mut().as_mut().is_some_and(|core| {
                core.lifo_slot
                    .take()
                    .map(|task| core.run_queue.push(task))
                    .is_some()
            });
            if moved {
                cx.handle.notify_parked();
            }
        }
        ForkScope { cx: Some(cx) }
    }

    /// Publishes one job without waking anyone (see `fork::join_standby`).
    pub(crate) fn push_quiet(&self, job: JobRef) {
        self.publish(std::iter::once(job));
    }

    /// Pushes `jobs` where other threads can steal them: this worker's
    /// fork deque, or the runtime's fork injector. Returns true if the
    /// worker's deque was empty before (always true for the injector).
    fn publish(&self, jobs: impl Iterator<Item = JobRef>) -> bool {
        match self {
            Forker::Worker(cx) => {
                let mut guard = cx.core.borrow_mut();
                let Some(core) = guard.as_mut() else {
                    unreachable!("a fork published without the worker core")
                };
                let was_empty = core.fork_queue.is_empty();
                for job in jobs {
                    core.push_fork_job(job);
                }
                was_empty
            }
            Forker::Remote(handle) => {
                for job in jobs {
                    handle.fork_inject.push(job);
                }
                true
            }
        }
    }

    /// The runtime this fork publishes to.
    fn handle(&self) -> &Arc<Handle> {
        match self {
            Forker::Worker(cx) => &cx.handle,
            Forker::Remote(handle) => handle,
        }
    }

    /// Sleeps at most `timeout` until `wake` is unparked, serving the I/O
    /// driver and timers meanwhile if nobody else does (a thread that waits
    /// briefly while holding work for others: what it waits for may be an
    /// event nobody else would see). See `Handle::sleep_serving_driver`.
    pub(crate) fn sleep_serving_driver(&self, wake: &Unparker, timeout: std::time::Duration) {
        self.handle().sleep_serving_driver(wake, timeout);
    }

    /// Wakes a parked worker to take a job published earlier without a
    /// wake (a standby job that turned out to be needed).
    pub(crate) fn wake_helper(&self) {
        self.handle().notify_parked();
    }

    /// Publishes one job. Returns true if a parked worker was woken.
    pub(crate) fn push(&self, job: JobRef) -> bool {
        self.push_all(std::iter::once(job))
    }

    /// Publishes jobs. Returns true if a parked worker was woken.
    ///
    /// A worker wakes a parked worker only when its deque was empty (else a
    /// wake for the older jobs is under way or was not worth it) and no
    /// backoff after useless wakes is running; searching workers find the
    /// jobs either way.
    pub(crate) fn push_all(&self, jobs: impl Iterator<Item = JobRef>) -> bool {
        let was_empty = self.publish(jobs);
        match self {
            Forker::Worker(cx) => {
                let skip = cx.fork_wake_skip.get();
                if skip > 0 {
                    cx.fork_wake_skip.set(skip - 1);
                    return false;
                }
                was_empty && cx.handle.notify_parked()
            }
            Forker::Remote(handle) => handle.notify_parked(),
        }
    }

    /// True if tasks (or fork jobs) wait in this worker's queues. A thread
    /// that holds its core while it waits for something else should stop
    /// waiting and let its worker loop run them.
    pub(crate) fn has_queued_work(&self) -> bool {
        match self {
            Forker::Worker(cx) => cx
                .core
                .try_borrow()
                .ok()
                .is_some_and(|core| core.as_ref().is_some_and(|core| core.has_local_work())),
            Forker::Remote(_) => false,
        }
    }

    /// True once the runtime is shutting down: a thread that waits for
    /// work it only might get should stop waiting.
    pub(crate) fn is_shutdown(&self) -> bool {
        self.handle().is_shutdown()
    }

    /// Takes back the most recently published job of this thread, if
    /// nobody stole it.
    pub(crate) fn pop(&self) -> Option<JobRef> {
        match self {
            Forker::Worker(cx) => cx.core.borrow_mut().as_mut()?.pop_fork_job(),
            Forker::Remote(handle) => steal_retrying(|| handle.fork_inject.steal()),
        }
    }

    /// Returns once `latch` is set, helping meanwhile: serves `serve` (the
    /// forker's own work, see `fork::Serve`), runs fork jobs of this thread,
    /// then stolen ones; sleeps in the I/O driver if nobody else is in it
    /// (so I/O and timers are served while it waits), else after a
    /// non-blocking look at it. Never runs whole tasks. A worker
    /// that has slept [`FORK_WAIT_BEFORE_HAND_OFF`] while tasks wait in its
    /// queues hands its core to a new thread, as a blocking wait does.
    pub(crate) fn wait(&self, latch: &ForkLatch, serve: &dyn Serve) {
        match self {
            Forker::Worker(cx) => {
                let start = cx.index + 1;
                latch.wait(
                    serve,
                    || {
                        // Once this thread handed its core on (a blocking
                        // wait inside a fork), its former deque is one more
                        // victim: jobs this fork left there must not depend
                        // on the core's new thread, which exits at once if
                        // the runtime is shutting down (or never exists:
                        // `hand_off_core` returns the core to the runtime
                        // then).
                        let me = match cx.core.try_borrow() {
                            Ok(core) if core.is_none() => usize::MAX,
                            _ => cx.index,
                        };
                        let job = self.pop().or_else(|| steal_fork_job(&cx.handle, me, start));
                        match job {
                            // SAFETY: popped or stolen exactly once; its
                            // forker waits for it.
                            Some(job) => unsafe { job.execute_as_help() },
                            None => return false,
                        }
                        true
                    },
                    |sleeps, wake| {
                        let queued = cx
                            .core
                            .try_borrow()
                            .ok()
                            .and_then(|core| core.as_ref().map(|core| core.has_local_work()));
                        match queued {
                            // A worker: sleep in the driver if nobody is in
                            // it. The job waited for may be the only other
                            // thread awake (a long child poll), and nobody
                            // else would serve I/O and timers meanwhile;
                            // what they wake may be work for `serve`, which
                            // ends the sleep. If tasks wait behind us, a
                            // short sleep, then give them (and the core) to
                            // another thread.
                            Some(queued) if !queued || sleeps == 0 => {
                                cx.handle
                                    .sleep_serving_driver(wake, FORK_WAIT_BEFORE_HAND_OFF);
                            }
                            Some(_) => {
                                cx.handle.poll_driver_nonblocking();
                                hand_off_core(cx);
                                wake.park();
                            }
                            // No core (handed on): no longer a worker.
                            None => {
                                cx.handle.poll_driver_nonblocking();
                                wake.park();
                            }
                        }
                    },
                );
            }
            Forker::Remote(handle) => latch.wait(
                serve,
                || match self.pop() {
                    Some(job) => {
                        // SAFETY: stolen exactly once from the injector; its
                        // forker waits for it.
                        unsafe { job.execute_as_help() };
                        true
                    }
                    None => false,
                },
                |_, wake| {
                    handle.poll_driver_nonblocking();
                    wake.park();
                },
            ),
        }
    }
}
