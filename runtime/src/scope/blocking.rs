//! The blocking scope: [`Runtime::scope`](crate::Runtime::scope) and
//! [`Handle::scope`](crate::Handle::scope), `std::thread::scope` for futures.
//!
//! Children are ordinary runtime tasks (or blocking-pool jobs), scheduled
//! independently of the caller. Soundness does not depend on any future
//! being polled or dropped: the `scope` *call* does not return (not even by
//! unwinding) before a [`CountLatch`] says every child's future or closure
//! was dropped, and every child drops its output slot reference before it
//! counts down. So everything a child borrows (`'scope`, outlived by `'env`)
//! is alive whenever the child runs or is dropped — the blocking analogue of
//! I1/I4. Panics are caught in the child and re-raised by `scope` once all
//! children finished (I5).
//!
//! Called on a worker of a multi-thread runtime, the waiting thread first
//! hands its worker core to a new thread (tokio's `block_in_place`), which
//! keeps running the runtime's tasks; the waiting stack runs nothing else,
//! so no task's continuation is buried under the wait and nesting scopes
//! deeper than the number of workers cannot deadlock the pool. On a
//! current-thread runtime the wait drives that runtime's tasks (there is no
//! other thread to run them).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::{pin_project, pinned_drop};

use crate::loom::sync::{Arc, Mutex};
use crate::runtime::Handle;
use crate::scheduler::latch::CountLatch;
use crate::task::{JoinError, JoinHandle};
use crate::util::panic::{Payload, discard_payload};

/// Spawns children that may borrow `'env` data; see
/// [`Handle::scope`](crate::Handle::scope).
///
/// `'scope` is the lifetime of the scope itself; `'env` the lifetime of the
/// data children may borrow. Both are invariant, like `std::thread::Scope`.
pub struct BlockingScope<'scope, 'env: 'scope> {
    /// The runtime children are spawned on.
    handle: Handle,
    /// Counts unfinished children.
    latch: CountLatch,
    /// The first panic of a child, re-raised by `scope`.
    panic: Mutex<Option<Payload>>,
    /// Invariance over `'scope`.
    _scope: PhantomData<&'scope mut &'scope ()>,
    /// Invariance over `'env`.
    _env: PhantomData<&'env mut &'env ()>,
}

/// The result slot shared by a child and its handle.
#[derive(Debug)]
enum Outcome<T> {
    /// Not finished (or cancelled before finishing).
    Empty,
    /// The child's output.
    Done(T),
    /// The child panicked (its payload went to the scope).
    Panicked,
    /// The output was taken by the handle.
    Taken,
}

/// A slot shared by one child and its handle.
type Slot<T> = Arc<Mutex<Outcome<T>>>;

/// Counts one child down when dropped, after the child's own state.
#[derive(Debug)]
struct Member<'scope, T> {
    /// Where the output goes.
    slot: Option<Slot<T>>,
    /// The scope's panic slot.
    panic: &'scope Mutex<Option<Payload>>,
    /// The scope's latch (an owned clone: the count-down must not touch the
    /// scope, which may be gone right after).
    latch: CountLatch,
}

impl<T> Member<'_, T> {
    /// Records the child's result.
    fn finish(&mut self, res: Result<T, Payload>) {
        let outcome = match res {
            Ok(v) => Outcome::Done(v),
            Err(p) => {
                record_panic(self.panic, p);
                Outcome::Panicked
            }
        };
        if let Some(slot) = &self.slot {
            *crate::loom::lock(slot) = outcome;
        }
    }
}

/// Keeps the first panic of the scope. A later payload is discarded
/// (`util::panic`), after the lock is released: its destructor is user
/// code.
fn record_panic(slot: &Mutex<Option<Payload>>, p: Payload) {
    let extra = {
        let mut first = crate::loom::lock(slot);
        match *first {
            None => {
                *first = Some(p);
                None
            }
            Some(_) => Some(p),
        }
    };
    if let Some(p) = extra {
        discard_payload(p);
    }
}

impl<T> Drop for Member<'_, T> {
    fn drop(&mut self) {
        // The slot (and possibly the output in it, if the handle is gone)
        // goes first, then the count-down that may let `scope` return. The
        // count-down must happen even if the output's destructor panics:
        // that panic counts as the child's and is re-raised by `scope`.
        let slot = self.slot.take();
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| drop(slot))) {
            record_panic(self.panic, p);
        }
        self.latch.decrement();
    }
}

