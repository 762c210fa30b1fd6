//! The reactor's driver: the one `mio::Poll` of a runtime.
//!
//! A runtime has exactly one [`Driver`]; whichever worker goes idle first
//! owns it and blocks in [`Driver::turn`]. Any thread can interrupt that
//! block through [`Handle::unpark`], which writes to a `mio::Waker`.
//!
//! # Dispatch
//!
//! Each turn gets a new tick. For every event, the driver looks the token up
//! in the [`RegistrationSet`] (a stale token misses, see there), publishes
//! the readiness with the turn's tick, and collects the wakers of the
//! interested waiters. The wakers are called only after the set's lock is
//! released, so a woken task that drops a socket (and so takes the lock to
//! deregister) can never deadlock with the driver. A waker that panics is
//! contained to its own wake-up (`park::wake_contained`): the rest of the
//! turn is delivered, and the panic is not re-raised, since that would
//! unwind the thread holding the driver and stall every socket.

use std::io;
use std::task::Waker;
use std::time::Duration;

use super::ready::Ready;
use super::registration_set::RegistrationSet;
use super::scheduled_io::ScheduledIo;
use crate::loom::sync::{Arc, Mutex};

/// Token reserved for the wake-up `mio::Waker`; never handed to a registration.
const TOKEN_WAKEUP: mio::Token = mio::Token(usize::MAX);

/// Events gathered per `mio::Poll::poll` call. 1024 keeps the buffer at a
/// few pages while letting a busy server drain a burst in one system call;
/// events beyond it simply wait for the next turn.
const EVENTS_CAPACITY: usize = 1024;

/// Owns the `mio::Poll`; used by one thread at a time (the parked worker).
#[derive(Debug)]
pub(crate) struct Driver {
    /// The OS selector.
    poll: mio::Poll,
    /// Reused buffer for the events of one turn.
    events: mio::Events,
    /// Reused buffer for the wakers collected in one turn.
    wakers: Vec<Waker>,
    /// Counts turns; stamped on readiness so stale clears are detected.
    tick: usize,
}

/// Shared half of the reactor: registration and wake-up.
#[derive(Debug)]
pub(crate) struct Handle {
    /// Wakes a thread blocked in [`Driver::turn`].
    waker: mio::Waker,
    /// Registers sources with the selector from any thread.
    registry: mio::Registry,
    /// Every live registration, by token.
    registrations: Mutex<RegistrationSet>,
}

impl Driver {
    /// Creates the reactor and its shared handle.
    pub(crate) fn new() -> io::Result<(Driver, Arc<Handle>)> {
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), TOKEN_WAKEUP)?;
        let registry = poll.registry().try_clone()?;
        let driver = Driver {
            poll,
            events: mio::Events::with_capacity(EVENTS_CAPACITY),
            wakers: Vec::new(),
            tick: 0,
        };
        let handle = Handle {
            waker,
            registry,
            registrations: Mutex::new(RegistrationSet::default()),
        };
        Ok((driver, Arc::new(handle)))
    }

    /// Blocks until an event arrives, `timeout` elapses (`None`: forever) or
    /// [`Handle::unpark`] is called, then dispatches the events. A zero
    /// timeout polls without blocking.
    pub(crate) fn turn(&mut self, handle: &Handle, timeout: Option<Duration>) -> bool {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return true,
            // epoll_wait/kevent only fail on an invalid selector or buffer,
            // which would be a bug in this module, not a runtime condition.
            Err(e) => panic!("tether: the I/O driver failed: {e}"),
        }
        self.tick = self.tick.wrapping_add(1);
        {
            let registrations = crate::loom::lock(&handle.registrations);
            for event in self.events.iter() {
                if event.token() == TOKEN_WAKEUP {
                    continue;
                }
                let ready = Ready::from_mio(event);
                dispatch(
                    &registrations,
                    event.token(),
                    ready,
                    self.tick,
                    &mut self.wakers,
                );
            }
        }
        // A panicking waker costs only its own task: the rest of the turn's
        // wake-ups are delivered and the driver stays usable.
        self.wakers.drain(..).for_each(crate::park::wake_contained);
        !self.events.is_empty()
    }
}

/// Delivers `ready` for `token` in turn `tick`: publishes it on the
/// registration the token was issued for and collects the wakers to call.
/// A stale token (its registration is gone, and the slot maybe reused) is
/// ignored.
pub(super) fn dispatch(
    registrations: &RegistrationSet,
    token: mio::Token,
    ready: Ready,
    tick: usize,
    wakers: &mut Vec<Waker>,
) {
    if let Some(io) = registrations.get(token) {
        io.set_readiness(tick, ready);
        io.take_wakers(ready, wakers);
    }
}

impl Handle {
    /// Interrupts a thread blocked in [`Driver::turn`]. If none is blocked,
    /// the next turn returns at once. Called on the thread that is parked
    /// in this driver (a waker it fires), it does nothing: that park is
    /// already past its wait and returns when its dispatch is over.
    pub(crate) fn unpark(&self) {
        if crate::runtime::context::in_driver_park(self) {
            return;
        }
        if let Err(e) = self.waker.wake() {
            // Writing to an eventfd/pipe the driver owns cannot fail short of
            // descriptor corruption; there is no caller to report it to.
            panic!("tether: failed to wake the I/O driver: {e}");
        }
    }

    /// Registers `source` for `interest` and returns its token and state.
    pub(crate) fn add_source(
        &self,
        source: &mut impl mio::event::Source,
        interest: mio::Interest,
    ) -> io::Result<(mio::Token, Arc<ScheduledIo>)> {
        let (token, io) = crate::loom::lock(&self.registrations).allocate()?;
        if let Err(e) = self.registry.register(source, token, interest) {
            crate::loom::lock(&self.registrations).remove(token);
            return Err(e);
        }
        Ok((token, io))
    }

    /// Deregisters `source` from the selector. Its state stays in the set
    /// until [`Handle::release`].
    pub(crate) fn deregister_source(&self, source: &mut impl mio::event::Source) -> io::Result<()> {
        self.registry.deregister(source)
    }

    /// Frees the slot of `token`; later events carrying it are ignored.
    pub(crate) fn release(&self, token: mio::Token) {
        crate::loom::lock(&self.registrations).remove(token);
    }

    /// The table of live registrations (for tests that dispatch by hand).
    #[cfg(test)]
    pub(super) fn registrations(&self) -> &Mutex<RegistrationSet> {
        &self.registrations
    }

    /// Whether [`Handle::shutdown`] ran.
    #[cfg(test)]
    pub(crate) fn is_shutdown(&self) -> bool {
        crate::loom::lock(&self.registrations).is_shutdown()
    }

    /// Wakes every registered waiter with an error; called once at runtime
    /// shutdown so no I/O future waits for a reactor that is gone. Later
    /// registrations fail.
    pub(crate) fn shutdown(&self) {
        let live = crate::loom::lock(&self.registrations).shutdown();
        for io in live {
            io.shutdown();
            io.wake(Ready::EMPTY);
        }
    }
}
