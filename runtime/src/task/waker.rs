//! The task `Waker`: a hand-written `RawWakerVTable` over the task pointer.
//!
//! A waker is one task reference; cloning increments the reference count and
//! dropping decrements it. Nothing here allocates.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::RawTask;
use super::core::Header;

/// A waker borrowed from the running task without taking a reference: the
/// poller already holds one for the duration of the poll.
pub(crate) struct WakerRef<'a> {
    /// Never dropped: it owns no reference.
    waker: ManuallyDrop<Waker>,
    /// Ties the waker to the borrowed header.
    _header: PhantomData<&'a Header>,
}

impl Deref for WakerRef<'_> {
    type Target = Waker;
    fn deref(&self) -> &Waker {
        &self.waker
    }
}

/// Builds a [`WakerRef`] for the task at `ptr`, valid while `header` (the
/// same task) is borrowed. The pointer must be the task's own allocation
/// pointer, not one derived from `&Header`: the waker's vtable casts it to
/// the whole cell, so it needs provenance over the whole allocation.
pub(crate) fn waker_ref(ptr: NonNull<Header>, _header: &Header) -> WakerRef<'_> {
    let ptr = ptr.as_ptr().cast_const().cast::<()>();
    // SAFETY: the vtable functions below uphold the `RawWaker` contract for
    // a pointer to a live task header; `ManuallyDrop` ensures this borrowed
    // waker never releases a reference it does not own.
    let waker = unsafe { Waker::from_raw(RawWaker::new(ptr, &WAKER_VTABLE)) };
    WakerRef {
        waker: ManuallyDrop::new(waker),
        _header: PhantomData,
    }
}

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_by_val, wake_by_ref, drop_waker);

fn raw(ptr: *const ()) -> RawTask {
    // SAFETY: every waker built with `WAKER_VTABLE` carries the non-null
    // header pointer of a live task and owns one of its references, which
    // the vtable functions use or give up.
    unsafe { RawTask::from_raw(NonNull::new_unchecked(ptr as *mut Header)) }
}

unsafe fn clone_waker(ptr: *const ()) -> RawWaker {
    raw(ptr).header().state.ref_inc();
    RawWaker::new(ptr, &WAKER_VTABLE)
}

unsafe fn wake_by_val(ptr: *const ()) {
    raw(ptr).wake_by_val();
}

unsafe fn wake_by_ref(ptr: *const ()) {
    raw(ptr).wake_by_ref();
}

unsafe fn drop_waker(ptr: *const ()) {
    raw(ptr).drop_reference();
}
