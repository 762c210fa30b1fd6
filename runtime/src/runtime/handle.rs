//! [`Handle`]: a cloneable reference to a runtime.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;

use super::context;
use crate::scheduler::{self, current_thread};
use crate::task::JoinHandle;

/// A cloneable, `Send` reference to a runtime: spawn onto it or block on it
/// from any thread.
///
/// ```
/// let rt = tether::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let out = std::thread::spawn(move || {
///     let task = handle.spawn(async { 2 * 21 });
///     handle.block_on(task).unwrap()
/// })
/// .join()
/// .unwrap();
/// assert_eq!(out, 42);
/// ```
#[derive(Clone)]
pub struct Handle {
    /// The runtime's scheduler.
    pub(crate) inner: scheduler::Handle,
}

/// The error of [`Handle::try_current`] outside a runtime.
#[derive(Debug)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("there is no tether runtime running on this thread")
    }
}

impl std::error::Error for TryCurrentError {}

/// Keeps a runtime current on this thread; see [`Handle::enter`].
#[derive(Debug)]
pub struct EnterGuard<'a> {
    /// Restores the previous runtime.
    _guard: context::SetCurrentGuard,
    /// Ties the guard to the handle's lifetime.
    _handle: PhantomData<&'a Handle>,
}

impl Handle {
    /// The runtime this thread is running on.
    ///
    /// # Panics
    ///
    /// Outside a tether runtime; see [`Handle::try_current`].
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let handle = tether::Handle::current();
    ///     handle.spawn(async {}).await.unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(_) => context::no_runtime(),
        }
    }

    /// The runtime this thread is running on, if any.
    ///
    /// ```
    /// assert!(tether::Handle::try_current().is_err());
    /// ```
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current()
            .map(|inner| Handle { inner })
            .ok_or(TryCurrentError(()))
    }

    /// Spawns a task onto the runtime; see [`crate::spawn`].
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let task = rt.handle().spawn(async { 1 });
    /// assert_eq!(rt.block_on(task).unwrap(), 1);
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // SAFETY: the future and its output are 'static.
        unsafe { self.inner.spawn(future) }
    }

    /// Spawns a task that may borrow non-`'static` data.
    ///
    /// # Safety
    ///
    /// The caller must guarantee that the task completes or is cancelled,
    /// and that its output is taken or dropped, before any data it borrows
    /// dies (the blocking scope waits for all of its children).
    pub(crate) unsafe fn spawn_unchecked<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        // SAFETY: forwarded to our caller.
        unsafe { self.inner.spawn(future) }
    }

    /// Runs a blocking closure on the runtime's blocking pool.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let task = rt.handle().spawn_blocking(|| 7);
    /// assert_eq!(rt.block_on(task).unwrap(), 7);
    /// ```
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        crate::blocking::spawn_blocking_on(&self.inner, f)
    }

    /// Runs `future` to completion on the calling thread.
    ///
    /// # Panics
    ///
    /// If called from a thread that already drives a tether runtime (a
    /// worker, or inside another `block_on`).
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// assert_eq!(rt.handle().block_on(async { 9 }), 9);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter_runtime(&self.inner);
        match &self.inner {
            scheduler::Handle::MultiThread(h) => h.block_on(future),
            scheduler::Handle::CurrentThread(h) => current_thread::Handle::block_on(h, future),
        }
    }

    /// Makes this runtime current on this thread until the guard drops.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let guard = rt.handle().enter();
    /// assert!(tether::Handle::try_current().is_ok());
    /// drop(guard);
    /// assert!(tether::Handle::try_current().is_err());
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _guard: context::set_current(&self.inner),
            _handle: PhantomData,
        }
    }

    /// Runtime statistics.
    ///
    /// ```
    /// let rt = tether::Runtime::builder().worker_threads(2).build().unwrap();
    /// assert_eq!(rt.handle().metrics().num_workers(), 2);
    /// ```
    pub fn metrics(&self) -> super::RuntimeMetrics {
        super::RuntimeMetrics {
            handle: self.inner.clone(),
        }
    }

    /// The runtime's I/O and timer drivers.
    pub(crate) fn driver(&self) -> &crate::driver::Handle {
        self.inner.driver()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flavor = match self.inner {
            scheduler::Handle::MultiThread(_) => "multi_thread",
            scheduler::Handle::CurrentThread(_) => "current_thread",
        };
        f.debug_struct("Handle").field("flavor", &flavor).finish()
    }
}
