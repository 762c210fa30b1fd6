//! [`TetherIo`]: hyper's I/O traits over any `futures::io` stream.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::io::{AsyncRead, AsyncWrite};
use pin_project::pin_project;

/// Largest slice of hyper's read buffer handed to one read. `futures::io`
/// reads need initialised memory, so the slice is zeroed first; 64 KiB keeps
/// that cost far below the copy out of the kernel while still letting a
/// bulk transfer move a large chunk per system call.
const MAX_READ_CHUNK: usize = 64 * 1024;

/// Adapts a `futures::io` stream (a [`TcpStream`](crate::net::TcpStream),
/// a [`UnixStream`](crate::net::UnixStream), a TLS stream, ...) to hyper's
/// [`Read`](hyper::rt::Read) and [`Write`](hyper::rt::Write) traits, the
/// way hyper-util's `TokioIo` does for tokio's traits.
///
/// Vectored writes are forwarded to the stream's `poll_write_vectored`
/// (tether's sockets gather them into one `writev`), and the adapter tells
/// hyper it supports them, so hyper queues headers and body chunks instead
/// of copying them into one buffer.
///
/// The reverse direction is provided too: a `TetherIo` over a hyper
/// stream (such as `hyper::upgrade::Upgraded`) implements
/// `futures::io::{AsyncRead, AsyncWrite}`.
///
/// # Examples
///
/// ```
/// use tether::hyper::TetherIo;
/// use tether::net::{TcpListener, TcpStream};
///
/// # fn main() -> std::io::Result<()> {
/// tether::Runtime::new()?.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let stream = TcpStream::connect(listener.local_addr()?).await?;
///     // Ready for hyper::client::conn::http1::handshake(io) and friends.
///     let io = TetherIo::new(stream);
///     assert!(io.inner().peer_addr().is_ok());
///     Ok(())
/// })
/// # }
/// ```
#[pin_project]
#[derive(Debug)]
pub struct TetherIo<T> {
    /// The wrapped stream.
    #[pin]
    inner: T,
}

impl<T> TetherIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        TetherIo { inner }
    }

    /// The wrapped stream.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead> hyper::rt::Read for TetherIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: the cursor's contract is that we write only initialised
        // bytes into it and never de-initialise any: we zero the prefix we
        // hand out before viewing it as `[u8]`.
        let spare = unsafe { buf.as_mut() };
        let len = spare.len().min(MAX_READ_CHUNK);
        let spare = &mut spare[..len];
        spare.fill(MaybeUninit::new(0));
        // SAFETY: every byte of `spare` was just initialised, and
        // `MaybeUninit<u8>` has the layout of `u8`.
        let bytes = unsafe { &mut *(spare as *mut [MaybeUninit<u8>] as *mut [u8]) };
        let n = ready!(self.project().inner.poll_read(cx, bytes))?;
        // A reader that claims more than it was given is broken; clamp so
        // the cursor never counts bytes outside what we initialised.
        let n = n.min(len);
        // SAFETY: the first `n` bytes of the cursor are initialised (all
        // `len` of them are, and n <= len).
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite> hyper::rt::Write for TetherIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_close(cx)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }
}

impl<T: hyper::rt::Read> AsyncRead for TetherIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read_buf = hyper::rt::ReadBuf::new(buf);
        ready!(self.project().inner.poll_read(cx, read_buf.unfilled()))?;
        Poll::Ready(Ok(read_buf.filled().len()))
    }
}

impl<T: hyper::rt::Write> AsyncWrite for TetherIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::mem::MaybeUninit;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper::rt::{Read, ReadBuf, Write};

    use super::TetherIo;

    /// Reads once from `io` into `buf` through hyper's `Read`; returns the
    /// filled bytes.
    fn read_once<T: futures::io::AsyncRead + Unpin>(
        io: &mut TetherIo<T>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Vec<u8> {
        futures::executor::block_on(async {
            let mut rb = ReadBuf::uninit(buf);
            poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, rb.unfilled()))
                .await
                .unwrap();
            rb.filled().to_vec()
        })
    }

    #[test]
    fn hyper_read_into_uninitialised_memory() {
        let mut io = TetherIo::new(futures::io::Cursor::new(b"hello world".to_vec()));
        let mut buf = [MaybeUninit::<u8>::uninit(); 5];
        assert_eq!(read_once(&mut io, &mut buf), b"hello");
        let mut buf = [MaybeUninit::<u8>::uninit(); 64];
        assert_eq!(read_once(&mut io, &mut buf), b" world");
        assert_eq!(read_once(&mut io, &mut buf), b"");
    }

    /// A reader that claims to have read more than it was given.
    struct Liar;

    impl futures::io::AsyncRead for Liar {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            buf.fill(7);
            Poll::Ready(Ok(buf.len() + 100))
        }
    }

    #[test]
    fn an_overclaiming_reader_is_clamped() {
        let mut io = TetherIo::new(Liar);
        let mut buf = [MaybeUninit::<u8>::uninit(); 8];
        assert_eq!(read_once(&mut io, &mut buf), [7u8; 8]);
    }

    #[test]
    fn writes_and_the_reverse_direction() {
        futures::executor::block_on(async {
            let mut io = TetherIo::new(futures::io::Cursor::new(Vec::new()));
            assert!(io.is_write_vectored());
            let bufs = [std::io::IoSlice::new(b"ab"), std::io::IoSlice::new(b"cd")];
            let mut written = 0;
            while written < 4 {
                let rest: Vec<_> = b"abcd"[written..].to_vec();
                let n = poll_fn(|cx| {
                    if written == 0 {
                        Pin::new(&mut io).poll_write_vectored(cx, &bufs)
                    } else {
                        Pin::new(&mut io).poll_write(cx, &rest)
                    }
                })
                .await
                .unwrap();
                written += n;
            }
            poll_fn(|cx| Pin::new(&mut io).poll_shutdown(cx))
                .await
                .unwrap();
            assert_eq!(io.inner().get_ref(), b"abcd");
            // futures::io over a hyper stream: TetherIo<TetherIo<T>>.
            let inner = TetherIo::new(futures::io::Cursor::new(b"xyz".to_vec()));
            let mut back = TetherIo::new(inner);
            let mut out = Vec::new();
            futures::io::AsyncReadExt::read_to_end(&mut back, &mut out)
                .await
                .unwrap();
            assert_eq!(out, b"xyz");
        });
    }
}
