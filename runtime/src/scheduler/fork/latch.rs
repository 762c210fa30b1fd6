//! [`ForkLatch`]: counts the jobs of one fork that have not finished.
//!
//! # Protocol
//!
//! `pending` starts at the number of published jobs. Each executor, after
//! writing its job's result, calls [`Latch::set`], which decrements
//! (release); the forker reads results only after [`ForkLatch::probe`] saw
//! zero (acquire). The latch usually lives in the forker's frame, which may
//! end as soon as `pending` reaches zero, so `set` copies the waiter out
//! *before* the decrement and touches nothing of the latch afterwards.
//!
//! The waiter is a [`Sleeper`] of the forking thread (shared through an
//! `Arc`, so an unpark after the frame ended is harmless). A notification
//! that arrives before the forker sleeps is remembered, so no wake-up is
//! lost.
//!
//! # Serving while waiting
//!
//! A forker may have more to do than fork jobs while it waits: a scope's
//! session goes on while one of its pull loops is stuck in a long child
//! poll. [`ForkLatch::wait`] takes a [`Serve`]: it is asked for work before
//! fork jobs, and before the thread sleeps it gets an [`Unparker`] for the
//! thread, to be called when work for it arrives. `Serve::prepare_sleep`
//! registers the unparker *before* it looks for work one last time, and the
//! producer publishes work *before* it looks for registered unparkers, so
//! either the waiter sees the work or the producer sees the waiter (the
//! sleeper remembers an unpark that comes before the park).

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Condvar, Mutex};

/// Spin rounds a waiting forker tries before it sleeps. Stolen jobs are
/// usually single child polls of a few microseconds; a short spin avoids a
/// futex round trip for them.
const SPIN_LIMIT: usize = if cfg!(loom) { 1 } else { 100 };

/// Something a job's executor signals when the job finished.
pub(crate) trait Latch {
    /// Signals the latch.
    ///
    /// Takes a raw pointer, not `&self`: the waiter may free the latch as
    /// soon as it observes the signal, and a reference argument would have
    /// to stay valid for the whole call.
    ///
    /// # Safety
    ///
    /// `this` points to a live latch, and the signal belongs to a job the
    /// latch is still waiting for. The latch may be freed as soon as this
    /// call made the signal visible; the caller must not touch it again.
    unsafe fn set(this: *const Self);
}

/// Wakes one particular thread; see the module docs.
#[derive(Debug)]
pub(crate) struct Sleeper {
    /// What `unpark` needs to know, under one lock.
    state: Mutex<SleeperState>,
    /// Signalled by `unpark` while the thread waits on it.
    condvar: Condvar,
}

/// The state of a [`Sleeper`].
#[derive(Debug, Default)]
struct SleeperState {
    /// Set by `unpark`, consumed by the sleeps.
    notified: bool,
    /// The thread waits on the condvar: only then does `unpark` notify it
    /// (a notify is a system call even with nobody waiting, and most
    /// unparks find the thread awake).
    waiting: bool,
    /// While the thread sleeps in the I/O driver instead of on the condvar
    /// ([`Unparker::park_in_driver`]): the reactor `unpark` wakes.
    in_driver: Option<crate::loom::sync::Arc<crate::io::Handle>>,
}

impl Sleeper {
    fn new() -> Sleeper {
        Sleeper {
            state: Mutex::new(SleeperState::default()),
            condvar: Condvar::new(),
        }
    }

    /// The calling thread's sleeper, borrowed from thread-local storage:
    /// no reference count changes (a fork creates a latch each time).
    ///
    /// The pointer stays valid while the calling thread lives; it may be
    /// dangling after the thread exits. The owner `Arc` is returned as
    /// well when there is no thread-local one to borrow (under loom, or
    /// during thread teardown).
    fn current() -> (*const Sleeper, Option<Arc<Sleeper>>) {
        #[cfg(not(loom))]
        {
            // Not runtime state, so not in `runtime::context`: a lazily
            // built parking primitive, absent under loom.
            thread_local! {
                static SLEEPER: Arc<Sleeper> = Arc::new(Sleeper::new());
            }
            if let Ok(p) = SLEEPER.try_with(Arc::as_ptr) {
                return (p, None);
            }
        }
        let owned = Arc::new(Sleeper::new());
        (Arc::as_ptr(&owned), Some(owned))
    }

    /// Sleeps until `unpark` (at once if an unpark is pending).
    fn park(&self) {
        let mut state = crate::loom::lock(&self.state);
        while !state.notified {
            state.waiting = true;
            state = self.condvar.wait(state).unwrap_or_else(|e| e.into_inner());
            state.waiting = false;
        }
        state.notified = false;
    }

