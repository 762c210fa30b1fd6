//! Serving HTTP/1 and HTTP/2 on one port with services that borrow.
//!
//! hyper-util's `server::conn::auto::Builder` does this for services whose
//! futures are `'static` (it works with [`TetherIo`](super::TetherIo) and
//! [`TetherExecutor`](super::TetherExecutor) as is). Its bounds
//! (`S::Future: 'static`, `I: 'static`) rule out handlers that borrow
//! `&AppState`, so [`Builder`] offers the same detection without them: it
//! reads the first bytes, and if they are the HTTP/2 connection preface
//! hands the connection to hyper's `http2` server, otherwise to hyper's
//! `http1` server, replaying the bytes it read. All HTTP is hyper's.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::rt::bounds::Http2ServerConnExec;
use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use hyper::server::conn::{http1, http2};
use hyper::service::{HttpService, Service};
use hyper::{Request, Response};
use pin_project::pin_project;

use super::TetherTimer;
use crate::time::Sleep;

/// The error a connection ends with.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// The client connection preface of HTTP/2 (RFC 9113, section 3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long a new connection may take to send enough bytes to tell HTTP/1
/// from HTTP/2 (and, for HTTP/1, its request head) by default: hyper's own
/// default header read timeout.
const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Which protocols a [`Builder`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocols {
    /// Detect from the first bytes.
    Auto,
    /// HTTP/1 only.
    Http1,
    /// HTTP/2 (prior knowledge) only.
    Http2,
}

/// Configures and serves connections that speak HTTP/1.1 or HTTP/2 (prior
/// knowledge), chosen per connection from its first bytes.
///
/// `E` is the executor hyper's HTTP/2 server spawns request streams on: a
/// [`ScopeExecutor`](super::ScopeExecutor) when handlers borrow from the
/// stack, a [`TetherExecutor`](super::TetherExecutor) otherwise. Both
/// protocol builders get a [`TetherTimer`], so timeouts run on the
/// runtime's wheel.
///
/// # Examples
///
/// A server whose handler borrows a counter from the stack:
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use http_body_util::{BodyExt, Full};
/// use hyper::body::Bytes;
/// use hyper::{Request, Response, service::service_fn};
/// use tether::hyper::{ScopeExecutor, TetherIo, server::Builder};
/// use tether::net::{TcpListener, TcpStream};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// tether::Runtime::new()?.block_on(async {
///     let hits = AtomicUsize::new(0);
///     let hits = &hits;
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     tether::scope(|s| async move {
///         let builder = Builder::new(ScopeExecutor::new(s.clone()));
///         // server: one connection
///         s.spawn(async move {
///             let (stream, _) = listener.accept().await.unwrap();
///             let service = service_fn(move |_req: Request<hyper::body::Incoming>| async move {
///                 let n = hits.fetch_add(1, Ordering::Relaxed) + 1;
///                 Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(n.to_string()))))
///             });
///             builder.serve_connection(TetherIo::new(stream), service).await.unwrap();
///         });
///         // client: hyper's HTTP/1 client on the same runtime
///         let stream = TcpStream::connect(addr).await?;
///         let (mut send, conn) = hyper::client::conn::http1::handshake(TetherIo::new(stream)).await?;
///         let driver = s.spawn(conn);
///         let req = Request::get("/").body(http_body_util::Empty::<Bytes>::new())?;
///         let body = send.send_request(req).await?.into_body().collect().await?.to_bytes();
///         assert_eq!(&body[..], b"1");
///         drop(send);
///         driver.await.unwrap()?;
///         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
///     })
///     .await
/// })
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Builder<E> {
    /// hyper's HTTP/1 server configuration.
    http1: http1::Builder,
    /// hyper's HTTP/2 server configuration (holds the executor).
    http2: http2::Builder<E>,
    /// Which protocols are accepted.
    protocols: Protocols,
    /// Limit on reading the bytes that pick the protocol.
    detect_timeout: Option<Duration>,
}

impl<E> Builder<E> {
    /// A builder for both protocols, with `executor` for HTTP/2 streams and
    /// a [`TetherTimer`] for both.
    pub fn new(executor: E) -> Self {
        let mut http1 = http1::Builder::new();
        http1.timer(TetherTimer::new());
        let mut http2 = http2::Builder::new(executor);
        http2.timer(TetherTimer::new());
        Builder {
            http1,
            http2,
            protocols: Protocols::Auto,
            detect_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
        }
    }

    /// hyper's HTTP/1 builder, to configure (keep-alive, pipelining flush,
    /// `max_buf_size`, `header_read_timeout`, ...).
    pub fn http1(&mut self) -> &mut http1::Builder {
        &mut self.http1
    }

    /// hyper's HTTP/2 builder, to configure (stream limits, keep-alive
    /// pings, window sizes, ...).
    pub fn http2(&mut self) -> &mut http2::Builder<E> {
        &mut self.http2
    }

    /// Accepts HTTP/1 only (no detection).
    pub fn http1_only(&mut self) -> &mut Self {
        self.protocols = Protocols::Http1;
        self
    }

    /// Accepts HTTP/2 with prior knowledge only (no detection).
    pub fn http2_only(&mut self) -> &mut Self {
        self.protocols = Protocols::Http2;
        self
    }

    /// Sets how long a new connection may take to send the bytes that tell
    /// HTTP/1 from HTTP/2, and hyper's HTTP/1 header read timeout, to
    /// `timeout` (`None`: no limit for detection; hyper's HTTP/1 default
    /// then applies). Default: 30 s.
    pub fn header_read_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Self {
        let timeout = timeout.into();
        self.detect_timeout = timeout;
        if let Some(timeout) = timeout {
            self.http1.header_read_timeout(timeout);
        }
        self
    }

    /// Serves one connection with `service` until the peer closes it, an
    /// error occurs, or a [graceful shutdown](Connection::graceful_shutdown)
    /// completes.
    ///
    /// Neither the service's future nor `io` need be `'static`: with a
    /// [`ScopeExecutor`](super::ScopeExecutor) the whole connection can
    /// borrow from the stack.
    pub fn serve_connection<I, S, B>(&self, io: I, service: S) -> Connection<I, S, E>
    where
        S: Service<Request<Incoming>, Response = Response<B>>,
        S::Error: Into<BoxError>,
        B: Body + 'static,
        B::Error: Into<BoxError>,
        I: Read + Write + Unpin,
        E: Http2ServerConnExec<S::Future, B> + Clone,
    {
        let rewind = |io| Rewind::new(io, Vec::new());
        let state = match self.protocols {
            Protocols::Http1 => State::H1 {
                conn: self.http1.serve_connection(rewind(io), service),
            },
            Protocols::Http2 => State::H2 {
                conn: self.http2.serve_connection(rewind(io), service),
            },
            Protocols::Auto => State::Detect {
                detect: Some(Detect {
                    io,
                    service,
                    buf: Vec::with_capacity(H2_PREFACE.len()),
                    builder: self.clone(),
                }),
                deadline: self.detect_timeout.map(crate::time::sleep),
            },
        };
        Connection {
            state,
            shutting_down: false,
        }
    }
}

/// A connection being served, from [`Builder::serve_connection`]; a future
/// that completes when the connection is closed.
#[pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Connection<I, S, E>
where
    S: HttpService<Incoming>,
{
    /// Detecting, or serving one of the protocols.
    #[pin]
    state: State<I, S, E>,
    /// A graceful shutdown was requested.
    shutting_down: bool,
}

/// What a connection needs until its protocol is known.
struct Detect<I, S, E> {
    /// The connection.
    io: I,
    /// The service, handed to the chosen protocol.
    service: S,
    /// Bytes read so far (at most the preface's length).
    buf: Vec<u8>,
    /// The configuration.
    builder: Builder<E>,
}

/// The phases of a [`Connection`].
// The serving variants are much larger than `Detect`; boxing them would add
// an allocation per connection, while the size is paid once per connection
// task anyway.
#[allow(clippy::large_enum_variant)]
#[pin_project(project = StateProj)]
enum State<I, S, E>
where
    S: HttpService<Incoming>,
{
    /// Reading the first bytes.
    Detect {
        /// Taken when the protocol is chosen.
        detect: Option<Detect<I, S, E>>,
        /// When detection gives up.
        deadline: Option<Sleep>,
    },
    /// Serving HTTP/1.
    H1 {
        /// hyper's connection.
        #[pin]
        conn: http1::Connection<Rewind<I>, S>,
    },
    /// Serving HTTP/2.
    H2 {
        /// hyper's connection.
        #[pin]
        conn: http2::Connection<Rewind<I>, S, E>,
    },
}

impl<I, S, E, B> Connection<I, S, E>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
    I: Read + Write + Unpin,
    E: Http2ServerConnExec<S::Future, B> + Clone,
{
    /// Starts a graceful shutdown: HTTP/1 finishes the request in flight
    /// and closes; HTTP/2 sends GOAWAY, finishes the open streams and
    /// closes. A connection still detecting its protocol closes at once.
    /// Keep polling the connection until it completes.
    pub fn graceful_shutdown(self: Pin<&mut Self>) {
        let this = self.project();
        *this.shutting_down = true;
        match this.state.project() {
            StateProj::Detect { .. } => {}
            StateProj::H1 { conn } => conn.graceful_shutdown(),
            StateProj::H2 { conn } => conn.graceful_shutdown(),
        }
    }
}

impl<I, S, E, B> Future for Connection<I, S, E>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
    I: Read + Write + Unpin,
    E: Http2ServerConnExec<S::Future, B> + Clone,
{
    type Output = Result<(), BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::H1 { conn } => return conn.poll(cx).map_err(Into::into),
                StateProj::H2 { conn } => return conn.poll(cx).map_err(Into::into),
                StateProj::Detect { detect, deadline } => {
                    if *this.shutting_down {
                        return Poll::Ready(Ok(()));
                    }
                    let d = detect
                        .as_mut()
                        .expect("a detecting connection has its parts");
                    let is_h2 = match poll_detect(&mut d.io, &mut d.buf, cx) {
                        Poll::Ready(Ok(is_h2)) => is_h2,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                        Poll::Pending => {
                            if let Some(deadline) = deadline {
                                ready!(Pin::new(deadline).poll(cx));
                                return Poll::Ready(Err(io::Error::new(
                                    io::ErrorKind::TimedOut,
                                    "timed out reading the start of a request",
                                )
                                .into()));
                            }
                            return Poll::Pending;
                        }
                    };
                    let Detect {
                        io,
                        service,
                        buf,
                        builder,
                    } = detect.take().expect("a detecting connection has its parts");
                    let io = Rewind::new(io, buf);
                    if is_h2 {
                        State::H2 {
                            conn: builder.http2.serve_connection(io, service),
                        }
                    } else {
                        State::H1 {
                            conn: builder.http1.serve_connection(io, service),
                        }
                    }
                }
            };
            this.state.set(next);
        }
    }
}

