//! The I/O reactor: readiness events from `mio`, delivered to the tasks that
//! wait on them.
//!
//! - [`Driver`] owns the `mio::Poll`; the parked worker turns it.
//! - [`Handle`] is shared: it registers sources and interrupts a turn.
//! - A registration is a slot in a slab (key + generation token,
//!   `registration_set`) holding a `ScheduledIo` (readiness word + wakers,
//!   `scheduled_io`); [`PollEvented`] ties a `mio` source to it.
//!
//! Readiness is edge-triggered: it is cleared only when an operation returns
//! `WouldBlock`, and a clear never erases an event from a later driver turn.
//! The invariants are spelled out in `scheduled_io`.

mod driver;
mod poll_evented;
mod ready;
mod registration;
mod registration_set;
mod scheduled_io;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

pub(crate) use driver::{Driver, Handle};
pub(crate) use poll_evented::PollEvented;
pub(crate) use ready::Direction;
