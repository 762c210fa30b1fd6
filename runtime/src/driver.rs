//! The runtime's combined driver: I/O reactor plus timer wheel.
//!
//! One worker at a time owns the [`Driver`] and blocks in [`Driver::park`],
//! using the next timer deadline as the `mio::Poll` timeout; the others
//! sleep on their condvars. [`Handle`] is the shared half every thread uses.

use std::io;
use std::time::Duration;

use crate::loom::sync::Arc;
use crate::park::Unpark;

/// The exclusive half: owned by whichever worker is parked in it.
#[derive(Debug)]
pub(crate) struct Driver {
    /// The mio reactor.
    io: crate::io::Driver,
}

/// The shared half, reachable from every thread of the runtime.
#[derive(Debug)]
pub(crate) struct Handle {
    /// Registration and wake-up for the reactor.
    pub(crate) io: Arc<crate::io::Handle>,
    /// Timer registration.
    pub(crate) time: crate::time::Handle,
}

/// Unparks the driver by waking the reactor.
struct IoUnpark(Arc<crate::io::Handle>);

impl Unpark for IoUnpark {
    fn unpark(&self) {
        self.0.unpark();
    }
}

impl Driver {
    /// Creates the driver and its shared handle.
    pub(crate) fn new() -> io::Result<(Driver, Handle)> {
        let (io, io_handle) = crate::io::Driver::new()?;
        let time = crate::time::Handle::new(std::sync::Arc::new(IoUnpark(io_handle.clone())));
        Ok((
            Driver { io },
            Handle {
                io: io_handle,
                time,
            },
        ))
    }

    /// Blocks for at most `timeout` (`None`: until unparked or an event
    /// arrives), bounded by the next timer deadline; then fires due timers.
    pub(crate) fn park(&mut self, handle: &Handle, timeout: Option<Duration>) {
        // Wake-ups of this driver from here on (the wakers it calls) are
        // delivered by this park returning: `io::Handle::unpark` skips the
        // reactor write for them.
        let _parked = crate::runtime::context::enter_driver_park(&handle.io);
        if timeout != Some(Duration::ZERO)
            && handle.time.source().can_auto_advance()
            && self.auto_advance(handle)
        {
            return;
        }
        let timeout = match handle.time.next_expiration() {
            Some(deadline) => {
                let until = deadline.saturating_duration_since(handle.time.now());
                Some(timeout.map_or(until, |t| t.min(until)))
            }
            None => timeout,
        };
        self.io.turn(&handle.io, timeout);
        handle.time.process();
    }
}

impl Driver {
    /// The idle runtime's clock is paused: if no I/O is ready and no other
    /// thread woke the driver, jumps the clock to the earliest timer and
    /// fires it (see `time/source.rs`). Returns false if the driver should
    /// block as usual instead (no timer is pending).
    fn auto_advance(&mut self, handle: &Handle) -> bool {
        let activity = self.io.turn(&handle.io, Some(Duration::ZERO));
        if !activity {
            match handle.time.next_expiration() {
                Some(deadline) => handle.time.source().advance_to(deadline),
                None => return false,
            }
        }
        handle.time.process();
        true
    }
}

impl Handle {
    /// Interrupts the worker parked in the driver.
    pub(crate) fn unpark(&self) {
        self.io.unpark();
    }

    /// Shuts both drivers down: pending I/O fails, pending timers fire.
    pub(crate) fn shutdown(&self) {
        self.io.shutdown();
        self.time.shutdown();
    }
}
