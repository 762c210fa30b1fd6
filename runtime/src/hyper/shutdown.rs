//! [`GracefulShutdown`]: stop a server's connections politely, within a
//! deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{FutureExt, Shared};
use futures::task::AtomicWaker;
use pin_project::{pin_project, pinned_drop};

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};

/// A connection that can be asked to finish its in-flight work and close:
/// [`server::Connection`](super::server::Connection), and hyper's own
/// `http1`/`http2` server connections.
pub trait GracefulConnection: Future {
    /// Starts a graceful shutdown; the connection completes once the
    /// requests in flight are answered.
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, E, B> GracefulConnection for super::server::Connection<I, S, E>
where
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = hyper::Response<B>,
        >,
    S::Error: Into<super::server::BoxError>,
    B: hyper::body::Body + 'static,
    B::Error: Into<super::server::BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B> + Clone,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        super::server::Connection::graceful_shutdown(self);
    }
}

impl<I, S, B> GracefulConnection for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<super::server::BoxError>,
    B: hyper::body::Body + 'static,
    B::Error: Into<super::server::BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http1::Connection::graceful_shutdown(self);
    }
}

impl<I, S, E, B> GracefulConnection for hyper::server::conn::http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<super::server::BoxError>,
    B: hyper::body::Body + 'static,
    B::Error: Into<super::server::BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http2::Connection::graceful_shutdown(self);
    }
}

/// State shared by a [`GracefulShutdown`] and its watched connections.
struct Inner {
    /// Fired (by send or drop) when the shutdown starts.
    trigger: Mutex<Option<oneshot::Sender<()>>>,
    /// Connections still being served.
    live: AtomicUsize,
    /// Woken when `live` drops to zero.
    drained: AtomicWaker,
}

/// Coordinates a graceful shutdown of the connections it
/// [watches](GracefulShutdown::watch): when [`shutdown`](Self::shutdown)
/// starts, each is asked to finish its in-flight requests and close, and
/// `shutdown` completes once they all did. [`with_deadline`] bounds the
/// whole thing: what is still running at the deadline is cancelled by
/// dropping it, which for connections spawned into a scope means dropping
/// the scope.
///
/// The same role as hyper-util's `GracefulShutdown`, for tether's
/// [`server::Connection`](super::server::Connection) (whose service may
/// borrow) as well as hyper's connections, without a tokio dependency.
///
/// # Examples
///
/// A scoped accept loop that stops on a signal, lets in-flight requests
/// finish for up to 5 s, then cancels the rest:
///
/// ```no_run
/// use std::time::Duration;
/// use http_body_util::Full;
/// use hyper::body::Bytes;
/// use hyper::{Response, service::service_fn};
/// use tether::hyper::{GracefulShutdown, ScopeExecutor, TetherIo, server::Builder, with_deadline};
///
/// # async fn run(listener: tether::net::TcpListener) {
/// let greeting = String::from("hello");
/// let greeting = &greeting;
/// let graceful = GracefulShutdown::new();
/// let graceful = &graceful;
/// let server = tether::scope(|s| async move {
///     let builder = Builder::new(ScopeExecutor::new(s.clone()));
///     let mut stop = std::pin::pin!(tether::signal::ctrl_c());
///     loop {
///         let accept = std::pin::pin!(listener.accept());
///         let (stream, _) = match futures::future::select(accept, stop.as_mut()).await {
///             futures::future::Either::Left((Ok(conn), _)) => conn,
///             futures::future::Either::Left((Err(_), _)) => continue,
///             futures::future::Either::Right(_) => break,
///         };
///         let service = service_fn(move |_req| async move {
///             Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(greeting.clone()))))
///         });
///         s.spawn(graceful.watch(builder.serve_connection(TetherIo::new(stream), service)));
///     }
///     drop(listener); // new connections are refused from here on
///     graceful.shutdown().await;
/// });
/// if let Err(elapsed) = with_deadline(graceful, server, Duration::from_secs(5)).await {
///     eprintln!("cancelled {} connection(s) at the deadline", elapsed.cancelled);
/// }
/// # }
/// ```
pub struct GracefulShutdown {
    /// Shared with the watched connections.
    inner: Arc<Inner>,
    /// Completes when the shutdown starts; cloned into each watcher.
    signal: Shared<oneshot::Receiver<()>>,
}

