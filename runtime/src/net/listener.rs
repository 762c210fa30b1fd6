//! The accept loop shared by [`TcpListener`](super::TcpListener) and
//! [`UnixListener`](super::UnixListener).
//!
//! [`ListenerIo`] registers the listening socket for reading only and
//! accepts through the reactor: `accept` with the shared-waiter loop
//! (several tasks may accept from one listener), `poll_accept` with the
//! single-waiter one. Both clear readiness only when the OS says
//! `WouldBlock`, and register the accepted socket before returning it.

use std::io;
use std::ops::Deref;
use std::task::{Context, Poll, ready};

use mio::event::Source;

use super::stream::Connection;
use crate::io::{Direction, PollEvented};

/// A listening `mio` socket and the public stream type of what it accepts.
pub(crate) trait MioListener: Source {
    /// The stream type of an accepted connection.
    type Conn: Connection;
    /// The peer address type.
    type Addr;

    /// Accepts one pending connection without waiting.
    fn accept(&self) -> io::Result<(<Self::Conn as Connection>::Mio, Self::Addr)>;
}

impl MioListener for mio::net::TcpListener {
    type Conn = super::TcpStream;
    type Addr = std::net::SocketAddr;

    fn accept(&self) -> io::Result<(mio::net::TcpStream, std::net::SocketAddr)> {
        mio::net::TcpListener::accept(self)
    }
}

#[cfg(unix)]
impl MioListener for mio::net::UnixListener {
    type Conn = super::UnixStream;
    type Addr = std::os::unix::net::SocketAddr;

    fn accept(&self) -> io::Result<(mio::net::UnixStream, std::os::unix::net::SocketAddr)> {
        mio::net::UnixListener::accept(self)
    }
}

/// A registered listening socket. Dereferences to the `mio` listener for
/// the per-type operations (addresses, socket options).
#[derive(Debug)]
pub(crate) struct ListenerIo<M: Source> {
    /// The registered non-blocking listener.
    io: PollEvented<M>,
}

impl<M: MioListener> ListenerIo<M> {
    /// Registers `listener` for reading with the current runtime's reactor.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    #[track_caller]
    pub(crate) fn new(listener: M) -> io::Result<Self> {
        let io = PollEvented::new_with_interest(listener, mio::Interest::READABLE)?;
        Ok(ListenerIo { io })
    }

    /// Deregisters the listener and gives it back (`into_std`).
    pub(crate) fn into_inner(self) -> io::Result<M> {
        self.io.into_inner()
    }

    /// Waits for a connection; any number of tasks may wait at once.
    pub(crate) async fn accept(&self) -> io::Result<(M::Conn, M::Addr)> {
        let (stream, addr) = self
            .io
            .registration()
            .async_io(Direction::Read, || self.io.accept())
            .await?;
        Ok((M::Conn::from_mio(stream)?, addr))
    }

    /// Polls for a connection; only the most recent caller's waker is kept.
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(M::Conn, M::Addr)>> {
        let (stream, addr) = ready!(
            self.io
                .registration()
                .poll_io(cx, Direction::Read, || self.io.accept())
        )?;
        Poll::Ready(M::Conn::from_mio(stream).map(|s| (s, addr)))
    }
}

impl<M: Source> Deref for ListenerIo<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.io
    }
}
