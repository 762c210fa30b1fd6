//! Parking a worker thread, and unparking it without lost wake-ups.
//!
//! A worker about to sleep first tries to take the runtime's driver. If it
//! gets it, it blocks in the driver (I/O + timers) and is woken through the
//! driver's `mio::Waker`; otherwise it sleeps on its own condvar.
//!
//! # Protocol
//!
//! `state` is one of `EMPTY`, `PARKED_CONDVAR`, `PARKED_DRIVER`, `NOTIFIED`.
//! `unpark` swaps in `NOTIFIED` and, depending on what it replaced, signals
//! the condvar (after taking the mutex, so the signal cannot fall between
//! the parker's check and its wait) or wakes the driver. `park` consumes a
//! `NOTIFIED` without sleeping, so an unpark that arrives first is never lost.
//!
//! # The preferred thread
//!
//! A thread in `block_on` whose future polls a scope (the scope's *owner*
//! thread, as under `#[tether::main]`) may register as the driver's
//! *preferred* thread ([`BlockOnParker`]; one at a time). The children's
//! wake-ups then happen on the thread that polls them: an I/O event wakes
//! the owner's own parker (an atomic swap, no system call) and the owner
//! polls the child right after the driver turn, instead of a worker taking
//! the event and waking the owner's thread across cores for every event.
//!
//! - While the preferred thread is *idle* (parking or parked),
//!   `preferred_idle` is set. A worker that parks then leaves the driver to
//!   it: it sets `missed`, wakes the preferred thread unless that thread is
//!   already blocked in the driver, and sleeps on its condvar.
//! - The preferred thread parks like a worker, but when it finds the driver
//!   held it also wakes the driver (`Handle::unpark`): the holder comes out,
//!   re-parks, sees `preferred_idle`, and hands over as above.
//! - While a preferred thread is registered, one of the workers sleeping
//!   off the driver (the *watch*: one that left it to the idle preferred
//!   thread, or found it held) sleeps at most [`PREFERRED_WATCH`] and then
//!   parks again, taking the driver if it is free and the preferred thread
//!   busy. So when the preferred thread leaves the driver for a long poll
//!   with every worker asleep, I/O and timers wait at most that long (plus
//!   the grace below).
//! - While the preferred thread is busy polling, a worker that parks first
//!   sleeps on its condvar for [`PREFERRED_BUSY_GRACE`] (the preferred
//!   thread is usually back within a few child polls, and a hand-back costs
//!   two wakes), then parks in the driver as usual: a long poll on the owner
//!   thread leaves I/O and timers unwatched for at most the grace.
//! - When the preferred thread leaves `block_on`, or parks after a poll
//!   that polled no scope (its scope ended), it unregisters, and if a
//!   worker missed the driver meanwhile it wakes one
//!   (`Handle::notify_parked`), which parks again and takes it.
//!
//! # The watch of a busy runtime
//!
//! A worker that comes out of the driver with tasks it woke runs the first
//! itself and leaves the driver to nobody. If a long poll follows, I/O and
//! timers wait for it, unless a sleeping worker takes the driver. Waking
//! one every time costs two system calls per driver turn (the wake, and
//! its sleep after it found nothing to do) and moves the driver between
//! threads on every turn. Instead, while the runtime is busy, one worker
//! sleeping off the driver is the *watch*: it sleeps at most
//! [`BUSY_WATCH`] and then parks again, taking the driver if it is free.
//! A worker leaving the driver with one task ([`SharedDriver::leave_with_work`])
//! wakes nobody while a watch is set; with more, or with no watch, it wakes
//! a sleeper as before. "Busy" is: a worker left the driver with work since
//! this sleeper last looked (`leaves`), so an idle runtime's watch looks
//! at most twice after the last activity and then sleeps until woken.
//!
//! No leave is missed: the leaver counts its leave, then looks at
//! `watching`; the watch clears `watching`, then (on its next sleep) looks
//! at the count (SeqCst throughout). So a leaver that saw the watch set is
//! seen by that watch's next look, which keeps watching (and its next
//! park takes the driver if it is still free).
//!
//! No wake is lost: the worker publishes `missed` before its second look
//! at `preferred_idle` (so a preferred thread that unregisters meanwhile
//! either sees `missed` and wakes a worker, or is seen gone), then looks at
//! the preferred thread's state; the preferred thread sets `preferred_idle`
//! before it looks at the driver (SeqCst throughout), so either the worker
//! sees the idle flag and wakes it (if it is not in the driver), or the
//! preferred thread saw the worker's hold on the driver and woke the
//! driver, making the worker re-park and see the flag.

