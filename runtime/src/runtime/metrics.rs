//! [`RuntimeMetrics`]: a few counters about a running runtime.

use crate::scheduler;

/// Statistics of a runtime; see [`Runtime::metrics`](crate::Runtime::metrics).
#[derive(Clone, Debug)]
pub struct RuntimeMetrics {
    /// The runtime observed.
    pub(super) handle: scheduler::Handle,
}

impl RuntimeMetrics {
    /// Number of worker threads (1 for the current-thread flavour).
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_current_thread().build().unwrap();
    /// assert_eq!(rt.metrics().num_workers(), 1);
    /// ```
    pub fn num_workers(&self) -> usize {
        self.handle.num_workers()
    }

    /// Number of spawned tasks that have not completed yet (blocking-pool
    /// jobs excluded).
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let task = rt.spawn(std::future::pending::<()>());
    /// assert_eq!(rt.metrics().num_alive_tasks(), 1);
    /// task.abort();
    /// let _ = rt.block_on(task);
    /// assert_eq!(rt.metrics().num_alive_tasks(), 0);
    /// ```
    pub fn num_alive_tasks(&self) -> usize {
        self.handle.num_tasks()
    }
}
