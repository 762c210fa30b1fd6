//! The task state word.
//!
//! One `AtomicUsize` per task packs the lifecycle flags and the reference
//! count, so every transition is a single compare-and-swap:
//!
//! | bit(s)   | flag            | meaning                                                        |
//! |----------|-----------------|----------------------------------------------------------------|
//! | 0        | `RUNNING`       | a thread owns the future (polling, cancelling or shutting down) |
//! | 1        | `COMPLETE`      | the future is gone; the stage holds the output (or nothing)     |
//! | 2        | `NOTIFIED`      | a `Notified` exists (queued) or a wake arrived while running    |
//! | 3        | `CANCELLED`     | abort/shutdown requested; the next owner drops the future       |
//! | 4        | `JOIN_INTEREST` | the `JoinHandle` is alive                                       |
//! | 5        | `JOIN_WAKER`    | the runtime owns (may read) the join waker slot                 |
//! | 6..      | ref count       | owned list + `JoinHandle` + `AbortHandle`s + `Notified`s + `Waker`s |
//!
//! # Transitions
//!
//! * `transition_to_running`: `NOTIFIED, !RUNNING, !COMPLETE` → `RUNNING`
//!   (clears `NOTIFIED`); fails if another owner already claimed the task.
//! * `transition_to_idle` (after `Pending`): clears `RUNNING`. If a wake
//!   arrived during the poll (`NOTIFIED`), the poller keeps its reference and
//!   re-submits the task; if `CANCELLED`, the poller keeps ownership and
//!   cancels.
//! * `transition_to_complete`: `RUNNING` → `COMPLETE`.
//! * wakes: an idle, un-notified task becomes `NOTIFIED` and is submitted
//!   exactly once; a running task only gets `NOTIFIED` (the poller
//!   re-submits it); a complete or already notified task is left alone.
//! * abort: sets `CANCELLED` (and submits an idle task so a worker drops it).
//! * shutdown: sets `CANCELLED` and, if the task is idle, also `RUNNING`,
//!   giving the caller ownership of the future.
//!
//! # Join waker protocol
//!
//! While `JOIN_WAKER` is clear, only the `JoinHandle` touches the waker slot;
//! once it sets the bit, only the completing thread may read it. The
//! completing thread wakes the waker and clears the bit; whichever side
//! observes the other side gone (no `JOIN_INTEREST`, or the bit clear after
//! completion) drops the slot's waker. The output belongs to the `JoinHandle`
//! if `JOIN_INTEREST` was set when the task completed, otherwise to the
//! completing thread.

use std::fmt;

use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};

const RUNNING: usize = 1 << 0;
const COMPLETE: usize = 1 << 1;
const NOTIFIED: usize = 1 << 2;
const CANCELLED: usize = 1 << 3;
const JOIN_INTEREST: usize = 1 << 4;
const JOIN_WAKER: usize = 1 << 5;
/// Flags occupy the low bits; the reference count the rest.
const REF_SHIFT: usize = 6;
const REF_ONE: usize = 1 << REF_SHIFT;
/// More references than this means a reference leak (e.g. `mem::forget` of
/// wakers in a loop); abort rather than wrap around.
const MAX_REFS: usize = usize::MAX >> (REF_SHIFT + 1);

/// A new task: three references (owned list, `JoinHandle`, the first
/// `Notified`), join interest, and notified so it is polled once.
const INITIAL: usize = (3 * REF_ONE) | JOIN_INTEREST | NOTIFIED;

/// The atomic state word of one task.
pub(crate) struct State {
    /// Flags and reference count, see the module docs.
    val: AtomicUsize,
}

/// A copy of the state word.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

/// Result of [`State::transition_to_running`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToRunning {
    /// The caller owns the future and must poll it.
    Success,
    /// The caller owns the future and must cancel it.
    Cancelled,
    /// Someone else owns or finished the task; drop the caller's reference.
    Failed,
}

/// Result of [`State::transition_to_idle`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToIdle {
    /// Idle; the poller drops its reference.
    Ok,
    /// Woken during the poll; the poller re-submits its reference.
    OkNotified,
    /// Cancelled during the poll; the poller keeps ownership and cancels.
    Cancelled,
}

