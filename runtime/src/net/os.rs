//! The sockets' OS-level surface, as tokio offers it: raw descriptors
//! (`AsRawFd`, `AsFd`), conversion back to the standard library
//! (`into_std`), and the socket options the standard library lacks
//! (`SO_LINGER`, through `socket2`).
//!
//! `into_std` deregisters the socket from the reactor first, so the
//! returned standard socket is a plain (still non-blocking) descriptor that
//! no reactor watches any more.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::io::{FromRawFd, IntoRawFd};
use std::time::Duration;

use super::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};

/// Implements `AsRawFd` and `AsFd` for a socket type whose `io` field
/// dereferences to its `mio` socket.
macro_rules! impl_fd {
    ($($ty:ty),* $(,)?) => {$(
        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                (*self.io).as_raw_fd()
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                (*self.io).as_fd()
            }
        }
    )*};
}

impl_fd!(TcpStream, TcpListener, UdpSocket, UnixStream, UnixListener);

/// Moves the descriptor of a `mio` socket into the standard-library type.
fn into_std<M: IntoRawFd, S: FromRawFd>(socket: M) -> S {
    // SAFETY: the descriptor is open and owned by `socket`, whose ownership
    // `into_raw_fd` gives up; it is a socket of the kind `S` wraps (each
    // caller converts mio's type to its std counterpart).
    unsafe { S::from_raw_fd(socket.into_raw_fd()) }
}

impl TcpStream {
    /// Turns the stream into a standard-library stream. The socket is
    /// deregistered from the reactor and stays in non-blocking mode (use
    /// [`set_nonblocking`](std::net::TcpStream::set_nonblocking) to change
    /// that).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let mut client = client.into_std()?;
    ///     client.set_nonblocking(false)?;
    ///     let mut server = server.into_std()?;
    ///     server.set_nonblocking(false)?;
    ///     client.write_all(b"hi")?;
    ///     let mut buf = [0; 2];
    ///     server.read_exact(&mut buf)?;
    ///     assert_eq!(&buf, b"hi");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        self.io.into_inner().map(into_std)
    }

    /// Sets `SO_LINGER`. With `Some(d)`, dropping the stream makes the OS
    /// try for up to `d` to send what is still buffered (`Some(ZERO)`:
    /// reset the connection at once, discarding unsent data); with `None`
    /// (the default) the close returns at once and the OS sends the rest in
    /// the background.
    ///
    /// Note that with a non-zero linger the `close` in the stream's drop
    /// may block the dropping thread for up to `d`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     stream.set_linger(Some(Duration::ZERO))?;
    ///     assert_eq!(stream.linger()?, Some(Duration::ZERO));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        socket2::SockRef::from(self).set_linger(dur)
    }

    /// `SO_LINGER`; see [`set_linger`](TcpStream::set_linger).
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
    ///     assert_eq!(stream.linger()?, None);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        socket2::SockRef::from(self).linger()
    }
}

impl TcpListener {
    /// Turns the listener into a standard-library listener, deregistered
    /// from the reactor and still in non-blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::TcpListener;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let std_listener = listener.into_std()?;
    ///     std_listener.set_nonblocking(false)?;
    ///     let _client = std::net::TcpStream::connect(addr)?;
    ///     let (_server, _) = std_listener.accept()?;
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        self.io.into_inner().map(into_std)
    }
}

impl UdpSocket {
    /// Turns the socket into a standard-library socket, deregistered from
    /// the reactor and still in non-blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let addr = socket.local_addr()?;
    ///     let std_socket = socket.into_std()?;
    ///     assert_eq!(std_socket.local_addr()?, addr);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        self.io.into_inner().map(into_std)
    }

    /// Sets the IP time-to-live (`IP_TTL`) of outgoing datagrams.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     socket.set_ttl(17)?;
    ///     assert_eq!(socket.ttl()?, 17);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.set_ttl(ttl)
    }

    /// The IP time-to-live; see [`set_ttl`](UdpSocket::set_ttl).
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(socket.ttl()? > 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.ttl()
    }
}

impl UnixStream {
    /// Turns the stream into a standard-library stream, deregistered from
    /// the reactor and still in non-blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use tether::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let (a, b) = UnixStream::pair()?;
    ///     let (mut a, mut b) = (a.into_std()?, b.into_std()?);
    ///     b.set_nonblocking(false)?;
    ///     a.write_all(b"hi")?;
    ///     let mut buf = [0; 2];
    ///     b.read_exact(&mut buf)?;
    ///     assert_eq!(&buf, b"hi");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        self.io.into_inner().map(into_std)
    }
}

impl UnixListener {
    /// Turns the listener into a standard-library listener, deregistered
    /// from the reactor and still in non-blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UnixListener;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let dir = std::env::temp_dir().join(format!("tether-doc-into-std-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("sock");
    /// let _ = std::fs::remove_file(&path);
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let std_listener = listener.into_std()?;
    ///     let _client = std::os::unix::net::UnixStream::connect(&path)?;
    ///     std_listener.set_nonblocking(false)?;
    ///     let (_server, _) = std_listener.accept()?;
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// std::fs::remove_dir_all(&dir)
    /// # }
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        self.io.into_inner().map(into_std)
    }
}
