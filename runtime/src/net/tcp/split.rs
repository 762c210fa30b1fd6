//! Borrowed halves of a [`TcpStream`], from [`TcpStream::split`].
//!
//! The reactor keeps one reader and one writer waker per socket, so the
//! read half and the write half can wait at the same time without stealing
//! each other's wake-ups. Their `AsyncRead` / `AsyncWrite` impls are next
//! to [`TcpStream`]'s (`crate::net::stream::impl_async_io`).

use std::io;
use std::net::SocketAddr;

use super::TcpStream;

/// The read half of a [`TcpStream`], borrowed; see [`TcpStream::split`].
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
///     server.write_all(b"x").await?;
///     let (mut rd, _wr) = TcpStream::split(&mut client);
///     let mut b = [0u8; 1];
///     rd.read_exact(&mut b).await?;
///     assert_eq!(rd.peer_addr()?, listener.local_addr()?);
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct ReadHalf<'a>(pub(super) &'a TcpStream);

/// The write half of a [`TcpStream`], borrowed; see [`TcpStream::split`].
/// Closing it (`AsyncWriteExt::close`) shuts the stream's write direction
/// down.
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
///     let (_rd, mut wr) = TcpStream::split(&mut client);
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
pub struct WriteHalf<'a>(pub(super) &'a TcpStream);

pub(super) fn split(stream: &mut TcpStream) -> (ReadHalf<'_>, WriteHalf<'_>) {
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
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let local = client.local_addr()?;
    ///     let (rd, wr) = TcpStream::split(&mut client);
    ///     assert_eq!(rd.local_addr()?, local);
    ///     assert_eq!(wr.local_addr()?, local);
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
