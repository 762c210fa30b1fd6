//! [`Registration`]: one source's membership in the reactor.
//!
//! A registration owns a slot in the reactor's
//! [`RegistrationSet`](super::registration_set::RegistrationSet) (slab key +
//! generation, packed into its `mio::Token`) and a handle to the slot's
//! [`ScheduledIo`]. Dropping it frees the slot; the source itself must be
//! deregistered first by its owner ([`PollEvented`](super::PollEvented) does
//! both in order).
//!
//! Every wait spends one unit of the cooperative budget
//! ([`crate::coop::poll_proceed`]), so a task whose socket is always ready
//! still yields to its worker's other tasks.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use super::driver::Handle;
use super::ready::{Direction, Ready};
use super::scheduled_io::{ReadyEvent, ScheduledIo};
use crate::loom::sync::Arc;

/// A source's slot in the reactor.
#[derive(Debug)]
pub(crate) struct Registration {
    /// The reactor this registration belongs to.
    handle: Arc<Handle>,
    /// Token of the slot, freed on drop.
    token: mio::Token,
    /// Readiness and wakers of the slot.
    shared: Arc<ScheduledIo>,
}

/// The error every operation returns once the reactor is gone.
pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other("the tether runtime has shut down; its I/O driver is gone")
}

impl Registration {
    /// Registers `source` for `interest` with the reactor behind `handle`.
    pub(crate) fn new_with_handle(
        source: &mut impl mio::event::Source,
        interest: mio::Interest,
        handle: Arc<Handle>,
    ) -> io::Result<Registration> {
        let (token, shared) = handle.add_source(source, interest)?;
        Ok(Registration {
            handle,
            token,
            shared,
        })
    }

    /// The token this registration is known by in the selector.
    #[cfg(test)]
    pub(crate) fn token(&self) -> mio::Token {
        self.token
    }

    /// Removes `source` from the selector; the slot is freed on drop.
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source) -> io::Result<()> {
        self.handle.deregister_source(source)
    }

    /// Waits for readiness in `direction` as the single `poll_*` waiter of
    /// that direction.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        let mut coop = ready!(crate::coop::poll_proceed(cx));
        let event = ready!(self.shared.poll_ready(cx, direction));
        if event.is_shutdown {
            return Poll::Ready(Err(shutdown_error()));
        }
        coop.made_progress();
        Poll::Ready(Ok(event))
    }

    /// [`Registration::poll_ready`] for writing.
    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        self.poll_ready(cx, Direction::Write)
    }

    /// Forgets the readiness `event` reported; call after an operation
    /// returned `WouldBlock`.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        self.shared.clear_readiness(event);
    }

    /// Runs the non-blocking operation `f` once the source is ready in
    /// `direction`, clearing readiness and waiting again whenever `f`
    /// returns `WouldBlock`.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        f: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_inner(cx, direction, f, |_| false)
    }

    /// [`Registration::poll_io`] for a read or write of `len` bytes. A
    /// transfer shorter than asked means the kernel buffer was drained (read)
    /// or filled (write) at that moment, so readiness is cleared at once: the
    /// next call waits for a new edge instead of spending a system call to
    /// learn `WouldBlock`. Data that arrives after the transfer comes with a
    /// newer tick, which this clear cannot erase.
    pub(crate) fn poll_transfer(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        len: usize,
        f: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io_inner(cx, direction, f, |&n| n > 0 && n < len)
    }

    /// The loop behind [`Registration::poll_io`]: `drained(&result)` says
    /// whether a successful result proves the source is no longer ready.
    fn poll_io_inner<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut f: impl FnMut() -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        loop {
            let event = ready!(self.poll_ready(cx, direction))?;
            match f() {
                Ok(r) => {
                    if drained(&r) {
                        self.clear_readiness(event);
                    }
                    return Poll::Ready(Ok(r));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.clear_readiness(event);
                    if !event.ready.intersects(Ready::READABLE | Ready::WRITABLE) {
                        // Only a final (closed) bit was set and the OS still
                        // says "would block": nothing will ever clear that
                        // bit, so yield instead of spinning in place.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Runs `f` if the source currently looks ready in `direction`, without
    /// waiting; `WouldBlock` otherwise.
    pub(crate) fn try_io<R>(
        &self,
        direction: Direction,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let Some(event) = self.shared.ready_event(direction) else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        if event.is_shutdown {
            return Err(shutdown_error());
        }
        let result = f();
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.clear_readiness(event);
        }
        result
    }

    /// Waits for readiness in `direction`; unlike [`Registration::poll_ready`]
    /// any number of tasks may wait at once (for `&self` async methods).
    pub(crate) fn readiness(&self, direction: Direction) -> Readiness<'_> {
        Readiness {
            registration: self,
            direction,
            key: None,
        }
    }

    /// Runs the non-blocking operation `f` until it does not return
    /// `WouldBlock`, waiting for readiness in between. Several tasks may call
    /// this concurrently on one registration.
    pub(crate) async fn async_io<R>(
        &self,
        direction: Direction,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let event = self.readiness(direction).await?;
            match f() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.clear_readiness(event);
                    if !event.ready.intersects(Ready::READABLE | Ready::WRITABLE) {
                        yield_once().await;
                    }
                }
                result => return result,
            }
        }
    }
}

/// Returns `Pending` once (after waking the task), then `Ready`.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.handle.release(self.token);
    }
}

/// Future returned by [`Registration::readiness`].
#[derive(Debug)]
pub(crate) struct Readiness<'a> {
    /// The registration waited on.
    registration: &'a Registration,
    /// The direction waited for.
    direction: Direction,
    /// This waiter's entry among the registration's shared waiters.
    key: Option<usize>,
}

impl Future for Readiness<'_> {
    type Output = io::Result<ReadyEvent>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut coop = ready!(crate::coop::poll_proceed(cx));
        let shared = &this.registration.shared;
        let event = ready!(shared.poll_ready_shared(cx, this.direction, &mut this.key));
        if let Some(key) = this.key.take() {
            shared.remove_shared_waiter(key);
        }
        if event.is_shutdown {
            return Poll::Ready(Err(shutdown_error()));
        }
        coop.made_progress();
        Poll::Ready(Ok(event))
    }
}

impl Drop for Readiness<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.registration.shared.remove_shared_waiter(key);
        }
    }
}
