//! Schedulers: the multi-thread work-stealing scheduler and the
//! current-thread scheduler, plus the fork/join and blocking-wait hooks
//! used by scopes.

pub(crate) mod current_thread;
pub(crate) mod fork;
pub(crate) mod latch;
pub(crate) mod multi_thread;
mod rand;
pub(crate) mod scoped;

use std::future::Future;

use crate::task::JoinHandle;
use std::sync::Arc;

/// Scheduler tick intervals set on the runtime builder
/// ([`Builder::event_interval`](crate::runtime::Builder::event_interval),
/// [`Builder::global_queue_interval`](crate::runtime::Builder::global_queue_interval));
/// `None` keeps the scheduler's own default.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Intervals {
    /// Ticks between non-blocking looks at I/O and timers.
    pub(crate) event: Option<u32>,
    /// Ticks between forced looks at the global (injection) queue.
    pub(crate) global_queue: Option<u32>,
}

/// The per-thread state of the scheduler loop a thread runs, by flavour;
/// the innermost one is kept in the thread's runtime context
/// (`runtime::context::set_scheduler`).
#[derive(Debug)]
pub(crate) enum Context {
    /// A worker of a multi-thread runtime.
    MultiThread(multi_thread::worker::Context),
    /// A current-thread run loop (`block_on`, or a blocking wait inside a
    /// poll).
    CurrentThread(current_thread::Context),
}

/// A runtime's scheduler, by flavour.
#[derive(Debug, Clone)]
pub(crate) enum Handle {
    /// Work-stealing over a pool of worker threads.
    MultiThread(Arc<multi_thread::Handle>),
    /// Everything on the thread that calls `block_on`.
    CurrentThread(Arc<current_thread::Handle>),
}

impl Handle {
    /// Spawns a task.
    ///
    /// # Safety
    ///
    /// If `future` (or its output) borrows non-`'static` data, the caller
    /// must guarantee the task completes or is cancelled, and its output is
    /// taken or dropped, before that data dies.
    pub(crate) unsafe fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        // SAFETY: forwarded to our caller.
        unsafe {
            match self {
                Handle::MultiThread(h) => h.spawn(future),
                Handle::CurrentThread(h) => h.spawn(future),
            }
        }
    }

    /// The runtime's drivers.
    pub(crate) fn driver(&self) -> &crate::driver::Handle {
        match self {
            Handle::MultiThread(h) => &h.driver.handle,
            Handle::CurrentThread(h) => &h.driver,
        }
    }

    /// The blocking thread pool.
    pub(crate) fn blocking(&self) -> &crate::blocking::Spawner {
        match self {
            Handle::MultiThread(h) => &h.blocking,
            Handle::CurrentThread(h) => &h.blocking,
        }
    }

    /// Number of live tasks (diagnostics and tests).
    pub(crate) fn num_tasks(&self) -> usize {
        match self {
            Handle::MultiThread(h) => h.owned.len(),
            Handle::CurrentThread(h) => h.owned.len(),
        }
    }

    /// Number of worker threads (1 for the current-thread flavour).
    pub(crate) fn num_workers(&self) -> usize {
        match self {
            Handle::MultiThread(h) => h.num_workers(),
            Handle::CurrentThread(_) => 1,
        }
    }
}

/// Blocks the current thread until `fut` completes. On a worker thread of a
/// multi-thread runtime the worker first hands its core to a new thread, so
/// waiting never starves the pool; inside a current-thread runtime's
/// `block_on` the runtime's tasks keep running on this thread; on any other
/// thread it simply parks.
pub(crate) fn block_on_nested<F: Future>(fut: F) -> F::Output {
    let fut = match multi_thread::worker::block_on_nested(fut) {
        Ok(v) => return v,
        Err(fut) => fut,
    };
    let fut = match current_thread::block_on_nested(fut) {
        Ok(v) => return v,
        Err(fut) => fut,
    };
    park_thread_on(fut)
}

/// Polls `fut` on this thread, parking between wakes.
pub(crate) fn park_thread_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let parker = std::sync::Arc::new(current_thread::ThreadWake::new());
    let waker = std::task::Waker::from(parker.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    loop {
        if let std::task::Poll::Ready(v) = crate::coop::budget(|| fut.as_mut().poll(&mut cx)) {
            return v;
        }
        parker.park();
    }
}
