//! Scoped tasks: children that borrow from their parent.
//!
//! * [`scope`] — `tether::scope(|s| async move { s.spawn(fut); .. }).await`:
//!   the body and its children, which may borrow anything that outlives the
//!   scope future. [`scope_local`] adds `spawn_local` for `!Send` children.
//! * [`ScopedJoinSet`] — tokio's `JoinSet` without `'static`: no closure, children
//!   borrow locals directly.
//! * [`join_all`] and [`join!`](crate::join) — parallel joins of borrowing
//!   futures.
//!
//! Scopes, sets and `join_all` run on one engine (the `engine` module): the
//! children are owned by the scope future (or set) and polled only inside
//! its `poll`, which is a *session*. The polling thread pulls ready children
//! from the scope's ready queue; on a tether worker, while more are ready
//! than threads pull them, it forks helper pull loops onto the work-stealing
//! deques, where idle workers steal them. A child woken during the session
//! is polled at once by whichever thread is free; none is polled by two
//! threads at once (the `child` module's wake protocol). The session ends
//! when nothing is ready and no child poll is in flight, or when its budget
//! is spent; `poll` returns only after every helper joined. Elsewhere (the
//! current-thread runtime, `futures::executor::block_on`, tokio) the owner's
//! own loop polls them one after another.
//!
//! [`join!`](crate::join) and [`try_join!`](crate::try_join) need no engine:
//! their futures live inside the join future (see the `join` module).
//!
//! # Why scopes are sound
//!
//! A future can be leaked (`mem::forget`) after being polled, so a scope's
//! destructor is not a reliable place to wait for children. tether therefore
//! never lets a child run *outside* its owner:
//!
//! * **I1 — no access after return.** A child is polled, dropped or otherwise
//!   touched only by a thread that is inside its owner's `poll` or `drop`;
//!   helper pull loops are joined before the session (and so the `poll`)
//!   ends, also when a poll panics (the `engine` module,
//!   `scheduler::fork::join_all`).
//! * **I2 — leak is harmless.** A leaked owner is never polled or dropped
//!   again, so its children are never touched again: borrowed data that dies
//!   afterwards is never read. Their memory is leaked with the owner.
//! * **I3 — wakers are `'static` and own no child.** A child's waker points
//!   to the header of the child's cell: atomics, the scope's `'static` wake
//!   hub and a mutex-guarded join waker. Waking only flags the child and
//!   pushes a queue entry (holding a reference to the cell's memory, never
//!   to the future); dropping the last reference frees the memory without
//!   touching the future or the output (the `child` module).
//! * **I4 — drop cancels.** Dropping the owner drops every unfinished child
//!   on the dropping thread while `'env` is still alive: the owner has a
//!   `Drop` impl and is invariant over `'env`, so the borrow checker demands
//!   that everything a child borrows outlives it.
//! * **I5 — panics propagate.** A child panic is caught on the thread that
//!   polled it, kept in a slot of the child's record that only the owner
//!   reads (the child's handle sees a cancellation), and resumed from the
//!   scope's `poll` after the session joined and after the body and the other
//!   children were cancelled. A panic that will not be resumed (a second
//!   one, a panicking waker's) is dropped, never allowed to unwind through
//!   the engine (`util::panic::discard_payload`: the crate's one payload
//!   policy). (A [`ScopedJoinSet`] reports it as the child's
//!   [`JoinError`](crate::JoinError) instead.)
//! * **I6 — escaped handles are inert.** A [`Scope`] cloned out of its scope
//!   cannot start work after the scope ended: `spawn` drops the future at
//!   once and its handle reports cancellation. (Spawning through a handle of
//!   a *leaked* scope queues a child that is never polled: it is leaked.)
//!
//! The user-visible consequence: children make progress only while their
//! parent is polled (every child wake wakes the parent, at most once per
//! batch of wakes), so they can never outlive the scope, even when it is
//! leaked.
//!
//! # Cost per child
//!
//! One allocation holds the future, its output slot and its wake record
//! (see the `child` module). Spawning adds no `Arc` clone a user can see; internally
//! the record holds one reference to its scope's wake hub. Completed
//! children leave the slab at once, so a long-lived scope that spawns
//! millions of short children stays as large as its peak of live children.
//!
//! # Checking it
//!
//! * Miri (no runtime; `futures::executor` and manual polling): the unit
//!   tests of this module, `cargo +nightly miri test -p tether --lib scope::`.
//!   The tests that leak a scope on purpose (`forget`) need
//!   `MIRIFLAGS=-Zmiri-ignore-leaks`, so CI runs them separately:
//!   `cargo +nightly miri test -p tether --lib scope::tests:: -- --skip forget`
//!   and `MIRIFLAGS=-Zmiri-ignore-leaks cargo +nightly miri test -p tether --lib scope::tests::forget`.
//! * Loom (the wake record against a draining or dropping owner; the session
//!   protocol — pull loops on several threads against the ready queue,
//!   in-flight polls, wakes during a session, end of session, nothing left
//!   after it):
//!   `RUSTFLAGS="--cfg loom" cargo test -p tether --lib --release scope::`.

mod async_scope;
mod blocking;
mod child;
mod engine;
mod handle;
mod join;
mod join_set;
mod local;
mod shared;

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom_tests;

pub use async_scope::{Scope, ScopeFuture, scope};
pub use blocking::{BlockingJoinHandle, BlockingScope};
pub use handle::ScopedJoinHandle;
#[doc(hidden)]
pub use join::{Join2, Local, Par, Pick, PickPar, PickSeq, Seq, TryJoin2};
pub use join::{JoinAll, join_all};
pub use join::{Parallel, parallel};
pub use join_set::ScopedJoinSet;
pub use local::{LocalScope, LocalScopeFuture, scope_local};
