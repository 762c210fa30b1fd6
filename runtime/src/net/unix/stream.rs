//! [`UnixStream`]: a Unix-domain stream connection.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;

// Only the type-level docs name these; the impls come from `impl_async_io!`.
#[cfg(doc)]
use futures::io::{AsyncRead, AsyncWrite};

use super::split::{ReadHalf, WriteHalf};
use super::split_owned::{OwnedReadHalf, OwnedWriteHalf};
use crate::net::stream::{Connection, StreamIo, impl_async_io};

/// A Unix-domain stream connection, with `futures::io`'s [`AsyncRead`] and
/// [`AsyncWrite`] and tokio's ([`tether::io::AsyncRead`](crate::io::AsyncRead),
/// [`tether::io::AsyncWrite`](crate::io::AsyncWrite)).
///
/// # Examples
///
/// ```
/// use futures::{AsyncReadExt, AsyncWriteExt};
/// use tether::net::UnixStream;
///
/// # fn main() -> std::io::Result<()> {
/// tether::Runtime::new()?.block_on(async {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"hi").await?;
///     let mut buf = [0u8; 2];
///     b.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     Ok(())
/// })
/// # }
/// ```
pub struct UnixStream {
    /// The registered non-blocking socket and the shared stream layer.
    pub(in crate::net) io: StreamIo<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket listening at `path`.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// See [`UnixListener`](super::UnixListener).
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let stream = UnixStream::from_mio(mio::net::UnixStream::connect(path)?)?;
        poll_fn(|cx| stream.io.evented().registration().poll_write_ready(cx)).await?;
        if let Some(e) = stream.io.take_error()? {
            return Err(e);
        }
        Ok(stream)
    }

    /// A pair of connected, unnamed sockets.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// See [`UnixStream`].
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
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
    /// use tether::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     let a = UnixStream::from_std(a)?;
    ///     assert!(a.peer_addr()?.is_unnamed());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    #[track_caller]
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }

    /// The local address of this connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let (a, b) = UnixStream::pair()?;
    ///     assert!(a.local_addr()?.is_unnamed());
    ///     assert!(b.peer_addr()?.is_unnamed());
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
    /// See [`local_addr`](UnixStream::local_addr).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.peer_addr()
    }

    /// Waits until the stream is readable; pair it with
    /// [`try_read`](UnixStream::try_read) and loop on `WouldBlock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let (a, b) = UnixStream::pair()?;
    ///     a.writable().await?;
    ///     assert_eq!(a.try_write(b"now")?, 3);
    ///     let mut buf = [0u8; 8];
    ///     let n = loop {
    ///         b.readable().await?;
    ///         match b.try_read(&mut buf) {
    ///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///             other => break other?,
    ///         }
    ///     };
    ///     assert_eq!(&buf[..n], b"now");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.io.readable().await
    }

    /// Waits until the stream is writable; see [`readable`](UnixStream::readable).
    ///
    /// # Examples
    ///
    /// See [`readable`](UnixStream::readable).
    pub async fn writable(&self) -> io::Result<()> {
        self.io.writable().await
    }

    /// Reads without waiting, or fails with
    /// [`ErrorKind::WouldBlock`](io::ErrorKind::WouldBlock).
    ///
    /// # Examples
    ///
    /// See [`readable`](UnixStream::readable).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read(buf)
    }

    /// Writes without waiting, or fails with
    /// [`ErrorKind::WouldBlock`](io::ErrorKind::WouldBlock).
    ///
    /// # Examples
    ///
    /// See [`readable`](UnixStream::readable).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_write(buf)
    }

    /// Shuts down the read half, the write half or both.
    ///
    /// At once, without waiting (like `std`'s `shutdown`). Named so that it
    /// does not hide tokio's `AsyncWriteExt::shutdown` (`stream.shutdown().await`
    /// shuts the write direction down, as on tokio) nor `futures`'
    /// `AsyncWriteExt::close`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::AsyncReadExt;
    /// use std::net::Shutdown;
    /// use tether::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let (a, mut b) = UnixStream::pair()?;
    ///     a.shutdown_now(Shutdown::Write)?;
    ///     let mut rest = Vec::new();
    ///     assert_eq!(b.read_to_end(&mut rest).await?, 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn shutdown_now(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown(how)
    }

    /// Splits into borrowed read and write halves usable concurrently.
    ///
    /// With `futures::AsyncReadExt` in scope, method-call syntax
    /// (`stream.split()`) resolves to `AsyncReadExt::split`, which consumes
    /// the stream and puts a lock between the halves; call this one as
    /// `UnixStream::split(&mut stream)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{AsyncReadExt, AsyncWriteExt};
    /// use tether::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let (mut a, mut b) = UnixStream::pair()?;
    ///     let (mut rd, mut wr) = UnixStream::split(&mut a);
    ///     let mut got = [0u8; 3];
    ///     let (w, r, echo) = futures::join!(
    ///         wr.write_all(b"abc"),
    ///         rd.read_exact(&mut got),
    ///         async {
    ///             let mut buf = [0u8; 3];
    ///             b.read_exact(&mut buf).await?;
    ///             b.write_all(&buf).await
    ///         },
    ///     );
    ///     w?; r?; echo?;
    ///     assert_eq!(&got, b"abc");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        super::split::split(self)
    }

    /// Splits into owned halves that can move to different tasks; dropping
    /// the write half shuts the write direction down.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{AsyncReadExt, AsyncWriteExt};
    /// use tether::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let (a, mut b) = UnixStream::pair()?;
    ///     let (_rd, mut wr) = a.into_split();
    ///     tether::spawn(async move { wr.write_all(b"done").await }).await.unwrap()?;
    ///     let mut all = Vec::new();
    ///     b.read_to_end(&mut all).await?; // ends: the write half was dropped
    ///     assert_eq!(all, b"done");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        super::split_owned::split_owned(self)
    }
}

impl_async_io! {
    stream = UnixStream,
    mio = mio::net::UnixStream,
    halves = (ReadHalf<'_>, WriteHalf<'_>, OwnedReadHalf, OwnedWriteHalf),
    flush = "Nothing is buffered in user space: flushing is a no-op.",
    close = "Shuts the write direction down; the peer then reads end-of-stream.",
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
