//! [`ScopedJoinHandle`]: awaits one scoped child's output.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::child::{COMPLETE, RawChild};
use crate::task::JoinError;

/// An owned permission to await a scoped child's output, returned by
/// [`Scope::spawn`](super::Scope::spawn).
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the child was
/// cancelled (aborted, or its scope was dropped or had closed) — a child's
/// panic is re-raised by the scope itself. Dropping the handle detaches the
/// child; it keeps running until its scope ends.
///
/// ```
/// # futures::executor::block_on(async {
/// let words = vec!["a", "bb", "ccc"];
/// let words = &words;
/// let total = tether::scope(|s| async move {
///     let handles: Vec<_> = words.iter().map(|w| s.spawn(async move { w.len() })).collect();
///     let mut total = 0;
///     for h in handles {
///         total += h.await.unwrap();
///     }
///     total
/// })
/// .await;
/// assert_eq!(total, 6);
/// # });
/// ```
pub struct ScopedJoinHandle<'env, T> {
    /// The child; the handle holds one reference to it.
    raw: RawChild,
    /// Invariant in `'env` (like the scope).
    _env: PhantomData<fn(&'env ()) -> &'env ()>,
    /// Owns a `T` (the output it may drop) for dropck and auto traits.
    _output: PhantomData<T>,
}

impl<'env, T> ScopedJoinHandle<'env, T> {
    /// Wraps a child created with a handle reference.
    pub(crate) fn new(raw: RawChild) -> Self {
        ScopedJoinHandle {
            raw,
            _env: PhantomData,
            _output: PhantomData,
        }
    }

    /// Requests cancellation: the child's future is dropped on the scope's
    /// next poll (unless it already completed), and the handle then reports
    /// [`JoinError::is_cancelled`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// tether::scope(|s| async move {
    ///     let h = s.spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// })
    /// .await;
    /// # });
    /// ```
    pub fn abort(&self) {
        self.raw.abort();
    }

    /// True once the child completed (or was cancelled); awaiting the handle
    /// then returns at once.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// tether::scope(|s| async move {
    ///     let h = s.spawn(async { 7 });
    ///     // On one thread, both children run before the body resumes.
    ///     s.spawn(async {}).await.unwrap();
    ///     assert!(h.is_finished());
    ///     assert_eq!(h.await.unwrap(), 7);
    /// })
    /// .await;
    /// # });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.raw.state() & COMPLETE != 0
    }
}

impl<T> Future for ScopedJoinHandle<'_, T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut coop = std::task::ready!(crate::coop::poll_proceed(cx));
        // SAFETY: this is the child's unique handle and T is the output type
        // the child was created with (ScopedJoinHandle::new callers).
        let res = unsafe { self.raw.poll_join::<T>(cx.waker()) };
        if res.is_ready() {
            coop.made_progress();
        }
        res
    }
}

impl<T> Unpin for ScopedJoinHandle<'_, T> {}

impl<T> Drop for ScopedJoinHandle<'_, T> {
    fn drop(&mut self) {
        // SAFETY: I4: the handle releases its reference once, while 'env is
        // alive (the handle's type is bounded by 'env).
        unsafe { self.raw.release_handle() };
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.raw.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
