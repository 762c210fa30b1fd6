//! The seam between tether's synchronisation code and its implementation.
//!
//! Every atomic, lock, condvar and `UnsafeCell` that coordinates threads is
//! imported from here, never from `std` directly. A normal build re-exports
//! `std`; a build with `RUSTFLAGS="--cfg loom"` re-exports the `loom` model
//! checker, so the same code can be explored under every interleaving
//! (`tests` under `#[cfg(loom)]`, run by `.ci/run`).

#[cfg(not(loom))]
mod imp {
    pub(crate) mod sync {
        pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

        pub(crate) mod atomic {
            pub(crate) use std::sync::atomic::{
                AtomicBool, AtomicU64, AtomicUsize, Ordering, fence,
            };
        }
    }

    pub(crate) mod cell {
        /// `UnsafeCell` with loom's closure-based access API, so code written
        /// against it runs unchanged under the model checker.
        #[derive(Debug)]
        pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

        impl<T> UnsafeCell<T> {
            pub(crate) const fn new(value: T) -> Self {
                UnsafeCell(std::cell::UnsafeCell::new(value))
            }
        }

        impl<T: ?Sized> UnsafeCell<T> {
            /// Runs `f` with a shared pointer to the contents.
            #[inline(always)]
            pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
                f(self.0.get())
            }

            /// Runs `f` with an exclusive pointer to the contents.
            #[inline(always)]
            pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
                f(self.0.get())
            }
        }
    }

    /// Hint used in spin loops; a no-op yield under loom.
    #[inline]
    pub(crate) fn spin_loop() {
        std::hint::spin_loop();
    }

    /// Gives up the CPU to other runnable threads (`sched_yield`).
    #[inline]
    pub(crate) fn yield_now() {
        std::thread::yield_now();
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) mod sync {
        pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

        pub(crate) mod atomic {
            pub(crate) use loom::sync::atomic::{
                AtomicBool, AtomicU64, AtomicUsize, Ordering, fence,
            };
        }
    }

    pub(crate) mod cell {
        pub(crate) use loom::cell::UnsafeCell;
    }

    /// Under loom a spin must yield so the model can schedule the other thread.
    #[inline]
    pub(crate) fn spin_loop() {
        loom::thread::yield_now();
    }

    /// Gives up the CPU; a model-scheduling yield under loom.
    #[inline]
    pub(crate) fn yield_now() {
        loom::thread::yield_now();
    }
}

pub(crate) use imp::*;

/// Locks `mutex`, ignoring poisoning: tether never leaves shared state
/// half-updated across a panic point while holding a lock.
pub(crate) fn lock<T: ?Sized>(mutex: &sync::Mutex<T>) -> sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Locks `mutex` if no other thread holds it, ignoring poisoning as
/// [`lock`] does: a lock whose last holder panicked is free, not held for
/// ever (a `try_lock` that read poisoning as "busy" would never take it
/// again).
pub(crate) fn try_lock<T: ?Sized>(mutex: &sync::Mutex<T>) -> Option<sync::MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}