use std::time::Duration;

use crate::loom::sync::atomic::{
    AtomicBool, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst, fence,
};
use std::sync::Arc;

use crate::loom::sync::{Condvar, Mutex};

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// How long a worker that parks while the preferred thread is busy (see
/// "The preferred thread") stays out of the driver: that thread usually
/// comes back to the driver within a few child polls, and a worker that
/// took the driver meanwhile would have to be woken to hand it back. After
/// this grace the worker takes the driver, so a long poll on the preferred
/// thread leaves I/O and timers unwatched for at most this long.
const PREFERRED_BUSY_GRACE: Duration = Duration::from_millis(1);

/// Longest sleep of one worker (the *watch*) that left the driver to the
/// idle preferred thread: the preferred thread may leave the driver for a
/// long poll without waking anyone, and then I/O and timers are watched by
/// nobody until a worker looks. The watch looks this often; the other
/// workers sleep until woken. A wake every few milliseconds while the
/// runtime idles is its cost.
const PREFERRED_WATCH: Duration = Duration::from_millis(5);

/// Longest sleep of the watch of a busy runtime (see "The watch of a busy
/// runtime"): how long I/O and timers may wait while the worker that left
/// the driver for one task runs a long poll. Short next to a timer's
/// millisecond, a few wakes of one thread per 10 ms while busy (against
/// two system calls per driver turn without it).
const BUSY_WATCH: Duration = Duration::from_millis(2);

/// The runtime's driver, shared by all parkers: whoever locks it blocks in it.
#[derive(Debug)]
pub(crate) struct SharedDriver {
    /// The exclusive half; `try_lock`ed by parking workers.
    driver: Mutex<Option<crate::driver::Driver>>,
    /// The shared half, used to wake the thread blocked in the driver.
    pub(crate) handle: crate::driver::Handle,
    /// Set by a parker that found the driver locked and went to sleep on
    /// its condvar instead. A thread that held the lock only to poll
    /// ([`SharedDriver::poll_nonblocking`]) clears it after unlocking and
    /// reports it, so its caller wakes a parked worker to take the driver:
    /// otherwise every worker could end up on its condvar with nobody left
    /// blocking in the driver, and I/O and timers would stall for good.
    missed: AtomicBool,
    /// The preferred thread's parker, if one is registered (see the module
    /// docs).
    preferred: Mutex<Option<Arc<Parker>>>,
    /// Set while the preferred thread is parking or parked.
    preferred_idle: AtomicBool,
    /// A worker that left the driver to the preferred thread, or one that
    /// sleeps off the driver while the runtime is busy, sleeps with a
    /// timeout, as its watch (see [`PREFERRED_WATCH`], [`BUSY_WATCH`]).
    watching: AtomicBool,
    /// Times a worker left the driver with work it woke (see "The watch of
    /// a busy runtime"); only compared, so wrapping is harmless.
    leaves: AtomicUsize,
}

impl SharedDriver {
    pub(crate) fn new(
        driver: Option<crate::driver::Driver>,
        handle: crate::driver::Handle,
    ) -> Self {
        SharedDriver {
            driver: Mutex::new(driver),
            handle,
            missed: AtomicBool::new(false),
            preferred: Mutex::new(None),
            preferred_idle: AtomicBool::new(false),
            watching: AtomicBool::new(false),
            leaves: AtomicUsize::new(0),
        }
    }

    /// Called by a worker that came out of the driver with tasks it woke
    /// and goes to run them: counts the leave, and returns true if a watch
    /// sleeps (it will take the driver within [`BUSY_WATCH`] if this
    /// worker is still away), so a worker need not be woken for the driver.
    pub(crate) fn leave_with_work(&self) -> bool {
        self.leaves.fetch_add(1, SeqCst);
        self.watching.load(SeqCst)
    }

