//! The byte-stream layer shared by [`TcpStream`](super::TcpStream) and
//! [`UnixStream`](super::UnixStream).
//!
//! [`StreamIo`] holds the registered `mio` socket and implements, once, what
//! both stream types do the same way: readiness waits, `try_read` /
//! `try_write`, the `poll_*` bodies of `AsyncRead` / `AsyncWrite`, and the
//! idempotent write shutdown behind `poll_close`. The public types keep what
//! differs (connecting, addresses, socket options) and forward the rest;
//! [`impl_async_io!`] writes their [`Connection`], `AsyncRead` and
//! `AsyncWrite` impls.
//!
//! Invariants, all inherited from the reactor (`crate::io`), which this layer
//! only calls:
//!
//! - reads and writes go through `PollEvented`'s transfer loop, which spends
//!   the cooperative budget and clears readiness only on `WouldBlock` or on
//!   a short transfer;
//! - `readable` / `writable` use the shared-waiter readiness future, so any
//!   number of tasks may wait on one stream;
//! - `try_read` / `try_write` never wait and clear readiness only when the
//!   operation itself returned `WouldBlock`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::ops::Deref;
use std::task::{Context, Poll};

use mio::event::Source;

use crate::io::{Direction, PollEvented};

/// A connected `mio` stream socket: the one per-type operation the shared
/// layer needs besides reading and writing.
pub(crate) trait MioStream: Source {
    /// Shuts down the read half, the write half or both.
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
}

impl MioStream for mio::net::TcpStream {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        mio::net::TcpStream::shutdown(self, how)
    }
}

#[cfg(unix)]
impl MioStream for mio::net::UnixStream {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        mio::net::UnixStream::shutdown(self, how)
    }
}

/// A public stream type built on [`StreamIo`] (`TcpStream`, `UnixStream`).
/// The split halves are generic over it.
pub(crate) trait Connection: Sized + fmt::Debug {
    /// The `mio` socket underneath.
    type Mio: MioStream;

    /// The shared layer of this stream.
    fn io(&self) -> &StreamIo<Self::Mio>;

    /// Wraps an already registered socket.
    fn from_io(io: StreamIo<Self::Mio>) -> Self;

    /// Registers `stream` with the current runtime's reactor and wraps it.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    #[track_caller]
    fn from_mio(stream: Self::Mio) -> io::Result<Self> {
        Ok(Self::from_io(StreamIo::new(stream)?))
    }
}

/// Waits for readiness in `direction` on `io`, with any number of other
/// waiters (the body of every `readable` / `writable`).
pub(crate) async fn wait_ready<E: Source>(
    io: &PollEvented<E>,
    direction: Direction,
) -> io::Result<()> {
    io.registration().readiness(direction).await.map(drop)
}

/// A registered stream socket. Dereferences to the `mio` socket for the
/// per-type operations (addresses, socket options).
#[derive(Debug)]
pub(crate) struct StreamIo<M: Source> {
    /// The registered non-blocking socket.
    io: PollEvented<M>,
}

impl<M: Source> StreamIo<M> {
    /// Registers `stream` for reading and writing with the current runtime's
    /// reactor.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    #[track_caller]
    pub(crate) fn new(stream: M) -> io::Result<Self> {
        Ok(StreamIo {
            io: PollEvented::new(stream)?,
        })
    }

    /// The registered socket, for per-type waits (connecting).
    pub(crate) fn evented(&self) -> &PollEvented<M> {
        &self.io
    }

    /// Deregisters the socket and gives it back (`into_std`).
    pub(crate) fn into_inner(self) -> io::Result<M> {
        self.io.into_inner()
    }

    /// Waits until the stream is readable.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        wait_ready(&self.io, Direction::Read).await
    }

    /// Waits until the stream is writable.
    pub(crate) async fn writable(&self) -> io::Result<()> {
        wait_ready(&self.io, Direction::Write).await
    }
}

impl<M: MioStream> StreamIo<M> {
    /// Shuts down the read half, the write half or both.
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown(how)
    }

    /// Shuts the write direction down (`AsyncWrite::poll_close`). Closing
    /// twice, or after the peer is gone, is not an error.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self.shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        }
    }
}