/// Reads until `buf` is known to start (or not start) with the HTTP/2
/// preface. End of stream or a mismatch means HTTP/1 (hyper then answers
/// or closes as HTTP/1 does).
fn poll_detect<I: Read + Unpin>(
    io: &mut I,
    buf: &mut Vec<u8>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<bool>> {
    loop {
        if buf[..] != H2_PREFACE[..buf.len()] {
            return Poll::Ready(Ok(false));
        }
        if buf.len() == H2_PREFACE.len() {
            return Poll::Ready(Ok(true));
        }
        let mut chunk = [0u8; H2_PREFACE.len()];
        let want = H2_PREFACE.len() - buf.len();
        let mut read_buf = ReadBuf::new(&mut chunk[..want]);
        ready!(Pin::new(&mut *io).poll_read(cx, read_buf.unfilled()))?;
        let filled = read_buf.filled();
        if filled.is_empty() {
            return Poll::Ready(Ok(false));
        }
        buf.extend_from_slice(filled);
    }
}

impl<I, S, E> fmt::Debug for Connection<I, S, E>
where
    S: HttpService<Incoming>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Detect { .. } => "detecting",
            State::H1 { .. } => "http1",
            State::H2 { .. } => "http2",
        };
        f.debug_struct("Connection")
            .field("state", &state)
            .field("shutting_down", &self.shutting_down)
            .finish()
    }
}

/// An I/O stream that first replays bytes already read from it.
#[derive(Debug)]
pub struct Rewind<I> {
    /// Bytes to hand out before reading `io` again.
    prefix: Vec<u8>,
    /// How many of `prefix` were handed out.
    pos: usize,
    /// The stream.
    io: I,
}

impl<I> Rewind<I> {
    /// Wraps `io`, replaying `prefix` first.
    fn new(io: I, prefix: Vec<u8>) -> Self {
        Rewind { prefix, pos: 0, io }
    }

    /// The stream.
    pub fn inner(&self) -> &I {
        &self.io
    }
}

impl<I: Read + Unpin> Read for Rewind<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.prefix.len() {
            let rest = &this.prefix[this.pos..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<I: Write + Unpin> Write for Rewind<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
