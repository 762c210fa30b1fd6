//! The current-thread scheduler: every task runs on the thread that calls
//! `block_on`.
//!
//! The [`Core`] (local queue and the driver) is owned by whichever thread is
//! inside `block_on`; a second thread calling `block_on` at the same time
//! polls its own future and waits for the core to be handed back. Tasks
//! woken from other threads go through a locked injection queue and wake
//! the driver.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::Duration;

use crate::loom::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use local::LocalTasks;
pub(crate) use local::spawn_local;

mod local;
use crate::loom::sync::Mutex;
use crate::task::{JoinHandle, Notified, OwnedTasks, Schedule, Task};

/// Ticks between forced checks of the injection queue, and between
/// non-blocking driver polls while tasks are runnable. A prime, so the
/// check does not fall into lockstep with periodic task patterns.
const GLOBAL_POLL_INTERVAL: u32 = 31;

/// Tasks polled between two looks at the `block_on` future and the driver.
/// The future is polled only when woken, but a future that wakes itself in
/// a loop must not starve the tasks; neither may a stream of ready tasks
/// starve I/O and timers.
const EVENT_INTERVAL: u32 = 61;

/// The exclusive state: owned by the thread inside `block_on`.
#[derive(Debug)]
pub(crate) struct Core {
    /// Runnable tasks.
    tasks: VecDeque<Notified>,
    /// Loop iterations.
    tick: u32,
    /// The I/O and timer driver.
    driver: Option<crate::driver::Driver>,
}

/// A current-thread runtime's shared state.
#[derive(Debug)]
pub(crate) struct Handle {
    /// Tasks woken from other threads.
    inject: Mutex<VecDeque<Notified>>,
    /// Every live task, for shutdown.
    pub(crate) owned: OwnedTasks,
    /// Set once at shutdown.
    shutdown: AtomicBool,
    /// The driver's shared half.
    pub(crate) driver: crate::driver::Handle,
    /// The blocking thread pool.
    pub(crate) blocking: crate::blocking::Spawner,
    /// The core, when no thread is inside `block_on`.
    core: Mutex<Option<Box<Core>>>,
    /// Threads waiting for the core.
    core_waiters: Mutex<Vec<Waker>>,
    /// Tasks polled between looks at the `block_on` future and the driver
    /// (builder's `event_interval`, else [`EVENT_INTERVAL`]).
    event_interval: u32,
    /// Ticks between forced checks of the injection queue (builder's
    /// `global_queue_interval`, else [`GLOBAL_POLL_INTERVAL`]).
    global_queue_interval: u32,
    /// The local (`!Send`) tasks, one entry per thread that spawned some.
    locals: Mutex<Vec<Arc<LocalTasks>>>,
}

/// The per-thread state of one run loop (`block_on`, or a blocking wait
/// inside a poll).
pub(crate) struct Context {
    /// The runtime.
    handle: Arc<Handle>,
    /// The core, while a task is polled.
    core: RefCell<Option<Box<Core>>>,
    /// This thread's local tasks, once it has spawned some.
    local: RefCell<Option<Arc<LocalTasks>>>,
}

impl Context {
    /// This thread's local tasks, created on first use.
    fn local_tasks(&self) -> Arc<LocalTasks> {
        self.local
            .borrow_mut()
            .get_or_insert_with(|| self.handle.local_tasks())
            .clone()
    }

    /// The next runnable local task of this thread.
    fn pop_local(&self) -> Option<Notified> {
        self.local.borrow().as_ref().and_then(|l| l.pop())
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

/// Runs `f` with the context of the run loop this thread is in, if it is
/// the innermost scheduler loop of the thread's runtime context.
#[inline]
fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    crate::runtime::context::with_scheduler(|cx| {
        f(match cx {
            Some(crate::scheduler::Context::CurrentThread(cx)) => Some(cx),
            _ => None,
        })
    })
}

/// Wakes the future of one run loop: sets its `woken` flag and interrupts
/// the driver.
///
/// Each run loop has its own flag. Run loops nest (a blocking wait inside a
/// poll of the `block_on` future, or of a task, runs the scheduler until its
/// own future is ready), and a flag shared between the levels would let the
/// inner loop consume a wake-up meant for the outer future, which would
/// then never be polled again.
struct BlockOnWake {
    /// The runtime whose driver is interrupted.
    handle: Arc<Handle>,
    /// Set when the loop's future is woken; cleared before it is polled.
    woken: AtomicBool,
}

impl Wake for BlockOnWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.handle.driver.unpark();
    }
}

