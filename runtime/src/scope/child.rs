//! One scoped child: a single heap cell holding its future, its output slot
//! and its `'static` wake record.
//!
//! # Layout
//!
//! ```text
//! Cell<F> (repr(C), one allocation)
//! ├── Core<F::Output>
//! │   ├── Header   ← every pointer to a child (RawChild, wakers, handles) points here
//! │   │   state, refs, index, shared: Arc<Shared>, join waker, vtable, id, batch
//! │   └── output: UnsafeCell<Option<Result<T, JoinError>>>
//! └── future: UnsafeCell<Option<F>>
//! ```
//!
//! `Core<T>` is a prefix of `Cell<F>` whose layout depends on `T` only, so a
//! typed [`ScopedJoinHandle`](super::ScopedJoinHandle) reads the output
//! without knowing `F`.
//!
//! # Ownership
//!
//! * The memory is reference counted (`refs`): the owner (scope, join set)
//!   holds one reference, the join handle one, every cloned `Waker` one. The
//!   last reference frees the memory *without touching the future or the
//!   output* (`drop_ref`): a waker may outlive `'env` (I3).
//! * The memory comes from the runtime's task-cell pool (`task::pool`),
//!   like a task's: a worker that frees a child keeps the block for its
//!   next spawn, whichever worker allocated it. Off the workers it is the
//!   global allocator's.
//! * Or the cell is one of a *batch* ([`RawChild::new_batch`], for
//!   [`join_all`](super::join_all)): the cells of all the futures of one
//!   call, of one type, side by side in one allocation (from the same pool
//!   if it is small enough) after a
//!   [`BatchHead`]. A cell's last reference then drops its header in place
//!   and counts the cell off the batch; the last cell frees the allocation.
//!   Nothing else differs: each cell keeps its own state and references.
//!   (So a waker of one cell, kept somewhere long-lived, keeps the memory of
//!   the whole batch, though none of its futures.)
//! * The future is only ever polled or dropped by the owner, from inside the
//!   owner's `poll`/`drop` (I1).
//! * The output is shared by the owner and the handle: whichever of the two
//!   releases last (bits `OWNER_GONE` / `HANDLE_GONE`) drops it. Both hold
//!   `'env`, so the output (which may borrow `'env`) is always dropped while
//!   `'env` is alive (I4).
//!
//! # Wake protocol (I3)
//!
//! A child is in one of: idle, queued (`QUEUED`: one entry in its scope's
//! ready queue), running (`RUNNING`: one thread of a session polls it), or
//! running and woken meanwhile (`RUNNING | QUEUED`: no queue entry yet).
//!
//! * Waking sets `QUEUED`. Only a wake that finds neither `QUEUED`,
//!   `RUNNING` nor `COMPLETE` pushes an entry (taking one reference for it)
//!   and notifies the parent.
//! * Whoever pops an entry swaps `QUEUED` for `RUNNING` in one atomic step
//!   ([`RawChild::begin_run`]) and polls. So no child is ever polled by two
//!   threads at once: a second entry cannot exist while the first is queued
//!   or running.
//! * After the poll, [`RawChild::end_run`] clears `RUNNING`; if `QUEUED`
//!   was set meanwhile, it pushes the entry back (handing over the popped
//!   entry's reference), otherwise it drops that reference. A wake during a
//!   poll is therefore never lost, and costs no second entry.
//! * After completion every wake is a no-op.

use std::alloc::Layout;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::shared::Shared;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::task::JoinError;

/// Woken since the owner last started polling it (or new, not yet polled).
pub(crate) const QUEUED: usize = 1;
/// The output slot holds the final result; the future is gone.
pub(crate) const COMPLETE: usize = 1 << 1;
/// The handle asked for cancellation.
pub(crate) const CANCEL: usize = 1 << 2;
/// The handle stored a waker in `join_waker` and waits for `COMPLETE`.
pub(crate) const JOIN_WAITING: usize = 1 << 3;
/// The join handle was dropped (or never existed).
pub(crate) const HANDLE_GONE: usize = 1 << 4;
/// The owner released the child (after completing or cancelling it).
pub(crate) const OWNER_GONE: usize = 1 << 5;
/// The result is a panic (set together with `COMPLETE`).
pub(crate) const PANICKED: usize = 1 << 6;
/// A session thread is polling the child right now.
pub(crate) const RUNNING: usize = 1 << 7;
/// The child was polled at least once (first polls do not count against a
/// session's budget: they are bounded by the number of spawns).
pub(crate) const STARTED: usize = 1 << 8;

