//! [`scope`], [`Scope`] and [`ScopeFuture`]: the async scope.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::{pin_project, pinned_drop};

use super::child::{Payload, RawChild, discard_payload, keep_first};
use super::engine::{Engine, Owner};
use super::handle::ScopedJoinHandle;
use super::shared::Shared;
use crate::loom::sync::Arc;

/// Runs `f(scope)` and the children it spawns; completes with `f`'s output
/// once the body *and every child* completed.
///
/// Children may borrow anything that outlives the scope future (`'env`), so
/// no `'static` bound and no `Arc` are needed. They run while the scope
/// future is polled: on a tether worker, ready children are polled in
/// parallel by idle workers; elsewhere (the current-thread runtime,
/// `futures::executor::block_on`, another runtime) concurrently on one
/// thread. Dropping the scope future cancels the children; a child panic is
/// re-raised from the scope's `poll` (after the body and the other children
/// were cancelled).
///
/// The body is called at once with an owned [`Scope`] handle; bind the
/// references it needs before the `async move` block (`let v = &v;`).
///
/// ```
/// # futures::executor::block_on(async {
/// let data = vec![1, 2, 3, 4];
/// let data = &data;
/// let sum = tether::scope(|s| async move {
///     let (left, right) = data.split_at(2);
///     let a = s.spawn(async move { left.iter().sum::<i32>() });
///     let b = s.spawn(async move { right.iter().sum::<i32>() });
///     a.await.unwrap() + b.await.unwrap()
/// })
/// .await;
/// assert_eq!(sum, 10);
/// # });
/// ```
pub fn scope<'env, F, Fut>(f: F) -> ScopeFuture<'env, Fut>
where
    F: FnOnce(Scope<'env>) -> Fut,
    Fut: Future,
{
    let engine = Engine::with_body();
    let handle = Scope::new(engine.shared().clone());
    ScopeFuture::new(f(handle), engine)
}

/// An owned, cheaply cloneable handle to spawn children into a scope.
///
/// `'env` is invariant: it is exactly the lifetime children may borrow for,
/// which outlives the scope future. A `Scope` that escapes its scope (cloned
/// into an outer variable) is inert once the scope ended: `spawn` then drops
/// the future at once and its handle reports cancellation.
///
/// ```
/// # futures::executor::block_on(async {
/// let mut counts = [0usize; 4];
/// let counts_ref = &mut counts;
/// tether::scope(|s| async move {
///     for (i, c) in counts_ref.iter_mut().enumerate() {
///         let s2 = s.clone();
///         s.spawn(async move {
///             // children may spawn grandchildren into the same scope
///             s2.spawn(async move { *c = i * 10 });
///         });
///     }
/// })
/// .await;
/// assert_eq!(counts, [0, 10, 20, 30]);
/// # });
/// ```
pub struct Scope<'env> {
    /// The scope's wake hub (pending list, closed flag).
    shared: Arc<Shared>,
    /// Invariance over `'env`: a `Scope<'long>` must not be usable as a
    /// `Scope<'short>`, or a child could borrow data that dies before the
    /// scope future does.
    _env: PhantomData<fn(&'env ()) -> &'env ()>,
}

impl<'env> Scope<'env> {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Scope {
            shared,
            _env: PhantomData,
        }
    }

    /// Spawns a child into the scope. It is ready at once: a thread of the
    /// scope's running session polls it as soon as one is free (or the
    /// scope's next poll does, if it is spawned from outside a session).
    ///
    /// On a scope that already ended, the future is dropped at once and the
    /// handle reports [`JoinError::is_cancelled`](crate::JoinError::is_cancelled).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let name = String::from("tether");
    /// let name = &name;
    /// let len = tether::scope(|s| async move { s.spawn(async move { name.len() }).await })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(len, 6);
    /// # });
    /// ```
    pub fn spawn<F>(&self, future: F) -> ScopedJoinHandle<'env, F::Output>
    where
        F: Future + Send + 'env,
        F::Output: Send + 'env,
    {
        // SAFETY: F: Send, so the child may be polled on any worker.
        unsafe { self.spawn_raw(future, false) }
    }

    /// Spawns `future`, polled on the owner's thread only if `local`.
    ///
    /// # Safety
    ///
    /// If `local` is false, `F` and its output must be `Send` (the child is
    /// polled on whichever worker steals it). If it is true, the scope
    /// future must be `!Send` (so its owner's thread never changes) and this
    /// call must run on that thread.
    pub(crate) unsafe fn spawn_raw<F>(
        &self,
        future: F,
        local: bool,
    ) -> ScopedJoinHandle<'env, F::Output>
    where
        F: Future + 'env,
    {
        let child = RawChild::new(future, &self.shared, true, local);
        if let Err(child) = self.shared.push_pending(child) {
            // I6: the scope ended; drop the future now, while 'env is alive
            // (we hold a Scope<'env>), and report cancellation.
            // SAFETY: the child was never handed to an owner, so we are its
            // only user; 'env is alive (I4).
            let res = unsafe { child.cancel() };
            // SAFETY: the owner reference is ours to give up.
            let released = unsafe { child.release_owner() };
            // The entry reference `RawChild::new` counted for a queue push
            // that never happened.
            // SAFETY: that reference is ours; given up once.
            unsafe { child.drop_entry() };
            if let Err(p) = res.and(released) {
                panic::resume_unwind(p);
            }
        }
        ScopedJoinHandle::new(child)
    }

    /// True once the scope ended (completed or dropped): children spawned
    /// now are cancelled at once.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let escaped = std::sync::Mutex::new(None);
    /// let escaped = &escaped;
    /// tether::scope(|s| async move {
    ///     assert!(!s.is_closed());
    ///     *escaped.lock().unwrap() = Some(s.clone());
    /// })
    /// .await;
    /// let s = escaped.lock().unwrap().take().unwrap();
    /// assert!(s.is_closed());
    /// assert!(s.spawn(async { 1 }).await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}

impl Clone for Scope<'_> {
    fn clone(&self) -> Self {
        Scope::new(self.shared.clone())
    }
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The future returned by [`scope`]: the body plus its children.
///
/// Children are polled only inside this future's `poll` and dropped only
/// inside its `poll` or `drop` (see the [module docs](super) for why that
/// makes borrowing sound even if the future is leaked).
#[pin_project(PinnedDrop)]
#[must_use = "a scope does nothing unless polled"]
pub struct ScopeFuture<'env, Fut: Future> {
    /// The body; `None` once it completed (or was cancelled).
    #[pin]
    body: Option<Fut>,
    /// The body's output, until every child completed.
    output: Option<Fut::Output>,
    /// The children.
    engine: Engine<'env>,
    /// Set once `poll` returned `Ready` (or panicked).
    finished: bool,
}