impl Handle {
    pub(crate) fn new(
        driver: crate::driver::Driver,
        driver_handle: crate::driver::Handle,
        blocking: crate::blocking::Spawner,
        intervals: super::Intervals,
    ) -> Arc<Handle> {
        Arc::new(Handle {
            inject: Mutex::new(VecDeque::new()),
            owned: OwnedTasks::new(),
            shutdown: AtomicBool::new(false),
            driver: driver_handle,
            blocking,
            core: Mutex::new(Some(Box::new(Core {
                tasks: VecDeque::new(),
                tick: 0,
                driver: Some(driver),
            }))),
            core_waiters: Mutex::new(Vec::new()),
            locals: Mutex::new(Vec::new()),
            event_interval: intervals.event.unwrap_or(EVENT_INTERVAL),
            global_queue_interval: intervals.global_queue.unwrap_or(GLOBAL_POLL_INTERVAL),
        })
    }

    /// Spawns a task.
    ///
    /// # Safety
    ///
    /// As `multi_thread::Handle::spawn`.
    pub(crate) unsafe fn spawn<F>(self: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        // SAFETY: forwarded to our caller.
        unsafe { self.owned.spawn(future, self) }
    }

    fn take_core(&self) -> Option<Box<Core>> {
        crate::loom::lock(&self.core).take()
    }

    fn return_core(&self, core: Box<Core>) {
        *crate::loom::lock(&self.core) = Some(core);
        for waker in std::mem::take(&mut *crate::loom::lock(&self.core_waiters)) {
            waker.wake();
        }
    }

    fn pop_injected(&self) -> Option<Notified> {
        crate::loom::lock(&self.inject).pop_front()
    }

    /// Runs `fut` to completion on this thread, driving the runtime's tasks
    /// whenever this thread holds the core.
    pub(crate) fn block_on<F: Future>(self: &Arc<Self>, fut: F) -> F::Output {
        let mut fut = pin!(fut);
        let parker = std::sync::Arc::new(ThreadWake::new());
        let thread_waker = Waker::from(parker.clone());
        loop {
            if let Some(core) = self.take_core() {
                let (core, out) = run_until_ready(self, core, fut.as_mut());
                self.return_core(core);
                match out {
                    Some(v) => return v,
                    None => panic!("the tether runtime shut down while `block_on` was running"),
                }
            }
            // Another thread drives the runtime: poll our future alone and
            // wait for it to be woken or for the core to come back.
            crate::loom::lock(&self.core_waiters).push(thread_waker.clone());
            if let Poll::Ready(v) = fut
                .as_mut()
                .poll(&mut TaskContext::from_waker(&thread_waker))
            {
                return v;
            }
            if crate::loom::lock(&self.core).is_none() {
                parker.park();
            }
        }
    }

    /// Starts shutdown and cancels every task on the calling thread.
    pub(crate) fn shutdown(self: &Arc<Self>) {
        self.shutdown.store(true, Ordering::Release);
        self.owned.close_and_shutdown();
        let locals = std::mem::take(&mut *crate::loom::lock(&self.locals));
        for local in locals {
            local.shutdown();
        }
        if let Some(mut core) = self.take_core() {
            core.tasks.clear();
            drop(core.driver.take());
        }
        while let Some(task) = self.pop_injected() {
            drop(task);
        }
        self.driver.shutdown();
    }
}

/// If this thread is inside `block_on` of a current-thread runtime (polling
/// a task), blocks until `fut` completes while running the runtime's tasks.
/// Returns the future back otherwise.
pub(crate) fn block_on_nested<F: Future>(fut: F) -> Result<F::Output, F> {
    with_current(|cx| {
        let Some(cx) = cx else { return Err(fut) };
        let Some(core) = cx.core.try_borrow_mut().ok().and_then(|mut c| c.take()) else {
            return Err(fut);
        };
        let handle = cx.handle.clone();
        let (core, out) = run_until_ready(&handle, core, pin!(fut));
        *cx.core.borrow_mut() = Some(core);
        match out {
            Some(v) => Ok(v),
            None => panic!("the tether runtime shut down while a blocking wait was running"),
        }
    })
}