/// The child is `!Send` and must be polled on the owner's thread. Set at
/// creation and never changed (a bit of `state` rather than a field of its
/// own, which keeps the header at 96 bytes).
pub(crate) const LOCAL: usize = 1 << 9;

/// The slab key of a child its owner has not adopted yet.
pub(crate) const UNADOPTED: usize = usize::MAX;

/// A refcount past this is a leak of wakers gone wild; abort like `Arc` does
/// rather than risk an overflow into a use after free.
const MAX_REFS: usize = isize::MAX as usize;

/// Panic payloads follow the crate's one policy (`util::panic`): the
/// first is carried to the owner, later ones are discarded.
pub(crate) use crate::util::panic::{Payload, discard_payload, keep_first};

/// Type-specific operations on a child, erased so the owner can keep
/// children of different future types in one slab.
pub(crate) struct Vtable {
    /// Polls the future (or cancels it if `CANCEL` is set). On completion or
    /// panic, stores the result, drops the future and sets `COMPLETE`.
    poll: unsafe fn(NonNull<Header>),
    /// Drops the future (if still present) and stores a cancellation error.
    cancel: unsafe fn(NonNull<Header>) -> Result<(), Payload>,
    /// Drops the output slot's content.
    drop_output: unsafe fn(NonNull<Header>),
    /// The layout of the whole cell, to free it without knowing its type.
    layout: Layout,
}

/// The `'static` part of a child: everything a waker may touch.
#[repr(C)]
pub(crate) struct Header {
    /// Bit flags, see the constants above.
    state: AtomicUsize,
    /// Number of outstanding references to the allocation.
    refs: AtomicUsize,
    /// The child's key in its owner's slab. Read and written only by the
    /// owner (never by wakers), so relaxed ordering suffices.
    index: AtomicUsize,
    /// The wake hub of the owning scope (ready list + parent waker).
    shared: Arc<Shared>,
    /// Waker of the task awaiting the join handle.
    join_waker: Mutex<Option<Waker>>,
    /// Type-specific operations.
    vtable: &'static Vtable,
    /// Id reported in `JoinError`s; 0 until first asked for (most children
    /// never fail, so they never touch the global id counter).
    id: std::sync::atomic::AtomicU64,
    /// The batch allocation this cell is part of, if any (see the module
    /// docs); `None` for a cell of its own.
    batch: Option<NonNull<BatchHead>>,
    /// A panic payload, written by the polling thread before `COMPLETE` and
    /// read only by the owner after the session's join. Never touched by the
    /// handle, so it needs no synchronisation with `poll_join`.
    panic: UnsafeCell<Option<Payload>>,
}

// Every scoped child and join-set entry carries a header: keep it within
// the 96 bytes it has had (the pool rounds cells up to 64-byte classes, so
// growth moves some futures' cells up a class). Linux, 64-bit, no loom: the
// sizes of std's mutex and of loom's types differ elsewhere.
#[cfg(all(target_os = "linux", target_pointer_width = "64", not(loom)))]
const _: () = assert!(std::mem::size_of::<Header>() <= 96);

/// The type-independent prefix of a cell: header and output slot.
#[repr(C)]
pub(crate) struct Core<T> {
    /// Must stay the first field: pointers to the header are pointers to the cell.
    header: Header,
    /// The child's result once `COMPLETE` is set.
    output: UnsafeCell<Option<Result<T, JoinError>>>,
}

/// The whole allocation of a child running future `F`.
#[repr(C)]
struct Cell<F: Future> {
    /// Header and output; must stay the first field.
    core: Core<F::Output>,
    /// The future; `None` once it completed or was cancelled.
    future: UnsafeCell<Option<F>>,
}

impl<F: Future> Cell<F> {
    /// A new cell's value: `QUEUED` set (it must be polled once), with
    /// references for the owner, for the ready-queue entry the creator must
    /// push and, if `with_handle`, for the handle (otherwise `HANDLE_GONE`
    /// is set); the slab key not set yet.
    fn new(
        future: F,
        shared: &Arc<Shared>,
        with_handle: bool,
        local: bool,
        batch: Option<NonNull<BatchHead>>,
    ) -> Cell<F> {
        let (state, refs) = if with_handle {
            (QUEUED, 3)
        } else {
            (QUEUED | HANDLE_GONE, 2)
        };
        Cell {
            core: Core {
                header: Header {
                    state: AtomicUsize::new(if local { state | LOCAL } else { state }),
                    refs: AtomicUsize::new(refs),
                    index: AtomicUsize::new(UNADOPTED),
                    shared: shared.clone(),
                    join_waker: Mutex::new(None),
                    vtable: vtable::<F>(),
                    id: std::sync::atomic::AtomicU64::new(0),
                    batch,
                    panic: UnsafeCell::new(None),
                },
                output: UnsafeCell::new(None),
            },
            future: UnsafeCell::new(Some(future)),
        }
    }
}

