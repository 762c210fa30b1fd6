//! [`PollEvented`]: a `mio` source bundled with its reactor registration.
//!
//! This is the building block of every socket type in `crate::net`: it owns
//! the non-blocking `mio` object, registers it on creation with the reactor of
//! the current runtime, and on drop deregisters it from the selector *before*
//! the registration frees its slot and the descriptor is closed.

use std::io::{self, Read, Write};
use std::ops::Deref;
use std::task::{Context, Poll};

use mio::event::Source;

use super::driver::Handle;
use super::ready::Direction;
use super::registration::Registration;
use crate::loom::sync::Arc;

/// A registered `mio` source. Dereferences to the source.
#[derive(Debug)]
pub(crate) struct PollEvented<E: Source> {
    /// The source. Declared first: it is closed before the registration
    /// frees its slot.
    io: E,
    /// Its slot in the reactor.
    registration: Registration,
}

/// The reactor of the runtime this thread runs on.
///
/// # Panics
///
/// Panics with a clear message outside a tether runtime, like every other
/// runtime-bound constructor.
#[track_caller]
pub(crate) fn current_handle() -> Arc<Handle> {
    crate::runtime::context::with_current_driver(|d| d.io.clone())
}

impl<E: Source> PollEvented<E> {
    /// Registers `io` for `interest` with the current runtime's reactor.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    #[track_caller]
    pub(crate) fn new_with_interest(io: E, interest: mio::Interest) -> io::Result<Self> {
        Self::new_with_handle(io, interest, current_handle())
    }

    /// Registers `io` for reading and writing with the current runtime's
    /// reactor.
    ///
    /// # Panics
    ///
    /// Panics outside a tether runtime.
    #[track_caller]
    pub(crate) fn new(io: E) -> io::Result<Self> {
        Self::new_with_interest(io, mio::Interest::READABLE | mio::Interest::WRITABLE)
    }

    /// Registers `io` for `interest` with the reactor behind `handle`.
    pub(crate) fn new_with_handle(
        mut io: E,
        interest: mio::Interest,
        handle: Arc<Handle>,
    ) -> io::Result<Self> {
        let registration = Registration::new_with_handle(&mut io, interest, handle)?;
        Ok(PollEvented { io, registration })
    }

    /// The source's registration.
    pub(crate) fn registration(&self) -> &Registration {
        &self.registration
    }
}

impl<E: Source> PollEvented<E>
where
    for<'a> &'a E: Read + Write,
{
    /// Reads into `buf` once readable.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let io = self.get();
        self.registration
            .poll_transfer(cx, Direction::Read, buf.len(), || (&*io).read(buf))
    }

    /// Reads into `bufs` once readable.
    pub(crate) fn poll_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let io = self.get();
        let len = bufs.iter().map(|b| b.len()).sum();
        self.registration
            .poll_transfer(cx, Direction::Read, len, || (&*io).read_vectored(bufs))
    }

    /// Writes `buf` once writable.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let io = self.get();
        self.registration
            .poll_transfer(cx, Direction::Write, buf.len(), || (&*io).write(buf))
    }

    /// Writes `bufs` (one system call, gathering) once writable.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let io = self.get();
        let len = bufs.iter().map(|b| b.len()).sum();
        self.registration
            .poll_transfer(cx, Direction::Write, len, || (&*io).write_vectored(bufs))
    }
}

impl<E: Source> PollEvented<E> {
    /// The source.
    fn get(&self) -> &E {
        &self.io
    }

    /// Deregisters the source and gives it back (for `into_std`). Waiters
    /// on the registration see it shut down. On a deregistration error the
    /// source is closed and the error returned.
    pub(crate) fn into_inner(self) -> io::Result<E> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped nor used again, so each field is
        // moved out exactly once and `PollEvented::drop` does not run.
        let (mut io, registration) =
            unsafe { (std::ptr::read(&this.io), std::ptr::read(&this.registration)) };
        let res = registration.deregister(&mut io);
        // Frees the slot; later events carrying its token are ignored.
        drop(registration);
        res.map(|()| io)
    }
}

impl<E: Source> Deref for PollEvented<E> {
    type Target = E;

    fn deref(&self) -> &E {
        self.get()
    }
}

impl<E: Source> Drop for PollEvented<E> {
    fn drop(&mut self) {
        // Deregistering can only fail if the selector is already gone, in
        // which case there is nothing left to remove the source from.
        let _ = self.registration.deregister(&mut self.io);
    }
}
