//! Per-registration readiness state, shared by the reactor and the tasks.
//!
//! # The readiness word
//!
//! One `AtomicUsize` holds, packed:
//!
//! | bits      | field                                                     |
//! |-----------|-----------------------------------------------------------|
//! | 0..5      | [`Ready`] bits reported by the OS and not yet cleared     |
//! | 5         | `SHUTDOWN`: the reactor is gone, every wait ends in error |
//! | 8..24     | `tick`: the driver turn that last set readiness           |
//!
//! # Invariants
//!
//! - **Edge-triggered, cleared only on `WouldBlock`.** `mio` reports an edge
//!   once; the bit stays set until an operation observes `WouldBlock` and
//!   calls [`ScheduledIo::clear_readiness`] with the [`ReadyEvent`] it acted
//!   on. Nothing else clears readiness, so an edge is never forgotten.
//! - **A clear never erases a newer event.** Every event a turn delivers is
//!   stamped with that turn's tick. A clear compares the tick of the event it
//!   acted on with the current tick and does nothing if they differ: the
//!   socket became ready again after the operation that saw `WouldBlock`
//!   looked at it, so the next attempt must run.
//! - **No lost wake-up.** The reactor first publishes readiness in the word,
//!   then takes the wakers under the `waiters` lock. A task stores its waker
//!   under the same lock and re-reads the word before it unlocks. Either the
//!   task's re-read sees the new bits, or the reactor's lock comes after the
//!   task's and finds the waker.
//! - **Closed halves are final.** `READ_CLOSED`/`WRITE_CLOSED` are never
//!   cleared, so a reader that reaches the end of a stream never sleeps.
//!
//! The registration's generation (which guards against stale tokens) is an
//! immutable field rather than part of the word: every registration gets a
//! fresh `ScheduledIo`, so only the token-to-slot lookup in the driver needs
//! to compare generations.

use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::ready::{Direction, Ready};
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// Set once the reactor has shut down; waits end with an error from then on.
const SHUTDOWN: usize = 1 << 5;
/// Where the tick starts in the packed word (above readiness and `SHUTDOWN`).
const TICK_SHIFT: usize = 8;
/// Width of the tick: 16 bits, so a stale clear would need 65 536 driver
/// turns to pass between an operation's readiness check and its
/// `WouldBlock`, and the word still fits in a 32-bit `usize`.
const TICK_MASK: usize = 0xFFFF;

/// Readiness as seen by one operation, with the tick needed to clear it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadyEvent {
    /// Driver turn that set the bits this event saw.
    pub(crate) tick: usize,
    /// The bits relevant to the waiting direction.
    pub(crate) ready: Ready,
    /// The reactor shut down: the operation must fail instead of waiting.
    pub(crate) is_shutdown: bool,
}

/// Readiness and waiters of one registered source.
#[derive(Debug)]
pub(crate) struct ScheduledIo {
    /// The packed readiness word described in the module docs.
    readiness: AtomicUsize,
    /// Tag that distinguishes this registration from earlier users of the
    /// same slab slot; encoded in the `mio::Token`.
    generation: usize,
    /// Tasks waiting for readiness.
    waiters: Mutex<Waiters>,
}

/// The wakers of tasks waiting on one source.
#[derive(Debug, Default)]
struct Waiters {
    /// The reader of a `poll_*`-style API (`AsyncRead`, `poll_accept`): the
    /// owner of `&mut` access, so one slot suffices.
    reader: Option<Waker>,
    /// The writer of a `poll_*`-style API (`AsyncWrite`).
    writer: Option<Waker>,
    /// Futures of `&self` async methods (`accept`, `recv_from`, ...), which
    /// several tasks may await at once on a shared socket.
    shared: Slab<SharedWaiter>,
}

/// A waiting `&self` future.
#[derive(Debug)]
struct SharedWaiter {
    /// What it waits for.
    direction: Direction,
    /// Taken by the reactor when the waiter is woken.
    waker: Option<Waker>,
}

