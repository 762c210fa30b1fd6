//! [`TcpStream`]: a TCP connection.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};

// Only the type-level docs name these; the impls come from `impl_async_io!`.
#[cfg(doc)]
use futures::io::{AsyncRead, AsyncWrite};

use super::split::{ReadHalf, WriteHalf};
use super::split_owned::{OwnedReadHalf, OwnedWriteHalf};
use crate::net::addr::{ToSocketAddrs, no_addresses, to_socket_addrs};
use crate::net::stream::{Connection, StreamIo, impl_async_io};

/// A TCP connection. Reads and writes go through tokio's
/// [`AsyncRead`](crate::io::AsyncRead) / [`AsyncWrite`](crate::io::AsyncWrite)
/// (with [`tether::io`](crate::io)'s `AsyncReadExt` / `AsyncWriteExt`, as on
/// tokio) or through [`futures::io::AsyncRead`] and [`AsyncWrite`] (with
/// `futures`' helpers); the example below uses the latter.
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
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let (mut server, _) = listener.accept().await?;
///
///     client.write_all(b"ping").await?;
///     let mut buf = [0u8; 4];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     Ok(())
/// })
/// # }
/// ```
pub struct TcpStream {
    /// The registered non-blocking socket and the shared stream layer.
    pub(in crate::net) io: StreamIo<mio::net::TcpStream>,
}