/// The start of a batch allocation (see the module docs): how many of its
/// cells still hold a reference, and the allocation's layout.
pub(crate) struct BatchHead {
    /// Cells whose header is not dropped yet; the one that takes this to
    /// zero frees the allocation.
    live: AtomicUsize,
    /// The layout the allocation was made with.
    layout: Layout,
    /// Loom only: every cell's release reads it and the free writes it, so
    /// a model reports a free that is not ordered after every release.
    #[cfg(loom)]
    check: UnsafeCell<()>,
}

/// The layout of a batch of `n` cells of `Cell<F>`, and the offset of the
/// first cell.
fn batch_layout<F: Future>(n: usize) -> (Layout, usize) {
    let cells = Layout::array::<Cell<F>>(n).expect("join_all: too many futures");
    let (layout, offset) = Layout::new::<BatchHead>()
        .extend(cells)
        .expect("join_all: too many futures");
    (layout.pad_to_align(), offset)
}

/// Counts one cell of the batch at `head` off; frees the allocation if it
/// was the last.
///
/// # Safety
///
/// The caller is a cell of that batch whose header was just dropped, and
/// it calls this once; nothing of the cell is used afterwards.
unsafe fn release_batch_cell(head: NonNull<BatchHead>) {
    // SAFETY: the batch is live while one of its cells is (the caller's).
    let h = unsafe { head.as_ref() };
    #[cfg(loom)]
    h.check.with(|_| ());
    if h.live.fetch_sub(1, Ordering::Release) != 1 {
        return;
    }
    // Synchronise with every other cell's release before freeing (a load,
    // not a fence, for ThreadSanitizer, as in `drop_ref`).
    h.live.load(Ordering::Acquire);
    #[cfg(loom)]
    h.check.with_mut(|_| ());
    let layout = h.layout;
    // SAFETY: the last cell is gone, so nothing uses the allocation; the
    // head needs no drop beyond its loom check cell, dropped here. The
    // memory came from `pool::allocate` with `layout` (`new_batch`).
    unsafe { crate::task::pool::drop_and_deallocate(head, layout) };
}

/// Hands out process-unique ids for children.
fn next_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Not a coordination variable (only uniqueness matters), so std's atomic.
    static NEXT: AtomicU64 = AtomicU64::new(1 << 62);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An untyped, non-owning pointer to a child's header. Copy; whoever uses it
/// must hold a reference (owner, handle or waker) for as long as it does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct RawChild(NonNull<Header>);

// SAFETY: a RawChild is only a pointer. Which thread may do what through it
// is governed by I1 (future and output only inside the owner's poll/drop or
// by the handle after COMPLETE) and by the header's atomics and mutex.
unsafe impl Send for RawChild {}
// SAFETY: as above; shared access only reaches the header's atomics/mutex.
unsafe impl Sync for RawChild {}

impl RawChild {
    /// Allocates a child running `future`, with `QUEUED` set (it must be
    /// polled once) and references for the owner, for the ready-queue entry
    /// the caller must push (see [`Shared::push_new`]) and, if `with_handle`,
    /// for the handle (otherwise `HANDLE_GONE` is set).
    pub(crate) fn new<F>(
        future: F,
        shared: &Arc<Shared>,
        with_handle: bool,
        local: bool,
    ) -> RawChild
    where
        F: Future,
    {
        // Children come from the runtime's task-cell pool, like tasks: a
        // scope's children are spawned on one worker and often finished on
        // another, which is the pattern the pool exists for.
        let cell = crate::task::pool::allocate(Layout::new::<Cell<F>>()).cast::<Cell<F>>();
        // SAFETY: `pool::allocate` returned memory for a `Cell<F>` (its size
        // and alignment, or a class block at least as large and as aligned),
        // owned by nobody else.
        unsafe {
            cell.as_ptr()
                .write(Cell::new(future, shared, with_handle, local, None))
        };
        RawChild(cell.cast::<Header>())
    }

