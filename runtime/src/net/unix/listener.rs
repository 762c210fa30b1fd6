//! [`UnixListener`]: accepts Unix-domain stream connections.

use std::fmt;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;

use super::UnixStream;
use crate::net::listener::ListenerIo;

/// A Unix-domain socket server, listening for connections on a path.
///
/// # Examples
///
/// ```
/// use futures::{AsyncReadExt, AsyncWriteExt};
/// use tether::net::{UnixListener, UnixStream};
///
/// # fn main() -> std::io::Result<()> {
/// let dir = std::env::temp_dir().join(format!("tether-doc-unix-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("listener.sock");
/// # let _ = std::fs::remove_file(&path);
/// tether::Runtime::new()?.block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let mut client = UnixStream::connect(&path).await?;
///     let (mut conn, _addr) = listener.accept().await?;
///     client.write_all(b"over a path").await?;
///     let mut buf = [0u8; 11];
///     conn.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"over a path");
///     std::io::Result::Ok(())
/// })?;
/// std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
pub struct UnixListener {
    /// The registered non-blocking listener and the shared accept loop.
    pub(in crate::net) io: ListenerIo<mio::net::UnixListener>,
}

impl UnixListener {
    /// Creates a socket file at `path` and listens on it. Fails with
    /// [`ErrorKind::AddrInUse`](io::ErrorKind::AddrInUse) if the file exists.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// See [`UnixListener`].
    #[track_caller]
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::from_mio(mio::net::UnixListener::bind(path)?)
    }

    /// Wraps a listener from the standard library, switching it to
    /// non-blocking mode.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tether::net::UnixListener;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let dir = std::env::temp_dir().join(format!("tether-doc-ufs-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("std.sock");
    /// # let _ = std::fs::remove_file(&path);
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path)?)?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     std::io::Result::Ok(())
    /// })?;
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        UnixListener::from_mio(mio::net::UnixListener::from_std(listener))
    }

    #[track_caller]
    fn from_mio(listener: mio::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: ListenerIo::new(listener)?,
        })
    }

    /// Waits for a connection. Several tasks may await it at once.
    ///
    /// # Examples
    ///
    /// See [`UnixListener`].
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        self.io.accept().await
    }

    /// Polls for a connection (the `poll_*` form of
    /// [`accept`](UnixListener::accept)); one task at a time should poll it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use tether::net::{UnixListener, UnixStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let dir = std::env::temp_dir().join(format!("tether-doc-upa-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("poll.sock");
    /// # let _ = std::fs::remove_file(&path);
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let _client = UnixStream::connect(&path).await?;
    ///     let (_conn, _addr) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     std::io::Result::Ok(())
    /// })?;
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.io.poll_accept(cx)
    }

    /// A stream of incoming connections (never ends).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use tether::net::{UnixListener, UnixStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let dir = std::env::temp_dir().join(format!("tether-doc-uin-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("incoming.sock");
    /// # let _ = std::fs::remove_file(&path);
    /// tether::Runtime::new()?.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let _client = UnixStream::connect(&path).await?;
    ///     let first = listener.incoming().next().await.expect("never ends");
    ///     assert!(first.is_ok());
    ///     std::io::Result::Ok(())
    /// })?;
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to.
    ///
    /// # Examples
    ///
    /// See [`from_std`](UnixListener::from_std).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// Stream of connections returned by [`UnixListener::incoming`].
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    /// The listener accepted from.
    listener: &'a UnixListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let (stream, _) = ready!(self.listener.poll_accept(cx))?;
        Poll::Ready(Some(Ok(stream)))
    }
}
