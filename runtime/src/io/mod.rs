//! Asynchronous I/O: tokio's I/O traits and utilities, and the standard
//! streams.
//!
//! Everything `tokio::io` offers that does not need tokio's runtime is here
//! under the same name — it *is* tokio's (its runtime-agnostic `io-util`
//! feature), re-exported, so code written against `tokio::io` ports by
//! renaming and the tokio-io ecosystem (`tokio-util` codecs,
//! `tokio-rustls`, ...) works on tether's sockets:
//!
//! * the traits [`AsyncRead`], [`AsyncWrite`], [`AsyncBufRead`],
//!   [`AsyncSeek`] and their extension traits [`AsyncReadExt`],
//!   [`AsyncWriteExt`], [`AsyncBufReadExt`] (`lines().next_line()`, ...),
//!   [`AsyncSeekExt`], and [`ReadBuf`];
//! * buffering: [`BufReader`], [`BufWriter`], [`BufStream`];
//! * copying: [`copy`], [`copy_buf`], [`copy_bidirectional`];
//! * splitting and joining: [`split`] ([`ReadHalf`], [`WriteHalf`]),
//!   [`join`];
//! * in-memory streams: [`duplex`] ([`DuplexStream`]), [`simplex`],
//!   [`empty`], [`sink`], [`repeat`].
//!
//! [`stdin`], [`stdout`] and [`stderr`] are tether's own: tokio's need its
//! blocking pool, these run on tether's.
//!
//! tether's TCP and Unix streams and all their halves implement both these
//! traits and `futures::io`'s, so either family of helpers works on them.
//! (Import one family's extension traits per module: both name their
//! methods `read`, `write_all`, ...). No adapter between the two families
//! is needed for tether's sockets; for other types, `tokio-util`'s `compat`
//! module converts. `Interest`/`Ready` are not offered: tether's sockets
//! wait with `readable()`/`writable()`.
//!
//! ```
//! use tether::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//! use tether::net::{TcpListener, TcpStream};
//!
//! # fn main() -> std::io::Result<()> {
//! tether::Runtime::new()?.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (server, _) = listener.accept().await?;
//!
//!     client.write_all(b"hello\nworld\n").await?;
//!     AsyncWriteExt::shutdown(&mut client).await?;
//!
//!     let (rd, _wr) = server.into_split();
//!     let mut lines = BufReader::new(rd).lines();
//!     assert_eq!(lines.next_line().await?.as_deref(), Some("hello"));
//!     assert_eq!(lines.next_line().await?.as_deref(), Some("world"));
//!     assert_eq!(lines.next_line().await?, None);
//!     Ok(())
//! })
//! # }
//! ```

// Internals: the reactor. Readiness events from `mio`, delivered to the
// tasks that wait on them.
//
// - `Driver` owns the `mio::Poll`; the parked worker turns it.
// - `Handle` is shared: it registers sources and interrupts a turn.
// - A registration is a slot in a slab (key + generation token,
//   `registration_set`) holding a `ScheduledIo` (readiness word + wakers,
//   `scheduled_io`); `PollEvented` ties a `mio` source to it.
//
// Readiness is edge-triggered: it is cleared only when an operation returns
// `WouldBlock`, and a clear never erases an event from a later driver turn.
// The invariants are spelled out in `scheduled_io`.

pub(crate) mod blocking;
mod driver;
mod poll_evented;
mod ready;
mod registration;
mod registration_set;
mod scheduled_io;
mod stdio;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

pub use stdio::{Stderr, Stdin, Stdout, stderr, stdin, stdout};

pub(crate) use driver::{Driver, Handle};
pub(crate) use poll_evented::PollEvented;
pub(crate) use ready::Direction;

pub use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWrite,
    AsyncWriteExt, BufReader, BufStream, BufWriter, Chain, DuplexStream, Empty, Error, ErrorKind,
    Join, Lines, ReadBuf, ReadHalf, Repeat, Result, SeekFrom, SimplexStream, Sink, Split, Take,
    WriteHalf, copy, copy_bidirectional, copy_bidirectional_with_sizes, copy_buf, duplex, empty,
    join, repeat, simplex, sink, split,
};
