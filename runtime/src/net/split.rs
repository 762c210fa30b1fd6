//! Borrowed halves of a stream, shared by `tcp::{ReadHalf, WriteHalf}` and
//! `unix::{ReadHalf, WriteHalf}` (type aliases of the generic types here).
//!
//! The reactor keeps one reader and one writer waker per socket, so the
//! read half and the write half can wait at the same time without stealing
//! each other's wake-ups. A read half only reads and a write half only
//! writes (their `AsyncRead` / `AsyncWrite` impls come from
//! [`impl_async_io!`](super::stream::impl_async_io)); the per-type address
//! accessors live next to each alias.

/// The read half of a borrowed stream `S`; see `TcpStream::split` and
/// `UnixStream::split`.
#[derive(Debug)]
pub struct ReadHalf<'a, S>(pub(in crate::net) &'a S);

/// The write half of a borrowed stream `S`. Closing it shuts the stream's
/// write direction down.
#[derive(Debug)]
pub struct WriteHalf<'a, S>(pub(in crate::net) &'a S);

/// Splits `stream` into halves that borrow it.
pub(crate) fn split<S>(stream: &mut S) -> (ReadHalf<'_, S>, WriteHalf<'_, S>) {
    (ReadHalf(stream), WriteHalf(stream))
}
