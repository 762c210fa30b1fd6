//! Wake-up plumbing shared by the drivers and the schedulers.

/// Something that can wake a thread blocked in a scheduler's park (a worker
/// on its condvar, or the worker blocked in the I/O driver).
pub(crate) trait Unpark: Send + Sync + 'static {
    /// Wakes the parked thread; a no-op if nobody is parked. A wake-up that
    /// arrives before the park is not lost: the next park returns at once.
    fn unpark(&self);
}
