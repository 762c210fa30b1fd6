//! A growable pool of threads for blocking work.
//!
//! Threads are started on demand up to a cap, and exit after sitting idle
//! for the keep-alive period. Each job is a task (so it has an ordinary
//! [`JoinHandle`]) whose single poll runs the closure.
//!
//! # Accounting
//!
//! Under the pool lock: `num_idle` counts threads waiting on the condvar
//! that no one has claimed; a submitter that finds one decrements it,
//! increments `num_notify` and signals. A thread that wakes consumes a
//! `num_notify` if there is one (it was signalled), otherwise it was a
//! timeout or spurious wake-up and it removes itself from `num_idle`.
//!
//! At shutdown, queued jobs that have not started are cancelled; running
//! jobs are waited for (a blocking closure cannot be interrupted).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use std::sync::Arc;

use crate::loom::sync::{Condvar, Mutex};
use crate::task::{JoinHandle, Notified, Schedule, Task};

/// A clonable handle to a runtime's blocking pool.
#[derive(Clone, Debug)]
pub(crate) struct Spawner {
    /// The pool.
    inner: Arc<Inner>,
}

/// Pool settings from the runtime builder.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// Upper bound on blocking threads.
    pub(crate) thread_cap: usize,
    /// Idle time after which a thread exits.
    pub(crate) keep_alive: Duration,
    /// Name for the pool's threads.
    pub(crate) thread_name: String,
    /// Stack size of the pool's threads.
    pub(crate) stack_size: Option<usize>,
    /// Run by each pool thread when it starts and before it exits.
    pub(crate) hooks: crate::runtime::ThreadHooks,
}

#[derive(Debug)]
struct Inner {
    /// Queue and accounting.
    shared: Mutex<Shared>,
    /// Idle threads wait here.
    condvar: Condvar,
    /// Settings.
    config: Config,
    /// The runtime the pool belongs to, entered by each pool thread so
    /// `tether::spawn` works from blocking code. Taken at shutdown, which
    /// breaks the reference cycle runtime → pool → runtime.
    runtime: Mutex<Option<crate::scheduler::Handle>>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Jobs waiting for a thread.
    queue: VecDeque<Job>,
    /// Live pool threads.
    num_threads: usize,
    /// Waiting threads not yet claimed by a submitter.
    num_idle: usize,
    /// Signals sent and not yet consumed.
    num_notify: usize,
    /// Set at shutdown.
    shutdown: bool,
    /// Join handles of the live threads, to wait for them at shutdown.
    threads: Vec<thread::JoinHandle<()>>,
}

/// A queued blocking job.
#[derive(Debug)]
struct Job {
    /// The task whose single poll runs the closure.
    task: Notified,
    /// Holds off auto-advance of a paused clock until the job has run and
    /// its `JoinHandle` has been notified (dropped after `task.run()`).
    _inhibit: Option<crate::time::AutoAdvanceGuard>,
}

/// The future of a blocking job: runs the closure on its first poll.
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<R, F: FnOnce() -> R> Future for BlockingTask<F> {
    type Output = R;
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("blocking task polled after completion");
        // Blocking code is not subject to the cooperative budget.
        Poll::Ready(crate::coop::unconstrained(f))
    }
}

/// Blocking jobs are never woken (their one poll always completes) and live
/// in no owned list.
#[derive(Debug)]
struct BlockingSchedule;

impl Schedule for BlockingSchedule {
    fn schedule(&self, task: Notified, _is_yield: bool) {
        // Unreachable in practice: a blocking job never returns Pending and
        // abort does not resubmit a queued or running task.
        drop(task);
    }
    fn release(&self, _task: &Task) -> Option<Task> {
        None
    }
}

impl Spawner {
    pub(crate) fn new(config: Config) -> Spawner {
        Spawner {
            inner: Arc::new(Inner {
                shared: Mutex::new(Shared::default()),
                condvar: Condvar::new(),
                config,
                runtime: Mutex::new(None),
            }),
        }
    }

    /// Tells the pool which runtime its threads belong to.
    pub(crate) fn set_runtime(&self, handle: crate::scheduler::Handle) {
        *crate::loom::lock(&self.inner.runtime) = Some(handle);
    }