impl TcpStream {
    /// Opens a connection to `addr`, trying each resolved address in turn
    /// until one connects. Returns the last error if none does (for example
    /// [`ErrorKind::ConnectionRefused`](io::ErrorKind::ConnectionRefused)
    /// when nothing listens on the port).
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let port = listener.local_addr()?.port();
    ///     let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    ///     assert_eq!(stream.peer_addr()?.port(), port);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let addrs = to_socket_addrs(addr).await?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_addr(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_addresses))
    }

    /// Connects to one address: starts a non-blocking connect, then waits
    /// until the socket is writable, which is when the handshake finished
    /// or failed.
    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect_mio(mio::net::TcpStream::connect(addr)?).await
    }

    /// Registers a socket whose non-blocking connect has been started and
    /// waits until the handshake finished or failed.
    pub(super) async fn connect_mio(socket: mio::net::TcpStream) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(socket)?;
        let registration = stream.io.evented().registration();
        loop {
            let event = poll_fn(|cx| registration.poll_write_ready(cx)).await?;
            if let Some(e) = stream.io.take_error()? {
                return Err(e);
            }
            match stream.io.peer_addr() {
                Ok(_) => return Ok(stream),
                // Woken before the handshake finished: wait for the next edge.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    registration.clear_readiness(event)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Wraps a connected stream from the standard library, switching it to
    /// non-blocking mode.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::TcpStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let stream = TcpStream::from_std(std_stream)?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    #[track_caller]
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    /// The local address of this connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, peer) = listener.accept().await?;
    ///     assert_eq!(client.local_addr()?, peer);
    ///     assert_eq!(server.peer_addr()?, peer);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// The remote address of this connection.
    ///
    /// # Examples
    ///
    /// See [`local_addr`](TcpStream::local_addr).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.peer_addr()
    }

    /// Enables or disables `TCP_NODELAY` (Nagle's algorithm off when
    /// enabled): small writes go out at once instead of being coalesced.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     stream.set_nodelay(true)?;
    ///     assert!(stream.nodelay()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set; see [`set_nodelay`](TcpStream::set_nodelay).
    ///
    /// # Examples
    ///
    /// See [`set_nodelay`](TcpStream::set_nodelay).
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.nodelay()
    }

    /// Sets the IP time-to-live of this connection's packets.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     stream.set_ttl(64)?;
    ///     assert_eq!(stream.ttl()?, 64);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.set_ttl(ttl)
    }

    /// The IP time-to-live; see [`set_ttl`](TcpStream::set_ttl).
    ///
    /// # Examples
    ///
    /// See [`set_ttl`](TcpStream::set_ttl).
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.ttl()
    }

    /// Shuts down the read half, the write half or both. After
    /// `shutdown_now(Shutdown::Write)` the peer reads end-of-stream once it has
    /// read everything sent before, and can still write back.
    ///
    /// At once, without waiting (like `std`'s `shutdown`). Named so that it
    /// does not hide tokio's `AsyncWriteExt::shutdown` (`stream.shutdown().await`
    /// shuts the write direction down, as on tokio) nor `futures`'
    /// `AsyncWriteExt::close`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{AsyncReadExt, AsyncWriteExt};
    /// use std::net::Shutdown;
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     client.write_all(b"request").await?;
    ///     client.shutdown_now(Shutdown::Write)?;
    ///
    ///     let mut request = Vec::new();
    ///     server.read_to_end(&mut request).await?; // ends: the client is done
    ///     server.write_all(b"reply").await?;
    ///     drop(server);
    ///
    ///     let mut reply = Vec::new();
    ///     client.read_to_end(&mut reply).await?;
    ///     assert_eq!((&request[..], &reply[..]), (&b"request"[..], &b"reply"[..]));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn shutdown_now(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown(how)
    }

    /// Waits until the stream is readable: data, end-of-stream or an error
    /// is waiting. Pair it with [`try_read`](TcpStream::try_read), which may
    /// still see `WouldBlock` (readiness can be spurious); loop on that.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.writable().await?;
    ///     client.try_write(b"ready")?;
    ///     let mut buf = [0u8; 16];
    ///     let n = loop {
    ///         server.readable().await?;
    ///         match server.try_read(&mut buf) {
    ///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///             other => break other?,
    ///         }
    ///     };
    ///     assert_eq!(&buf[..n], b"ready");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.io.readable().await
    }

    /// Waits until the stream is writable; see [`readable`](TcpStream::readable).
    ///
    /// # Examples
    ///
    /// See [`readable`](TcpStream::readable).
    pub async fn writable(&self) -> io::Result<()> {
        self.io.writable().await
    }

    /// Reads without waiting: the bytes already received, or
    /// [`ErrorKind::WouldBlock`](io::ErrorKind::WouldBlock) if there are none.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     let err = stream.try_read(&mut [0u8; 16]).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read(buf)
    }

    /// Writes without waiting: as much of `buf` as fits in the send buffer
    /// now, or [`ErrorKind::WouldBlock`](io::ErrorKind::WouldBlock).
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     // A connected socket is writable from the start.
    ///     assert_eq!(stream.try_write(b"hi")?, 2);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_write(buf)
    }

    /// Splits the stream into a read half and a write half that borrow it,
    /// so one task can read and write concurrently (for example with
    /// `futures::join!`). No allocation; see
    /// [`into_split`](TcpStream::into_split) for halves that can move to
    /// separate tasks.
    ///
    /// With `futures::AsyncReadExt` in scope, method-call syntax
    /// (`stream.split()`) resolves to `AsyncReadExt::split`, which consumes
    /// the stream and puts a lock between the halves; call this one as
    /// `TcpStream::split(&mut stream)`.
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
    ///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     // Echo on the server side: copy its read half into its write half.
    ///     let echo = async {
    ///         let (mut rd, mut wr) = TcpStream::split(&mut server);
    ///         let n = futures::io::copy(&mut rd, &mut wr).await?;
    ///         wr.close().await?; // the client's read_to_end can end
    ///         std::io::Result::Ok(n)
    ///     };
    ///     let talk = async {
    ///         client.write_all(b"echo me").await?;
    ///         client.close().await?; // shuts down the write half
    ///         let mut back = Vec::new();
    ///         client.read_to_end(&mut back).await?;
    ///         std::io::Result::Ok(back)
    ///     };
    ///     let (copied, back) = futures::join!(echo, talk);
    ///     assert_eq!(copied?, 7);
    ///     assert_eq!(back?, b"echo me");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        super::split::split(self)
    }

    /// Splits the stream into owned halves that can move to different
    /// tasks. Dropping the write half shuts the write direction down; put
    /// the halves back together with [`OwnedReadHalf::reunite`].
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
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///
    ///     let (mut rd, mut wr) = client.into_split();
    ///     let writer = tether::spawn(async move {
    ///         wr.write_all(b"from another task").await
    ///     });
    ///     writer.await.unwrap()?;
    ///     let mut buf = vec![0u8; 17];
    ///     server.read_exact(&mut buf).await?;
    ///     server.write_all(b"ok").await?;
    ///     let mut ok = [0u8; 2];
    ///     rd.read_exact(&mut ok).await?;
    ///     assert_eq!(&ok, b"ok");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        super::split_owned::split_owned(self)
    }
}

impl_async_io! {
    stream = TcpStream,
    mio = mio::net::TcpStream,
    halves = (ReadHalf<'_>, WriteHalf<'_>, OwnedReadHalf, OwnedWriteHalf),
    flush = "TCP has no user-space buffer in tether: flushing is a no-op.",
    close = "Shuts the write direction down; the peer then reads end-of-stream.",
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