    /// True if a worker left the driver with work since `seen` was last
    /// updated (by this call): the runtime is busy, and a sleeper should
    /// watch the driver.
    fn busy_since(&self, seen: &AtomicUsize) -> bool {
        let leaves = self.leaves.load(SeqCst);
        seen.swap(leaves, Relaxed) != leaves
    }

    /// Blocks in the driver for at most `timeout` if nobody else is in it
    /// (`block` is told to, with the driver's reactor, and runs the block
    /// it is given). Returns `None` if the driver was busy, else whether a
    /// worker missed the driver meanwhile (the caller must then wake one,
    /// as after [`SharedDriver::poll_nonblocking`]).
    pub(crate) fn park_timeout_if_free(
        &self,
        timeout: Duration,
        block: impl FnOnce(&crate::loom::sync::Arc<crate::io::Handle>, &mut dyn FnMut()),
    ) -> Option<bool> {
        let mut guard = crate::loom::try_lock(&self.driver)?;
        let driver = guard.as_mut()?;
        block(&self.handle.io, &mut || {
            driver.park(&self.handle, Some(timeout));
        });
        drop(guard);
        Some(self.take_missed_after_unlock())
    }

    /// After unlocking the driver: true if a parker found it locked
    /// meanwhile and went to sleep without it (it set `missed`); the caller
    /// must wake a parked worker to take it. Pairs with the fence in
    /// `Parker::park`: either the parker's second `try_lock` finds the
    /// driver free, or this load sees its `missed`.
    fn take_missed_after_unlock(&self) -> bool {
        fence(SeqCst);
        self.missed.swap(false, SeqCst)
    }

    /// Makes `parker` the preferred thread's, unless one is registered.
    /// Returns whether it is now.
    fn register_preferred(&self, parker: &Arc<Parker>) -> bool {
        let mut slot = crate::loom::lock(&self.preferred);
        match &*slot {
            Some(p) => Arc::ptr_eq(p, parker),
            None => {
                *slot = Some(parker.clone());
                true
            }
        }
    }

    /// Undoes [`SharedDriver::register_preferred`] for `parker`. Returns
    /// true if a worker missed the driver meanwhile: the caller must wake a
    /// parked worker, which then takes the driver.
    #[must_use = "a parked worker must be woken to take the driver"]
    fn unregister_preferred(&self, parker: &Arc<Parker>) -> bool {
        let mut slot = crate::loom::lock(&self.preferred);
        if slot.as_ref().is_some_and(|p| Arc::ptr_eq(p, parker)) {
            *slot = None;
        }
        drop(slot);
        self.preferred_idle.store(false, SeqCst);
        self.missed.swap(false, SeqCst)
    }

    /// True if a preferred thread is registered.
    fn has_preferred(&self) -> bool {
        crate::loom::lock(&self.preferred).is_some()
    }

    /// True if a preferred thread is registered and polling (not idle).
    fn preferred_busy(&self) -> bool {
        !self.preferred_idle.load(SeqCst) && self.has_preferred()
    }

    /// Called by a worker about to park: if the preferred thread is idle,
    /// makes sure it is in the driver or on its way there and returns true
    /// (the worker then sleeps on its condvar).
    fn leave_to_preferred(&self) -> bool {
        if !self.preferred_idle.load(SeqCst) {
            return false;
        }
        // Whoever takes the driver next must know a worker sleeps without
        // it (if the preferred thread leaves `block_on` instead). Published
        // before the second look at `preferred_idle`: a preferred thread
        // that unregisters in between either sees it (`unregister_preferred`
        // swaps it) or is seen gone here. (A `missed` left set when this
        // returns false costs one spurious wake later.)
        self.missed.store(true, SeqCst);
        if !self.preferred_idle.load(SeqCst) {
            return false;
        }
        let preferred = crate::loom::lock(&self.preferred).clone();
        let Some(preferred) = preferred else {
            return false;
        };
        if preferred.state.load(SeqCst) != PARKED_DRIVER {
            // Parked on its condvar (a worker held the driver) or about to
            // park: it wakes, or does not sleep, and tries the driver again.
            // If it just entered the driver, this costs it one extra turn.
            preferred.unpark();
        }
        true
    }

