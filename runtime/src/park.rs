//! Wake-up plumbing shared by the drivers and the schedulers.

/// Something that can wake a thread blocked in a scheduler's park (a worker
/// on its condvar, or the worker blocked in the I/O driver).
pub(crate) trait Unpark: Send + Sync + 'static {
    /// Wakes the parked thread; a no-op if nobody is parked. A wake-up that
    /// arrives before the park is not lost: the next park returns at once.
    fn unpark(&self);
}

/// Wakes `waker` on behalf of a driver (the timer wheel or the I/O
/// reactor), containing a panic of the waker to that one wake-up.
///
/// The drivers deliver wake-ups in batches, and whoever runs the batch (a
/// worker parked in the driver, or a thread inside `block_on`) is holding
/// the driver. A panic escaping from one waker would lose the rest of the
/// batch and take the driver down with the unwinding thread, hanging every
/// timer and socket of the runtime. So the panic is caught and dropped: it
/// costs only the task behind the panicking waker (which is not woken). The
/// panic hook has already reported it when it was raised; there is no
/// caller to hand it to, as the wake-up happened on the driver's behalf.
/// The payload follows the crate's policy for payloads that are not
/// resumed ([`crate::util::panic`]).
pub(crate) fn wake_contained(waker: std::task::Waker) {
    crate::util::panic::contain(|| waker.wake());
}
