//! [`TcpSocket`]: a TCP socket configured before it connects or listens.
//!
//! Options such as `SO_REUSEADDR` or the buffer sizes must be set before
//! `bind`, `connect` or `listen`; [`TcpListener::bind`] and
//! [`TcpStream::connect`] create their socket and use it at once, so this
//! builder is the way to set them. The options go through `socket2` (the
//! standard library has no setter for most of them).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::{TcpListener, TcpStream};

/// A TCP socket that has not yet been turned into a [`TcpStream`] (with
/// [`connect`](TcpSocket::connect)) or a [`TcpListener`] (with
/// [`listen`](TcpSocket::listen)).
///
/// Creating and configuring one needs no runtime; `connect` and `listen`
/// register the socket with the current runtime's reactor.
///
/// # Examples
///
/// A listener with `SO_REUSEADDR` and a larger receive buffer, and a client
/// bound to a chosen local address before it connects:
///
/// ```
/// use tether::net::TcpSocket;
///
/// # fn main() -> std::io::Result<()> {
/// tether::Runtime::new()?.block_on(async {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseaddr(true)?;
///     socket.set_recv_buffer_size(256 * 1024)?;
///     socket.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = socket.listen(1024)?;
///     let addr = listener.local_addr()?;
///
///     let client = TcpSocket::new_v4()?;
///     client.bind("127.0.0.1:0".parse().unwrap())?;
///     let local = client.local_addr()?;
///     let stream = client.connect(addr).await?;
///     let (_server, peer) = listener.accept().await?;
///     assert_eq!(peer, local);
///     assert_eq!(stream.local_addr()?, local);
///     Ok(())
/// })
/// # }
/// ```
pub struct TcpSocket {
    /// The socket, in non-blocking mode.
    inner: Socket,
}

