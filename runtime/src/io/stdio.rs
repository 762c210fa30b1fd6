//! The process' standard streams as tokio `AsyncRead` / `AsyncWrite`, over
//! tether's blocking pool (tokio's own need tokio's pool).

use std::io::{self, Read, SeekFrom, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::blocking::{Blocking, BlockingIo};

/// Which standard stream a job touches. The jobs call `std::io::stdin()`
/// (etc.) themselves: std's handles are process-global and thread-safe.
#[derive(Debug, Clone, Copy)]
enum Std {
    In,
    Out,
    Err,
}

fn unsupported(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, what.to_owned())
}

impl BlockingIo for Std {
    const FLUSHES: bool = true;

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Std::In => io::stdin().read(buf),
            Std::Out | Std::Err => Err(unsupported("standard output is not readable")),
        }
    }

    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        match self {
            // Locked for the whole buffer: lines from one write are not
            // interleaved with other threads' output.
            Std::Out => io::stdout().lock().write_all(buf),
            Std::Err => io::stderr().lock().write_all(buf),
            Std::In => Err(unsupported("standard input is not writable")),
        }
    }

    fn flush(&self) -> io::Result<()> {
        match self {
            Std::Out => io::stdout().flush(),
            Std::Err => io::stderr().flush(),
            Std::In => Ok(()),
        }
    }

    fn seek(&self, _: SeekFrom) -> io::Result<u64> {
        Err(unsupported("standard streams cannot seek"))
    }
}

/// The standard input of the process, read on the blocking pool; from
/// [`stdin`].
///
/// Reads are buffered by the standard library as usual. As with tokio, a
/// read that is waiting for input occupies a blocking-pool thread until
/// input arrives or the stream ends, even if the future reading is dropped,
/// and dropping the runtime waits for that thread. For interactive input
/// that must be abandoned, read standard input on a dedicated thread
/// instead.
///
/// # Examples
///
/// ```no_run
/// use tether::io::{AsyncBufReadExt, BufReader};
///
/// #[tether::main]
/// async fn main() -> std::io::Result<()> {
///     let mut lines = BufReader::new(tether::io::stdin()).lines();
///     while let Some(line) = lines.next_line().await? {
///         println!("got {line}");
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Stdin {
    inner: Blocking<Std>,
}

/// The standard output of the process, written on the blocking pool; from
/// [`stdout`].
///
/// A write returns once its bytes were handed to the pool; the next write,
/// `flush` or `shutdown` waits for it and reports its error. Flush before
/// the program ends, or the last bytes may still be in flight.
///
/// # Examples
///
/// ```
/// use tether::io::AsyncWriteExt;
///
/// #[tether::main]
/// async fn main() -> std::io::Result<()> {
///     let mut out = tether::io::stdout();
///     out.write_all(b"hello from tether\n").await?;
///     out.flush().await?;
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Stdout {
    inner: Blocking<Std>,
}

/// The standard error of the process, written on the blocking pool; from
/// [`stderr`]. Behaves as [`Stdout`].
///
/// # Examples
///
/// ```
/// use tether::io::AsyncWriteExt;
///
/// #[tether::main]
/// async fn main() -> std::io::Result<()> {
///     let mut err = tether::io::stderr();
///     err.write_all(b"warning: example\n").await?;
///     err.flush().await?;
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Stderr {
    inner: Blocking<Std>,
}

/// A handle to the process' standard input, implementing tokio's
/// [`AsyncRead`]. Each handle reads from the same shared stream; see
/// [`Stdin`].
///
/// Reading needs a tether runtime (the read runs on its blocking pool).
///
/// ```no_run
/// use tether::io::AsyncReadExt;
///
/// #[tether::main]
/// async fn main() -> std::io::Result<()> {
///     let mut input = String::new();
///     tether::io::stdin().read_to_string(&mut input).await?;
///     println!("{} bytes", input.len());
///     Ok(())
/// }
/// ```
pub fn stdin() -> Stdin {
    Stdin {
        inner: Blocking::new(Std::In),
    }
}

/// A handle to the process' standard output, implementing tokio's
/// [`AsyncWrite`]; see [`Stdout`].
///
/// Writing needs a tether runtime (the write runs on its blocking pool).
///
/// ```
/// use tether::io::AsyncWriteExt;
///
/// # tether::Runtime::new().unwrap().block_on(async {
/// let mut out = tether::io::stdout();
/// out.write_all(b"done\n").await.unwrap();
/// out.flush().await.unwrap();
/// # });
/// ```
pub fn stdout() -> Stdout {
    Stdout {
        inner: Blocking::new(Std::Out),
    }
}

/// A handle to the process' standard error, implementing tokio's
/// [`AsyncWrite`]; see [`Stderr`].
///
/// ```
/// use tether::io::AsyncWriteExt;
///
/// # tether::Runtime::new().unwrap().block_on(async {
/// let mut err = tether::io::stderr();
/// err.write_all(b"note: written through tether::io::stderr\n").await.unwrap();
/// err.flush().await.unwrap();
/// # });
/// ```
pub fn stderr() -> Stderr {
    Stderr {
        inner: Blocking::new(Std::Err),
    }
}

impl AsyncRead for Stdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().inner.poll_read(cx, buf)
    }
}

macro_rules! impl_write {
    ($ty:ty) => {
        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().inner.poll_write(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.poll_flush(cx)
            }

            /// Flushes; the standard stream itself stays open.
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.poll_flush(cx)
            }
        }
    };
}
impl_write!(Stdout);
impl_write!(Stderr);
