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

use std::time::Duration;

use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst, fence};
use std::sync::Arc;

use crate::loom::sync::{Condvar, Mutex};

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

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
        }
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
        if let Ok(mut guard) = self.driver.try_lock()
            && let Some(driver) = guard.as_mut()
        {
            driver.park(&self.handle, Some(Duration::ZERO));
            drop(guard);
            // Pairs with the fence in `Parker::park`: either the parker's
            // second `try_lock` finds the driver free, or this load sees
            // its `missed`.
            fence(SeqCst);
            return self.missed.swap(false, SeqCst);
        }
        false
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
}

impl Parker {
    pub(crate) fn new(shared: Arc<SharedDriver>) -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            mutex: Mutex::new(()),
            condvar: Condvar::new(),
            shared,
        }
    }

    /// Sleeps until [`Parker::unpark`] (or returns at once if an unpark is
    /// pending). May return spuriously; callers re-check their condition.
    /// Takes the driver if it is free.
    pub(crate) fn park(&self) {
        if self.try_consume_notification() {
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
        self.park_condvar();
    }

    /// Parks in the driver if it is free and present; false otherwise.
    fn try_park_driver(&self) -> bool {
        match self.shared.driver.try_lock() {
            Ok(mut guard) => match guard.as_mut() {
                Some(driver) => {
                    self.park_driver(driver);
                    true
                }
                None => false,
            },
            Err(_) => false,
        }
    }

    fn try_consume_notification(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
    }

    fn park_condvar(&self) {
        let mut guard = crate::loom::lock(&self.mutex);
        match self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.store(EMPTY, SeqCst);
                return;
            }
            Err(actual) => panic!("inconsistent park state: {actual}"),
        }
        loop {
            guard = self.condvar.wait(guard).unwrap_or_else(|e| e.into_inner());
            if self.try_consume_notification() {
                return;
            }
            // Spurious wake-up: keep sleeping.
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

#[cfg(all(test, not(loom), not(miri)))]
mod tests {
    use super::*;

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
}
