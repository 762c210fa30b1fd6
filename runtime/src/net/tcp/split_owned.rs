//! Owned halves of a [`TcpStream`], from [`TcpStream::into_split`].
//!
//! Thin wrappers of the generic halves in `crate::net::split_owned`, which
//! share the stream through an `Arc`, shut the write direction down when
//! the write half is dropped, and put the halves back together. Their
//! `AsyncRead` / `AsyncWrite` / `Debug` impls are next to [`TcpStream`]'s
//! (`crate::net::stream::impl_async_io`).

use std::error::Error;
use std::fmt;
use std::io;
use std::net::SocketAddr;

use super::TcpStream;
use crate::net::split_owned::{self as shared, REUNITE_MISMATCH};

/// The owned read half of a [`TcpStream`]; see [`TcpStream::into_split`].
///
/// # Examples
///
/// See [`TcpStream::into_split`].
pub struct OwnedReadHalf {
    /// The shared stream.
    pub(super) half: shared::OwnedReadHalf<TcpStream>,
}

/// The owned write half of a [`TcpStream`]; see [`TcpStream::into_split`].
/// Dropping it shuts the stream's write direction down.
///
/// # Examples
///
/// See [`TcpStream::into_split`].
pub struct OwnedWriteHalf {
    /// The shared stream; shuts its write direction down when dropped.
    pub(super) half: shared::OwnedWriteHalf<TcpStream>,
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different
/// streams; both are handed back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REUNITE_MISMATCH)
    }
}

impl Error for ReuniteError {}

pub(super) fn split_owned(stream: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let (read, write) = shared::split_owned(stream);
    (OwnedReadHalf { half: read }, OwnedWriteHalf { half: write })
}

impl OwnedReadHalf {
    /// Puts the halves back together into the original stream. Fails with
    /// both halves returned if they belong to different streams.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let a = TcpStream::connect(listener.local_addr()?).await?;
    ///     let b = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (a_rd, a_wr) = a.into_split();
    ///     let (b_rd, b_wr) = b.into_split();
    ///     let err = a_rd.reunite(b_wr).unwrap_err();
    ///     let (a_rd, b_wr) = (err.0, err.1);
    ///     let _a = a_rd.reunite(a_wr).expect("same stream");
    ///     let _b = b_rd.reunite(b_wr).expect("same stream");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        reunite(self, other)
    }

    /// The remote address of the stream.
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
    ///     let local = stream.local_addr()?;
    ///     let (rd, wr) = stream.into_split();
    ///     assert_eq!(rd.peer_addr()?, listener.local_addr()?);
    ///     assert_eq!(wr.local_addr()?, local);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.half.inner.peer_addr()
    }

    /// The local address of the stream.
    ///
    /// # Examples
    ///
    /// See [`OwnedReadHalf::peer_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.half.inner.local_addr()
    }
}

impl OwnedWriteHalf {
    /// Puts the halves back together; see [`OwnedReadHalf::reunite`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let (rd, wr) = TcpStream::connect(listener.local_addr()?).await?.into_split();
    ///     let stream = wr.reunite(rd).expect("same stream");
    ///     assert!(stream.peer_addr().is_ok());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        reunite(other, self)
    }

    /// The remote address of the stream.
    ///
    /// # Examples
    ///
    /// See [`OwnedReadHalf::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.half.inner.peer_addr()
    }

    /// The local address of the stream.
    ///
    /// # Examples
    ///
    /// See [`OwnedReadHalf::peer_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.half.inner.local_addr()
    }
}

fn reunite(read: OwnedReadHalf, write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
    shared::reunite(read.half, write.half).map_err(|(read, write)| {
        ReuniteError(OwnedReadHalf { half: read }, OwnedWriteHalf { half: write })
    })
}