/// A child future: the user's future plus its membership.
#[pin_project(PinnedDrop)]
struct ScopedTask<'scope, F: Future> {
    /// The future; `None` once it completed.
    #[pin]
    future: Option<F>,
    /// Result slot and latch; dropped after the future.
    member: Option<Member<'scope, F::Output>>,
}

impl<F: Future> Future for ScopedTask<'_, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let Some(fut) = this.future.as_mut().as_pin_mut() else {
            return Poll::Ready(());
        };
        let res = match panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(v)) => Ok(v),
            Err(p) => Err(p),
        };
        // Drop the future before publishing, so nothing it borrows is used
        // after the count-down.
        let dropped = panic::catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
        let res = match (res, dropped) {
            (Ok(_), Err(p)) => Err(p),
            (Err(first), Err(p)) => {
                // The poll's own panic is the one reported.
                discard_payload(p);
                Err(first)
            }
            (r, Ok(())) => r,
        };
        if let Some(mut m) = this.member.take() {
            m.finish(res);
        }
        Poll::Ready(())
    }
}

#[pinned_drop]
impl<F: Future> PinnedDrop for ScopedTask<'_, F> {
    fn drop(self: Pin<&mut Self>) {
        let mut this = self.project();
        // Cancelled (runtime shutdown or abort): drop the future first.
        crate::util::panic::contain(|| this.future.set(None));
        drop(this.member.take());
    }
}

/// A child closure on the blocking pool.
struct ScopedJob<'scope, F: FnOnce() -> R, R> {
    /// The closure; `None` once it ran.
    f: Option<F>,
    /// Result slot and latch; dropped after the closure.
    member: Option<Member<'scope, R>>,
}

impl<F: FnOnce() -> R, R> ScopedJob<'_, F, R> {
    fn run(mut self) {
        let f = self.f.take().expect("scoped job runs once");
        let res = panic::catch_unwind(AssertUnwindSafe(f));
        if let Some(mut m) = self.member.take() {
            m.finish(res);
        }
    }
}

impl<F: FnOnce() -> R, R> Drop for ScopedJob<'_, F, R> {
    fn drop(&mut self) {
        // Never run (pool shut down): drop the closure, then count down.
        drop(self.f.take());
        drop(self.member.take());
    }
}

impl<'scope, 'env> BlockingScope<'scope, 'env> {
    fn member<T>(&'scope self) -> (Member<'scope, T>, Slot<T>) {
        self.latch.increment();
        let slot = Arc::new(Mutex::new(Outcome::Empty));
        let member = Member {
            slot: Some(slot.clone()),
            panic: &self.panic,
            latch: self.latch.clone(),
        };
        (member, slot)
    }

    /// Spawns a task that may borrow `'env` data. It is scheduled like any
    /// other task (in parallel on a multi-thread runtime); the scope waits
    /// for it.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let mut totals = vec![0u64; 4];
    /// rt.scope(|s| {
    ///     for (i, t) in totals.iter_mut().enumerate() {
    ///         s.spawn(async move { *t = (i as u64 + 1) * 100 });
    ///     }
    /// });
    /// assert_eq!(totals, [100, 200, 300, 400]);
    /// ```
    pub fn spawn<F>(&'scope self, future: F) -> BlockingJoinHandle<'scope, F::Output>
    where
        F: Future + Send + 'scope,
        F::Output: Send + 'scope,
    {
        let (member, slot) = self.member();
        let task = ScopedTask {
            future: Some(future),
            member: Some(member),
        };
        // SAFETY: the task borrows at most 'scope data. `scope` does not
        // return before the latch opens, which happens only after the task's
        // future was dropped (completed or cancelled) and it released its
        // slot; the task's own output is `()`, so nothing borrowed outlives
        // that point (I1/I4 for blocking scopes).
        let task = unsafe { self.handle.spawn_unchecked(task) };
        BlockingJoinHandle {
            task,
            slot,
            handle: &self.handle,
        }
    }

    /// Runs a blocking closure that may borrow `'env` data on the runtime's
    /// blocking pool; the scope waits for it.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let lines = vec!["a", "b c"];
    /// let words = rt.scope(|s| {
    ///     let h = s.spawn_blocking(|| lines.iter().map(|l| l.split(' ').count()).sum::<usize>());
    ///     h.join().unwrap()
    /// });
    /// assert_eq!(words, 3);
    /// ```
    pub fn spawn_blocking<F, R>(&'scope self, f: F) -> BlockingJoinHandle<'scope, R>
    where
        F: FnOnce() -> R + Send + 'scope,
        R: Send + 'scope,
    {
        let (member, slot) = self.member();
        let job = ScopedJob {
            f: Some(f),
            member: Some(member),
        };
        // SAFETY: as in `spawn`: the latch opens only after the job ran or
        // was dropped, and the job's own result is `()`.
        let task = unsafe {
            self.handle
                .inner
                .blocking()
                .spawn_unchecked(move || job.run())
        };
        BlockingJoinHandle {
            task,
            slot,
            handle: &self.handle,
        }
    }
}

impl fmt::Debug for BlockingScope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingScope")
            .field("finished", &self.latch.is_open())
            .finish()
    }
}