    /// Like `park`, but returns after `timeout` at the latest.
    fn park_timeout(&self, timeout: std::time::Duration) {
        #[cfg(loom)]
        {
            // Loom does not model time: an untimed park explores the same
            // orders (a timeout is a spurious wake-up to the caller).
            let _ = timeout;
            self.park();
        }
        #[cfg(not(loom))]
        {
            let mut state = crate::loom::lock(&self.state);
            if !state.notified {
                state.waiting = true;
                state = self
                    .condvar
                    .wait_timeout(state, timeout)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                state.waiting = false;
            }
            state.notified = false;
        }
    }

    /// Wakes the sleeping thread, or makes its next `park` return.
    fn unpark(&self) {
        let mut state = crate::loom::lock(&self.state);
        state.notified = true;
        if state.waiting {
            self.condvar.notify_one();
        }
        // Under the same lock as the flag: a sleeper that registered
        // `in_driver` before this lock is woken through the reactor; one
        // that registers after it sees the flag (see
        // `Unparker::park_in_driver`).
        if let Some(io) = state.in_driver.as_ref() {
            io.unpark();
        }
    }
}

/// Wakes a thread waiting on a [`ForkLatch`] (see "Serving while waiting"
/// in the module docs). Holding one keeps the sleeper alive; an unpark after
/// the wait ended only makes that thread's next sleep return early (every
/// sleep is in a loop that re-checks its condition).
#[derive(Debug, Clone)]
pub(crate) struct Unparker(Arc<Sleeper>);

impl Unparker {
    /// The calling thread's unparker (its fork-wait sleeper).
    pub(crate) fn current() -> Unparker {
        let (p, owned) = Sleeper::current();
        match owned {
            Some(owned) => Unparker(owned),
            // SAFETY: the thread-local `Arc` owning `p` is alive (we run on
            // its thread).
            None => unsafe { Unparker::from_sleeper(p) },
        }
    }

    /// A new owner of the sleeper at `p`.
    ///
    /// # Safety
    ///
    /// `p` comes from `Arc::as_ptr` of an `Arc<Sleeper>` that is alive for
    /// the duration of this call.
    unsafe fn from_sleeper(p: *const Sleeper) -> Unparker {
        // SAFETY: per the contract, an `Arc` owns `p` now, so a new strong
        // count may be taken through it and handed to the new `Arc`.
        unsafe {
            Arc::increment_strong_count(p);
            Unparker(Arc::from_raw(p))
        }
    }

    /// Sleeps until unparked; returns at once if an unpark came first. Only
    /// the thread this unparker wakes may call it.
    pub(crate) fn park(&self) {
        self.0.park();
    }

    /// Sleeps until unparked, at most for `timeout`; returns at once if an
    /// unpark came first. Only the thread this unparker wakes may call it.
    pub(crate) fn park_timeout(&self, timeout: std::time::Duration) {
        self.0.park_timeout(timeout);
    }

    /// Wakes the thread, or makes its next sleep return at once.
    pub(crate) fn unpark(&self) {
        self.0.unpark();
    }

    /// Sleeps in the I/O driver instead of on the condvar: `block` blocks in
    /// the driver (briefly), and an unpark meanwhile wakes the reactor `io`.
    /// Returns at once, without calling `block`, if an unpark is pending;
    /// consumes any unpark that came meanwhile. Only the thread this
    /// unparker wakes may call it.
    ///
    /// No wake is lost: the sleeper publishes `in_driver` and takes the
    /// flag in one critical section, `unpark` sets the flag and looks at
    /// `in_driver` in one; whichever comes second sees the other's write,
    /// so either `unpark` sees the reactor to wake or the sleeper sees the
    /// flag.
    pub(crate) fn park_in_driver(
        &self,
        io: &crate::loom::sync::Arc<crate::io::Handle>,
        block: impl FnOnce(),
    ) {
        let pending = {
            let mut state = crate::loom::lock(&self.0.state);
            state.in_driver = Some(io.clone());
            std::mem::take(&mut state.notified)
        };
        if !pending {
            block();
        }
        let mut state = crate::loom::lock(&self.0.state);
        state.in_driver = None;
        state.notified = false;
    }

    /// True if both wake the same thread.
    pub(crate) fn same(&self, other: &Unparker) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Work a waiting forker takes on besides fork jobs; see "Serving while
/// waiting" in the module docs.
pub(crate) trait Serve: Sync {
    /// Runs work that arrived for the waiting thread; true if it ran some.
    fn serve(&self) -> bool;

    /// The waiting thread is about to sleep: registers `wake` to be called
    /// when work for [`Serve::serve`] arrives, then looks for such work. If
    /// there is some, withdraws the registration and returns false (the
    /// thread does not sleep).
    fn prepare_sleep(&self, wake: &Unparker) -> bool;

    /// The sleep ended: withdraws `wake`'s registration if it is still there.
    fn end_sleep(&self, wake: &Unparker);