    /// Runs `f` on a pool thread.
    ///
    /// # Safety
    ///
    /// If `f` or its result borrow non-`'static` data, the caller must keep
    /// that data alive until the returned handle resolved or the job was
    /// cancelled (and the result is consumed).
    pub(crate) unsafe fn spawn_unchecked<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        // SAFETY: forwarded to our caller.
        unsafe { self.spawn_job(f, None) }
    }

    /// [`spawn_unchecked`](Spawner::spawn_unchecked), holding `inhibit`
    /// until the job has completed.
    ///
    /// # Safety
    ///
    /// As [`spawn_unchecked`](Spawner::spawn_unchecked).
    unsafe fn spawn_job<F, R>(
        &self,
        f: F,
        inhibit: Option<crate::time::AutoAdvanceGuard>,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        // SAFETY: forwarded to our caller.
        let (join, notified) =
            unsafe { crate::task::unowned(BlockingTask(Some(f)), BlockingSchedule) };
        let mut shared = crate::loom::lock(&self.inner.shared);
        if shared.shutdown {
            drop(shared);
            notified.shutdown();
            return join;
        }
        shared.queue.push_back(Job {
            task: notified,
            _inhibit: inhibit,
        });
        if shared.num_idle > 0 {
            shared.num_idle -= 1;
            shared.num_notify += 1;
            self.inner.condvar.notify_one();
        } else if shared.num_threads < self.inner.config.thread_cap {
            shared.num_threads += 1;
            let inner = self.inner.clone();
            let mut builder = thread::Builder::new().name(self.inner.config.thread_name.clone());
            if let Some(size) = self.inner.config.stack_size {
                builder = builder.stack_size(size);
            }
            match builder.spawn(move || inner.run()) {
                Ok(handle) => shared.threads.push(handle),
                Err(e) => {
                    shared.num_threads -= 1;
                    // The job stays queued for an existing thread; with no
                    // thread at all it can never run, so fail it loudly.
                    if shared.num_threads == 0 {
                        panic!("tether: failed to start a blocking thread: {e}");
                    }
                }
            }
        }
        join
    }

    /// Closes the pool: no queued job starts any more, each is cancelled
    /// (its closure dropped on this thread, its `JoinHandle` reporting
    /// cancellation), and later submissions are cancelled at once. Jobs
    /// already running go on. Idempotent.
    ///
    /// The runtime calls this first when it is dropped, before it waits for
    /// its workers: a worker may be waiting (in a blocking scope) for a
    /// queued job, and that wait must end by cancellation, not by running
    /// every job queued ahead of it.
    pub(crate) fn close(&self) {
        let queued: VecDeque<Job> = {
            let mut shared = crate::loom::lock(&self.inner.shared);
            shared.shutdown = true;
            self.inner.condvar.notify_all();
            std::mem::take(&mut shared.queue)
        };
        // Cancelled outside the lock: dropping a closure runs user code.
        // (Each job's auto-advance guard goes with it.)
        for job in queued {
            job.task.shutdown();
        }
    }

    /// Cancels queued jobs ([`Spawner::close`]) and waits for running ones
    /// and for every pool thread to exit.
    pub(crate) fn shutdown(&self) {
        self.close();
        let threads = std::mem::take(&mut crate::loom::lock(&self.inner.shared).threads);
        let me = thread::current().id();
        for t in threads {
            // A pool thread dropping the runtime cannot wait for itself.
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
        // Nothing can have been queued since `close` (submissions see the
        // flag under the lock), but stay defensive: never leave a job that
        // nobody will run.
        self.close();
        crate::loom::lock(&self.inner.runtime).take();
    }
}

impl Inner {
    fn run(self: Arc<Self>) {
        let _hooks = self.config.hooks.enter();
        let runtime = crate::loom::lock(&self.runtime).clone();
        let _enter = runtime
            .as_ref()
            .map(crate::runtime::context::enter_blocking_thread);
        let mut shared = crate::loom::lock(&self.shared);
        loop {
            if shared.shutdown {
                // Queued jobs are cancelled by `shutdown`, not run.
                break;
            }
            if let Some(job) = shared.queue.pop_front() {
                drop(shared);
                job.task.run();
                drop(job._inhibit);
                shared = crate::loom::lock(&self.shared);
                continue;
            }
            shared.num_idle += 1;
            let (guard, timeout) = self
                .condvar
                .wait_timeout(shared, self.config.keep_alive)
                .unwrap_or_else(|e| e.into_inner());
            shared = guard;
            if shared.num_notify > 0 {
                shared.num_notify -= 1;
            } else {
                shared.num_idle -= 1;
                if timeout.timed_out() && shared.queue.is_empty() && !shared.shutdown {
                    break;
                }
            }
        }
        shared.num_threads -= 1;
        if !shared.shutdown {
            // Exiting on idle timeout: forget our join handle.
            let me = thread::current().id();
            shared.threads.retain(|t| t.thread().id() != me);
        }
    }
}

/// Runs `f` on the blocking pool of `handle`'s runtime.
pub(crate) fn spawn_blocking_on<F, R>(handle: &crate::scheduler::Handle, f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let inhibit = crate::time::AutoAdvanceGuard::new(&handle.driver().time);
    // SAFETY: `f` and `R` are 'static.
    unsafe { handle.blocking().spawn_job(f, inhibit) }
}