impl<M: Source> StreamIo<M>
where
    for<'a> &'a M: Read + Write,
{
    /// Reads without waiting, or fails with `WouldBlock`.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .registration()
            .try_io(Direction::Read, || (&*self.io).read(buf))
    }

    /// Writes without waiting, or fails with `WouldBlock`.
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .registration()
            .try_io(Direction::Write, || (&*self.io).write(buf))
    }

    /// Reads into `buf` once readable (the body of `AsyncRead::poll_read`
    /// for a stream and its read halves).
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_read(cx, buf)
    }

    /// Reads into the unfilled part of a tokio `ReadBuf` once readable (the
    /// body of `tokio::io::AsyncRead::poll_read`). The unfilled part is
    /// zeroed once (`ReadBuf` remembers what it initialized), so no
    /// uninitialized byte reaches the socket's `read`.
    pub(crate) fn poll_read_buf(
        &self,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = std::task::ready!(self.io.poll_read(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// Vectored form of [`StreamIo::poll_read`].
    pub(crate) fn poll_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_read_vectored(cx, bufs)
    }

    /// Writes `buf` once writable.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, buf)
    }

    /// Writes `bufs` with one gathering system call once writable.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_vectored(cx, bufs)
    }
}

impl<M: Source> Deref for StreamIo<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.io
    }
}

/// Implements [`Connection`] for `stream` (a struct whose field `io` is its
/// `StreamIo<mio>`), `futures::io::AsyncRead` and `AsyncWrite` — and
/// tokio's `AsyncRead` and `AsyncWrite`, so the tokio-io ecosystem works on
/// tether sockets — for it and for its public split halves, each forwarding to the stream's
/// [`StreamIo`], and `Debug` for the owned halves (forwarded to the shared
/// generic halves they wrap). `flush` and `close` document the stream's
/// `poll_flush` and `poll_close`.
///
/// A macro rather than generic impls: the public types are distinct structs
/// (so their rustdoc lists their trait impls), and a foreign trait cannot be
/// implemented for all of them at once.
macro_rules! impl_async_io {
    (
        stream = $stream:ident,
        mio = $mio:ty,
        halves = ($read:ty, $write:ty, $owned_read:ty, $owned_write:ty),
        flush = $flush:literal,
        close = $close:literal $(,)?
    ) => {
        impl $crate::net::stream::Connection for $stream {
            type Mio = $mio;

            fn io(&self) -> &$crate::net::stream::StreamIo<$mio> {
                &self.io
            }

            fn from_io(io: $crate::net::stream::StreamIo<$mio>) -> $stream {
                $stream { io }
            }
        }

        $crate::net::stream::impl_async_io!(@read $stream, |s| s);
        $crate::net::stream::impl_async_io!(@write $stream, |s| s, $flush, $close);
        $crate::net::stream::impl_async_io!(@read $read, |s| s.0);
        $crate::net::stream::impl_async_io!(@write $write, |s| s.0);
        $crate::net::stream::impl_async_io!(@read $owned_read, |s| s.half.inner);
        $crate::net::stream::impl_async_io!(@write $owned_write, |s| s.half.inner);
        $crate::net::stream::impl_async_io!(@debug $owned_read);
        $crate::net::stream::impl_async_io!(@debug $owned_write);
        $crate::net::stream::impl_async_io!(@tokio_read $stream, |s| s);
        $crate::net::stream::impl_async_io!(@tokio_write $stream, |s| s, $flush, $close);
        $crate::net::stream::impl_async_io!(@tokio_read $read, |s| s.0);
        $crate::net::stream::impl_async_io!(@tokio_write $write, |s| s.0);
        $crate::net::stream::impl_async_io!(@tokio_read $owned_read, |s| s.half.inner);
        $crate::net::stream::impl_async_io!(@tokio_write $owned_write, |s| s.half.inner);
    };
    (@tokio_read $ty:ty, |$s:ident| $conn:expr) => {
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $s = &*self;
                $crate::net::stream::Connection::io(&*$conn).poll_read_buf(cx, buf)
            }
        }
    };
    (@tokio_write $ty:ty, |$s:ident| $conn:expr $(, $flush:literal, $close:literal)?) => {
        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $crate::net::stream::Connection::io(&*$conn).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $crate::net::stream::Connection::io(&*$conn).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            $(#[doc = $flush])?
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            $(#[doc = $close])?
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $s = &*self;
                std::task::Poll::Ready($crate::net::stream::Connection::io(&*$conn).shutdown_write())
            }
        }
    };
    (@debug $ty:ty) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.half, f)
            }
        }
    };
    (@read $ty:ty, |$s:ident| $conn:expr) => {
        impl futures::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $crate::net::stream::Connection::io(&*$conn).poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $crate::net::stream::Connection::io(&*$conn).poll_read_vectored(cx, bufs)
            }
        }
    };
    (@write $ty:ty, |$s:ident| $conn:expr $(, $flush:literal, $close:literal)?) => {
        impl futures::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $crate::net::stream::Connection::io(&*$conn).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $crate::net::stream::Connection::io(&*$conn).poll_write_vectored(cx, bufs)
            }

            $(#[doc = $flush])?
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            $(#[doc = $close])?
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $s = &*self;
                std::task::Poll::Ready($crate::net::stream::Connection::io(&*$conn).shutdown_write())
            }
        }
    };
}
pub(crate) use impl_async_io;