impl<'env, Fut: Future> ScopeFuture<'env, Fut> {
    pub(crate) fn new(body: Fut, engine: Engine<'env>) -> Self {
        ScopeFuture {
            body: Some(body),
            output: None,
            engine,
            finished: false,
        }
    }
}

#[cfg(test)]
impl<Fut: Future> ScopeFuture<'_, Fut> {
    /// Capacity of the children slab (tests check slot reuse).
    pub(crate) fn slab_capacity(&self) -> usize {
        self.engine.slab_capacity()
    }
}

impl<Fut: Future> Future for ScopeFuture<'_, Fut> {
    type Output = Fut::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        let this = self.project();
        assert!(!*this.finished, "`ScopeFuture` polled after completion");
        let mut owner = BodyOwner {
            body: this.body,
            output: this.output,
            finished: this.finished,
            panic: None,
        };
        match this.engine.poll(cx, &mut owner) {
            Poll::Ready(()) => Poll::Ready(owner.output.take().expect("body output present")),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The scope as the engine's [`Owner`]: polls the body, collects the first
/// panic (of the body, a child, or a child output's destructor).
struct BodyOwner<'a, Fut: Future> {
    /// The body; `None` once it completed.
    body: Pin<&'a mut Option<Fut>>,
    /// The body's output, once it completed.
    output: &'a mut Option<Fut::Output>,
    /// The scope's `finished` flag.
    finished: &'a mut bool,
    /// The first panic of this poll; later ones are discarded.
    panic: Option<Payload>,
}

impl<Fut: Future> Owner for BodyOwner<'_, Fut> {
    fn poll_body(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(body) = self.body.as_mut().as_pin_mut() else {
            return true;
        };
        match panic::catch_unwind(AssertUnwindSafe(|| body.poll(cx))) {
            Ok(Poll::Pending) => true,
            Ok(Poll::Ready(out)) => {
                *self.output = Some(out);
                let body = &mut self.body;
                match panic::catch_unwind(AssertUnwindSafe(|| body.set(None))) {
                    Ok(()) => true,
                    Err(p) => {
                        keep_first(&mut self.panic, p);
                        false
                    }
                }
            }
            Err(p) => {
                keep_first(&mut self.panic, p);
                false
            }
        }
    }

    fn complete(&mut self, child: RawChild) {
        // SAFETY: I5: after the session's join, before release.
        if let Some(p) = unsafe { child.take_panic() } {
            keep_first(&mut self.panic, p);
        }
        // SAFETY: I4: the child is complete; inside the owner's poll.
        if let Err(p) = unsafe { child.release_owner() } {
            keep_first(&mut self.panic, p);
        }
    }

    fn finished(&mut self, engine: &mut Engine<'_>) -> bool {
        if let Some(p) = self.panic.take() {
            fail(self.body.as_mut(), engine, self.finished, p);
        }
        if self.body.is_none() && engine.close_if_idle() {
            *self.finished = true;
            return true;
        }
        false
    }
}

/// A body or child panicked: cancel everything (on this thread, 'env alive)
/// and re-raise the panic (I5). Panics of the destructors run meanwhile are
/// discarded: the first panic is the one re-raised.
fn fail<Fut: Future>(
    mut body: Pin<&mut Option<Fut>>,
    engine: &mut Engine<'_>,
    finished: &mut bool,
    payload: Payload,
) -> ! {
    *finished = true;
    if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| body.set(None))) {
        discard_payload(p);
    }
    if let Some(p) = engine.cancel_all() {
        discard_payload(p);
    }
    panic::resume_unwind(payload)
}

#[pinned_drop]
impl<Fut: Future> PinnedDrop for ScopeFuture<'_, Fut> {
    fn drop(self: Pin<&mut Self>) {
        let mut this = self.project();
        // I4: drop the body, then the children (spawns from the body's
        // destructor still land in the scope and are cancelled with the
        // rest), all on this thread while 'env lives.
        let mut first = panic::catch_unwind(AssertUnwindSafe(|| this.body.set(None))).err();
        if let Some(p) = this.engine.cancel_all() {
            keep_first(&mut first, p);
        }
        if let Some(p) = first {
            if std::thread::panicking() {
                discard_payload(p);
            } else {
                panic::resume_unwind(p);
            }
        }
    }
}

impl<Fut: Future> fmt::Debug for ScopeFuture<'_, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeFuture")
            .field("body_done", &self.body.is_none())
            .field("children", &self.engine.len())
            .finish()
    }
}
