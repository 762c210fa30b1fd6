//! Fork/join within one poll: the machinery under async scopes,
//! `ScopedJoinSet`, `join_all` and `join!`.
//!
//! The shape is rayon-core's:
//!
//! * [`job`]: a [`JobRef`] is a type-erased pointer to a job living in the
//!   forker's stack frame, plus the function that runs it;
//! * [`latch`]: a [`ForkLatch`] counts the forked jobs still running; the
//!   executor of the last one sets it and wakes the forker;
//! * [`join`]: [`join`] (two closures) and [`join_all`] (`job(0..n)`).
//!
//! # Where jobs go and who runs them
//!
//! On a worker of a multi-thread runtime the jobs are pushed onto the
//! worker's fork deque (`multi_thread/worker.rs`); the forker runs one part
//! inline and then pops back whatever nobody stole. Searching workers steal
//! fork jobs before tasks, since a forker is waiting on them. A forker whose
//! latch is still unset *helps*: it runs fork jobs (its own, then stolen
//! ones), polls the I/O driver and timers if they are free, and only then
//! sleeps (in short slices, driving I/O and timers between them). A fork
//! made through [`join_on_worker`] or [`join_all_serving`] (or
//! [`join_standby`]) also serves its
//! caller while it waits (a scope's session: children woken meanwhile), and
//! is woken from its sleep when such work arrives (`latch`). It never
//! polls whole tasks on its own stack, and while it forks the worker's LIFO
//! slot is off, so every task it wakes stays stealable. If it has slept a
//! while and tasks wait in its queues, it hands its worker core to a new
//! thread, as a blocking wait does.
//!
//! A fork wakes a parked worker only when it pays: when the worker's fork
//! deque was empty (a wake for older jobs is under way otherwise), nobody
//! is searching already, and the last wakes of this thread were not wasted
//! (a wake after which every job came back unstolen starts an exponential
//! backoff during which only workers that are already searching find the
//! jobs). A *standby* fork ([`join_standby`]) wakes
//! nobody: its job waits for a worker that becomes free by itself (a
//! worker woken from the driver looks for fork jobs before it parks again),
//! and costs a push and a pop back when none does.
//!
//! A nested two-way join of `join!` does not fork at all while this
//! worker's deque already holds one unstolen job per other worker
//! ([`nested_join_inline`]): it polls both sides inline. In a recursive
//! divide and conquer the jobs already waiting are older and larger than
//! the new one and thieves take the oldest first; each steal makes room
//! for the next fork. A fine-grained recursion with every worker busy then
//! pays one thread-local look per join instead of a job, a latch, a push
//! and a pop.
//!
//! From a thread that is not a worker but runs inside a multi-thread
//! runtime's `block_on`, [`join_all`] pushes to the runtime's fork injector;
//! elsewhere (current-thread runtime, no runtime) both functions run their
//! parts one after another on the calling thread.
//!
//! # Invariant
//!
//! Jobs borrow the forker's frame. A fork function never returns, nor
//! unwinds, before its latch is set, i.e. before every job it published has
//! finished executing (a guard whose `Drop` waits covers the unwind paths).

mod job;
mod join;
pub(crate) mod latch;

pub(crate) use job::JobRef;
#[allow(
    unused_imports,
    reason = "`join` is the two-way entry point for scope code"
)]
pub(crate) use join::join;
#[allow(
    unused_imports,
    reason = "the plain n-way fork, for tests and future callers"
)]
pub(crate) use join::join_all;
pub(crate) use join::{
    join_all_serving, join_on_worker, join_sequential, join_standby, nested_join_inline,
};
pub(crate) use latch::{ForkLatch, NoServe, Serve, Unparker};