/// Awaits (or blocks on, with [`join`](BlockingJoinHandle::join)) one child
/// of a blocking scope.
///
/// A child's panic is reported here as a [`JoinError`] whose payload is a
/// note; the original payload is re-raised by the scope.
pub struct BlockingJoinHandle<'scope, T> {
    /// The runtime task (its own output is `()`).
    task: JoinHandle<()>,
    /// The child's result.
    slot: Slot<T>,
    /// The runtime, to drive it while joining if nobody else does.
    handle: &'scope Handle,
}

impl<T> BlockingJoinHandle<'_, T> {
    /// Blocks until the child finished and returns its output. On a worker
    /// thread, the worker hands its core to another thread while it waits.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let x = 20;
    /// let y = rt.scope(|s| s.spawn(async { x + 1 }).join().unwrap());
    /// assert_eq!(y, 21);
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        let handle = self.handle;
        wait_on(handle, self)
    }

    /// True once the child finished.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// rt.scope(|s| {
    ///     let h = s.spawn(async {});
    ///     while !h.is_finished() {
    ///         std::thread::yield_now();
    ///     }
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Cancels the child (its future is dropped; `join` reports cancelled).
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// rt.scope(|s| {
    ///     let h = s.spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     assert!(h.join().unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        self.task.abort();
    }
}

impl<T> Future for BlockingJoinHandle<'_, T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let res = std::task::ready!(Pin::new(&mut self.task).poll(cx));
        let id = self.task.id().as_u64();
        let outcome = std::mem::replace(&mut *crate::loom::lock(&self.slot), Outcome::Taken);
        Poll::Ready(match (res, outcome) {
            (_, Outcome::Done(v)) => Ok(v),
            (_, Outcome::Panicked) => Err(JoinError::panic(
                id,
                Box::new("the task panicked; the blocking scope re-raises its payload"),
            )),
            (Err(e), _) => Err(e),
            (Ok(()), _) => Err(JoinError::cancelled(id)),
        })
    }
}

impl<T> Unpin for BlockingJoinHandle<'_, T> {}