    /// Allocates the children of `futures` in one batch allocation (see the
    /// module docs), each as [`RawChild::new`] without a handle and not
    /// local would: `QUEUED` set, with references for the owner and for
    /// the ready-queue entry the caller must push. In input order; none
    /// (and no allocation) for no future.
    pub(crate) fn new_batch<F: Future>(futures: Vec<F>, shared: &Arc<Shared>) -> Vec<RawChild> {
        let n = futures.len();
        if n == 0 {
            return Vec::new();
        }
        let mut children = Vec::with_capacity(n);
        let (layout, offset) = batch_layout::<F>(n);
        // A small batch (a few small futures) comes from the task-cell pool
        // like a single cell; a large one from the global allocator.
        let base = crate::task::pool::allocate(layout);
        let head = base.cast::<BatchHead>();
        // SAFETY: `pool::allocate` returned memory of at least `layout`'s
        // size and alignment, owned by nobody else; it starts with room for
        // a `BatchHead`, aligned (the first part of the extended layout).
        // Each cell counts as live from here, before it exists: nothing can
        // release a cell before the loop below has written all of them,
        // since nobody else has a pointer to them yet.
        unsafe {
            head.as_ptr().write(BatchHead {
                live: AtomicUsize::new(n),
                layout,
                #[cfg(loom)]
                check: UnsafeCell::new(()),
            })
        };
        // SAFETY: `offset` is where the cell array starts in the layout.
        let first = unsafe { base.add(offset) }.cast::<Cell<F>>();
        for (i, future) in futures.into_iter().enumerate() {
            // SAFETY: `i < n`, so cell `i` lies inside the array part of
            // the allocation, aligned and owned by nobody else; moving the
            // future into it is allowed (it was never polled, so never
            // pinned). Nothing here can unwind: `Cell::new` clones an
            // `Arc` and builds plain values, and `children` has capacity.
            unsafe {
                let cell = first.add(i);
                cell.as_ptr()
                    .write(Cell::new(future, shared, false, false, Some(head)));
                children.push(RawChild(cell.cast::<Header>()));
            }
        }
        children
    }

    /// Allocates the wake record of a scope's body: a header with no future
    /// and no output, `QUEUED` set so the body is polled first, with the
    /// owner's reference and the one of the queue entry the caller pushes.
    pub(crate) fn new_body(shared: &Arc<Shared>) -> RawChild {
        RawChild::new(std::future::pending::<()>(), shared, false, true)
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: whoever holds a RawChild holds a reference (see the type's
        // docs), so the allocation is live; the header is only accessed
        // through shared references (atomics, mutex, immutable fields).
        unsafe { self.0.as_ref() }
    }

    /// The record's address: an identity to compare, valid only while the
    /// child is alive (an address may be reused by a later child).
    pub(crate) fn addr(&self) -> usize {
        self.0.as_ptr().addr()
    }

    pub(crate) fn id(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        let slot = &self.header().id;
        match slot.load(Relaxed) {
            0 => {
                // Not a coordination variable: only uniqueness matters.
                let fresh = next_id();
                match slot.compare_exchange(0, fresh, Relaxed, Relaxed) {
                    Ok(_) => fresh,
                    Err(existing) => existing,
                }
            }
            id => id,
        }
    }

    /// The slab key set by [`RawChild::set_index`].
    pub(crate) fn index(&self) -> usize {
        self.header().index.load(Ordering::Relaxed)
    }

    pub(crate) fn is_local(&self) -> bool {
        // Relaxed: the bit is set before the child is shared and never
        // changes.
        self.header().state.load(Ordering::Relaxed) & LOCAL != 0
    }

    pub(crate) fn state(&self) -> usize {
        self.header().state.load(Ordering::Acquire)
    }

    /// Records the child's slab key (owner only).
    pub(crate) fn set_index(&self, index: usize) {
        self.header().index.store(index, Ordering::Relaxed);
    }

    /// Takes a popped ready-queue entry into the running state: `QUEUED`
    /// becomes `RUNNING` in one step (a wake from now on sets `QUEUED`
    /// again without pushing). Returns true if this is the child's first
    /// poll.
    ///
    /// The caller owns the entry (its reference) until [`RawChild::end_run`].
    pub(crate) fn begin_run(&self) -> bool {
        let state = &self.header().state;
        let mut cur = state.load(Ordering::Relaxed);
        loop {
            debug_assert!(
                cur & QUEUED != 0 && cur & RUNNING == 0,
                "bad entry state {cur:#x}"
            );
            let next = (cur & !QUEUED) | RUNNING | STARTED;
            match state.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(prev) => return prev & STARTED == 0,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Ends a run started by [`RawChild::begin_run`]: if the child was woken
    /// during the poll (and did not complete), its entry goes back onto the
    /// ready queue; otherwise the entry's reference is dropped.
    pub(crate) fn end_run(self) {
        let prev = self.header().state.fetch_and(!RUNNING, Ordering::AcqRel);
        if prev & (QUEUED | COMPLETE) == QUEUED {
            // Woken meanwhile: hand the entry's reference to a new entry.
            self.header().shared.push_entry(self);
        } else {
            // SAFETY: the entry's reference is ours (begin_run contract) and
            // is given up once; I3: this never touches the future.
            unsafe { drop_ref(self.0) };
        }
    }

    /// Drops a ready-queue entry's reference without polling (the owner
    /// drains its queues when it closes).
    ///
    /// # Safety
    ///
    /// The caller owns one entry of this child, popped from a queue.
    pub(crate) unsafe fn drop_entry(self) {
        // SAFETY: forwarded from the contract.
        unsafe { drop_ref(self.0) };
    }

    /// Marks the child woken; if it was idle, pushes an entry onto its
    /// scope's ready queue (which notifies the parent).
    pub(crate) fn schedule(&self) {
        let h = self.header();
        let prev = h.state.fetch_or(QUEUED, Ordering::AcqRel);
        if prev & (QUEUED | RUNNING | COMPLETE) == 0 {
            // The new entry's reference; we hold one, so the cell is live.
            if h.refs.fetch_add(1, Ordering::Relaxed) > MAX_REFS {
                std::process::abort();
            }
            h.shared.push_entry(*self);
        }
    }

    /// Requests cancellation; the owner drops the future on its next poll.
    pub(crate) fn abort(&self) {
        let prev = self.header().state.fetch_or(CANCEL, Ordering::AcqRel);
        if prev & (CANCEL | COMPLETE) == 0 {
            self.schedule();
        }
    }

    /// A borrowed waker for polling the child (no reference count change).
    pub(crate) fn with_waker<R>(&self, f: impl FnOnce(&Waker) -> R) -> R {
        // SAFETY: the vtable upholds the RawWaker contract (see WAKER_VTABLE);
        // ManuallyDrop keeps us from releasing a reference we never took.
        let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(self.0)) });
        f(&waker)
    }

