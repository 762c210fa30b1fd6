//! [`RawTask`]: a type-erased task pointer, and the per-type [`Vtable`].

use std::future::Future;
use std::ptr::NonNull;
use std::task::Waker;

use super::Schedule;
use super::core::Header;
use super::harness::Harness;

/// Operations that need the concrete future and scheduler types.
pub(super) struct Vtable {
    /// Polls the task, consuming the caller's (`Notified`'s) reference.
    pub(super) poll: unsafe fn(NonNull<Header>),
    /// Submits the task to its scheduler, consuming one reference as the
    /// `Notified`.
    pub(super) schedule: unsafe fn(NonNull<Header>),
    /// Frees the allocation (reference count reached zero).
    pub(super) dealloc: unsafe fn(NonNull<Header>),
    /// Moves the output into `*dst` (a `Poll<Result<T, JoinError>>`) if the
    /// task completed; otherwise registers the waker.
    pub(super) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// The `JoinHandle` is dropped; consumes its reference.
    pub(super) drop_join_handle: unsafe fn(NonNull<Header>),
    /// Cancels the task if idle (runtime shutdown); consumes one reference.
    pub(super) shutdown: unsafe fn(NonNull<Header>),
}

/// The vtable for tasks running `F` on scheduler `S`.
pub(super) fn vtable<F: Future, S: Schedule>() -> &'static Vtable {
    &Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_join_handle: drop_join_handle::<F, S>,
        shutdown: shutdown::<F, S>,
    }
}

/// A copyable, type-erased pointer to a task. Holds no reference by itself:
/// the wrappers (`Task`, `Notified`, `JoinHandle`, `Waker`) own references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RawTask {
    /// Points at the `Header` at the start of a `Cell<F, S>`.
    ptr: NonNull<Header>,
}

// SAFETY: a task is created from a `Send` future with a `Send` output, or
// (local tasks, `OwnedTasks::bind_unchecked`) under the obligation that its
// future and output are only touched on their owner thread; its scheduler
// is `Send + Sync`; all shared state in it is guarded by the atomic state
// word.
unsafe impl Send for RawTask {}
// SAFETY: as above.
unsafe impl Sync for RawTask {}

impl RawTask {
    /// Wraps a pointer to a task's header. The result owns no reference;
    /// the safe methods below assume one.
    ///
    /// # Safety
    ///
    /// `ptr` must point to the `Header` at the start of a live task cell
    /// allocated by `Cell::allocate` (so its vtable matches the cell's
    /// concrete future and scheduler types), and for as long as the result
    /// (or a copy) is used, whoever uses it must hold one of the task's
    /// references: every method reads the allocation, and the consuming
    /// ones (`poll`, `schedule`, `shutdown`, `drop_reference`, `wake_by_val`,
    /// `drop_join_handle`) give up the reference their caller holds.
    pub(super) unsafe fn from_raw(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    /// The task's header.
    pub(super) fn header(&self) -> &Header {
        // SAFETY: the caller of any `RawTask` method holds a reference, so the
        // allocation is alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Polls the task, consuming one reference.
    pub(super) fn poll(self) {
        // SAFETY: the vtable matches the cell's concrete types by construction.
        unsafe { (self.header().vtable.poll)(self.ptr) }
    }

    /// Submits the task, consuming one reference.
    pub(super) fn schedule(self) {
        // SAFETY: as in `poll`.
        unsafe { (self.header().vtable.schedule)(self.ptr) }
    }

    /// Frees the task. Only after the last reference was dropped.
    pub(super) fn dealloc(self) {
        // SAFETY: as in `poll`; the caller dropped the last reference.
        unsafe { (self.header().vtable.dealloc)(self.ptr) }
    }

    /// See [`Vtable::try_read_output`].
    ///
    /// # Safety
    ///
    /// `dst` must point to an initialized `Poll<Result<T, JoinError>>`
    /// (valid for reads and writes; a ready output replaces and drops it)
    /// where `T` is the task's output type, and the caller must be the
    /// `JoinHandle`.
    pub(super) unsafe fn try_read_output(self, dst: *mut (), waker: &Waker) {
        // SAFETY: the caller upholds the type contract.
        unsafe { (self.header().vtable.try_read_output)(self.ptr, dst, waker) }
    }

    /// Drops the `JoinHandle`'s reference and join interest.
    pub(super) fn drop_join_handle(self) {
        // SAFETY: as in `poll`; called once by the `JoinHandle`'s drop.
        unsafe { (self.header().vtable.drop_join_handle)(self.ptr) }
    }

    /// Cancels the task if it is idle, consuming one reference.
    pub(super) fn shutdown(self) {
        // SAFETY: as in `poll`.
        unsafe { (self.header().vtable.shutdown)(self.ptr) }
    }

    /// Drops one reference, freeing the task if it was the last.
    pub(super) fn drop_reference(self) {
        if self.header().state.ref_dec() {
            self.dealloc();
        }
    }

    /// A by-value wake: consumes one reference.
    pub(super) fn wake_by_val(self) {
        use super::state::TransitionToNotifiedByVal::*;
        match self.header().state.transition_to_notified_by_val() {
            Submit => self.schedule(),
            Dealloc => self.dealloc(),
            DoNothing => {}
        }
    }

    /// A by-reference wake.
    pub(super) fn wake_by_ref(self) {
        if self.header().state.transition_to_notified_by_ref() {
            self.schedule();
        }
    }

    /// Requests cancellation from any thread.
    pub(super) fn remote_abort(self) {
        if self.header().state.transition_to_notified_and_cancel() {
            self.schedule();
        }
    }
}

unsafe fn poll<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: `ptr` heads a `Cell<F, S>` (vtable contract).
    unsafe { Harness::<F, S>::from_raw(ptr) }.poll();
}

unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: as in `poll`.
    unsafe { Harness::<F, S>::from_raw(ptr) }.schedule();
}

unsafe fn dealloc<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: as in `poll`.
    unsafe { Harness::<F, S>::from_raw(ptr) }.dealloc();
}

unsafe fn try_read_output<F: Future, S: Schedule>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: &Waker,
) {
    // SAFETY: as in `poll`; `dst` has the output type (caller contract).
    unsafe { Harness::<F, S>::from_raw(ptr).try_read_output(dst.cast(), waker) }
}

unsafe fn drop_join_handle<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: as in `poll`.
    unsafe { Harness::<F, S>::from_raw(ptr) }.drop_join_handle();
}

unsafe fn shutdown<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: as in `poll`.
    unsafe { Harness::<F, S>::from_raw(ptr) }.shutdown();
}
