//! [`UdpSocket`]: datagrams over UDP.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::io::{Direction, PollEvented};
use crate::net::addr::{ToSocketAddrs, each_addr, no_addresses, to_socket_addrs};
use crate::net::stream::wait_ready;

/// A UDP socket.
///
/// All methods take `&self`, so one socket can be shared (for example by
/// reference inside a scope, or in an `Arc`) between a task that sends and
/// tasks that receive; any number of tasks may wait on it at once.
///
/// # Examples
///
/// ```
/// use tether::net::UdpSocket;
///
/// # fn main() -> std::io::Result<()> {
/// tether::Runtime::new()?.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0u8; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     Ok(())
/// })
/// # }
/// ```
pub struct UdpSocket {
    /// The registered non-blocking socket.
    pub(in crate::net) io: PollEvented<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr`, trying each resolved address in turn.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert_ne!(socket.local_addr()?.port(), 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let addrs = to_socket_addrs(addr).await?;
        each_addr(addrs, |addr| {
            UdpSocket::from_mio(mio::net::UdpSocket::bind(addr)?)
        })
    }

    /// Wraps a socket from the standard library, switching it to
    /// non-blocking mode.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let socket = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0")?)?;
    ///     assert!(socket.local_addr()?.ip().is_loopback());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    #[track_caller]
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::from_mio(mio::net::UdpSocket::from_std(socket))
    }

    #[track_caller]
    fn from_mio(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: PollEvented::new(socket)?,
        })
    }

    /// Sets the default destination of [`send`](UdpSocket::send) and
    /// restricts [`recv`](UdpSocket::recv) to datagrams from that address
    /// (the first resolved address that the OS accepts).
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     a.send(b"hi").await?;
    ///     let mut buf = [0u8; 8];
    ///     let n = b.recv(&mut buf).await?;
    ///     assert_eq!(&buf[..n], b"hi");
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let addrs = to_socket_addrs(addr).await?;
        each_addr(addrs, |addr| self.io.connect(addr))
    }

    /// Sends `buf` to the connected peer; returns the bytes sent.
    ///
    /// # Examples
    ///
    /// See [`connect`](UdpSocket::connect).
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .registration()
            .async_io(Direction::Write, || self.io.send(buf))
            .await
    }

    /// Receives a datagram from the connected peer into `buf`; returns its
    /// length (bytes beyond `buf.len()` are discarded).
    ///
    /// # Examples
    ///
    /// See [`connect`](UdpSocket::connect).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .registration()
            .async_io(Direction::Read, || self.io.recv(buf))
            .await
    }

    /// Sends `buf` to `target` (its first resolved address); returns the
    /// bytes sent.
    ///
    /// # Examples
    ///
    /// See [`UdpSocket`].
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let target = to_socket_addrs(target)
            .await?
            .next()
            .ok_or_else(no_addresses)?;
        self.io
            .registration()
            .async_io(Direction::Write, || self.io.send_to(buf, target))
            .await
    }

    /// Receives a datagram into `buf`; returns its length and sender.
    ///
    /// # Examples
    ///
    /// See [`UdpSocket`].
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .registration()
            .async_io(Direction::Read, || self.io.recv_from(buf))
            .await
    }

    /// Waits until a datagram can be received; pair it with
    /// [`try_recv_from`](UdpSocket::try_recv_from) and loop on `WouldBlock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.writable().await?;
    ///     a.try_send_to(b"x", b.local_addr()?)?;
    ///     let mut buf = [0u8; 4];
    ///     let (n, _) = loop {
    ///         b.readable().await?;
    ///         match b.try_recv_from(&mut buf) {
    ///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///             other => break other?,
    ///         }
    ///     };
    ///     assert_eq!(&buf[..n], b"x");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        wait_ready(&self.io, Direction::Read).await
    }

    /// Waits until a datagram can be sent; see
    /// [`readable`](UdpSocket::readable).
    ///
    /// # Examples
    ///
    /// See [`readable`](UdpSocket::readable).
    pub async fn writable(&self) -> io::Result<()> {
        wait_ready(&self.io, Direction::Write).await
    }

    /// Sends `buf` to `target` without waiting, or fails with
    /// [`ErrorKind::WouldBlock`](io::ErrorKind::WouldBlock).
    ///
    /// # Examples
    ///
    /// See [`readable`](UdpSocket::readable).
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io
            .registration()
            .try_io(Direction::Write, || self.io.send_to(buf, target))
    }

    /// Receives a datagram into `buf` without waiting; returns
    /// [`ErrorKind::WouldBlock`](io::ErrorKind::WouldBlock) if none is queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let err = socket.try_recv_from(&mut [0u8; 8]).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .registration()
            .try_io(Direction::Read, || self.io.recv_from(buf))
    }

    /// The address this socket is bound to.
    ///
    /// # Examples
    ///
    /// See [`bind`](UdpSocket::bind).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// The address this socket is connected to.
    ///
    /// # Examples
    ///
    /// See [`connect`](UdpSocket::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.peer_addr()
    }

    /// Enables or disables sending to broadcast addresses.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     socket.set_broadcast(true)?;
    ///     assert!(socket.broadcast()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.set_broadcast(on)
    }

    /// Whether broadcast is enabled; see
    /// [`set_broadcast`](UdpSocket::set_broadcast).
    ///
    /// # Examples
    ///
    /// See [`set_broadcast`](UdpSocket::set_broadcast).
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.broadcast()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