/// What the waker must do after a by-value wake.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToNotifiedByVal {
    /// The waker's reference was dropped; nothing else to do.
    DoNothing,
    /// Submit the task; the waker's reference becomes the `Notified`.
    Submit,
    /// The waker held the last reference; free the task.
    Dealloc,
}

impl State {
    /// The state of a freshly spawned task.
    pub(crate) fn new() -> State {
        State {
            val: AtomicUsize::new(INITIAL),
        }
    }

    /// Loads the current state.
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.val.load(Acquire))
    }

    /// Applies `f` until the CAS succeeds; `f` returns the action and the
    /// new value, or `None` to leave the word untouched.
    fn fetch_update_action<T>(&self, mut f: impl FnMut(Snapshot) -> (T, Option<Snapshot>)) -> T {
        let mut curr = self.load();
        loop {
            let (output, next) = f(curr);
            let Some(next) = next else { return output };
            match self
                .val
                .compare_exchange_weak(curr.0, next.0, AcqRel, Acquire)
            {
                Ok(_) => return output,
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    /// Claims the task for polling; see [`TransitionToRunning`].
    pub(crate) fn transition_to_running(&self) -> TransitionToRunning {
        self.fetch_update_action(|curr| {
            if curr.is_running() || curr.is_complete() {
                return (TransitionToRunning::Failed, None);
            }
            debug_assert!(curr.is_notified(), "polled a task that was not notified");
            let mut next = curr;
            next.0 = (next.0 | RUNNING) & !NOTIFIED;
            let action = if curr.is_cancelled() {
                TransitionToRunning::Cancelled
            } else {
                TransitionToRunning::Success
            };
            (action, Some(next))
        })
    }

    /// Releases ownership after a `Pending` poll; see [`TransitionToIdle`].
    pub(crate) fn transition_to_idle(&self) -> TransitionToIdle {
        self.fetch_update_action(|curr| {
            debug_assert!(curr.is_running());
            if curr.is_cancelled() {
                return (TransitionToIdle::Cancelled, None);
            }
            let mut next = curr;
            next.0 &= !RUNNING;
            if curr.is_notified() {
                // The poller's reference is re-used for the re-submission;
                // NOTIFIED stays set because a `Notified` will exist.
                (TransitionToIdle::OkNotified, Some(next))
            } else {
                (TransitionToIdle::Ok, Some(next))
            }
        })
    }

    /// Marks the task complete. Returns the new state.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.val.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        Snapshot(prev.0 ^ (RUNNING | COMPLETE))
    }

    /// Drops `count` references at the end of the task's life. Returns true
    /// if they were the last, so the caller must free the task.
    pub(crate) fn transition_to_terminal(&self, count: usize) -> bool {
        let prev = Snapshot(self.val.fetch_sub(count * REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= count, "task reference underflow");
        prev.ref_count() == count
    }

    /// A by-value wake (the waker's reference is consumed).
    pub(crate) fn transition_to_notified_by_val(&self) -> TransitionToNotifiedByVal {
        self.fetch_update_action(|curr| {
            let mut next = curr;
            let action = if curr.is_running() {
                // The poller will re-submit; drop the waker's reference. It
                // cannot be the last one: the poller holds one.
                next.0 |= NOTIFIED;
                next.ref_dec();
                TransitionToNotifiedByVal::DoNothing
            } else if curr.is_complete() || curr.is_notified() {
                next.ref_dec();
                if next.ref_count() == 0 {
                    TransitionToNotifiedByVal::Dealloc
                } else {
                    TransitionToNotifiedByVal::DoNothing
                }
            } else {
                next.0 |= NOTIFIED;
                TransitionToNotifiedByVal::Submit
            };
            (action, Some(next))
        })
    }

    /// A by-reference wake. Returns true if the caller must submit a new
    /// `Notified` (for which a reference was added).
    pub(crate) fn transition_to_notified_by_ref(&self) -> bool {
        self.fetch_update_action(|curr| {
            if curr.is_complete() || curr.is_notified() {
                (false, None)
            } else if curr.is_running() {
                (false, Some(Snapshot(curr.0 | NOTIFIED)))
            } else {
                let mut next = Snapshot(curr.0 | NOTIFIED);
                next.ref_inc();
                (true, Some(next))
            }
        })
    }

    /// Requests cancellation (abort). Returns true if the caller must submit
    /// a new `Notified` (for which a reference was added) so that a worker
    /// drops the future.
    pub(crate) fn transition_to_notified_and_cancel(&self) -> bool {
        self.fetch_update_action(|curr| {
            if curr.is_complete() || curr.is_cancelled() {
                (false, None)
            } else if curr.is_running() || curr.is_notified() {
                // The owner (poller, or whoever runs the queued Notified)
                // observes CANCELLED.
                (false, Some(Snapshot(curr.0 | CANCELLED | NOTIFIED)))
            } else {
                let mut next = Snapshot(curr.0 | CANCELLED | NOTIFIED);
                next.ref_inc();
                (true, Some(next))
            }
        })
    }

    /// Marks the task cancelled and, if it is idle, claims it. Returns true
    /// if the caller now owns the future and must cancel and complete it.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.fetch_update_action(|curr| {
            let idle = !curr.is_running() && !curr.is_complete();
            let mut next = Snapshot(curr.0 | CANCELLED);
            if idle {
                next.0 |= RUNNING;
            }
            (idle, Some(next))
        })
    }

    /// Sets `JOIN_WAKER`, handing the waker slot to the runtime. Fails (with
    /// the current state) if the task completed meanwhile.
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.join_waker_cas(|curr| {
            debug_assert!(curr.is_join_interested() && !curr.is_join_waker_set());
            Snapshot(curr.0 | JOIN_WAKER)
        })
    }

    /// Clears `JOIN_WAKER` so the `JoinHandle` may replace the waker. Fails
    /// (with the current state) if the task completed meanwhile.
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.join_waker_cas(|curr| {
            debug_assert!(curr.is_join_interested() && curr.is_join_waker_set());
            Snapshot(curr.0 & !JOIN_WAKER)
        })
    }

    fn join_waker_cas(&self, f: impl Fn(Snapshot) -> Snapshot) -> Result<Snapshot, Snapshot> {
        self.fetch_update_action(|curr| {
            if curr.is_complete() {
                (Err(curr), None)
            } else {
                let next = f(curr);
                (Ok(next), Some(next))
            }
        })
    }

    /// After waking the join waker on completion: clears `JOIN_WAKER`.
    /// Returns the previous state; if it has no join interest, the caller
    /// drops the waker.
    pub(crate) fn unset_join_waker_after_complete(&self) -> Snapshot {
        let prev = Snapshot(self.val.fetch_and(!JOIN_WAKER, AcqRel));
        debug_assert!(prev.is_complete() && prev.is_join_waker_set());
        prev
    }

    /// The `JoinHandle` is dropped. Clears `JOIN_INTEREST` (and, if the task
    /// is not complete, `JOIN_WAKER`, taking the waker slot back). Returns
    /// `(previous, next)` states.
    pub(crate) fn transition_to_join_handle_dropped(&self) -> (Snapshot, Snapshot) {
        self.fetch_update_action(|curr| {
            debug_assert!(curr.is_join_interested());
            let mut next = Snapshot(curr.0 & !JOIN_INTEREST);
            if !curr.is_complete() {
                next.0 &= !JOIN_WAKER;
            }
            ((curr, next), Some(next))
        })
    }

    /// Adds a reference (cloning a waker).
    pub(crate) fn ref_inc(&self) {
        let prev = self.val.fetch_add(REF_ONE, Relaxed);
        if prev >> REF_SHIFT > MAX_REFS {
            std::process::abort();
        }
    }

    /// Drops a reference. Returns true if it was the last one.
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = Snapshot(self.val.fetch_sub(REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= 1, "task reference underflow");
        prev.ref_count() == 1
    }
}

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
    fn ref_inc(&mut self) {
        self.0 += REF_ONE;
    }
    fn ref_dec(&mut self) {
        debug_assert!(self.ref_count() > 0);
        self.0 -= REF_ONE;
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("refs", &self.ref_count())
            .finish()
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}
