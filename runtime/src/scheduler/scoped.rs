//! [`Scoped`]: a thread-local reference to a value on some stack frame,
//! valid exactly while that frame runs a closure. The runtime context keeps
//! the state of the innermost scheduler loop (a worker's core and handle,
//! or a current-thread run loop's) this way; see `runtime::context`.

use std::cell::Cell;
use std::ptr;

/// Holds `&T` for the duration of [`Scoped::set`]; empty otherwise.
pub(crate) struct Scoped<T> {
    /// The value set by the innermost active `set`, or null.
    inner: Cell<*const T>,
}

impl<T> Scoped<T> {
    pub(crate) const fn new() -> Scoped<T> {
        Scoped {
            inner: Cell::new(ptr::null()),
        }
    }

    /// Makes `value` current while `f` runs, restoring the previous value
    /// afterwards, also if `f` unwinds.
    pub(crate) fn set<R>(&self, value: &T, f: impl FnOnce() -> R) -> R {
        struct Reset<'a, T> {
            cell: &'a Cell<*const T>,
            prev: *const T,
        }
        impl<T> Drop for Reset<'_, T> {
            fn drop(&mut self) {
                self.cell.set(self.prev);
            }
        }
        let _reset = Reset {
            prev: self.inner.replace(value),
            cell: &self.inner,
        };
        f()
    }

    /// The current value, or null. A non-null pointer stays valid while the
    /// `set` that stored it runs, so for as long as any code it calls runs.
    #[inline]
    pub(crate) fn get(&self) -> *const T {
        self.inner.get()
    }
}
