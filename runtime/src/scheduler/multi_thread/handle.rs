//! The state shared by all workers of a multi-thread runtime, and task
//! submission.

use std::future::Future;

use crossbeam_deque::{Injector, Stealer};

use super::idle::Idle;
use super::park::{BlockOnParker, Parker, SharedDriver};
use super::worker::{self, Core};
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::scheduler::fork::JobRef;
use std::sync::Arc;

use crate::loom::sync::Mutex;
use crate::task::{JoinHandle, Notified, OwnedTasks, Schedule, Task};

/// What other threads can reach of one worker.
#[derive(Debug)]
pub(super) struct Remote {
    /// Steals tasks from the worker's run queue.
    pub(super) steal: Stealer<Notified>,
    /// Steals fork jobs (scoped-child polls) from the worker's job deque.
    pub(super) fork_steal: Stealer<JobRef>,
    /// Wakes the worker.
    pub(super) parker: Parker,
}

/// A multi-thread runtime's shared state.
#[derive(Debug)]
pub(crate) struct Handle {
    /// One entry per worker, by index.
    pub(super) remotes: Box<[Remote]>,
    /// Tasks submitted from outside the workers.
    pub(super) inject: Injector<Notified>,
    /// Fork jobs forked by threads that are not workers (a scope awaited
    /// directly in `block_on`); idle workers steal them.
    pub(super) fork_inject: Injector<JobRef>,
    /// Searching/parked bookkeeping.
    pub(super) idle: Idle,
    /// Every live task, for shutdown.
    pub(crate) owned: OwnedTasks,
    /// Free task cells passed between the workers (`task::pool`).
    pub(crate) task_pool: crate::task::pool::Shared,
    /// Set once when the runtime shuts down.
    pub(super) shutdown: AtomicBool,
    /// The I/O and timer driver.
    pub(crate) driver: Arc<SharedDriver>,
    /// The blocking thread pool.
    pub(crate) blocking: crate::blocking::Spawner,
    /// Cores not owned by a running worker thread (before launch and after
    /// shutdown). Boxed because a core moves in and out of its worker's
    /// context around every poll: a pointer move instead of a large copy.
    #[allow(clippy::vec_box)]
    pub(super) cores: Mutex<Vec<Box<Core>>>,
    /// Every worker thread started, including the ones that took over a
    /// core from a thread that blocks (see `worker::block_on_nested`).
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Name of worker threads.
    thread_name: String,
    /// Stack size of worker threads.
    stack_size: usize,
    /// Threads blocked in a wait that only shutdown can cut short (they
    /// then cancel the tasks they wait for): woken by `begin_shutdown`.
    blocked: Mutex<Vec<std::sync::Arc<crate::scheduler::current_thread::ThreadWake>>>,
    /// Ticks between a worker's non-blocking driver polls (builder's
    /// `event_interval`, else `worker::EVENT_INTERVAL`).
    pub(super) event_interval: u32,
    /// A fixed number of ticks between a worker's forced injector checks
    /// (builder's `global_queue_interval`); `None`: the adaptive interval.
    pub(super) global_queue_interval: Option<u32>,
    /// Run by every worker thread at start and exit (builder's
    /// `on_thread_start`/`on_thread_stop`).
    hooks: crate::runtime::ThreadHooks,
}

/// How the runtime builder configures the worker threads.
#[derive(Debug)]
pub(crate) struct WorkerOptions<'a> {
    /// Name of worker threads.
    pub(crate) thread_name: &'a str,
    /// Stack size of worker threads.
    pub(crate) stack_size: usize,
    /// Scheduler tick intervals.
    pub(crate) intervals: crate::scheduler::Intervals,
    /// Run by every worker thread at start and exit.
    pub(crate) hooks: crate::runtime::ThreadHooks,
}

impl Handle {
    /// Creates the shared state and one core per worker.
    pub(crate) fn new(
        num_workers: usize,
        driver: Option<crate::driver::Driver>,
        driver_handle: crate::driver::Handle,
        blocking: crate::blocking::Spawner,
        options: WorkerOptions<'_>,
    ) -> Arc<Handle> {
        let WorkerOptions {
            thread_name,
            stack_size,
            intervals,
            hooks,
        } = options;
        let driver = Arc::new(SharedDriver::new(driver, driver_handle));
        let mut remotes = Vec::with_capacity(num_workers);
        let mut cores = Vec::with_capacity(num_workers);
        for index in 0..num_workers {
            let (core, steal, fork_steal) = Core::new(index);
            remotes.push(Remote {
                steal,
                fork_steal,
                parker: Parker::new(driver.clone()),
            });
            cores.push(core);
        }
        Arc::new(Handle {
            remotes: remotes.into_boxed_slice(),
            inject: Injector::new(),
            fork_inject: Injector::new(),
            idle: Idle::new(num_workers),
            owned: OwnedTasks::new(),
            task_pool: crate::task::pool::Shared::new(),
            shutdown: AtomicBool::new(false),
            driver,
            blocking,
            cores: Mutex::new(cores),
            threads: Mutex::new(Vec::with_capacity(num_workers)),
            thread_name: thread_name.to_string(),
            stack_size,
            blocked: Mutex::new(Vec::new()),
            event_interval: intervals.event.unwrap_or(worker::EVENT_INTERVAL),
            global_queue_interval: intervals.global_queue,
            hooks,
        })
    }

