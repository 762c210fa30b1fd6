//! Borrowed halves of a [`UnixStream`], from [`UnixStream::split`]: aliases of the
//! shared generic halves (`crate::net::split`) with the address accessors.
//! Their `AsyncRead` / `AsyncWrite` impls are next to [`UnixStream`]'s.

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
pub type ReadHalf<'a> = crate::net::split::ReadHalf<'a, UnixStream>;

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
pub type WriteHalf<'a> = crate::net::split::WriteHalf<'a, UnixStream>;

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