    /// True if nobody is in the driver or on the way there and no
    /// preferred thread is registered to take it: a parked worker must be
    /// woken for it, or I/O and timers stop until some worker parks. Called
    /// by the last searching worker when it found work, which may be the
    /// driver's holder that just left it for that work.
    ///
    /// The probe takes the lock for a moment; a worker that found it taken
    /// then sets `missed` (see [`Parker::park`]), which this consumes and
    /// reports, as every unlocker does (see
    /// [`SharedDriver::park_timeout_if_free`]).
    pub(crate) fn unattended(&self) -> bool {
        if self.has_preferred() {
            // The preferred thread holds it or has a watch (see the module
            // docs).
            return false;
        }
        let free = crate::loom::try_lock(&self.driver).is_some_and(|driver| driver.is_some());
        self.take_missed_after_unlock() || free
    }

    /// Claims the watch (see [`PREFERRED_WATCH`], [`BUSY_WATCH`]); true if this worker
    /// has it now and must [`release_watch`](Self::release_watch) it.
    fn claim_watch(&self) -> bool {
        !self.watching.swap(true, SeqCst)
    }

    fn release_watch(&self) {
        self.watching.store(false, SeqCst);
    }

    /// Polls the driver without blocking, if no one else is in it, so a busy
    /// runtime still sees I/O and timers.
    ///
    /// Returns true if a worker tried to park in the driver meanwhile and
    /// slept on its condvar instead: the caller must then wake a parked
    /// worker, which parks again and takes the driver (callers go through
    /// `Handle::poll_driver_nonblocking`, which does both). (This thread does not block in the
    /// driver: it goes back to its own work.)
    #[must_use = "a parked worker must be woken to take the driver"]
    pub(crate) fn poll_nonblocking(&self) -> bool {
        self.park_timeout_if_free(Duration::ZERO, |_, poll| poll())
            .unwrap_or(false)
    }
}

/// One worker's parking spot.
#[derive(Debug)]
pub(crate) struct Parker {
    /// `EMPTY`, `PARKED_CONDVAR`, `PARKED_DRIVER` or `NOTIFIED`.
    state: AtomicUsize,
    /// Guards the condvar sleep.
    mutex: Mutex<()>,
    /// Where a worker without the driver sleeps.
    condvar: Condvar,
    /// The runtime's driver.
    shared: Arc<SharedDriver>,
    /// `SharedDriver::leaves` at this parker's last sleep off the driver
    /// (only the parking thread uses it).
    seen_leaves: AtomicUsize,
}

