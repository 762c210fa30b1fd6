//! [`scope_local`]: a scope whose children may be `!Send`.
//!
//! # Why a separate entry point
//!
//! A `!Send` child must be polled on its parent's thread, so the scope future
//! that owns it must itself be `!Send`. Making that a property of the plain
//! [`Scope`] would make every scope future `!Send` (and so unusable inside
//! `tether::spawn`), or would need a runtime check. Instead the choice is in
//! the types: [`scope_local`] hands out a [`LocalScope`], the only handle
//! with `spawn_local`, and returns a [`LocalScopeFuture`], which is `!Send`.
//! `LocalScope` itself is `!Send` too, so a `!Send` future can only be
//! spawned from the scope's own thread (its body or its local children),
//! never from a child running on another worker.
//!
//! Local children (and the body) are polled only by the owner's own pull
//! loop of a session, taking turns with the `Send` children that any thread
//! of the session may poll.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::pin_project;

use super::async_scope::{Scope, ScopeFuture};
use super::engine::Engine;
use super::handle::ScopedJoinHandle;

/// Like [`scope`](super::scope), but the body receives a [`LocalScope`]
/// that can also spawn `!Send` children. The returned future is `!Send`.
///
/// ```
/// use std::rc::Rc;
/// # futures::executor::block_on(async {
/// let shared = Rc::new(5);
/// let shared = &shared;
/// let out = tether::scope_local(|s| async move {
///     let h = s.spawn_local(async move {
///         let local = Rc::clone(shared); // Rc is !Send
///         *local * 2
///     });
///     h.await.unwrap()
/// })
/// .await;
/// assert_eq!(out, 10);
/// # });
/// ```
pub fn scope_local<'env, F, Fut>(f: F) -> LocalScopeFuture<'env, Fut>
where
    F: FnOnce(LocalScope<'env>) -> Fut,
    Fut: Future,
{
    let engine = Engine::with_body();
    let handle = LocalScope {
        inner: Scope::new(engine.shared().clone()),
        _not_send: PhantomData,
    };
    LocalScopeFuture {
        inner: ScopeFuture::new(f(handle), engine),
        _not_send: PhantomData,
    }
}

/// The handle of a [`scope_local`] scope: spawns `Send` children (run in
/// parallel like [`Scope::spawn`]) and `!Send` children (run on the scope's
/// thread). Cloneable, but `!Send`.
///
/// ```
/// # futures::executor::block_on(async {
/// let cell = std::cell::Cell::new(0); // !Sync: only local children may touch it
/// let cell = &cell;
/// tether::scope_local(|s| async move {
///     let a = s.spawn_local(async move { cell.set(cell.get() + 1) });
///     let b = s.spawn(async { 40 + 1 });
///     a.await.unwrap();
///     cell.set(cell.get() + b.await.unwrap());
/// })
/// .await;
/// assert_eq!(cell.get(), 42);
/// # });
/// ```
pub struct LocalScope<'env> {
    /// The underlying scope handle.
    inner: Scope<'env>,
    /// `!Send` and `!Sync`: `spawn_local` must run on the scope's thread.
    _not_send: PhantomData<*const ()>,
}

impl<'env> LocalScope<'env> {
    /// Spawns a `Send` child; see [`Scope::spawn`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let v = tether::scope_local(|s| async move { s.spawn(async { 3 }).await.unwrap() }).await;
    /// assert_eq!(v, 3);
    /// # });
    /// ```
    pub fn spawn<F>(&self, future: F) -> ScopedJoinHandle<'env, F::Output>
    where
        F: Future + Send + 'env,
        F::Output: Send + 'env,
    {
        self.inner.spawn(future)
    }

    /// Spawns a child that need not be `Send`; it is polled only on the
    /// scope's own thread.
    ///
    /// ```
    /// use std::rc::Rc;
    /// # futures::executor::block_on(async {
    /// let n = tether::scope_local(|s| async move {
    ///     s.spawn_local(async { Rc::new(8) }).await.unwrap()
    /// })
    /// .await;
    /// assert_eq!(*n, 8);
    /// # });
    /// ```
    pub fn spawn_local<F>(&self, future: F) -> ScopedJoinHandle<'env, F::Output>
    where
        F: Future + 'env,
    {
        // SAFETY: `LocalScope` is neither Send nor Sync and the
        // `LocalScopeFuture` is not Send, so both stay on the thread that
        // called `scope_local`: this call runs on that thread, and local
        // children are polled and dropped only by the owner, on that same
        // thread (the owner's pull loop, I1/I4).
        unsafe { self.inner.spawn_raw(future, true) }
    }

    /// True once the scope ended; see [`Scope::is_closed`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// tether::scope_local(|s| async move { assert!(!s.is_closed()) }).await;
    /// # });
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl Clone for LocalScope<'_> {
    fn clone(&self) -> Self {
        LocalScope {
            inner: self.inner.clone(),
            _not_send: PhantomData,
        }
    }
}

impl fmt::Debug for LocalScope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalScope")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The `!Send` future returned by [`scope_local`].
#[pin_project]
#[must_use = "a scope does nothing unless polled"]
pub struct LocalScopeFuture<'env, Fut: Future> {
    /// The scope proper.
    #[pin]
    inner: ScopeFuture<'env, Fut>,
    /// `!Send`: local children must stay on the owner's thread.
    _not_send: PhantomData<*const ()>,
}

impl<Fut: Future> Future for LocalScopeFuture<'_, Fut> {
    type Output = Fut::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        self.project().inner.poll(cx)
    }
}

impl<Fut: Future> fmt::Debug for LocalScopeFuture<'_, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LocalScopeFuture")
            .field(&self.inner)
            .finish()
    }
}
