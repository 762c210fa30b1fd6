//! The timer driver's shared handle.

use std::time::Instant;

use crate::park::Unpark;
use std::sync::Arc;

/// Shared state of a runtime's timers. Cloning is cheap.
#[derive(Clone)]
pub(crate) struct Handle {
    /// Wakes the parked worker when a timer earlier than its timeout appears.
    /// (A plain `std` Arc: it only carries a trait object, no shared state.)
    #[allow(dead_code)]
    unpark: Arc<dyn Unpark>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("time::Handle").finish_non_exhaustive()
    }
}

impl Handle {
    /// Creates the timer state; `unpark` interrupts the parked driver.
    pub(crate) fn new(unpark: Arc<dyn Unpark>) -> Handle {
        Handle { unpark }
    }

    /// The earliest pending deadline, if any timer is registered.
    pub(crate) fn next_expiration(&self) -> Option<Instant> {
        None
    }

    /// Fires every timer whose deadline has passed.
    pub(crate) fn process(&self) {}

    /// Fires every timer at runtime shutdown.
    pub(crate) fn shutdown(&self) {}
}