impl Parker {
    pub(crate) fn new(shared: Arc<SharedDriver>) -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            mutex: Mutex::new(()),
            condvar: Condvar::new(),
            shared,
            seen_leaves: AtomicUsize::new(0),
        }
    }

    /// Sleeps until [`Parker::unpark`] (or returns at once if an unpark is
    /// pending). May return spuriously; callers re-check their condition.
    /// Takes the driver if it is free.
    pub(crate) fn park(&self) {
        if self.try_consume_notification() {
            return;
        }
        if self.shared.leave_to_preferred() {
            self.sleep_off_driver();
            return;
        }
        if self.shared.preferred_busy() && self.park_condvar_for(Some(PREFERRED_BUSY_GRACE)) {
            return;
        }
        if self.try_park_driver() {
            return;
        }
        // The driver is busy. Its holder may only be polling it and about
        // to leave: tell it (`missed`), then look once more, so that either
        // this thread gets the driver or the holder wakes a worker to take
        // it (see `SharedDriver::poll_nonblocking`).
        self.shared.missed.store(true, SeqCst);
        fence(SeqCst);
        if self.try_park_driver() {
            return;
        }
        self.sleep_off_driver();
    }

    /// Sleeps on the condvar, not in the driver. While a preferred thread
    /// is registered, or while the runtime is busy, one such sleeper is the
    /// *watch* (see [`PREFERRED_WATCH`], [`BUSY_WATCH`]): the driver's
    /// holder may leave it for a long poll without waking anyone, so the
    /// watch sleeps at most that long and returns (a spurious return: the
    /// worker loop parks again, taking the driver if it is free and the
    /// preferred thread, if any, busy).
    fn sleep_off_driver(&self) {
        let watch = if self.shared.has_preferred() {
            Some(PREFERRED_WATCH)
        } else if self.shared.busy_since(&self.seen_leaves) {
            // See "The watch of a busy runtime".
            Some(BUSY_WATCH)
        } else {
            None
        };
        if let Some(period) = watch
            && self.shared.claim_watch()
        {
            self.park_condvar_for(Some(period));
            self.shared.release_watch();
        } else {
            self.park_condvar();
        }
    }

    /// [`Parker::park`] for the registered preferred thread (see the module
    /// docs): idle while it parks, and asks a worker holding the driver to
    /// hand it over.
    fn park_preferred(&self) {
        self.shared.preferred_idle.store(true, SeqCst);
        if !self.try_consume_notification() && !self.try_park_driver() {
            // Held by a worker blocked in it, or polling it: make it come
            // out; it re-parks, sees us idle and wakes us.
            self.shared.handle.unpark();
            self.shared.missed.store(true, SeqCst);
            fence(SeqCst);
            if !self.try_park_driver() {
                self.park_condvar();
            }
        }
        self.shared.preferred_idle.store(false, SeqCst);
    }

    /// Sleeps until [`Parker::unpark`], never in the driver (a `block_on`
    /// thread that does not prefer it).
    fn park_without_driver(&self) {
        if !self.try_consume_notification() {
            self.park_condvar();
        }
    }

    /// Parks in the driver if it is free and present; false otherwise.
    fn try_park_driver(&self) -> bool {
        match crate::loom::try_lock(&self.shared.driver) {
            Some(mut guard) => match guard.as_mut() {
                Some(driver) => {
                    self.park_driver(driver);
                    true
                }
                None => false,
            },
            None => false,
        }
    }

    fn try_consume_notification(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
    }

    fn park_condvar(&self) {
        self.park_condvar_for(None);
    }

    /// Sleeps on the condvar until an unpark, or for at most `timeout` if
    /// one is given (no limit under loom, whose model has no clock).
    /// Returns true if woken by an unpark (or one was pending).
    fn park_condvar_for(&self, timeout: Option<Duration>) -> bool {
        let mut guard = crate::loom::lock(&self.mutex);
        match self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.store(EMPTY, SeqCst);
                return true;
            }
            Err(actual) => panic!("inconsistent park state: {actual}"),
        }
        #[cfg(loom)]
        let timeout: Option<Duration> = timeout.and(None);
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            guard = match deadline {
                None => self.condvar.wait(guard).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        // Out of time: leave the sleep, unless an unpark just
                        // came (it is consumed here).
                        return match self.state.compare_exchange(
                            PARKED_CONDVAR,
                            EMPTY,
                            SeqCst,
                            SeqCst,
                        ) {
                            Ok(_) => false,
                            Err(_) => self.try_consume_notification(),
                        };
                    }
                    self.condvar
                        .wait_timeout(guard, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            if self.try_consume_notification() {
                return true;
            }
            // Spurious wake-up or a timeout to check: keep sleeping.
        }
    }

    fn park_driver(&self, driver: &mut crate::driver::Driver) {
        match self
            .state
            .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.store(EMPTY, SeqCst);
                return;
            }
            Err(actual) => panic!("inconsistent park state: {actual}"),
        }
        driver.park(&self.shared.handle, None);
        // Either we were notified, or the driver returned for an event.
        self.state.swap(EMPTY, SeqCst);
    }

    /// Wakes the worker if it is parked, or makes its next park return.
    pub(crate) fn unpark(&self) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders this notify after the parker's wait.
                drop(crate::loom::lock(&self.mutex));
                self.condvar.notify_one();
            }
            PARKED_DRIVER => self.shared.handle.unpark(),
            actual => panic!("inconsistent park state: {actual}"),
        }
    }
}

