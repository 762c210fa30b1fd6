//! [`Runtime`]: owns the worker threads, drivers and blocking pool.

use std::fmt;
use std::future::Future;
use std::io;
use std::thread;

use super::{Builder, Handle, RuntimeMetrics};
use crate::scheduler::{self, current_thread, multi_thread};
use crate::task::JoinHandle;

/// A tether runtime: a scheduler (multi-thread work-stealing, or
/// current-thread), an I/O reactor, timers and a blocking thread pool.
///
/// Dropping the runtime shuts it down: workers stop after their current
/// poll, every task that has not finished is dropped (exactly once, on the
/// dropping thread — or on a shutdown thread when the runtime is dropped
/// from inside one of its own tasks), queued blocking jobs are cancelled,
/// running ones are waited for, and the threads are joined.
///
/// ```
/// let rt = tether::Runtime::new().unwrap();
/// let answer = rt.block_on(async {
///     let handle = tether::spawn(async { 40 + 2 });
///     handle.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    /// The shared handle (the multi-thread flavour's worker threads are
    /// kept there, since a worker that blocks hands its core to a new one).
    handle: Handle,
}

impl Runtime {
    /// A multi-thread runtime with one worker per core (or
    /// `TETHER_WORKER_THREADS`).
    ///
    /// # Errors
    ///
    /// If the I/O driver or a worker thread cannot be created.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// # drop(rt);
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new_multi_thread().build()
    }

    /// A builder for a multi-thread runtime; see [`Builder`].
    ///
    /// ```
    /// let rt = tether::Runtime::builder().worker_threads(2).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn builder() -> Builder {
        Builder::new_multi_thread()
    }

    pub(super) fn new_current_thread(
        blocking: crate::blocking::Spawner,
        intervals: scheduler::Intervals,
        start_paused: bool,
    ) -> io::Result<Runtime> {
        let (driver, driver_handle) = crate::driver::Driver::new()?;
        // Only the current-thread runtime knows when it is idle, which a
        // paused clock needs to auto-advance (see `time/source.rs`).
        driver_handle.time.source().allow_pausing();
        if start_paused {
            driver_handle
                .time
                .pause()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        }
        let handle =
            current_thread::Handle::new(driver, driver_handle, blocking.clone(), intervals);
        let inner = scheduler::Handle::CurrentThread(handle);
        blocking.set_runtime(inner.clone());
        Ok(Runtime {
            handle: Handle { inner },
        })
    }

    pub(super) fn new_multi_thread(
        workers: usize,
        blocking: crate::blocking::Spawner,
        thread_name: &str,
        stack_size: usize,
        intervals: scheduler::Intervals,
        hooks: &super::ThreadHooks,
    ) -> io::Result<Runtime> {
        let (driver, driver_handle) = crate::driver::Driver::new()?;
        let handle = multi_thread::Handle::new(
            workers,
            Some(driver),
            driver_handle,
            blocking.clone(),
            multi_thread::WorkerOptions {
                thread_name,
                stack_size,
                intervals,
                hooks: hooks.clone(),
            },
        );
        let inner = scheduler::Handle::MultiThread(handle.clone());
        blocking.set_runtime(inner.clone());
        let rt = Runtime {
            handle: Handle { inner },
        };
        for core in handle.take_cores() {
            // On failure `rt`'s drop shuts down the workers started so far.
            handle.spawn_worker(core)?;
        }
        Ok(rt)
    }

    /// Runs `future` to completion on the calling thread, returning its
    /// output. Tasks keep running on the workers meanwhile (on the
    /// current-thread flavour, on this thread while it waits).
    ///
    /// # Panics
    ///
    /// If called from a thread that already drives a tether runtime (inside
    /// a task, or inside another `block_on`): it would block a thread that
    /// other tasks depend on.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(async { "done" }), "done");
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task onto this runtime; see [`crate::spawn`].
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let handle = rt.spawn(async { 5 });
    /// assert_eq!(rt.block_on(handle).unwrap(), 5);
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on this runtime's blocking pool; see
    /// [`crate::spawn_blocking`].
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let handle = rt.spawn_blocking(|| std::thread::current().name().map(String::from));
    /// assert!(rt.block_on(handle).unwrap().is_some());
    /// ```
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A cloneable handle to this runtime.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// std::thread::spawn(move || handle.block_on(async { 1 })).join().unwrap();
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes this runtime the current one on this thread until the guard is
    /// dropped, so `tether::spawn` works outside `block_on`.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let _guard = rt.enter();
    /// let handle = tether::spawn(async { 1 });
    /// # drop(_guard);
    /// assert_eq!(rt.block_on(handle).unwrap(), 1);
    /// ```
    pub fn enter(&self) -> super::EnterGuard<'_> {
        self.handle.enter()
    }

    /// Runtime statistics.
    ///
    /// ```
    /// let rt = tether::Runtime::builder().worker_threads(2).build().unwrap();
    /// assert_eq!(rt.metrics().num_workers(), 2);
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown_with(None);
    }
}

/// Joins a multi-thread runtime's workers, cancels what is left and waits
/// for the blocking pool: the part of a shutdown that may block.
fn finish_multi_thread(h: &std::sync::Arc<multi_thread::Handle>) {
    h.join_threads();
    h.finish_shutdown();
    h.blocking.shutdown();
}

