//! [`TcpListener`]: accepts TCP connections.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;

use super::TcpStream;
use crate::net::addr::{ToSocketAddrs, each_addr, to_socket_addrs};
use crate::net::listener::ListenerIo;

/// A TCP socket server, listening for connections.
///
/// # Examples
///
/// ```
/// use futures::{AsyncReadExt, AsyncWriteExt};
/// use tether::net::{TcpListener, TcpStream};
///
/// # fn main() -> std::io::Result<()> {
/// tether::Runtime::new()?.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let client = tether::spawn(async move {
///         let mut stream = TcpStream::connect(addr).await?;
///         stream.write_all(b"hello").await?;
///         std::io::Result::Ok(())
///     });
///     let (mut conn, _peer) = listener.accept().await?;
///     let mut buf = Vec::new();
///     conn.read_to_end(&mut buf).await?;
///     assert_eq!(buf, b"hello");
///     client.await.unwrap()?;
///     Ok(())
/// })
/// # }
/// ```
pub struct TcpListener {
    /// The registered non-blocking listener and the shared accept loop.
    pub(in crate::net) io: ListenerIo<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds a listener to `addr`, trying each resolved address in turn
    /// until one succeeds.
    ///
    /// Port 0 asks the OS for a free port; read it back with
    /// [`local_addr`](TcpListener::local_addr). `SO_REUSEADDR` is set, so a
    /// port held only by connections in `TIME_WAIT` can be bound again, but
    /// a port another socket listens on fails with
    /// [`ErrorKind::AddrInUse`](io::ErrorKind::AddrInUse).
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::TcpListener;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let taken = listener.local_addr()?;
    ///     let err = TcpListener::bind(taken).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let addrs = to_socket_addrs(addr).await?;
        each_addr(addrs, |addr| {
            TcpListener::from_mio(mio::net::TcpListener::bind(addr)?)
        })
    }

    /// Wraps a listener from the standard library, switching it to
    /// non-blocking mode.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::TcpListener;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let listener = TcpListener::from_std(std_listener)?;
    ///     assert!(listener.local_addr()?.port() != 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    #[track_caller]
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_mio(mio::net::TcpListener::from_std(listener))
    }

    #[track_caller]
    fn from_mio(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: ListenerIo::new(listener)?,
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Several tasks may await `accept` on one shared listener; each
    /// connection goes to one of them.
    ///
    /// # Examples
    ///
    /// See the [type-level example](TcpListener).
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.io.accept().await
    }

    /// Polls for a connection: the `poll_*` form of
    /// [`accept`](TcpListener::accept), for hand-written futures and
    /// streams. Only the most recent caller's waker is kept, so one task at
    /// a time should poll it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let _client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (_conn, peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     assert!(peer.ip().is_loopback());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.io.poll_accept(cx)
    }

    /// A stream of incoming connections (never ends; accept errors are
    /// yielded as items).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let _a = TcpStream::connect(addr).await?;
    ///     let _b = TcpStream::connect(addr).await?;
    ///     let accepted: Vec<_> = listener.incoming().take(2).collect().await;
    ///     assert!(accepted.iter().all(|r| r.is_ok()));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::TcpListener;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     assert!(listener.local_addr()?.ip().is_loopback());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// Sets the IP time-to-live of accepted connections' packets.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::TcpListener;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     listener.set_ttl(42)?;
    ///     assert_eq!(listener.ttl()?, 42);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.set_ttl(ttl)
    }

    /// The IP time-to-live; see [`set_ttl`](TcpListener::set_ttl).
    ///
    /// # Examples
    ///
    /// See [`set_ttl`](TcpListener::set_ttl).
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.ttl()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// Stream of connections returned by [`TcpListener::incoming`].
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    /// The listener accepted from.
    listener: &'a TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let (stream, _) = ready!(self.listener.poll_accept(cx))?;
        Poll::Ready(Some(Ok(stream)))
    }
}