/// Polls the I/O driver and timers without blocking, if this thread runs a
/// current-thread runtime's loop and its core (with the driver) is at hand:
/// a scope's pull loop calls it between child polls, as the multi-thread
/// runtime's `poll_driver_from_session` does on a worker. A session kept
/// busy by always-ready children is one poll of its owner (one task, or
/// the `block_on` future), and this loop looks at the driver only every
/// `event_interval` task polls: a sibling's timer waited for the session's
/// whole re-poll budget, times the interval when the owner is a task
/// (seconds). Returns true if the runtime is shutting down: the session
/// should stop.
pub(crate) fn poll_driver_from_session() -> bool {
    with_current(|cx| {
        let Some(cx) = cx else { return false };
        if cx.handle.shutdown.load(Ordering::Acquire) {
            return true;
        }
        // Not borrowed while a task or the `block_on` future is polled; the
        // core is away inside a nested `block_on` (that loop looks itself).
        let Ok(mut guard) = cx.core.try_borrow_mut() else {
            return false;
        };
        let Some(mut driver) = guard.as_mut().and_then(|core| core.driver.take()) else {
            return false;
        };
        // Unborrowed while the driver runs: the wakes it fires schedule
        // tasks into the core.
        drop(guard);
        driver.park(&cx.handle.driver, Some(Duration::ZERO));
        // Nothing took the core meanwhile: the park runs no task, only
        // wakers, and this thread is the only one that uses the core.
        match cx.core.borrow_mut().as_mut() {
            Some(core) => core.driver = Some(driver),
            None => debug_assert!(false, "the core left during a driver look"),
        }
        false
    })
}

/// The scheduler loop. Returns the core and the output (`None` if the
/// runtime shut down first).
fn run_until_ready<F: Future>(
    handle: &Arc<Handle>,
    core: Box<Core>,
    fut: std::pin::Pin<&mut F>,
) -> (Box<Core>, Option<F::Output>) {
    let scheduler = super::Context::CurrentThread(Context {
        handle: handle.clone(),
        core: RefCell::new(Some(core)),
        local: RefCell::new(handle.find_local_tasks()),
    });
    let super::Context::CurrentThread(cx) = &scheduler else {
        unreachable!("built as a current-thread context just above")
    };
    let out = crate::runtime::context::set_scheduler(&scheduler, || run_loop(cx, handle, fut));
    let core = cx.core.borrow_mut().take().expect("core missing");
    (core, out)
}

/// The loop of [`run_until_ready`], with `cx` current.
fn run_loop<F: Future>(
    cx: &Context,
    handle: &Arc<Handle>,
    mut fut: std::pin::Pin<&mut F>,
) -> Option<F::Output> {
    // Starts woken: the future is polled once before anything else.
    let wake = std::sync::Arc::new(BlockOnWake {
        handle: handle.clone(),
        woken: AtomicBool::new(true),
    });
    let waker = Waker::from(wake.clone());

    'outer: loop {
        if wake.woken.swap(false, Ordering::AcqRel) {
            let res =
                crate::coop::budget(|| fut.as_mut().poll(&mut TaskContext::from_waker(&waker)));
            if let Poll::Ready(v) = res {
                break Some(v);
            }
        }
        for _ in 0..handle.event_interval {
            if handle.shutdown.load(Ordering::Acquire) {
                break 'outer None;
            }
            let task = {
                let mut guard = cx.core.borrow_mut();
                let core = guard.as_mut().expect("core missing");
                core.tick = core.tick.wrapping_add(1);
                if core.tick % handle.global_queue_interval == 0 {
                    handle
                        .pop_injected()
                        .or_else(|| core.tasks.pop_front())
                        .or_else(|| cx.pop_local())
                } else {
                    core.tasks
                        .pop_front()
                        .or_else(|| cx.pop_local())
                        .or_else(|| handle.pop_injected())
                }
            };
            match task {
                Some(task) => crate::coop::budget(|| task.run()),
                None => {
                    park(cx, handle, &wake.woken, None);
                    continue 'outer;
                }
            }
        }
        // Runnable tasks remain: look at I/O and timers without blocking.
        park(cx, handle, &wake.woken, Some(Duration::ZERO));
    }
}

/// Blocks in the driver (unless work is pending: runnable tasks, or the
/// loop's own future was woken), with the core in the context so woken
/// tasks are queued locally.
fn park(cx: &Context, handle: &Handle, woken: &AtomicBool, timeout: Option<Duration>) {
    let mut driver = {
        let mut guard = cx.core.borrow_mut();
        let core = guard.as_mut().expect("core missing");
        core.driver.take()
    };
    let timeout = if woken.load(Ordering::Acquire)
        || !crate::loom::lock(&handle.inject).is_empty()
        || cx
            .core
            .borrow()
            .as_ref()
            .is_some_and(|c| !c.tasks.is_empty())
        || cx.local.borrow().as_ref().is_some_and(|l| l.has_runnable())
    {
        Some(Duration::ZERO)
    } else {
        timeout
    };
    if let Some(driver) = driver.as_mut() {
        driver.park(&handle.driver, timeout);
    }
    cx.core.borrow_mut().as_mut().expect("core missing").driver = driver;
}