impl TcpSocket {
    /// Creates an IPv4 TCP socket (non-blocking, close-on-exec).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = tether::net::TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// assert!(socket.local_addr()?.is_ipv4());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// Creates an IPv6 TCP socket (non-blocking, close-on-exec). Fails if
    /// the host has no IPv6 support.
    ///
    /// # Examples
    ///
    /// ```
    /// if let Ok(socket) = tether::net::TcpSocket::new_v6() {
    ///     if socket.bind("[::1]:0".parse().unwrap()).is_ok() {
    ///         assert!(socket.local_addr()?.is_ipv6());
    ///     }
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    /// Creates a socket of `domain`.
    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let inner = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        inner.set_nonblocking(true)?;
        Ok(TcpSocket { inner })
    }

    /// Sets `SO_KEEPALIVE`: the OS probes an idle connection and reports
    /// it broken if the peer stopped answering.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = tether::net::TcpSocket::new_v4()?;
    /// socket.set_keepalive(true)?;
    /// assert!(socket.keepalive()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.inner.set_keepalive(keepalive)
    }

    /// Whether `SO_KEEPALIVE` is set; see
    /// [`set_keepalive`](TcpSocket::set_keepalive).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tether::net::TcpSocket::new_v4()?.keepalive()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn keepalive(&self) -> io::Result<bool> {
        self.inner.keepalive()
    }

    /// Sets `SO_REUSEADDR`: a listener can bind to a port that still has
    /// connections in `TIME_WAIT` (a restarted server keeps its port).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = tether::net::TcpSocket::new_v4()?;
    /// socket.set_reuseaddr(true)?;
    /// assert!(socket.reuseaddr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.inner.set_reuse_address(reuseaddr)
    }

    /// Whether `SO_REUSEADDR` is set; see
    /// [`set_reuseaddr`](TcpSocket::set_reuseaddr).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tether::net::TcpSocket::new_v4()?.reuseaddr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.inner.reuse_address()
    }

    /// Sets `SO_REUSEPORT`: several sockets (of the same user) may bind the
    /// same address and port, and the kernel spreads incoming connections
    /// over their listeners.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::TcpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let a = TcpSocket::new_v4()?;
    ///     a.set_reuseport(true)?;
    ///     a.bind("127.0.0.1:0".parse().unwrap())?;
    ///     let addr = a.local_addr()?;
    ///     let b = TcpSocket::new_v4()?;
    ///     b.set_reuseport(true)?;
    ///     b.bind(addr)?;
    ///     let (_a, _b) = (a.listen(16)?, b.listen(16)?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.inner.set_reuse_port(reuseport)
    }

    /// Whether `SO_REUSEPORT` is set; see
    /// [`set_reuseport`](TcpSocket::set_reuseport).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tether::net::TcpSocket::new_v4()?.reuseport()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    pub fn reuseport(&self) -> io::Result<bool> {
        self.inner.reuse_port()
    }

    /// Sets `SO_SNDBUF`, the size of the kernel's send buffer. The kernel
    /// may round or double the value (Linux doubles it for bookkeeping).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = tether::net::TcpSocket::new_v4()?;
    /// socket.set_send_buffer_size(64 * 1024)?;
    /// assert!(socket.send_buffer_size()? >= 64 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_send_buffer_size(size as usize)
    }

    /// The size of the kernel's send buffer, `SO_SNDBUF`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tether::net::TcpSocket::new_v4()?.send_buffer_size()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.inner
            .send_buffer_size()
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Sets `SO_RCVBUF`, the size of the kernel's receive buffer. The
    /// kernel may round or double the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = tether::net::TcpSocket::new_v4()?;
    /// socket.set_recv_buffer_size(64 * 1024)?;
    /// assert!(socket.recv_buffer_size()? >= 64 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_recv_buffer_size(size as usize)
    }

    /// The size of the kernel's receive buffer, `SO_RCVBUF`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tether::net::TcpSocket::new_v4()?.recv_buffer_size()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.inner
            .recv_buffer_size()
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Sets `SO_LINGER`; see [`TcpStream::set_linger`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let socket = tether::net::TcpSocket::new_v4()?;
    /// socket.set_linger(Some(Duration::from_secs(1)))?;
    /// assert_eq!(socket.linger()?, Some(Duration::from_secs(1)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.set_linger(dur)
    }

    /// `SO_LINGER`; see [`set_linger`](TcpSocket::set_linger).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tether::net::TcpSocket::new_v4()?.linger()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.inner.linger()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm) on the future
    /// stream.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = tether::net::TcpSocket::new_v4()?;
    /// socket.set_nodelay(true)?;
    /// assert!(socket.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set; see
    /// [`set_nodelay`](TcpSocket::set_nodelay).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tether::net::TcpSocket::new_v4()?.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.tcp_nodelay()
    }

    /// The local address the socket is bound to (after
    /// [`bind`](TcpSocket::bind), or the one the OS chose on connect).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = tether::net::TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()?.as_socket().ok_or_else(not_inet)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tether::net::TcpSocket::new_v4()?.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    /// Binds the socket to `addr` (port 0: the OS picks a free port).
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = tether::net::TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// assert!(socket.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.bind(&SockAddr::from(addr))
    }

    /// Connects to `addr` and returns the stream once the handshake
    /// finished (or its error, for example
    /// [`ConnectionRefused`](io::ErrorKind::ConnectionRefused)).
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::{TcpListener, TcpSocket};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let socket = TcpSocket::new_v4()?;
    ///     socket.set_nodelay(true)?;
    ///     let stream = socket.connect(listener.local_addr()?).await?;
    ///     assert!(stream.nodelay()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        match self.inner.connect(&SockAddr::from(addr)) {
            Ok(()) => {}
            Err(e) if connect_in_progress(&e) => {}
            Err(e) => return Err(e),
        }
        let std = std::net::TcpStream::from(self.inner);
        TcpStream::connect_mio(mio::net::TcpStream::from_std(std)).await
    }

    /// Starts listening with a queue of up to `backlog` pending
    /// connections, and returns the listener.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::{TcpSocket, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let socket = TcpSocket::new_v4()?;
    ///     socket.set_reuseaddr(true)?;
    ///     socket.bind("127.0.0.1:0".parse().unwrap())?;
    ///     let listener = socket.listen(128)?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (_server, peer) = listener.accept().await?;
    ///     assert_eq!(peer, client.local_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    #[track_caller]
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        self.inner.listen(backlog)?;
        TcpListener::from_std(std::net::TcpListener::from(self.inner))
    }

    /// Wraps a stream from the standard library (for example to read its
    /// options through this type). The socket is switched to non-blocking
    /// mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let socket = tether::net::TcpSocket::from_std_stream(stream)?;
    /// assert!(socket.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std_stream(stream: std::net::TcpStream) -> io::Result<TcpSocket> {
        let inner = Socket::from(stream);
        inner.set_nonblocking(true)?;
        Ok(TcpSocket { inner })
    }
}

/// Whether `e` is the expected result of a non-blocking `connect`: the
/// handshake is under way.
fn connect_in_progress(e: &io::Error) -> bool {
    /// `EINPROGRESS`: 115 on Linux and Android, 36 on macOS and the BSDs
    /// (`io::ErrorKind::InProgress` is not stable yet).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const EINPROGRESS: i32 = 115;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const EINPROGRESS: i32 = 36;
    e.raw_os_error() == Some(EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock
}

/// The error for a socket address that is not IPv4 or IPv6 (cannot happen
/// for a TCP socket made by this type).
fn not_inet() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the socket address is not an IPv4 or IPv6 address",
    )
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

#[cfg(unix)]
mod fd {
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

    use socket2::Socket;

    use super::TcpSocket;

    impl AsRawFd for TcpSocket {
        fn as_raw_fd(&self) -> RawFd {
            self.inner.as_raw_fd()
        }
    }

    impl AsFd for TcpSocket {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.inner.as_fd()
        }
    }

    impl FromRawFd for TcpSocket {
        /// Wraps an open TCP socket descriptor. It should be in
        /// non-blocking mode: `connect` and `listen` rely on it.
        ///
        /// # Safety
        ///
        /// `fd` must be an open socket descriptor that nothing else owns
        /// (it is closed when the `TcpSocket` is dropped).
        unsafe fn from_raw_fd(fd: RawFd) -> TcpSocket {
            // SAFETY: forwarded to our caller.
            let inner = unsafe { Socket::from(OwnedFd::from_raw_fd(fd)) };
            TcpSocket { inner }
        }
    }

    impl IntoRawFd for TcpSocket {
        fn into_raw_fd(self) -> RawFd {
            self.inner.into_raw_fd()
        }
    }
}
