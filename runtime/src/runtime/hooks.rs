//! Thread start/stop callbacks set with
//! [`Builder::on_thread_start`](super::Builder::on_thread_start) and
//! [`Builder::on_thread_stop`](super::Builder::on_thread_stop).

use std::fmt;
use std::sync::Arc;

/// A user callback run on a runtime thread.
pub(crate) type Callback = Arc<dyn Fn() + Send + Sync>;

/// The callbacks every runtime thread (worker or blocking) runs.
#[derive(Clone, Default)]
pub(crate) struct ThreadHooks {
    /// Run first on a new thread.
    pub(crate) on_start: Option<Callback>,
    /// Run last on a thread about to exit.
    pub(crate) on_stop: Option<Callback>,
}

impl ThreadHooks {
    /// Runs the start callback; the returned guard runs the stop callback
    /// when dropped (also if the thread unwinds).
    pub(crate) fn enter(&self) -> HooksGuard {
        if let Some(f) = &self.on_start {
            f();
        }
        HooksGuard {
            on_stop: self.on_stop.clone(),
        }
    }
}

impl fmt::Debug for ThreadHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadHooks")
            .field("on_start", &self.on_start.is_some())
            .field("on_stop", &self.on_stop.is_some())
            .finish()
    }
}

/// Runs the stop callback on drop.
pub(crate) struct HooksGuard {
    /// The callback, if any.
    on_stop: Option<Callback>,
}

impl Drop for HooksGuard {
    fn drop(&mut self) {
        if let Some(f) = &self.on_stop {
            f();
        }
    }
}