impl Schedule for Arc<Handle> {
    fn schedule(&self, task: Notified, _is_yield: bool) {
        let task = with_current(|cx| {
            if let Some(cx) = cx.filter(|cx| Arc::ptr_eq(&cx.handle, self))
                && let Ok(mut guard) = cx.core.try_borrow_mut()
                && let Some(core) = guard.as_mut()
            {
                core.tasks.push_back(task);
                return None;
            }
            Some(task)
        });
        let Some(task) = task else { return };
        if self.shutdown.load(Ordering::Acquire) {
            drop(task);
            return;
        }
        crate::loom::lock(&self.inject).push_back(task);
        self.driver.unpark();
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.owned.remove(task)
    }
}

/// Parks a plain thread until its waker fires.
///
/// A wake is a flag plus `Thread::unpark`, which makes a system call only
/// if the thread is asleep: most wakes of a thread that is running (a scope
/// owner that asks to be polled again, a child woken while its owner polls)
/// cost one atomic swap. The flag, not the thread's park token, carries the
/// wake: code polled on this thread may park and unpark the thread for its
/// own reasons (std's channels do) and take the token, never the flag.
#[derive(Debug)]
pub(crate) struct ThreadWake {
    /// Set by a wake, cleared by `park`.
    notified: std::sync::atomic::AtomicBool,
    /// The thread that parks: the one that created this value.
    thread: std::thread::Thread,
}

impl ThreadWake {
    /// A parker for the calling thread (only that thread may `park`).
    pub(crate) fn new() -> ThreadWake {
        ThreadWake {
            notified: std::sync::atomic::AtomicBool::new(false),
            thread: std::thread::current(),
        }
    }

    /// Sleeps until woken (returns at once if a wake is pending). Called
    /// only on the thread that created `self`.
    pub(crate) fn park(&self) {
        debug_assert_eq!(self.thread.id(), std::thread::current().id());
        // Acquire: what the waker wrote before its wake is visible to the
        // poll that follows.
        while !self
            .notified
            .swap(false, std::sync::atomic::Ordering::Acquire)
        {
            // Returns on our unpark, on one that came before we slept, or
            // spuriously: the flag decides.
            std::thread::park();
        }
    }

    /// Wakes the parked thread (or makes its next `park` return at once).
    pub(crate) fn unpark(&self) {
        // Release pairs with `park`'s swap. If the flag was already set, the
        // thread has not consumed that wake yet and will see ours with it
        // (a swap, not a load, so our writes are ordered before its next
        // consumption); its unpark was already sent.
        if !self
            .notified
            .swap(true, std::sync::atomic::Ordering::Release)
        {
            self.thread.unpark();
        }
    }
}

impl Wake for ThreadWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.unpark();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.unpark();
    }
}

#[cfg(all(test, not(loom)))]
mod thread_wake_tests {
    use super::ThreadWake;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// Runs `f` on a thread and fails (instead of hanging) if it does not
    /// finish within `limit`.
    fn within(limit: Duration, f: impl FnOnce() + Send + 'static) {
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            f();
            tx.send(()).ok();
        });
        rx.recv_timeout(limit).expect("a park never returned");
        t.join().unwrap();
    }

    #[test]
    fn a_wake_before_the_park_is_kept() {
        within(Duration::from_secs(10), || {
            let w = ThreadWake::new();
            w.unpark();
            w.unpark();
            w.park();
        });
    }

    #[test]
    fn a_wake_from_another_thread_ends_the_park_and_publishes_its_writes() {
        within(Duration::from_secs(10), || {
            for _ in 0..200 {
                let w = Arc::new(ThreadWake::new());
                let flag = Arc::new(AtomicBool::new(false));
                let (w2, f2) = (w.clone(), flag.clone());
                let t = std::thread::spawn(move || {
                    f2.store(true, Ordering::Relaxed);
                    w2.unpark();
                });
                w.park();
                // The wake's release pairs with the park's acquire.
                assert!(flag.load(Ordering::Relaxed));
                t.join().unwrap();
            }
        });
    }

    /// Code polled on the thread may use the thread's own park token
    /// (std's channels do): a wake whose token it took is not lost.
    #[test]
    fn a_wake_survives_a_stolen_park_token() {
        within(Duration::from_secs(10), || {
            let w = Arc::new(ThreadWake::new());
            let w2 = w.clone();
            std::thread::spawn(move || w2.unpark()).join().unwrap();
            // Consumes the token the wake left (as another user's park
            // would); the wake's flag still ends our park at once.
            std::thread::park_timeout(Duration::from_millis(1));
            w.park();
        });
    }
}