/// The parker of a thread in a multi-thread runtime's `block_on`: its
/// waker wakes the thread; [`BlockOnParker::park`] waits in the driver
/// when the thread registered as the preferred one (see the module docs).
#[derive(Debug)]
pub(crate) struct BlockOnParker {
    /// The parking state (never a worker's: only this thread parks on it).
    parker: Arc<Parker>,
    /// Registered as the preferred thread.
    preferred: std::cell::Cell<bool>,
}

/// The waker half of a [`BlockOnParker`].
#[derive(Debug)]
pub(crate) struct BlockOnWake(Arc<Parker>);

impl std::task::Wake for BlockOnWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

impl BlockOnParker {
    /// A parker for the calling thread on `shared`'s driver.
    pub(crate) fn new(shared: Arc<SharedDriver>) -> BlockOnParker {
        BlockOnParker {
            parker: Arc::new(Parker::new(shared)),
            preferred: std::cell::Cell::new(false),
        }
    }

    /// The waker that ends [`BlockOnParker::park`].
    pub(crate) fn waker(&self) -> std::task::Waker {
        std::task::Waker::from(std::sync::Arc::new(BlockOnWake(self.parker.clone())))
    }

    /// Sleeps until woken. With `prefer_driver` (the last poll polled a
    /// scope's owner), registers as the preferred thread if no other is,
    /// and then waits in the driver when it is free. Without it, the caller
    /// must [`finish`](BlockOnParker::finish) first if it was registered.
    pub(crate) fn park(&self, prefer_driver: bool) {
        let shared = &self.parker.shared;
        if prefer_driver && !self.preferred.get() {
            self.preferred.set(shared.register_preferred(&self.parker));
        }
        if prefer_driver && self.preferred.get() {
            self.parker.park_preferred();
        } else {
            self.parker.park_without_driver();
        }
    }

    /// Unregisters (see the module docs). Returns true if the caller must
    /// wake a parked worker to take the driver.
    #[must_use = "a parked worker must be woken to take the driver"]
    pub(crate) fn finish(&self) -> bool {
        if !self.preferred.replace(false) {
            return false;
        }
        self.parker.shared.unregister_preferred(&self.parker)
    }
}

#[cfg(all(test, not(loom), not(miri)))]
mod tests {
    use super::*;