    /// False if work never arrives (no unparker is needed).
    fn may_wake(&self) -> bool {
        true
    }
}

/// Nothing to serve: a plain fork wait (`ForkLatch::wait` then creates no
/// unparker).
#[derive(Debug)]
pub(crate) struct NoServe;

impl Serve for NoServe {
    fn serve(&self) -> bool {
        false
    }
    fn prepare_sleep(&self, _: &Unparker) -> bool {
        true
    }
    fn end_sleep(&self, _: &Unparker) {}
    fn may_wake(&self) -> bool {
        false
    }
}

/// The latch of one fork; see the module docs.
#[derive(Debug)]
pub(crate) struct ForkLatch {
    /// Published jobs that have not finished.
    pending: AtomicUsize,
    /// The forking thread's sleeper: owned by the thread (thread-local) or
    /// by `owner`, alive at least while the forker waits on this latch.
    waiter: *const Sleeper,
    /// Keeps `waiter` alive when the thread has no thread-local one.
    _owner: Option<Arc<Sleeper>>,
}

// SAFETY: `waiter` points to a `Sleeper` (Send + Sync) that an `Arc` owns;
// the latch only clones that `Arc` (`set`), while the forker, which keeps it
// alive, waits.
unsafe impl Send for ForkLatch {}
// SAFETY: as above; `pending` is atomic.
unsafe impl Sync for ForkLatch {}

impl ForkLatch {
    /// A latch waiting for `jobs` jobs, owned by the calling thread.
    pub(crate) fn new(jobs: usize) -> ForkLatch {
        let (waiter, owner) = Sleeper::current();
        ForkLatch {
            pending: AtomicUsize::new(jobs),
            waiter,
            _owner: owner,
        }
    }

    /// An unparker for the forking thread's sleeper.
    fn unparker(&self) -> Unparker {
        // SAFETY: the sleeper is alive and owned by an `Arc` (the thread's
        // or `_owner`) while the forker waits on this latch, which is the
        // only time this is called (from `wait`, on the forking thread).
        unsafe { Unparker::from_sleeper(self.waiter) }
    }

    /// True once every job finished; their writes are then visible.
    pub(crate) fn probe(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }

