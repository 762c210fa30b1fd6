//! [`JoinHandle`]: the owned permission to await a task's output.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::{Id, JoinError, RawTask};

/// An owned permission to wait for a spawned task's output.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the task panicked
/// or was cancelled. Dropping it *detaches* the task: it keeps running, and
/// its output is dropped when it completes.
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let handle = tether::spawn(async { 6 * 7 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # });
/// ```
pub struct JoinHandle<T> {
    /// The task; this handle owns one reference and the join interest.
    raw: RawTask,
    /// The output type; the handle receives a `T` across threads.
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves the output `T` to the awaiting thread.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only offers `abort`/`is_finished`, which touch the
// atomic state word.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Wraps the task's join reference.
    ///
    /// # Safety
    ///
    /// `raw`'s output type must be `T` (the handle reads the output as a
    /// `T`), and the caller hands over the task's one join reference: at
    /// most one `JoinHandle` exists per task.
    pub(super) unsafe fn new(raw: RawTask) -> JoinHandle<T> {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    /// Requests cancellation. A task that has not finished is dropped at its
    /// next scheduling point (at once if it is idle) and the handle then
    /// yields a cancelled [`JoinError`]. Aborting a finished task does nothing.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let handle = tether::spawn(std::future::pending::<()>());
    /// handle.abort();
    /// assert!(handle.await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort(&self) {
        self.raw.remote_abort();
    }

    /// True once the task has finished (completed, panicked or been
    /// cancelled), so awaiting the handle will not wait.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let handle = tether::spawn(async {});
    /// while !handle.is_finished() {
    ///     tether::yield_now().await;
    /// }
    /// # });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.raw.header().state.load().is_complete()
    }

    /// A handle that can abort the task without owning its output.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let handle = tether::spawn(std::future::pending::<()>());
    /// let abort = handle.abort_handle();
    /// abort.abort();
    /// assert!(handle.await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        self.raw.header().state.ref_inc();
        AbortHandle { raw: self.raw }
    }

    /// The runtime-unique id of the task.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let a = tether::spawn(async {});
    /// let b = tether::spawn(async {});
    /// assert_ne!(a.id(), b.id());
    /// # });
    /// ```
    pub fn id(&self) -> Id {
        Id::from_u64(self.raw.header().id)
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut coop = ready!(crate::coop::poll_proceed(cx));
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: `out` has the task's output type, and `self` is the
        // task's JoinHandle.
        unsafe {
            self.raw.try_read_output(
                (&mut out as *mut Poll<Result<T, JoinError>>).cast(),
                cx.waker(),
            )
        };
        if out.is_ready() {
            coop.made_progress();
        }
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.raw.drop_join_handle();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Aborts a task without owning its output; see [`JoinHandle::abort_handle`].
pub struct AbortHandle {
    /// The task; this handle owns one reference.
    raw: RawTask,
}

// SAFETY: only the atomic state word is touched through an AbortHandle.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// Requests cancellation; see [`JoinHandle::abort`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let handle = tether::spawn(std::future::pending::<()>());
    /// handle.abort_handle().abort();
    /// assert!(handle.await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort(&self) {
        self.raw.remote_abort();
    }

    /// True once the task has finished; see [`JoinHandle::is_finished`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let handle = tether::spawn(async {});
    /// let abort = handle.abort_handle();
    /// handle.await.unwrap();
    /// assert!(abort.is_finished());
    /// # });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.raw.header().state.load().is_complete()
    }

    /// The id of the task; the same as its [`JoinHandle::id`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let handle = tether::spawn(async {});
    /// assert_eq!(handle.abort_handle().id(), handle.id());
    /// # });
    /// ```
    pub fn id(&self) -> Id {
        Id::from_u64(self.raw.header().id)
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        self.raw.drop_reference();
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}