    /// A thread that sleeps in the driver on behalf of a fork-wait sleeper
    /// (a lingering helper) is woken by that sleeper's unpark, before or
    /// during the sleep: the unpark reaches the reactor.
    #[test]
    fn an_unpark_ends_a_sleep_in_the_driver() {
        for unpark_first in [false, true] {
            let (driver, handle) = crate::driver::Driver::new().unwrap();
            let shared = Arc::new(SharedDriver::new(Some(driver), handle));
            let (wake_tx, wake_rx) = std::sync::mpsc::channel();
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let sleeper = std::thread::spawn(move || {
                let wake = crate::scheduler::fork::Unparker::current();
                wake_tx.send(wake.clone()).unwrap();
                go_rx.recv().unwrap();
                // Far longer than the test's patience: only the unpark can
                // end it in time.
                let slept = shared.park_timeout_if_free(Duration::from_secs(60), |io, block| {
                    wake.park_in_driver(io, block)
                });
                assert_eq!(
                    slept,
                    Some(false),
                    "the driver was free and nobody missed it"
                );
                done_tx.send(()).unwrap();
            });
            let wake = wake_rx.recv().unwrap();
            if unpark_first {
                wake.unpark();
                go_tx.send(()).unwrap();
            } else {
                go_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(20));
                wake.unpark();
            }
            done_rx
                .recv_timeout(Duration::from_secs(20))
                .expect("the sleep in the driver missed its unpark");
            sleeper.join().unwrap();
        }
    }

    /// A worker that finds the driver locked by a non-blocking poll sleeps
    /// on its condvar; the poller learns it when it unlocks, so its caller
    /// can wake that worker to take the driver (before, both workers could
    /// end up on their condvars with nobody in the driver: I/O stalled).
    #[test]
    fn a_non_blocking_poll_reports_a_worker_that_missed_the_driver() {
        let (driver, handle) = crate::driver::Driver::new().unwrap();
        let shared = Arc::new(SharedDriver::new(Some(driver), handle));
        let parker = Arc::new(Parker::new(shared.clone()));
        // Nobody missed it yet.
        assert!(!shared.poll_nonblocking());

        // Hold the driver as a non-blocking poll does, while a worker parks.
        let guard = shared.driver.try_lock().unwrap();
        let p = parker.clone();
        let sleeper = std::thread::spawn(move || p.park());
        while parker.state.load(SeqCst) != PARKED_CONDVAR {
            std::thread::yield_now();
        }
        drop(guard);
        // The next non-blocking poll reports it (once), and the wake it
        // leads to ends the worker's sleep.
        assert!(shared.poll_nonblocking());
        assert!(!shared.poll_nonblocking());
        parker.unpark();
        sleeper.join().unwrap();
    }

    /// A thread that panicked while it held the driver (poisoning its lock)
    /// does not take I/O and timers down with it: the next parker takes the
    /// driver. (Read as busy, the poisoned lock was never taken again and
    /// every worker slept on its condvar.)
    #[test]
    fn a_driver_whose_holder_panicked_is_taken_again() {
        let (driver, handle) = crate::driver::Driver::new().unwrap();
        let shared = Arc::new(SharedDriver::new(Some(driver), handle));
        let s = shared.clone();
        let panicked = std::thread::spawn(move || {
            let _guard = s.driver.lock().unwrap();
            panic!("a panic while holding the driver");
        })
        .join();
        assert!(panicked.is_err());
        assert!(shared.driver.is_poisoned());
        // A non-blocking poll and a timed park both get the driver.
        assert!(!shared.poll_nonblocking());
        let mut parked = false;
        let got = shared.park_timeout_if_free(Duration::from_millis(1), |_, block| {
            parked = true;
            block();
        });
        assert_eq!(got, Some(false));
        assert!(parked);
        // A worker's park takes it too (it returns after an unpark).
        let parker = Arc::new(Parker::new(shared.clone()));
        let p = parker.clone();
        let sleeper = std::thread::spawn(move || p.park());
        while parker.state.load(SeqCst) != PARKED_DRIVER {
            std::thread::yield_now();
        }
        parker.unpark();
        sleeper.join().unwrap();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;
    use loom::thread;

    /// An unpark racing with a park is never lost.
    #[test]
    fn loom_park_unpark_no_lost_wakeup() {
        loom::model(|| {
            let (_, handle) = crate::driver::Driver::new().unwrap();
            let parker = Arc::new(Parker::new(std::sync::Arc::new(SharedDriver::new(
                None, handle,
            ))));
            let flag = Arc::new(AtomicBool::new(false));
            let (p2, f2) = (parker.clone(), flag.clone());
            let t = thread::spawn(move || {
                f2.store(true, SeqCst);
                p2.unpark();
            });
            while !flag.load(SeqCst) {
                parker.park();
            }
            t.join().unwrap();
        });
    }

    /// The watch of a busy runtime: a worker that left the driver with
    /// work and woke nobody because it saw the watch set is seen by that
    /// watch's next look, which then keeps watching (and parks again,
    /// taking the driver if it is free) instead of sleeping until woken.
    #[test]
    fn loom_a_leave_that_counted_on_the_watch_is_seen_by_its_next_look() {
        loom::model(|| {
            let (_, handle) = crate::driver::Driver::new().unwrap();
            let shared = Arc::new(SharedDriver::new(None, handle));
            let seen = crate::loom::sync::atomic::AtomicUsize::new(0);
            // Busy: a leave before this sleeper's look; it claims the watch.
            assert!(!shared.leave_with_work());
            assert!(shared.busy_since(&seen));
            assert!(shared.claim_watch());
            let leaver = {
                let shared = shared.clone();
                thread::spawn(move || shared.leave_with_work())
            };
            // The watch's sleep ends (its timeout); it stops watching and
            // looks again before its next sleep.
            shared.release_watch();
            let busy = shared.busy_since(&seen);
            let watched = leaver.join().unwrap();
            assert!(
                !watched || busy,
                "a worker left the driver counting on a watch that then slept until woken"
            );
        });
    }

    /// Two unparks and a park-only helper: the parker ends up consuming
    /// its notifications and never sleeps forever.
    #[test]
    fn loom_double_unpark() {
        loom::model(|| {
            let (_, handle) = crate::driver::Driver::new().unwrap();
            let parker = Arc::new(Parker::new(std::sync::Arc::new(SharedDriver::new(
                None, handle,
            ))));
            let count = Arc::new(crate::loom::sync::atomic::AtomicUsize::new(0));
            let mut ts = Vec::new();
            for _ in 0..2 {
                let (p, c) = (parker.clone(), count.clone());
                ts.push(thread::spawn(move || {
                    c.fetch_add(1, SeqCst);
                    p.unpark();
                }));
            }
            while count.load(SeqCst) < 2 {
                parker.park();
            }
            for t in ts {
                t.join().unwrap();
            }
        });
    }

    /// A driver-less shared driver (loom has no reactor) and a `block_on`
    /// parker registered as its preferred thread.
    fn registered_preferred() -> (std::sync::Arc<SharedDriver>, BlockOnParker) {
        let (_, handle) = crate::driver::Driver::new().unwrap();
        let shared = std::sync::Arc::new(SharedDriver::new(None, handle));
        let preferred = BlockOnParker::new(shared.clone());
        assert!(shared.register_preferred(&preferred.parker));
        preferred.preferred.set(true);
        (shared, preferred)
    }

    /// The preferred thread goes idle while a worker parks (see "The
    /// preferred thread"): whichever comes first, the worker that sees the
    /// preferred thread idle and out of the driver wakes it, so it never
    /// sleeps while a worker left the driver to it. (Without an I/O driver
    /// under loom, a worker that parked before the preferred thread went
    /// idle sleeps on its condvar where a real one would hold the driver and
    /// be woken by the preferred thread's driver wake; a third thread that
    /// unparks the worker once the preferred thread is idle stands in for
    /// that wake.)
    #[test]
    fn loom_a_worker_leaving_the_driver_to_the_idle_preferred_thread_wakes_it() {
        loom::model(|| {
            let (shared, preferred) = registered_preferred();
            let worker = std::sync::Arc::new(Parker::new(shared.clone()));
            let done = Arc::new(loom::sync::Mutex::new(false));

            let (w, d) = (worker.clone(), done.clone());
            let worker_thread = thread::spawn(move || {
                while !*d.lock().unwrap() {
                    w.park();
                }
            });
            let (w, d, sh) = (worker.clone(), done.clone(), shared.clone());
            let kick = thread::spawn(move || {
                while !sh.preferred_idle.load(SeqCst) && !*d.lock().unwrap() {
                    thread::yield_now();
                }
                w.unpark();
            });

            // One idle park of the preferred thread: must be ended by the
            // worker's hand-over.
            preferred.park(true);
            *done.lock().unwrap() = true;
            worker.unpark();
            // Leaving: a worker missed the driver, so it must be woken.
            let _ = preferred.finish();
            assert!(!shared.preferred_idle.load(SeqCst));
            kick.join().unwrap();
            worker_thread.join().unwrap();
        });
    }

    /// The preferred thread leaves `block_on` while a worker leaves the
    /// driver to it: a worker that went to sleep leaving it the driver is
    /// reported to the leaving thread (which wakes a worker), or the worker
    /// saw it gone and did not leave.
    #[test]
    fn loom_leaving_block_on_sees_a_worker_that_left_it_the_driver() {
        loom::model(|| {
            let (shared, preferred) = registered_preferred();
            // As if the preferred thread were parked.
            shared.preferred_idle.store(true, SeqCst);
            let sh = shared.clone();
            let worker = thread::spawn(move || sh.leave_to_preferred());
            let must_wake = preferred.finish();
            let left = worker.join().unwrap();
            assert!(
                !left || must_wake,
                "a worker left the driver to a thread that is gone, unreported"
            );
        });
    }
}
