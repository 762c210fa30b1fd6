//! [`ScopedJoinSet`]: a collection of borrowing children, awaited one at a time.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::panic;
use std::task::{Context, Poll};

use super::child::RawChild;
use super::engine::{Engine, Owner};
use crate::task::JoinError;

/// A set of children that may borrow from the caller (`'env`), in the shape
/// of tokio's `JoinSet` but without `'static`.
///
/// Children run while the set is being awaited (`join_next`, `join_all`):
/// in parallel on a tether worker, concurrently on one thread elsewhere.
/// Dropping the set cancels the children that did not finish; leaking it
/// (`mem::forget`) leaves them never polled again. A child's panic is
/// reported as its [`JoinError`].
///
/// ```
/// # futures::executor::block_on(async {
/// let names = vec!["ada".to_string(), "grace".to_string()];
/// let mut set = tether::ScopedJoinSet::new();
/// for n in &names {
///     set.spawn(async move { n.len() }); // borrows `names`, no clone
/// }
/// let mut total = 0;
/// while let Some(res) = set.join_next().await {
///     total += res.unwrap();
/// }
/// assert_eq!(total, 8);
/// # });
/// ```
pub struct ScopedJoinSet<'env, T> {
    /// The children.
    engine: Engine<'env>,
    /// Results of completed children not yet returned, in completion order.
    done: VecDeque<Result<T, JoinError>>,
    /// The set owns values of type `T` (the results).
    _output: PhantomData<T>,
}

impl<'env, T> ScopedJoinSet<'env, T> {
    /// An empty set.
    ///
    /// ```
    /// let set: tether::ScopedJoinSet<'_, u8> = tether::ScopedJoinSet::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> Self {
        ScopedJoinSet {
            engine: Engine::new(),
            done: VecDeque::new(),
            _output: PhantomData,
        }
    }

    /// Adds a child. It starts running the next time the set is awaited.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let v = vec![1, 2, 3];
    /// let mut set = tether::ScopedJoinSet::new();
    /// set.spawn(async { v.iter().sum::<i32>() });
    /// assert_eq!(set.len(), 1);
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), 6);
    /// # });
    /// ```
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = T> + Send + 'env,
        T: Send + 'env,
    {
        let child = RawChild::new(future, self.engine.shared(), false, false);
        self.engine.insert(child);
    }

    /// Number of children whose result has not been returned yet.
    ///
    /// ```
    /// let mut set = tether::ScopedJoinSet::new();
    /// set.spawn(async {});
    /// set.spawn(async {});
    /// assert_eq!(set.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.engine.len() + self.done.len()
    }

    /// True if [`ScopedJoinSet::len`] is zero.
    ///
    /// ```
    /// let set = tether::ScopedJoinSet::<()>::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for the next child to complete and returns its result, or
    /// `None` if the set is empty. Runs the children while waiting.
    /// Cancel-safe: a result is never lost if the returned future is dropped.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut set = tether::ScopedJoinSet::new();
    /// set.spawn(async { 1 });
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
    /// assert!(set.join_next().await.is_none());
    /// # });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Polls for the next completed child; see [`ScopedJoinSet::join_next`].
    ///
    /// ```
    /// use std::task::{Context, Poll};
    /// let mut set = tether::ScopedJoinSet::new();
    /// set.spawn(async { 5 });
    /// let waker = futures::task::noop_waker();
    /// let mut cx = Context::from_waker(&waker);
    /// assert!(matches!(set.poll_join_next(&mut cx), Poll::Ready(Some(Ok(5)))));
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if let Some(r) = self.done.pop_front() {
            return Poll::Ready(Some(r));
        }
        if self.engine.len() == 0 {
            return Poll::Ready(None);
        }
        let _ = self.engine.poll(
            cx,
            &mut SetOwner {
                done: &mut self.done,
            },
        );
        match self.done.pop_front() {
            Some(r) => Poll::Ready(Some(r)),
            None => Poll::Pending,
        }
    }

    /// Waits for every child and returns their outputs in completion order.
    ///
    /// # Panics
    ///
    /// If a child panicked, the panic is resumed here after the remaining
    /// children were cancelled (dropped).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let base = 10;
    /// let base = &base;
    /// let mut set = tether::ScopedJoinSet::new();
    /// for i in 0..3 {
    ///     set.spawn(async move { base + i });
    /// }
    /// let mut out = set.join_all().await;
    /// out.sort();
    /// assert_eq!(out, [10, 11, 12]);
    /// # });
    /// ```
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(res) = self.join_next().await {
            match res {
                Ok(v) => out.push(v),
                Err(e) if e.is_panic() => {
                    drop(self);
                    panic::resume_unwind(e.into_panic());
                }
                Err(e) => panic!("ScopedJoinSet::join_all: a child was cancelled: {e}"),
            }
        }
        out
    }

    /// Requests cancellation of every child; each is dropped on the next
    /// poll of the set and reports a cancelled [`JoinError`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut set = tether::ScopedJoinSet::new();
    /// set.spawn(std::future::pending::<()>());
    /// set.abort_all();
    /// assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort_all(&mut self) {
        self.engine.abort_all();
    }
}

#[cfg(test)]
impl<'env, T> ScopedJoinSet<'env, T> {
    pub(crate) fn engine_for_tests(&self) -> &Engine<'env> {
        &self.engine
    }
}

/// The set as the engine's [`Owner`]: completed children become results.
struct SetOwner<'a, T> {
    /// The set's results, in completion order.
    done: &'a mut VecDeque<Result<T, JoinError>>,
}

impl<T> Owner for SetOwner<'_, T> {
    fn poll_body(&mut self, _cx: &mut Context<'_>) -> bool {
        true
    }

    fn complete(&mut self, child: RawChild) {
        // SAFETY: I1: after the session's join; the child was created by
        // `spawn` with output T and no handle.
        self.done.push_back(unsafe { child.take_output::<T>() });
        // SAFETY: I4: complete, released once, inside our poll. There is no
        // handle, so the output was taken above and nothing can panic.
        let _ = unsafe { child.release_owner() };
    }

    fn finished(&mut self, _engine: &mut Engine<'_>) -> bool {
        !self.done.is_empty()
    }

    fn returns_per_completion(&self) -> bool {
        true
    }
}

impl<T> Default for ScopedJoinSet<'_, T> {
    fn default() -> Self {
        ScopedJoinSet::new()
    }
}

impl<T> fmt::Debug for ScopedJoinSet<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinSet")
            .field("len", &self.len())
            .finish()
    }
}