    /// Polls (or cancels) the child once, with a fresh cooperative budget.
    ///
    /// # Safety
    ///
    /// I1: the caller runs inside its owner's `poll`, and no other thread
    /// polls, cancels or drops this child until this call returned
    /// (guaranteed by the `RUNNING` state and the session's join).
    pub(crate) unsafe fn poll(&self) {
        // SAFETY: forwarded from this function's contract (I1).
        unsafe { (self.header().vtable.poll)(self.0) }
    }

    /// Cancels the child: drops its future and stores a cancellation.
    /// Returns the payload if dropping the future panicked.
    ///
    /// # Safety
    ///
    /// I1/I4: called by the owner inside its `poll`/`drop` while `'env` is
    /// alive, with no concurrent poll of this child.
    pub(crate) unsafe fn cancel(&self) -> Result<(), Payload> {
        // SAFETY: forwarded from this function's contract (I1, I4).
        unsafe { (self.header().vtable.cancel)(self.0) }
    }

    /// Takes the panic payload out of a completed child's result.
    ///
    /// # Safety
    ///
    /// I1/I5: the owner calls this after the join, before releasing the child.
    pub(crate) unsafe fn take_panic(&self) -> Option<Payload> {
        // SAFETY: the slot is written only by the polling thread before
        // COMPLETE and read only by the owner after the join (I1, I5); the
        // handle never touches it.
        self.header().panic.with_mut(|p| unsafe { (*p).take() })
    }

    /// The owner gives up the child; drops the output if the handle is gone,
    /// then releases the owner's reference. Never unwinds: a panic from the
    /// output's destructor is returned (the reference is released anyway).
    ///
    /// # Safety
    ///
    /// I4: called by the owner once, after the child is `COMPLETE`, while
    /// `'env` is alive. `self` must not be used afterwards.
    pub(crate) unsafe fn release_owner(self) -> Result<(), Payload> {
        let prev = self.header().state.fetch_or(OWNER_GONE, Ordering::AcqRel);
        let res = if prev & HANDLE_GONE != 0 {
            // SAFETY: both the handle and the owner are gone, the child is
            // complete, so nobody else touches the output (I4: 'env alive).
            panic::catch_unwind(AssertUnwindSafe(|| unsafe {
                (self.header().vtable.drop_output)(self.0)
            }))
        } else {
            Ok(())
        };
        // SAFETY: the owner's reference is given up exactly once here.
        unsafe { drop_ref(self.0) };
        res
    }

