//! Owned halves of a [`UnixStream`], from [`UnixStream::into_split`]: aliases of the
//! shared generic halves (`crate::net::split_owned`) with `reunite` and the
//! address accessors. Their `AsyncRead` / `AsyncWrite` impls are next to
//! [`UnixStream`]'s.

use std::error::Error;
use std::fmt;
use std::io;
use std::os::unix::net::SocketAddr;

use super::UnixStream;
use crate::net::split_owned::{REUNITE_MISMATCH, reunite};

/// The owned read half of a [`UnixStream`]; see [`UnixStream::into_split`].
///
/// # Examples
///
/// See [`UnixStream::into_split`].
pub type OwnedReadHalf = crate::net::split_owned::OwnedReadHalf<UnixStream>;

/// The owned write half of a [`UnixStream`]; see [`UnixStream::into_split`].
/// Dropping it shuts the stream's write direction down.
///
/// # Examples
///
/// See [`UnixStream::into_split`].
pub type OwnedWriteHalf = crate::net::split_owned::OwnedWriteHalf<UnixStream>;

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

impl OwnedReadHalf {
    /// Puts the halves back together into the original stream. Fails with
    /// both halves returned if they belong to different streams.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let (a, b) = UnixStream::pair()?;
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
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<UnixStream, ReuniteError> {
        reunite(self, other).map_err(|(read, write)| ReuniteError(read, write))
    }

    /// The remote address of the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let (stream, _other) = UnixStream::pair()?;
    ///     let (rd, wr) = stream.into_split();
    ///     assert!(rd.peer_addr()?.is_unnamed());
    ///     assert!(wr.local_addr()?.is_unnamed());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address of the stream.
    ///
    /// # Examples
    ///
    /// See [`OwnedReadHalf::peer_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl OwnedWriteHalf {
    /// Puts the halves back together; see [`OwnedReadHalf::reunite`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// tether::Runtime::new()?.block_on(async {
    ///     let (rd, wr) = UnixStream::pair()?.0.into_split();
    ///     let stream = wr.reunite(rd).expect("same stream");
    ///     assert!(stream.peer_addr().is_ok());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn reunite(self, other: OwnedReadHalf) -> Result<UnixStream, ReuniteError> {
        reunite(other, self).map_err(|(read, write)| ReuniteError(read, write))
    }

    /// The remote address of the stream.
    ///
    /// # Examples
    ///
    /// See [`OwnedReadHalf::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address of the stream.
    ///
    /// # Examples
    ///
    /// See [`OwnedReadHalf::peer_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}