    /// Starts a worker thread that runs `core`. On failure the core is kept
    /// for shutdown to drain.
    pub(crate) fn spawn_worker(self: &Arc<Self>, core: Box<Core>) -> std::io::Result<()> {
        // The closure must own the core, but a failed spawn drops the
        // closure: keep the core in a slot we can take back from.
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(core)));
        let h = self.clone();
        let theirs = slot.clone();
        let spawned = std::thread::Builder::new()
            .name(self.thread_name.clone())
            .stack_size(self.stack_size)
            .spawn(move || {
                let _hooks = h.hooks.enter();
                let core = theirs.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(core) = core {
                    worker::run(h, core);
                }
            });
        match spawned {
            Ok(thread) => {
                let mut threads = crate::loom::lock(&self.threads);
                // Threads that handed their core on and exited need no
                // join: forget their handles so the list stays short.
                threads.retain(|t| !t.is_finished());
                threads.push(thread);
                Ok(())
            }
            Err(e) => {
                if let Some(core) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    crate::loom::lock(&self.cores).push(core);
                }
                Err(e)
            }
        }
    }

    /// Joins every worker thread but the calling one, including threads
    /// started while joining.
    pub(crate) fn join_threads(&self) {
        let me = std::thread::current().id();
        loop {
            let threads = std::mem::take(&mut *crate::loom::lock(&self.threads));
            if threads.is_empty() {
                return;
            }
            for t in threads {
                if t.thread().id() != me {
                    let _ = t.join();
                }
            }
        }
    }

    /// Registers a thread blocked in a wait (see `blocked`).
    pub(super) fn register_blocked(
        &self,
        thread: &std::sync::Arc<crate::scheduler::current_thread::ThreadWake>,
    ) {
        crate::loom::lock(&self.blocked).push(thread.clone());
    }

    /// Undoes `register_blocked`.
    pub(super) fn unregister_blocked(
        &self,
        thread: &std::sync::Arc<crate::scheduler::current_thread::ThreadWake>,
    ) {
        let mut blocked = crate::loom::lock(&self.blocked);
        if let Some(pos) = blocked
            .iter()
            .position(|t| std::sync::Arc::ptr_eq(t, thread))
        {
            blocked.swap_remove(pos);
        }
    }

    /// Takes the cores for the worker threads to run.
    #[allow(clippy::vec_box)]
    pub(crate) fn take_cores(&self) -> Vec<Box<Core>> {
        std::mem::take(&mut *crate::loom::lock(&self.cores))
    }

    /// Number of worker threads.
    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    /// Spawns a task.
    ///
    /// # Safety
    ///
    /// If `future` is not `'static`, the caller must guarantee it completes
    /// or is cancelled, and its output is consumed, before borrowed data dies.
    pub(crate) unsafe fn spawn<F>(self: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        // SAFETY: forwarded to our caller.
        unsafe { self.owned.spawn(future, self) }
    }

    /// Queues a task: locally when called on one of our workers, through
    /// the injector otherwise.
    pub(super) fn schedule_task(self: &Arc<Self>, task: Notified, is_yield: bool) {
        let task = match worker::try_schedule_local(self, task, is_yield) {
            Ok(()) => return,
            Err(task) => task,
        };
        if self.is_shutdown() {
            // No worker will run it; shutdown cancels it via the owned list.
            drop(task);
            return;
        }
        self.inject.push(task);
        self.notify_parked();
    }

    /// Wakes a parked worker if nobody is searching for work. Returns true
    /// if it woke one.
    pub(super) fn notify_parked(&self) -> bool {
        // Pairs with the SeqCst re-check of a worker that leaves nobody
        // searching (idle.rs, "No lost wake-ups").
        crate::loom::sync::atomic::fence(Ordering::SeqCst);
        match self.idle.worker_to_notify() {
            Some(index) => {
                self.remotes[index].parker.unpark();
                true
            }
            None => false,
        }
    }

    /// Runs `fut` to completion on this thread, which is not a worker (the
    /// runtime's `block_on`). Between polls it sleeps; if the last poll
    /// polled a scope's owner, it sleeps in the I/O driver when it can, as
    /// the driver's preferred thread (see `park`, "The preferred thread").
    pub(crate) fn block_on<F: Future>(&self, fut: F) -> F::Output {
        /// Unregisters the preferred thread however `block_on` ends, and
        /// hands the driver to a worker that missed it.
        struct Finish<'a>(&'a Handle, &'a BlockOnParker);
        impl Drop for Finish<'_> {
            fn drop(&mut self) {
                if self.1.finish() {
                    self.0.notify_parked();
                }
            }
        }
        let parker = BlockOnParker::new(self.driver.clone());
        let _finish = Finish(self, &parker);
        let waker = parker.waker();
        let mut cx = std::task::Context::from_waker(&waker);
        let mut fut = std::pin::pin!(fut);
        crate::runtime::context::take_owner_polled();
        loop {
            if let std::task::Poll::Ready(v) = crate::coop::budget(|| fut.as_mut().poll(&mut cx)) {
                return v;
            }
            let prefer = crate::runtime::context::take_owner_polled();
            // No scope polled this time (it may have ended): give the driver
            // back, waking a worker that left it to this thread.
            if !prefer && parker.finish() {
                self.notify_parked();
            }
            parker.park(prefer);
        }
    }

    /// Polls the driver without blocking if nobody is in it (a busy or
    /// waiting thread still sees I/O and timers), then wakes a parked
    /// worker if one tried to park in the driver meanwhile, so that someone
    /// blocks in it again (see `SharedDriver::poll_nonblocking`).
    pub(super) fn poll_driver_nonblocking(&self) {
        if self.driver.poll_nonblocking() {
            self.notify_parked();
        }
    }

    /// Sleeps at most `timeout` until `wake` is unparked, in the driver if
    /// nobody else is in it (so I/O and timers are served meanwhile and the
    /// events they cause end the sleep), else after a non-blocking look at
    /// the driver, on `wake`'s condvar.
    pub(crate) fn sleep_serving_driver(
        &self,
        wake: &crate::scheduler::fork::Unparker,
        timeout: std::time::Duration,
    ) {
        let in_driver = self.driver.park_timeout_if_free(timeout, |io, block| {
            wake.park_in_driver(io, block);
        });
        match in_driver {
            Some(missed) => {
                if missed {
                    self.notify_parked();
                }
            }
            None => {
                self.poll_driver_nonblocking();
                wake.park_timeout(timeout);
            }
        }
    }

    /// Wakes a parked worker if any queue holds work (called by a worker
    /// that parks leaving nobody searching, see `idle`'s "No lost
    /// wake-ups").
    pub(super) fn notify_if_work_pending(&self) {
        if self.work_pending() {
            self.notify_parked();
        }
    }

    /// True if any queue holds work, after a SeqCst fence (pairs with the
    /// producers' fence in `notify_parked`).
    fn work_pending(&self) -> bool {
        crate::loom::sync::atomic::fence(Ordering::SeqCst);
        self.remotes
            .iter()
            .any(|r| !r.steal.is_empty() || !r.fork_steal.is_empty())
            || !self.inject.is_empty()
            || !self.fork_inject.is_empty()
    }

    /// [`Handle::notify_if_work_pending`] for the last searcher that found
    /// work: an unattended I/O driver counts as pending work too (that
    /// searcher may be the driver's holder, woken out of it for the work it
    /// found; before it woke another worker unconditionally, and that one
    /// searched, found nothing and parked in the driver).
    pub(super) fn notify_if_work_or_driver_pending(&self) {
        if self.work_pending() || self.driver.unattended() {
            self.notify_parked();
        }
    }

    /// True if a fork job waits in any worker's fork deque or in the fork
    /// injector (a hint: stealing may still come back empty).
    pub(super) fn has_fork_jobs(&self) -> bool {
        self.remotes.iter().any(|r| !r.fork_steal.is_empty()) || !self.fork_inject.is_empty()
    }

    /// True once shutdown started.
    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Starts shutdown: workers stop after their current poll.
    pub(crate) fn begin_shutdown(&self) {
        if self.shutdown.swap(true, Ordering::AcqRel) {
            return;
        }
        for remote in self.remotes.iter() {
            remote.parker.unpark();
        }
        for thread in crate::loom::lock(&self.blocked).iter() {
            thread.unpark();
        }
    }

    /// Finishes shutdown after the worker threads exited: cancels every
    /// remaining task on the calling thread and drops the queues.
    pub(crate) fn finish_shutdown(&self) {
        self.owned.close_and_shutdown();
        // Every task is complete now; what the queues hold are stale
        // references.
        for core in self.take_cores() {
            (*core).drain();
        }
        while let Some(task) = worker::steal_retrying(|| self.inject.steal()) {
            drop(task);
        }
        self.driver.handle.shutdown();
    }
}

impl Schedule for Arc<Handle> {
    fn schedule(&self, task: Notified, is_yield: bool) {
        self.schedule_task(task, is_yield);
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.owned.remove(task)
    }
}