impl GracefulShutdown {
    /// A coordinator watching no connection yet.
    pub fn new() -> Self {
        let (tx, rx) = oneshot::channel();
        GracefulShutdown {
            inner: Arc::new(Inner {
                trigger: Mutex::new(Some(tx)),
                live: AtomicUsize::new(0),
                drained: AtomicWaker::new(),
            }),
            signal: rx.shared(),
        }
    }

    /// Wraps `conn` so it is asked to shut down gracefully when the
    /// shutdown starts (at once if it already has). Spawn or await the
    /// returned future in place of `conn`.
    pub fn watch<C: GracefulConnection>(&self, conn: C) -> Watched<C> {
        self.inner.live.fetch_add(1, Ordering::AcqRel);
        Watched {
            conn,
            signal: Some(self.signal.clone()),
            inner: self.inner.clone(),
        }
    }

    /// Starts the shutdown without waiting for it.
    pub fn trigger(&self) {
        let tx = crate::loom::lock(&self.inner.trigger).take();
        drop(tx);
    }

    /// Whether the shutdown has started.
    pub fn is_triggered(&self) -> bool {
        crate::loom::lock(&self.inner.trigger).is_none()
    }

    /// Completes once the shutdown has started (for the accept loop, or
    /// another part of the program that should stop with the server).
    pub fn triggered(&self) -> impl Future<Output = ()> + Send + 'static {
        self.signal.clone().map(|_| ())
    }

    /// Number of watched connections still running.
    pub fn live(&self) -> usize {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Starts the shutdown and completes once every watched connection
    /// completed (or was dropped). Only one task should await it at a time.
    pub async fn shutdown(&self) {
        self.trigger();
        std::future::poll_fn(|cx| {
            if self.live() == 0 {
                return Poll::Ready(());
            }
            self.inner.drained.register(cx.waker());
            if self.live() == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

impl Default for GracefulShutdown {
    fn default() -> Self {
        GracefulShutdown::new()
    }
}

impl fmt::Debug for GracefulShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GracefulShutdown")
            .field("triggered", &self.is_triggered())
            .field("live", &self.live())
            .finish()
    }
}

/// A connection watched by a [`GracefulShutdown`]; completes with the
/// connection's output.
#[pin_project(PinnedDrop)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Watched<C> {
    /// The connection.
    #[pin]
    conn: C,
    /// The shutdown signal; `None` once seen.
    signal: Option<Shared<oneshot::Receiver<()>>>,
    /// Live count to decrement on drop.
    inner: Arc<Inner>,
}

impl<C: GracefulConnection> Future for Watched<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let mut this = self.project();
        if let Some(signal) = this.signal.as_mut() {
            if signal.poll_unpin(cx).is_ready() {
                *this.signal = None;
                this.conn.as_mut().graceful_shutdown();
            }
        }
        this.conn.poll(cx)
    }
}

#[pinned_drop]
impl<C> PinnedDrop for Watched<C> {
    fn drop(self: Pin<&mut Self>) {
        if self.inner.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.drained.wake();
        }
    }
}

impl<C> fmt::Debug for Watched<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watched")
            .field("shutdown_seen", &self.signal.is_none())
            .finish_non_exhaustive()
    }
}

/// The error of [`with_deadline`]: the server was still running at the
/// deadline and was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineElapsed {
    /// The grace period that elapsed.
    pub grace: Duration,
    /// Watched connections still running at the deadline (cancelled).
    pub cancelled: usize,
}

impl fmt::Display for DeadlineElapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server did not finish within {:?} of the shutdown signal; {} connection(s) cancelled",
            self.grace, self.cancelled
        )
    }
}

impl std::error::Error for DeadlineElapsed {}

/// Runs `server` to completion, but once `graceful`'s shutdown has started
/// gives it at most `grace` more: at the deadline `server` is dropped —
/// for a scope, that cancels every connection and request still running —
/// and [`DeadlineElapsed`] is returned.
pub async fn with_deadline<F: Future>(
    graceful: &GracefulShutdown,
    server: F,
    grace: Duration,
) -> Result<F::Output, DeadlineElapsed> {
    let deadline = async {
        graceful.triggered().await;
        crate::time::sleep(grace).await;
    };
    let server = std::pin::pin!(server);
    let deadline = std::pin::pin!(deadline);
    match futures::future::select(server, deadline).await {
        futures::future::Either::Left((output, _)) => Ok(output),
        futures::future::Either::Right(((), _)) => Err(DeadlineElapsed {
            grace,
            cancelled: graceful.live(),
        }),
    }
}