    /// The handle gives up the child; drops the output if the owner already
    /// released it, then releases the handle's reference (also if the
    /// output's destructor panics; the panic then continues).
    ///
    /// # Safety
    ///
    /// I4: called by the handle once, from its `Drop` (so `'env` is alive).
    pub(crate) unsafe fn release_handle(self) {
        /// Releases the reference on every exit path.
        struct Release(NonNull<Header>);
        impl Drop for Release {
            fn drop(&mut self) {
                // SAFETY: the handle's reference is given up exactly once.
                unsafe { drop_ref(self.0) };
            }
        }
        let _release = Release(self.0);
        let prev = self.header().state.fetch_or(HANDLE_GONE, Ordering::AcqRel);
        if prev & OWNER_GONE != 0 {
            // SAFETY: the owner is gone, so the child is complete and the
            // output belongs to us alone; 'env is alive (we are a handle).
            unsafe { (self.header().vtable.drop_output)(self.0) };
        }
    }

    /// Releases the body record's only reference.
    ///
    /// # Safety
    ///
    /// Called once by the scope that created the record with `new_body`.
    pub(crate) unsafe fn release_body(self) {
        // The pending() future in the body record is never polled; drop it
        // now (it borrows nothing) so the memory can be freed by any waker.
        // SAFETY: only the owner touches the record's future (I1); the
        // `pending()` future and the `()` output cannot panic on drop.
        let _ = unsafe { self.cancel() };
        // SAFETY: forwarded: the owner holds the record's reference.
        let _ = unsafe { self.release_owner() };
    }

    /// Completion as seen by the handle: if complete, takes the output.
    /// Otherwise registers `waker` to be woken on completion.
    ///
    /// # Safety
    ///
    /// Called only by the child's unique handle, with `T` the output type
    /// the child was created with.
    pub(crate) unsafe fn poll_join<T>(&self, waker: &Waker) -> Poll<Result<T, JoinError>> {
        let h = self.header();
        if h.state.load(Ordering::Acquire) & COMPLETE == 0 {
            {
                let mut slot = crate::loom::lock(&h.join_waker);
                match &*slot {
                    Some(w) if w.will_wake(waker) => {}
                    _ => *slot = Some(waker.clone()),
                }
            }
            let prev = h.state.fetch_or(JOIN_WAITING, Ordering::AcqRel);
            if prev & COMPLETE == 0 {
                return Poll::Pending;
            }
        }
        // SAFETY: COMPLETE was observed with acquire ordering, so the owner
        // finished writing the output and will only touch it again after the
        // handle is gone (OWNER_GONE/HANDLE_GONE protocol); T is the
        // caller-guaranteed output type, and Core<T> is the cell's prefix.
        let out = unsafe {
            let core = self.0.cast::<Core<T>>();
            core.as_ref().output.with_mut(|p| (*p).take())
        };
        Poll::Ready(out.unwrap_or_else(|| Err(JoinError::cancelled(self.id()))))
    }

    /// Called by whoever set `COMPLETE`: wakes a waiting handle.
    fn notify_join(&self, prev_state: usize) {
        if prev_state & JOIN_WAITING != 0 {
            let waker = crate::loom::lock(&self.header().join_waker).take();
            if let Some(w) = waker {
                // A user waker may panic; that must not unwind through the
                // session, which would then lose track of the other children
                // (I4). The panic is discarded (the payload policy).
                if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| w.wake())) {
                    discard_payload(p);
                }
            }
        }
    }

    /// Takes the output of a completed child whose owner consumes results
    /// itself (join sets, `join_all`).
    ///
    /// # Safety
    ///
    /// I1: called by the owner after the join that polled the child to
    /// completion; `T` is the child's output type; there is no handle.
    pub(crate) unsafe fn take_output<T>(&self) -> Result<T, JoinError> {
        // SAFETY: see the contract (I1, I5).
        if let Some(p) = unsafe { self.take_panic() } {
            return Err(JoinError::panic(self.id(), p));
        }
        // SAFETY: see the contract: the owner alone accesses the output of a
        // handle-less completed child, and T matches the cell's prefix.
        let out = unsafe {
            let core = self.0.cast::<Core<T>>();
            core.as_ref().output.with_mut(|p| (*p).take())
        };
        out.unwrap_or_else(|| Err(JoinError::cancelled(self.id())))
    }
}