impl<T> fmt::Debug for BlockingJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingJoinHandle")
            .field("id", &self.task.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl Handle {
    /// Runs `f` with a [`BlockingScope`] whose children may borrow anything
    /// that outlives this call, and returns only after every child finished
    /// — `std::thread::scope` for futures. A panic of `f` or of a child is
    /// re-raised after all children finished.
    ///
    /// Called on a worker thread of a multi-thread runtime, the worker hands
    /// its core to a new thread while it waits (like tokio's
    /// `block_in_place`), so the runtime keeps its full set of workers and
    /// scopes may nest to any depth. On a current-thread runtime, call it
    /// from inside the runtime (a task or `block_on`) or from a thread that
    /// runs no other runtime.
    ///
    /// # Panics
    ///
    /// Re-raises the first panic of `f` or a child (a child output whose
    /// destructor panics counts as a child panic). Panics before running
    /// `f` if this is a current-thread runtime and the calling thread
    /// drives a different runtime.
    ///
    /// # Aborts
    ///
    /// The wait for the children can never be cut short, because they
    /// borrow from this call's caller. If something panics *inside the
    /// wait itself* — not in `f` or a child (those are caught and
    /// re-raised), but for example a user waker invoked while this thread
    /// drives the runtime's other tasks, I/O or timers — the process aborts
    /// with a message instead of unwinding past running children.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let data = vec![1, 2, 3, 4, 5, 6];
    /// let sum: i32 = rt.handle().scope(|s| {
    ///     let hs: Vec<_> = data.chunks(2).map(|c| s.spawn(async move { c.iter().sum::<i32>() })).collect();
    ///     hs.into_iter().map(|h| h.join().unwrap()).sum()
    /// });
    /// assert_eq!(sum, 21);
    /// ```
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope BlockingScope<'scope, 'env>) -> R,
    {
        if self.needs_driving() && crate::runtime::context::is_in_runtime() {
            // Checked before any child exists: once one does, the wait can
            // no longer be refused.
            panic!(
                "`Handle::scope` of a current-thread runtime was called on a thread that drives \
                 another tether runtime (inside a task or `block_on`): the scope would have to \
                 block this thread to drive its own runtime. Call it from inside its own runtime \
                 or from a plain thread"
            );
        }
        let scope = BlockingScope {
            handle: self.clone(),
            latch: CountLatch::new(),
            panic: Mutex::new(None),
            _scope: PhantomData,
            _env: PhantomData,
        };
        let res = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
        self.wait_for(&scope.latch);
        let child_panic = crate::loom::lock(&scope.panic).take();
        match (res, child_panic) {
            (Err(p), child) => {
                // The closure's panic is re-raised; a child's is discarded.
                if let Some(child) = child {
                    discard_payload(child);
                }
                panic::resume_unwind(p)
            }
            (Ok(_), Some(p)) => panic::resume_unwind(p),
            (Ok(r), None) => r,
        }
    }

    /// Waits for `latch` without ever returning early (a panic in the wait
    /// itself aborts: unwinding out of the scope with children running
    /// would be unsound).
    fn wait_for(&self, latch: &CountLatch) {
        if latch.is_open() {
            return;
        }
        struct AbortOnUnwind;
        impl Drop for AbortOnUnwind {
            fn drop(&mut self) {
                eprintln!("tether: a blocking scope's wait unwound; aborting");
                std::process::abort();
            }
        }
        let guard = AbortOnUnwind;
        if self.needs_driving() {
            self.block_on(latch.wait_async());
        } else {
            latch.wait();
        }
        std::mem::forget(guard);
    }
}

impl Handle {
    /// True if this is a current-thread runtime that the calling thread is
    /// not running: a wait must then drive it, or nobody would.
    fn needs_driving(&self) -> bool {
        let current_thread = matches!(self.inner, crate::scheduler::Handle::CurrentThread(_));
        current_thread
            && !crate::runtime::context::current().is_some_and(|h| same_runtime(&h, &self.inner))
    }
}

/// Whether two scheduler handles belong to the same runtime.
fn same_runtime(a: &crate::scheduler::Handle, b: &crate::scheduler::Handle) -> bool {
    use crate::scheduler::Handle::{CurrentThread, MultiThread};
    match (a, b) {
        (MultiThread(a), MultiThread(b)) => std::sync::Arc::ptr_eq(a, b),
        (CurrentThread(a), CurrentThread(b)) => std::sync::Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// Blocks on `fut`, whose progress depends on tasks of `handle`'s runtime.
/// On a worker (or in `block_on`) of that runtime, keeps running its tasks;
/// on a current-thread runtime nobody drives, drives it; otherwise parks.
fn wait_on<F: Future>(handle: &Handle, fut: F) -> F::Output {
    if handle.needs_driving() {
        handle.block_on(fut)
    } else {
        crate::scheduler::block_on_nested(fut)
    }
}

impl crate::Runtime {
    /// Runs `f` with a [`BlockingScope`]; see [`Handle::scope`].
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let mut hits = 0;
    /// rt.scope(|s| {
    ///     s.spawn(async { hits += 1 });
    /// });
    /// assert_eq!(hits, 1);
    /// ```
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope BlockingScope<'scope, 'env>) -> R,
    {
        self.handle().scope(f)
    }
}