impl ScheduledIo {
    /// Fresh state for a registration with the given generation tag.
    pub(crate) fn new(generation: usize) -> ScheduledIo {
        ScheduledIo {
            readiness: AtomicUsize::new(0),
            generation,
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// The generation tag this state was created with.
    pub(crate) fn generation(&self) -> usize {
        self.generation
    }

    /// Records `ready` as delivered by driver turn `tick`, adding to the
    /// bits not yet cleared. The caller then wakes the waiters
    /// ([`ScheduledIo::take_wakers`]), in that order (see the module docs).
    pub(crate) fn set_readiness(&self, tick: usize, ready: Ready) {
        let tick_bits = (tick & TICK_MASK) << TICK_SHIFT;
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                let keep = word & (Ready::MASK | SHUTDOWN);
                Some(keep | ready.as_usize() | tick_bits)
            });
    }

    /// Marks the source as shut down: every current and future wait ends.
    pub(crate) fn shutdown(&self) {
        self.readiness.fetch_or(SHUTDOWN, Ordering::AcqRel);
    }

    /// Clears the readiness `event` saw, unless a newer turn set readiness
    /// since (see the module docs). Call only after the operation returned
    /// `WouldBlock`.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = event.ready - Ready::FINAL;
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                if (word >> TICK_SHIFT) & TICK_MASK != event.tick {
                    return None;
                }
                Some(word & !clear.as_usize())
            });
    }

    /// The current readiness for `direction`, if any (or shutdown).
    pub(crate) fn ready_event(&self, direction: Direction) -> Option<ReadyEvent> {
        let word = self.readiness.load(Ordering::Acquire);
        let event = ReadyEvent {
            tick: (word >> TICK_SHIFT) & TICK_MASK,
            ready: Ready::from_usize(word) & direction.mask(),
            is_shutdown: word & SHUTDOWN != 0,
        };
        (event.is_shutdown || !event.ready.is_empty()).then_some(event)
    }

    /// Readiness for the single `poll_*` waiter of `direction`: `Ready` if
    /// the source is ready, otherwise stores `cx`'s waker and returns
    /// `Pending`.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<ReadyEvent> {
        if let Some(event) = self.ready_event(direction) {
            return Poll::Ready(event);
        }
        let mut waiters = crate::loom::lock(&self.waiters);
        let slot = match direction {
            Direction::Read => &mut waiters.reader,
            Direction::Write => &mut waiters.writer,
        };
        match slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        // Re-check under the lock: the reactor may have set readiness after
        // the first load but before it could see the waker.
        match self.ready_event(direction) {
            Some(event) => Poll::Ready(event),
            None => Poll::Pending,
        }
    }

    /// Readiness for one of possibly many `&self` waiters. `key` identifies
    /// the caller's entry across polls; release it with
    /// [`ScheduledIo::remove_shared_waiter`].
    pub(crate) fn poll_ready_shared(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        key: &mut Option<usize>,
    ) -> Poll<ReadyEvent> {
        if let Some(event) = self.ready_event(direction) {
            return Poll::Ready(event);
        }
        let mut waiters = crate::loom::lock(&self.waiters);
        match key.and_then(|k| waiters.shared.get_mut(k)) {
            Some(entry) => match &entry.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => entry.waker = Some(cx.waker().clone()),
            },
            None => {
                *key = Some(waiters.shared.insert(SharedWaiter {
                    direction,
                    waker: Some(cx.waker().clone()),
                }))
            }
        }
        match self.ready_event(direction) {
            Some(event) => Poll::Ready(event),
            None => Poll::Pending,
        }
    }

    /// Forgets a `&self` waiter's entry (its future completed or was dropped).
    pub(crate) fn remove_shared_waiter(&self, key: usize) {
        let mut waiters = crate::loom::lock(&self.waiters);
        if waiters.shared.contains(key) {
            waiters.shared.remove(key);
        }
    }

    /// Moves the wakers of every waiter interested in `ready` into `out`
    /// (all of them if the source is shut down). The caller wakes them after
    /// releasing its own locks.
    pub(crate) fn take_wakers(&self, ready: Ready, out: &mut Vec<Waker>) {
        let all = self.readiness.load(Ordering::Acquire) & SHUTDOWN != 0;
        let wants = |direction: Direction| all || ready.intersects(direction.mask());
        let mut waiters = crate::loom::lock(&self.waiters);
        if wants(Direction::Read) {
            out.extend(waiters.reader.take());
        }
        if wants(Direction::Write) {
            out.extend(waiters.writer.take());
        }
        for (_, waiter) in waiters.shared.iter_mut() {
            if wants(waiter.direction) {
                out.extend(waiter.waker.take());
            }
        }
    }

    /// Wakes every waiter interested in `ready` (all if shut down).
    pub(crate) fn wake(&self, ready: Ready) {
        let mut wakers = Vec::new();
        self.take_wakers(ready, &mut wakers);
        wakers.into_iter().for_each(crate::park::wake_contained);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures::task::{ArcWake, waker};
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;

    /// Counts how often it is woken.
    struct Counter(StdAtomicUsize);
    impl ArcWake for Counter {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Counter>, Waker) {
        let c = Arc::new(Counter(StdAtomicUsize::new(0)));
        (c.clone(), waker(c))
    }

    #[test]
    fn pending_then_woken_by_matching_readiness_only() {
        let io = ScheduledIo::new(7);
        let (reads, rw) = counter();
        let (writes, ww) = counter();
        assert!(
            io.poll_ready(&mut Context::from_waker(&rw), Direction::Read)
                .is_pending()
        );
        assert!(
            io.poll_ready(&mut Context::from_waker(&ww), Direction::Write)
                .is_pending()
        );

        io.set_readiness(1, Ready::WRITABLE);
        io.wake(Ready::WRITABLE);
        assert_eq!(reads.0.load(Ordering::SeqCst), 0);
        assert_eq!(writes.0.load(Ordering::SeqCst), 1);

        io.set_readiness(2, Ready::READABLE);
        io.wake(Ready::READABLE);
        assert_eq!(reads.0.load(Ordering::SeqCst), 1);
        match io.poll_ready(&mut Context::from_waker(&rw), Direction::Read) {
            Poll::Ready(ev) => {
                assert_eq!(ev.ready, Ready::READABLE);
                assert_eq!(ev.tick, 2);
            }
            Poll::Pending => panic!("readable was set"),
        }
    }

    #[test]
    fn clear_with_stale_tick_keeps_newer_event() {
        let io = ScheduledIo::new(0);
        io.set_readiness(5, Ready::READABLE);
        let old = io.ready_event(Direction::Read).unwrap();
        // A new edge arrives in a later turn before the operation clears.
        io.set_readiness(6, Ready::READABLE);
        io.clear_readiness(old);
        assert!(io.ready_event(Direction::Read).is_some());
        // Clearing with the current tick works.
        let now = io.ready_event(Direction::Read).unwrap();
        io.clear_readiness(now);
        assert!(io.ready_event(Direction::Read).is_none());
    }

    #[test]
    fn clear_keeps_closed_bits_and_other_direction() {
        let io = ScheduledIo::new(0);
        io.set_readiness(1, Ready::READABLE | Ready::WRITABLE | Ready::READ_CLOSED);
        let ev = io.ready_event(Direction::Read).unwrap();
        io.clear_readiness(ev);
        let after = io.ready_event(Direction::Read).unwrap();
        assert_eq!(after.ready, Ready::READ_CLOSED);
        assert!(io.ready_event(Direction::Write).is_some());
    }

    #[test]
    fn shutdown_wakes_everyone_and_stays_ready() {
        let io = ScheduledIo::new(0);
        let (c, w) = counter();
        let mut key = None;
        assert!(
            io.poll_ready(&mut Context::from_waker(&w), Direction::Read)
                .is_pending()
        );
        assert!(
            io.poll_ready_shared(&mut Context::from_waker(&w), Direction::Write, &mut key)
                .is_pending()
        );
        io.shutdown();
        io.wake(Ready::EMPTY);
        assert_eq!(c.0.load(Ordering::SeqCst), 2);
        let ev = io.ready_event(Direction::Read).unwrap();
        assert!(ev.is_shutdown);
        io.remove_shared_waiter(key.unwrap());
    }

    #[test]
    fn many_shared_waiters_all_woken() {
        let io = ScheduledIo::new(0);
        let counters: Vec<_> = (0..3).map(|_| counter()).collect();
        let mut keys = vec![None; 3];
        for ((_, w), key) in counters.iter().zip(&mut keys) {
            let mut cx = Context::from_waker(w);
            assert!(
                io.poll_ready_shared(&mut cx, Direction::Read, key)
                    .is_pending()
            );
        }
        io.set_readiness(1, Ready::READABLE);
        io.wake(Ready::READABLE);
        for (c, _) in &counters {
            assert_eq!(c.0.load(Ordering::SeqCst), 1);
        }
        for key in keys {
            io.remove_shared_waiter(key.unwrap());
        }
    }
}