/// The vtable for futures of type `F`.
fn vtable<F: Future>() -> &'static Vtable {
    const {
        &Vtable {
            poll: poll::<F>,
            cancel: cancel::<F>,
            drop_output: drop_output::<F::Output>,
            layout: Layout::new::<Cell<F>>(),
        }
    }
}

/// Stores `result` as the child's output and publishes `COMPLETE`.
///
/// # Safety
///
/// I1: the caller has exclusive access to the child's output (it is the
/// thread currently polling or cancelling it on behalf of the owner).
unsafe fn complete<T>(ptr: NonNull<Header>, result: Result<T, JoinError>) {
    let (result, panicked) = match result {
        Err(e) if e.is_panic() => {
            let id = RawChild(ptr).id();
            // SAFETY: exclusive access before COMPLETE (I1); owner-only slot.
            unsafe { ptr.as_ref() }
                .panic
                .with_mut(|p| unsafe { *p = Some(e.into_panic()) });
            (Err(JoinError::cancelled(id)), PANICKED)
        }
        r => (r, 0),
    };
    // SAFETY: per the contract, exclusive access to the output until COMPLETE
    // is published below.
    unsafe {
        let core = ptr.cast::<Core<T>>();
        core.as_ref().output.with_mut(|p| *p = Some(result));
    }
    let child = RawChild(ptr);
    let prev = child
        .header()
        .state
        .fetch_or(COMPLETE | panicked, Ordering::AcqRel);
    child.notify_join(prev);
}

/// Vtable `poll` for `Cell<F>`.
///
/// # Safety
///
/// I1: see [`RawChild::poll`].
unsafe fn poll<F: Future>(ptr: NonNull<Header>) {
    let child = RawChild(ptr);
    let state = child.state();
    if state & COMPLETE != 0 {
        return;
    }
    if state & CANCEL != 0 {
        // SAFETY: forwarded (I1, I4: inside the owner's poll, 'env alive).
        let result = match unsafe { drop_future::<F>(ptr) } {
            Ok(()) => Err(JoinError::cancelled(child.id())),
            Err(p) => Err(JoinError::panic(child.id(), p)),
        };
        // SAFETY: exclusive access to the output (I1).
        unsafe { complete::<F::Output>(ptr, result) };
        return;
    }
    let cell = ptr.cast::<Cell<F>>();
    let res = child.with_waker(|waker| {
        let mut cx = Context::from_waker(waker);
        crate::coop::budget(|| {
            // SAFETY: I1: this thread has exclusive access to the future
            // while the owner's session polls it; the future lives in a heap
            // cell that is never moved and is dropped in place, so pinning
            // holds.
            panic::catch_unwind(AssertUnwindSafe(|| unsafe {
                cell.as_ref().future.with_mut(|p| {
                    let fut = (*p).as_mut().expect("scoped child polled after completion");
                    Pin::new_unchecked(fut).poll(&mut cx)
                })
            }))
        })
    });
    let result = match res {
        Ok(Poll::Pending) => return,
        Ok(Poll::Ready(v)) => Ok(v),
        Err(p) => Err(JoinError::panic(child.id(), p)),
    };
    // SAFETY: I1 (exclusive access, as above); I4: we are inside the owner's
    // poll, so 'env is alive while the future is dropped.
    let drop_res = unsafe { drop_future::<F>(ptr) };
    let result = match (result, drop_res) {
        (Ok(_), Err(p)) => Err(JoinError::panic(child.id(), p)),
        (Err(e), Err(p)) => {
            // The poll's own panic is the one reported.
            discard_payload(p);
            Err(e)
        }
        (r, Ok(())) => r,
    };
    // SAFETY: I1, exclusive access to the output as above.
    unsafe { complete(ptr, result) };
}

/// Drops the future in place, catching a panic from its destructor.
///
/// # Safety
///
/// I1/I4: exclusive access on the owner's behalf while `'env` is alive.
unsafe fn drop_future<F: Future>(ptr: NonNull<Header>) -> Result<(), Payload> {
    let cell = ptr.cast::<Cell<F>>();
    // SAFETY: per the contract; the future is dropped in place, so pinning
    // holds.
    panic::catch_unwind(AssertUnwindSafe(|| unsafe {
        cell.as_ref().future.with_mut(|p| *p = None)
    }))
}

