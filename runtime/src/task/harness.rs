//! [`Harness`]: the typed operations on a task cell (poll, complete, cancel,
//! join). Every access to the stage or the join waker slot happens here, and
//! each is justified by the state-word protocol documented in `state.rs`.

use std::alloc::Layout;
use std::future::Future;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll, Waker};

use super::core::{Cell, Header, Stage};
use super::state::{Snapshot, TransitionToIdle, TransitionToRunning};
use super::waker::waker_ref;
use super::{JoinError, Notified, RawTask, Schedule, Task};

/// Typed view of a task cell.
pub(crate) struct Harness<F: Future, S: 'static> {
    /// The task's allocation.
    cell: NonNull<Cell<F, S>>,
}

impl<F: Future, S: Schedule> Harness<F, S> {
    /// # Safety
    ///
    /// `ptr` must head a live `Cell<F, S>`.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Harness<F, S> {
        Harness { cell: ptr.cast() }
    }

    fn cell(&self) -> &Cell<F, S> {
        // SAFETY: `from_raw` contract: the cell is alive while we hold a reference.
        unsafe { self.cell.as_ref() }
    }

    fn header(&self) -> &Header {
        &self.cell().header
    }

    fn raw(&self) -> RawTask {
        // SAFETY: `self.cell` heads a live `Cell<F, S>` allocated by
        // `Cell::allocate` (the `from_raw` contract), and every `Harness`
        // method runs on behalf of a caller that holds a reference.
        unsafe { RawTask::from_raw(self.cell.cast()) }
    }

    fn id(&self) -> u64 {
        self.header().id
    }

    /// Replaces the stage. Caller must own the stage (hold `RUNNING`, or be
    /// the `JoinHandle` of a complete task). The old stage is dropped *in
    /// place*: the future is pinned in the cell and must not move before it
    /// is dropped (it may point into itself). A panic from its destructor is
    /// discarded (`util::panic`): it must not unwind through the scheduler.
    fn set_stage(&self, stage: Stage<F>) {
        let dropped = self.cell().stage.with_mut(|ptr| {
            // SAFETY: exclusive ownership of the stage per the caller
            // contract; `drop_in_place` leaves the slot logically
            // uninitialised (also if it unwinds), and `write` refills it
            // without reading or dropping the old value.
            let dropped =
                panic::catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(ptr) }));
            // SAFETY: as above.
            unsafe { ptr::write(ptr, stage) };
            dropped
        });
        // Discarded once the stage is whole again.
        if let Err(payload) = dropped {
            crate::util::panic::discard_payload(payload);
        }
    }

    /// Polls a task whose `Notified` reference the caller hands over.
    pub(crate) fn poll(self) {
        // `task::id()` names this task during the poll and any drop below.
        let _id = super::id::enter(self.id());
        match self.header().state.transition_to_running() {
            TransitionToRunning::Success => {
                if self.poll_future().is_ready() {
                    self.complete();
                    return;
                }
                match self.header().state.transition_to_idle() {
                    TransitionToIdle::Ok => self.raw().drop_reference(),
                    TransitionToIdle::OkNotified => {
                        // Woken during its own poll (e.g. `yield_now`): our
                        // reference becomes the new `Notified`, queued behind
                        // other work.
                        // SAFETY: the reference of this poll is handed over
                        // to the `Notified`; the task was notified during the
                        // poll, so it is due to be polled again.
                        let notified = unsafe { Notified::from_raw(self.raw()) };
                        self.submit(notified, true);
                    }
                    TransitionToIdle::Cancelled => {
                        self.cancel();
                        self.complete();
                    }
                }
            }
            TransitionToRunning::Cancelled => {
                self.cancel();
                self.complete();
            }
            TransitionToRunning::Failed => self.raw().drop_reference(),
        }
    }

    /// Polls the future once. On `Ready` or panic the output is stored and
    /// the future dropped. Caller holds `RUNNING`.
    fn poll_future(&self) -> Poll<()> {
        let waker = waker_ref(self.cell.cast(), self.header());
        let mut cx = Context::from_waker(&waker);
        let res = panic::catch_unwind(AssertUnwindSafe(|| {
            self.cell().stage.with_mut(|ptr| {
                // SAFETY: we hold RUNNING, so we own the stage exclusively.
                let stage = unsafe { &mut *ptr };
                let Stage::Running(future) = stage else {
                    unreachable!("polled a task whose future is gone");
                };
                // SAFETY: the future lives in the heap cell and is never
                // moved until it is dropped in place by `set_stage`.
                unsafe { Pin::new_unchecked(future) }.poll(&mut cx)
            })
        }));
        match res {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => {
                self.set_stage(Stage::Finished(Ok(out)));
                Poll::Ready(())
            }
            Err(payload) => {
                self.set_stage(Stage::Finished(Err(JoinError::panic(self.id(), payload))));
                Poll::Ready(())
            }
        }
    }

    /// Drops the future and stores a cancellation error. Caller holds `RUNNING`.
    fn cancel(&self) {
        self.set_stage(Stage::Finished(Err(JoinError::cancelled(self.id()))));
    }

    /// Publishes the stored output, notifies the `JoinHandle`, leaves the
    /// owned list and drops the running reference. Caller holds `RUNNING`
    /// and one reference.
    fn complete(self) {
        // Leave the owned list first, so that once the JoinHandle observes
        // completion the task no longer counts as alive. We still hold the
        // running reference, so the cell stays valid.
        // SAFETY: the running reference is only lent to this `Task` for
        // `release` to compare against: the `Task` is forgotten below, never
        // dropped, so no reference is given up twice.
        let task = unsafe { Task::from_raw(self.raw()) };
        let released = self.cell().scheduler.release(&task);
        mem::forget(task);

        let snapshot = self.header().state.transition_to_complete();
        // Nothing here may unwind into the scheduler.
        crate::util::panic::contain(|| self.notify_join_handle(snapshot));

        let refs = match released {
            Some(owned) => {
                mem::forget(owned);
                2
            }
            None => 1,
        };
        if self.header().state.transition_to_terminal(refs) {
            self.dealloc();
        }
    }

    fn notify_join_handle(&self, snapshot: Snapshot) {
        if !snapshot.is_join_interested() {
            // No JoinHandle: the output is ours to drop.
            self.set_stage(Stage::Consumed);
        } else if snapshot.is_join_waker_set() {
            self.cell().join_waker.with(|ptr| {
                // SAFETY: JOIN_WAKER is set, so the runtime has read access
                // to the slot and the JoinHandle will not write it.
                if let Some(waker) = unsafe { &*ptr } {
                    waker.wake_by_ref();
                }
            });
            let prev = self.header().state.unset_join_waker_after_complete();
            if !prev.is_join_interested() {
                // The JoinHandle went away meanwhile and left the waker to us.
                // SAFETY: JOIN_INTEREST is gone and we cleared JOIN_WAKER:
                // no one else touches the slot any more.
                self.cell()
                    .join_waker
                    .with_mut(|ptr| unsafe { (*ptr).take() });
            }
        }
    }

    /// Hands `notified` (which may hold the caller's only reference) to
    /// the scheduler stored in this cell.
    ///
    /// `schedule` runs on `&self.cell().scheduler`, a reference *into* the
    /// cell. Once the task is queued, another worker may run it to
    /// completion and the last handle may free the cell while `schedule`
    /// still runs (it goes on to wake a parked worker through that
    /// reference). So an extra reference keeps the cell alive until the
    /// call returns.
    fn submit(&self, notified: Notified, is_yield: bool) {
        self.header().state.ref_inc();
        self.cell().scheduler.schedule(notified, is_yield);
        self.raw().drop_reference();
    }

    /// Submits the task to its scheduler, consuming one reference.
    pub(crate) fn schedule(self) {
        // SAFETY: our caller's reference is handed over to the `Notified`;
        // the caller transitioned the task to notified before submitting.
        let notified = unsafe { Notified::from_raw(self.raw()) };
        self.submit(notified, false);
    }

    /// Cancels an idle task (runtime shutdown), consuming one reference.
    pub(crate) fn shutdown(self) {
        let _id = super::id::enter(self.id());
        if self.header().state.transition_to_shutdown() {
            self.cancel();
            self.complete();
        } else {
            self.raw().drop_reference();
        }
    }

    /// Frees the cell. The reference count is zero.
    pub(crate) fn dealloc(self) {
        // SAFETY: no references remain, so nothing else can reach the cell,
        // which `Cell::allocate` initialised in memory from `pool::allocate`
        // with this layout; it is dropped once, here, and its memory given
        // back even if dropping its contents (a task's output) panics.
        unsafe { super::pool::drop_and_deallocate(self.cell, Layout::new::<Cell<F, S>>()) };
    }

    /// The `JoinHandle`'s poll: output if complete, else store the waker.
    ///
    /// # Safety
    ///
    /// Caller is the `JoinHandle`; `dst` is valid for reads and writes and
    /// holds an initialized value (the `JoinHandle` passes `Poll::Pending`),
    /// which a ready output replaces (and drops).
    pub(crate) unsafe fn try_read_output(
        self,
        dst: *mut Poll<Result<F::Output, JoinError>>,
        waker: &Waker,
    ) {
        if self.can_read_output(waker) {
            // SAFETY: the task is complete and we hold join interest, so the
            // output belongs to us.
            let stage = self
                .cell()
                .stage
                .with_mut(|ptr| unsafe { mem::replace(&mut *ptr, Stage::Consumed) });
            let Stage::Finished(out) = stage else {
                panic!("`JoinHandle` polled after it returned `Ready`");
            };
            // SAFETY: `dst` is valid for reads and writes and initialized
            // (caller contract). The assignment drops the old value: the
            // `JoinHandle` passes `Poll::Pending`, whose drop runs no code.
            unsafe { *dst = Poll::Ready(out) };
        }
    }

    /// Returns true if the task is complete; otherwise makes sure `waker`
    /// is the one that will be woken on completion.
    fn can_read_output(&self, waker: &Waker) -> bool {
        let snapshot = self.header().state.load();
        if snapshot.is_complete() {
            return true;
        }
        if snapshot.is_join_waker_set() {
            // SAFETY: with JOIN_WAKER set we may only read the slot, which the
            // completer also only reads.
            let same = self
                .cell()
                .join_waker
                .with(|ptr| unsafe { (*ptr).as_ref().is_some_and(|w| w.will_wake(waker)) });
            if same {
                return false;
            }
            if self.header().state.unset_join_waker().is_err() {
                return true;
            }
        }
        // JOIN_WAKER is clear: the slot is ours.
        // SAFETY: only the JoinHandle touches the slot while JOIN_WAKER is clear.
        self.cell()
            .join_waker
            .with_mut(|ptr| unsafe { *ptr = Some(waker.clone()) });
        if self.header().state.set_join_waker().is_err() {
            // Completed before we could hand the slot over; it is still ours.
            // SAFETY: JOIN_WAKER is clear.
            self.cell()
                .join_waker
                .with_mut(|ptr| unsafe { (*ptr).take() });
            return true;
        }
        false
    }

    /// Drops the `JoinHandle`: gives up join interest and its reference.
    pub(crate) fn drop_join_handle(self) {
        let (prev, next) = self.header().state.transition_to_join_handle_dropped();
        if prev.is_complete() {
            // The completer saw join interest and left the output to us.
            self.set_stage(Stage::Consumed);
        }
        if !next.is_join_waker_set() {
            // SAFETY: JOIN_WAKER is clear, so the slot is ours (and after
            // this no one else will touch it).
            let waker = self
                .cell()
                .join_waker
                .with_mut(|ptr| unsafe { (*ptr).take() });
            drop(waker);
        }
        self.raw().drop_reference();
    }
}
