//! The task's single allocation: [`Header`], scheduler, stage, join waker.
//!
//! A task is one allocation of a `Cell<F, S>`, made and freed through
//! [`super::pool`] (a worker reuses its finished tasks' memory). The header
//! comes first (`repr(C)`), so a type-erased `NonNull<Header>` is also a
//! pointer to the whole cell; the [`Vtable`] in the header recovers the
//! concrete types.
//!
//! The stage is a tagged union of the future and its output: the future is
//! dropped the moment the task completes, while the memory lives on until
//! the last reference (a `JoinHandle` or a `Waker`) is gone.

use std::alloc::Layout;
use std::future::Future;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::task::Waker;

use super::JoinError;
use super::raw::Vtable;
use super::state::State;
use crate::loom::cell::UnsafeCell;

/// The type-erased part of every task.
#[repr(C)]
pub(crate) struct Header {
    /// Lifecycle flags and reference count.
    pub(crate) state: State,
    /// Functions that know the concrete future and scheduler types.
    pub(crate) vtable: &'static Vtable,
    /// Runtime-unique task id.
    pub(crate) id: u64,
    /// Key of the task in its scheduler's owned-task list. Written under the
    /// list's lock before the task is published, read under the same lock.
    pub(crate) owned_key: UnsafeCell<usize>,
}

// SAFETY: the only non-Sync field is `owned_key`, which is accessed only
// while holding the owned-task list's shard lock.
unsafe impl Sync for Header {}
// SAFETY: as above; the header holds no thread-bound data.
unsafe impl Send for Header {}

/// The future, then its output, then nothing.
pub(crate) enum Stage<F: Future> {
    /// Not finished; owned by whoever holds `RUNNING`.
    Running(F),
    /// Finished; owned by the `JoinHandle` (or the completer if none).
    Finished(Result<F::Output, JoinError>),
    /// The output was taken or dropped.
    Consumed,
}

/// The whole allocation of a task.
#[repr(C)]
pub(crate) struct Cell<F: Future, S> {
    /// Must be first: `NonNull<Header>` is cast to `NonNull<Cell<F, S>>`.
    pub(crate) header: Header,
    /// The scheduler that runs this task.
    pub(crate) scheduler: S,
    /// Future or output; guarded by the state word (see `state.rs`).
    pub(crate) stage: UnsafeCell<Stage<F>>,
    /// The `JoinHandle`'s waker; guarded by the `JOIN_WAKER` protocol.
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
    /// Never read or written: keeps the next allocation's first bytes off
    /// the cache line of this task's last fields (see [`TAIL_PAD`]).
    tail_pad: MaybeUninit<[u8; TAIL_PAD]>,
}

/// Bytes of dead space after every task cell. Cells are 16-byte aligned
/// blocks (from the global allocator, or recycled ones of the same size
/// class, see [`super::pool`]), so without it the state word of one
/// task shares a cache line with the tail of its neighbour, which another
/// worker is writing: measured on `yield_many`, that false sharing costs
/// 1.3–2× when a cross-core round trip is slow. A 64-byte tail keeps each
/// header's line private to its task; aligning cells to 128 bytes instead
/// would send every allocation through the allocator's slower aligned path.
const TAIL_PAD: usize = 64;

impl<F: Future, S> Cell<F, S> {
    /// Allocates a new task cell in the initial state.
    pub(crate) fn allocate(
        future: F,
        scheduler: S,
        id: u64,
        vtable: &'static Vtable,
    ) -> NonNull<Header> {
        let cell = super::pool::allocate(Layout::new::<Self>()).cast::<Self>();
        // SAFETY: `pool::allocate` returned memory for a `Cell<F, S>` (its
        // size and alignment, or a class block at least as large and as
        // aligned), owned by nobody else.
        unsafe {
            cell.as_ptr().write(Cell {
                header: Header {
                    state: State::new(),
                    vtable,
                    id,
                    owned_key: UnsafeCell::new(usize::MAX),
                },
                scheduler,
                stage: UnsafeCell::new(Stage::Running(future)),
                join_waker: UnsafeCell::new(None),
                tail_pad: MaybeUninit::uninit(),
            })
        };
        cell.cast()
    }
}