/// Cancels every task of a multi-thread runtime at once (the fallback of
/// a shutdown that cannot wait for the workers).
fn cancel_now(handle: &scheduler::Handle) {
    if let scheduler::Handle::MultiThread(h) = handle {
        h.owned.close_and_shutdown();
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Shuts the runtime down. `None` (a drop) waits for every thread;
    /// `Some(deadline)` waits until `deadline` at most (`Some(None)`: the
    /// deadline overflowed, so no limit) and leaves the rest to a
    /// background thread.
    fn shutdown_with(&mut self, deadline: Option<Option<std::time::Instant>>) {
        // Inside a scope's child (or body) poll, on any thread (e.g. a
        // `block_on` thread): a helper of that session, run by a worker,
        // lingers while this very poll is in flight, so joining the workers
        // here could wait for ourselves. Taken before `set_current`.
        let in_session_poll = crate::runtime::context::in_child_poll();
        // Futures dropped during shutdown may call `spawn`; they get
        // cancelled handles from this runtime rather than a panic.
        let _current = crate::runtime::context::set_current(&self.handle.inner);
        // Queued blocking jobs are cancelled before anything waits: a task
        // blocked on one of them (in a blocking scope) is then released by
        // the cancellation instead of by every job queued ahead of it.
        self.handle.inner.blocking().close();
        match &self.handle.inner {
            scheduler::Handle::MultiThread(h) => {
                h.begin_shutdown();
                if let Some(deadline) = deadline {
                    // Everything that may block moves to a thread this one
                    // waits for until the deadline only.
                    let h = h.clone();
                    finish_in_background(deadline, move || {
                        let _current = crate::runtime::context::set_current(
                            &scheduler::Handle::MultiThread(h.clone()),
                        );
                        finish_multi_thread(&h);
                    });
                } else if multi_thread::worker::is_worker_of(h) || in_session_poll {
                    // Dropped inside the runtime (a task, or a fork job run
                    // for another worker's fork): joining here could wait
                    // for this very poll, or for a forker waiting on a job
                    // this thread runs. The workers stop after their current
                    // poll; a reaper thread joins them and cancels what is
                    // left.
                    let h = h.clone();
                    let reaper = thread::Builder::new()
                        .name("tether-runtime-shutdown".to_string())
                        .spawn(move || finish_multi_thread(&h));
                    if reaper.is_err() {
                        // No thread to spare: tasks are cancelled now; the
                        // workers exit on their own.
                        cancel_now(&self.handle.inner);
                    }
                } else {
                    finish_multi_thread(h);
                }
            }
            scheduler::Handle::CurrentThread(h) => {
                // Tasks of a current-thread runtime may be !Send: they are
                // dropped here, on the thread that owns the runtime.
                h.shutdown();
                match deadline {
                    Some(deadline) => {
                        let blocking = h.blocking.clone();
                        finish_in_background(deadline, move || blocking.shutdown());
                    }
                    None => h.blocking.shutdown(),
                }
            }
        }
    }
}

impl Runtime {
    /// Shuts the runtime down, waiting at most `timeout` for its threads.
    ///
    /// Like dropping the runtime, every task that has not finished is
    /// cancelled (dropped) and queued blocking jobs are cancelled. Unlike
    /// dropping it, this returns after `timeout` even if a worker is stuck
    /// in a long poll or a blocking job is still running: those threads are
    /// left to finish (and the remaining tasks to be dropped) in the
    /// background, and the runtime's resources are released when they do.
    ///
    /// A shutdown started here (or by dropping the runtime) completes any
    /// I/O future of the runtime with an error and makes timers panic when
    /// polled; see [`net`](crate::net) and [`time`](crate::time).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = tether::Runtime::new()?;
    /// // A blocking job that would hold a plain drop for a second.
    /// rt.spawn_blocking(|| std::thread::sleep(Duration::from_secs(1)));
    /// let start = std::time::Instant::now();
    /// rt.shutdown_timeout(Duration::from_millis(10));
    /// assert!(start.elapsed() < Duration::from_secs(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_timeout(self, timeout: std::time::Duration) {
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut this = std::mem::ManuallyDrop::new(self);
        this.shutdown_with(Some(deadline));
        // SAFETY: `this` is a `ManuallyDrop` that is never used again, so
        // its handle is dropped exactly once (here) and `Runtime::drop`
        // does not run a second shutdown.
        unsafe { std::ptr::drop_in_place(&mut this.handle) };
    }

    /// Shuts the runtime down without waiting for anything: the same as
    /// [`shutdown_timeout`](Self::shutdown_timeout) with a zero timeout.
    /// Useful to leave a runtime from inside an async context, where
    /// dropping it (which may block) is not allowed.
    ///
    /// ```
    /// let rt = tether::Runtime::new()?;
    /// rt.spawn(std::future::pending::<()>());
    /// rt.shutdown_background();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_background(self) {
        self.shutdown_timeout(std::time::Duration::ZERO);
    }
}

/// Runs `work` on a new thread and waits for it until `deadline`; past
/// that, it goes on in the background. If no thread can be started, runs
/// it here (the only way left to release the runtime's resources).
fn finish_in_background(
    deadline: Option<std::time::Instant>,
    work: impl FnOnce() + Send + 'static,
) {
    let work = crate::loom::sync::Arc::new(crate::loom::sync::Mutex::new(Some(work)));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let theirs = work.clone();
    let spawned = thread::Builder::new()
        .name("tether-shutdown".into())
        .spawn(move || {
            let work = crate::loom::lock(&theirs).take();
            if let Some(work) = work {
                work();
            }
            drop(tx);
        });
    if spawned.is_err() {
        let work = crate::loom::lock(&work).take();
        if let Some(work) = work {
            work();
        }
        return;
    }
    let _ = match deadline {
        Some(d) => rx.recv_timeout(d.saturating_duration_since(std::time::Instant::now())),
        None => rx
            .recv()
            .map_err(|_| std::sync::mpsc::RecvTimeoutError::Disconnected),
    };
}