/// Vtable `cancel` for `Cell<F>`.
///
/// # Safety
///
/// I1/I4: see [`RawChild::cancel`].
unsafe fn cancel<F: Future>(ptr: NonNull<Header>) -> Result<(), Payload> {
    let child = RawChild(ptr);
    if child.state() & COMPLETE != 0 {
        return Ok(());
    }
    // SAFETY: forwarded from the contract (I1, I4).
    let res = unsafe { drop_future::<F>(ptr) };
    // SAFETY: exclusive access to the output (I1).
    unsafe { complete::<F::Output>(ptr, Err(JoinError::cancelled(child.id()))) };
    res
}

/// Vtable `drop_output` for outputs of type `T`.
///
/// # Safety
///
/// I4: the caller is the last of owner/handle, with `'env` alive.
unsafe fn drop_output<T>(ptr: NonNull<Header>) {
    // SAFETY: per the contract, nobody else accesses the output.
    unsafe {
        let core = ptr.cast::<Core<T>>();
        core.as_ref().output.with_mut(|p| *p = None);
    }
}

/// Releases one reference; frees the cell when it was the last.
///
/// # Safety
///
/// The caller owns one reference and does not use `ptr` afterwards.
unsafe fn drop_ref(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference, so the header is live.
    let h = unsafe { ptr.as_ref() };
    if h.refs.fetch_sub(1, Ordering::Release) != 1 {
        return;
    }
    // Synchronize with every other reference's release decrement before
    // freeing. An acquire load of the counter rather than a standalone
    // `fence(Acquire)`: ThreadSanitizer does not model fences and would
    // report the free as racing with the other threads' last accesses.
    h.refs.load(Ordering::Acquire);
    if let Some(batch) = h.batch {
        /// Counts the cell off its batch however the header's drop ends.
        struct Release(NonNull<BatchHead>);
        impl Drop for Release {
            fn drop(&mut self) {
                // SAFETY: the cell's header is dropped (or unwinding) and
                // this is its one release; nothing of it is used after.
                unsafe { release_batch_cell(self.0) };
            }
        }
        let _release = Release(batch);
        // SAFETY: I3: the last reference, as below; the cell is part of a
        // batch allocation (`RawChild::new_batch`), which frees its memory,
        // so only the header is dropped here, in place, once.
        unsafe { std::ptr::drop_in_place(ptr.as_ptr()) };
        return;
    }
    // SAFETY: I3: we were the last reference. The future and output were
    // already dropped by the owner/handle (or deliberately leaked with a
    // forgotten scope, in which case the owner's reference keeps us from
    // getting here), so only the 'static header needs dropping. The cell
    // came from `pool::allocate` with the vtable's layout (`RawChild::new`),
    // and its memory is given back even if dropping the header (a waker or
    // a panic payload left in it) panics.
    unsafe { crate::task::pool::drop_and_deallocate(ptr, h.vtable.layout) };
}

/// The waker vtable of every child and body record. Wakers reach only the
/// `'static` header (I3).
static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

fn raw_waker(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE)
}

/// # Safety
///
/// `data` is a live header (the waker being cloned holds a reference).
unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned keeps the header alive.
    let h = unsafe { &*(data as *const Header) };
    if h.refs.fetch_add(1, Ordering::Relaxed) > MAX_REFS {
        std::process::abort();
    }
    // SAFETY: data is non-null (it came from a NonNull).
    raw_waker(unsafe { NonNull::new_unchecked(data as *mut Header) })
}

/// # Safety
///
/// `data` is a live header and the waker owns one reference.
unsafe fn waker_wake(data: *const ()) {
    /// Gives up the waker's reference also if waking the parent panics
    /// (a panicking parent waker must not leak the cell or the hub).
    struct DropRef(*const ());
    impl Drop for DropRef {
        fn drop(&mut self) {
            // SAFETY: the waker's reference is given up exactly once (I3).
            unsafe { waker_drop(self.0) }
        }
    }
    let _release = DropRef(data);
    // SAFETY: forwarded from the contract.
    unsafe { waker_wake_by_ref(data) };
}

/// # Safety
///
/// `data` is a live header.
unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: the waker keeps the header alive; I3: scheduling touches only
    // the header and the shared hub, never the future or output.
    let child = RawChild(unsafe { NonNull::new_unchecked(data as *mut Header) });
    child.schedule();
}

/// # Safety
///
/// `data` is a live header and the waker owns one reference.
unsafe fn waker_drop(data: *const ()) {
    // SAFETY: the waker gives up its reference exactly once (I3: freeing the
    // memory never drops a child).
    unsafe { drop_ref(NonNull::new_unchecked(data as *mut Header)) }
}
