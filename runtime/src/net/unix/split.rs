//! Borrowed halves of a [`UnixStream`], from [`UnixStream::split`].
//!
//! The reactor keeps one reader and one writer waker per socket, so the
//! read half and the write half can wait at the same time without stealing
//! each other's wake-ups. Their `AsyncRead` / `AsyncWrite` impls are next
//! to [`UnixStream`]'s (`crate::net::stream::impl_async_io`).

use std::io;
use std::os::unix::net::SocketAddr;

use super::UnixStream;

/// The read half of a [`UnixStream`], borrowed; see [`UnixStream::split`].
///
/// # Examples
///
/// ```
/// use futures::{AsyncReadExt, AsyncWriteExt};
/// use tether::net::UnixStream;
///
/// # fn main() -> std::io::Result<()> {
/// tether::Runtime::new()?.block_on(async {
///     let (mut client, mut server) = UnixStream::pair()?;
///     server.write_all(b"x").await?;
///     let (mut rd, _wr) = UnixStream::split(&mut client);
///     let mut b = [0u8; 1];
///     rd.read_exact(&mut b).await?;
///     assert!(rd.peer_addr()?.is_unnamed());
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct ReadHalf<'a>(pub(super) &'a UnixStream);

/// The write half of a [`UnixStream`], borrowed; see [`UnixStream::split`].
/// Closing it (`AsyncWriteExt::close`) shuts the stream's write direction
/// down.
///
/// # Examples
///
/// ```
/// use futures::{AsyncReadExt, AsyncWriteExt};
/// use tether::net::UnixStream;
///
/// # fn main() -> std::io::Result<()> {
/// tether::Runtime::new()?.block_on(async {
///     let (mut client, mut server) = UnixStream::pair()?;
///     let (_rd, mut wr) = UnixStream::split(&mut client);
///     wr.write_all(b"bye").await?;
///     wr.close().await?;
///     let mut got = Vec::new();
///     server.read_to_end(&mut got).await?;
///     assert_eq!(got, b"bye");
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct WriteHalf<'a>(pub(super) &'a UnixStream);

pub(super) fn split(stream: &mut UnixStream) -> (ReadHalf<'_>, WriteHalf<'_>) {
    (ReadHalf(stream), WriteHalf(stream))
}

impl ReadHalf<'_> {
    /// The remote address of the stream.
    ///
    /// # Examples
    ///
    /// See [`ReadHalf`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }

    /// The local address of the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let (mut client, _server) = UnixStream::pair()?;
    ///     let (rd, wr) = UnixStream::split(&mut client);
    ///     assert!(rd.local_addr()?.is_unnamed());
    ///     assert!(wr.local_addr()?.is_unnamed());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl WriteHalf<'_> {
    /// The remote address of the stream.
    ///
    /// # Examples
    ///
    /// See [`ReadHalf::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }

    /// The local address of the stream.
    ///
    /// # Examples
    ///
    /// See [`ReadHalf::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}