    /// Returns once every job finished. While waiting, calls
    /// `serve.serve()` and `help` (which runs one other fork job and returns
    /// true, or returns false when it found none), spins a little, then
    /// sleeps: calls `sleep` with the number of sleeps so far and an
    /// [`Unparker`] for this thread, and `sleep` returns when that unparker
    /// is unparked (by the last job, or by work for `serve`), or earlier
    /// (a timeout; the wait loops). [`Unparker::park`] is the plain sleep;
    /// a worker sleeps in the I/O driver instead when it is free, so I/O
    /// and timers are served while it waits.
    ///
    /// Must be called by the thread that created the latch (its sleeper is
    /// the one `set` wakes).
    pub(crate) fn wait(
        &self,
        serve: &dyn Serve,
        mut help: impl FnMut() -> bool,
        mut sleep: impl FnMut(u32, &Unparker),
    ) {
        let mut idle = 0;
        let mut sleeps = 0;
        while !self.probe() {
            if serve.serve() || help() {
                idle = 0;
            } else if idle < SPIN_LIMIT {
                idle += 1;
                crate::loom::spin_loop();
            } else {
                let wake = self.unparker();
                let registered = serve.may_wake();
                let go = !registered || serve.prepare_sleep(&wake);
                if go && !self.probe() {
                    // `prepare_sleep` registered the unparker before its
                    // last look for work, and `set` unparks after its
                    // decrement: the sleep returns in either case (an
                    // unpark that came first makes it return at once).
                    sleep(sleeps, &wake);
                    sleeps = sleeps.saturating_add(1);
                }
                if registered && go {
                    serve.end_sleep(&wake);
                }
                idle = 0;
            }
        }
    }
}

impl Latch for ForkLatch {
    unsafe fn set(this: *const Self) {
        // Take a reference count on the forker's sleeper *before* the
        // decrement: afterwards the forker may return, and its thread exit
        // and drop its own reference.
        //
        // SAFETY: the latch is alive until our decrement (contract), and
        // its forker waits on it, so the sleeper it points to is alive and
        // owned by an `Arc` (the thread's or `owner`): the count may be
        // incremented through the pointer, and the new count is ours.
        let waiter = unsafe {
            let p = (*this).waiter;
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        };
        // SAFETY: as above; the temporary reference ends with the RMW, after
        // which nothing of the latch is touched.
        let prev = unsafe { (*this).pending.fetch_sub(1, Ordering::AcqRel) };
        debug_assert!(prev > 0, "fork latch set more often than it has jobs");
        if prev == 1 {
            waiter.unpark();
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::thread;

    /// Moves a raw pointer into a loom thread (the test keeps it alive).
    struct SendPtr<T>(*const T);
    // SAFETY: test-only; the pointee outlives every thread (see the tests).
    unsafe impl<T> Send for SendPtr<T> {}

    /// Two executors set the latch while the forker waits: the forker must
    /// wake, and must see both jobs' writes.
    #[test]
    fn loom_fork_latch_joins_all_jobs() {
        loom::model(|| {
            let latch = Arc::new(ForkLatch::new(2));
            let done = Arc::new(AtomicUsize::new(0));
            let mut executors = Vec::new();
            for _ in 0..2 {
                let l = SendPtr(Arc::into_raw(latch.clone()));
                let d = done.clone();
                executors.push(thread::spawn(move || {
                    let l = l;
                    d.fetch_add(1, Ordering::Relaxed);
                    // SAFETY: the Arc is reconstructed exactly once.
                    let latch = unsafe { Arc::from_raw(l.0) };
                    // SAFETY: the latch is alive (we hold an Arc).
                    unsafe { ForkLatch::set(&*latch) };
                }));
            }
            latch.wait(&NoServe, || false, |_, wake| wake.park());
            assert_eq!(
                done.load(Ordering::Relaxed),
                2,
                "the wait returned before the jobs finished"
            );
            for t in executors {
                t.join().unwrap();
            }
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    struct SendPtr(*const ForkLatch);
    // SAFETY: test-only, stands for a JobRef crossing to a thief.
    unsafe impl Send for SendPtr {}

    /// The forker's frame (holding the latch) ends as soon as `pending`
    /// reaches zero, while the executor may still be inside `set`. Under
    /// Miri (several seeds) this checks that `set` holds no reference to the
    /// latch across the decrement.
    fn one_fork() -> std::thread::JoinHandle<()> {
        let latch = ForkLatch::new(1);
        let p = SendPtr(&latch);
        let t = std::thread::spawn(move || {
            let p = p;
            // SAFETY: as a stolen job: the forker waits for the latch.
            unsafe { ForkLatch::set(p.0) }
        });
        latch.wait(&NoServe, || false, |_, wake| wake.park());
        t
    }

    /// Work for the waiter arrives from the executor while the job is still
    /// running: the waiter serves it (woken from its sleep through the
    /// `Unparker` it registered), and only then does the job finish.
    #[derive(Default)]
    struct Arrives {
        work: std::sync::atomic::AtomicBool,
        served: std::sync::atomic::AtomicBool,
        slot: std::sync::Mutex<Option<Unparker>>,
    }

    impl Serve for Arrives {
        fn serve(&self) -> bool {
            let got = self.work.swap(false, Ordering::SeqCst);
            if got {
                self.served.store(true, Ordering::SeqCst);
            }
            got
        }
        fn prepare_sleep(&self, wake: &Unparker) -> bool {
            *self.slot.lock().unwrap() = Some(wake.clone());
            if self.work.load(Ordering::SeqCst) {
                *self.slot.lock().unwrap() = None;
                return false;
            }
            true
        }
        fn end_sleep(&self, _: &Unparker) {
            *self.slot.lock().unwrap() = None;
        }
    }

    #[test]
    fn fork_wait_serves_work_that_arrives_while_it_sleeps() {
        for _ in 0..if cfg!(miri) { 4 } else { 200 } {
            let latch = ForkLatch::new(1);
            let serve = Arrives::default();
            let (p, s) = (SendPtr(&latch), &serve);
            std::thread::scope(|scope| {
                scope.spawn(move || {
                    let p = p;
                    s.work.store(true, Ordering::SeqCst);
                    let wake = s.slot.lock().unwrap().take();
                    if let Some(wake) = wake {
                        wake.unpark();
                    }
                    while !s.served.load(Ordering::SeqCst) {
                        std::thread::yield_now();
                    }
                    // SAFETY: as a stolen job: the forker waits for the latch.
                    unsafe { ForkLatch::set(p.0) }
                });
                latch.wait(&serve, || false, |_, wake| wake.park());
            });
            assert!(serve.served.load(Ordering::SeqCst));
        }
    }

    /// A thread's `Unparker` (borrowed from its thread-local sleeper) wakes
    /// it from another thread, also after the other thread dropped its copy.
    #[test]
    fn current_unparker_wakes_its_thread() {
        let me = Unparker::current();
        let other = me.clone();
        let t = std::thread::spawn(move || other.unpark());
        me.park_timeout(std::time::Duration::from_secs(60));
        t.join().unwrap();
        assert!(me.same(&Unparker::current()));
    }

    #[test]
    fn fork_latch_may_be_freed_right_after_the_last_set() {
        for _ in 0..if cfg!(miri) { 8 } else { 1000 } {
            one_fork().join().unwrap();
        }
    }
}
