//! Executors for hyper: [`TetherExecutor`] spawns `'static` tasks on a
//! runtime, [`ScopeExecutor`] spawns children into a [`Scope`].

use std::fmt;
use std::future::Future;

use crate::runtime::Handle;
use crate::scope::Scope;

/// A [`hyper::rt::Executor`] that spawns each future as a `'static` task on
/// a tether runtime — hyper-util's `TokioExecutor` for tether.
///
/// Use it wherever hyper's bounds demand `'static` futures: the client side
/// (hyper-util's legacy `Client`, `client::conn::http2::handshake`), and
/// servers whose services own their state (`Arc`). For servers whose
/// handlers borrow, see [`ScopeExecutor`].
///
/// # Examples
///
/// ```
/// use hyper::rt::Executor;
/// use tether::hyper::TetherExecutor;
///
/// let rt = tether::Runtime::new()?;
/// let exec = TetherExecutor::with_handle(rt.handle().clone());
/// let (tx, rx) = futures::channel::oneshot::channel();
/// exec.execute(async move { tx.send(42).unwrap() });
/// assert_eq!(rt.block_on(rx), Ok(42));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct TetherExecutor {
    /// The runtime to spawn on; `None`: the runtime current at `execute`.
    handle: Option<Handle>,
}

impl TetherExecutor {
    /// An executor that spawns onto the runtime current when
    /// [`execute`](hyper::rt::Executor::execute) is called (hyper calls it
    /// from the task that drives the connection).
    pub fn new() -> Self {
        TetherExecutor { handle: None }
    }

    /// An executor that always spawns onto `handle`'s runtime, from any
    /// thread.
    pub fn with_handle(handle: Handle) -> Self {
        TetherExecutor {
            handle: Some(handle),
        }
    }
}

impl<F> hyper::rt::Executor<F> for TetherExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    /// Spawns `future` as a detached task.
    ///
    /// # Panics
    ///
    /// Panics if the executor has no handle and is called outside a tether
    /// runtime.
    #[track_caller]
    fn execute(&self, future: F) {
        match &self.handle {
            Some(handle) => drop(handle.spawn(future)),
            None => drop(crate::spawn(future)),
        }
    }
}

impl fmt::Debug for TetherExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TetherExecutor")
            .field("pinned_to_handle", &self.handle.is_some())
            .finish()
    }
}

/// A [`hyper::rt::Executor`] that spawns each future as a child of a
/// [`Scope`], so the futures hyper hands it may borrow anything that
/// outlives the scope (`'env`): no `'static`, no `Arc`.
///
/// # Where hyper's bounds allow it
///
/// * **HTTP/2 server**: `hyper::server::conn::http2::Builder::new(exec)`
///   spawns one task per request stream (the service future plus the
///   response body). Its bounds ask only `Executor<H2Stream<..>> + Clone`,
///   with no `'static`, so with a `ScopeExecutor` request handlers that
///   borrow `&AppState` run as parallel scoped children. Through
///   [`server::Builder`](super::server::Builder) this covers HTTP/1 and
///   HTTP/2 on one port.
/// * **HTTP/1 server**: hyper spawns nothing; the service future runs
///   inside the connection future, which is itself spawned as a scoped
///   child by the accept loop.
/// * **Not possible**: hyper-util's `server::conn::auto::Builder` requires
///   `S::Future: 'static` and `I: 'static`; the HTTP/2 *client*
///   (`client::conn::http2`, legacy `Client`) spawns its connection task
///   with `'static` bounds and response bodies must be `'static`. Use
///   [`TetherExecutor`] there.
///
/// Children are detached: they run until they finish or the scope is
/// dropped (which cancels them), and a panic in one is re-raised by the
/// scope like any child's.
///
/// # Examples
///
/// ```
/// use hyper::rt::Executor;
/// use tether::hyper::ScopeExecutor;
///
/// # futures::executor::block_on(async {
/// let hits = std::sync::atomic::AtomicUsize::new(0);
/// let hits = &hits;
/// tether::scope(|s| async move {
///     let exec = ScopeExecutor::new(s);
///     for _ in 0..3 {
///         // borrows `hits`: no Arc
///         exec.execute(async move { hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed); });
///     }
/// })
/// .await;
/// assert_eq!(hits.load(std::sync::atomic::Ordering::Relaxed), 3);
/// # });
/// ```
#[derive(Clone)]
pub struct ScopeExecutor<'env> {
    /// The scope children are spawned into.
    scope: Scope<'env>,
}

impl<'env> ScopeExecutor<'env> {
    /// An executor spawning into `scope`.
    pub fn new(scope: Scope<'env>) -> Self {
        ScopeExecutor { scope }
    }

    /// The scope futures are spawned into.
    pub fn scope(&self) -> &Scope<'env> {
        &self.scope
    }
}

impl<'env, F> hyper::rt::Executor<F> for ScopeExecutor<'env>
where
    F: Future + Send + 'env,
    F::Output: Send + 'env,
{
    /// Spawns `future` as a detached child of the scope. On a scope that
    /// already ended the future is dropped at once.
    fn execute(&self, future: F) {
        drop(self.scope.spawn(future));
    }
}

impl fmt::Debug for ScopeExecutor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeExecutor")
            .field("closed", &self.scope.is_closed())
            .finish()
    }
}
