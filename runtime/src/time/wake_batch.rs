//! A fixed-size batch of wakers, filled under a lock and woken after it is
//! released.

use std::task::Waker;

/// Wakers collected per lock acquisition. Small enough that firing many
/// timers never holds the timer lock (and so stalls tasks registering
/// timers) for long, large enough to amortise the lock over many timers.
const BATCH: usize = 32;

/// Up to [`BATCH`] wakers, stored inline (no allocation per batch).
#[derive(Debug)]
pub(super) struct WakeBatch {
    /// The collected wakers; the first `len` are `Some`.
    wakers: [Option<Waker>; BATCH],
    /// Number of collected wakers.
    len: usize,
}

impl WakeBatch {
    /// An empty batch.
    pub(super) fn new() -> WakeBatch {
        WakeBatch {
            wakers: [const { None }; BATCH],
            len: 0,
        }
    }

    /// Whether another waker fits.
    pub(super) fn is_full(&self) -> bool {
        self.len == BATCH
    }

    /// Whether the batch holds no waker.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `waker`; the batch must not be full.
    pub(super) fn push(&mut self, waker: Waker) {
        debug_assert!(!self.is_full());
        self.wakers[self.len] = Some(waker);
        self.len += 1;
    }

    /// Wakes and removes every collected waker. Call without holding locks:
    /// waking may run arbitrary code (another runtime's scheduler). A
    /// panicking waker costs only its own wake-up: the rest of the batch is
    /// still woken (see [`crate::park::wake_contained`]).
    pub(super) fn wake_all(&mut self) {
        let len = std::mem::take(&mut self.len);
        for slot in &mut self.wakers[..len] {
            if let Some(waker) = slot.take() {
                crate::park::wake_contained(waker);
            }
        }
    }
}
