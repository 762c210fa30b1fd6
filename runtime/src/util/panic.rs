//! The crate's one policy for panic payloads that will not be resumed.
//!
//! The runtime catches panics in many places: a task's poll, a scoped
//! child's poll, a waker run on a driver's behalf, a destructor run by the
//! runtime. Exactly one payload per failure reaches the user (re-raised by
//! a scope or a `join`, or carried by a `JoinError`); every *other* payload
//! (a second child panic, a panic while the first is being propagated, a
//! panicking waker or destructor with nobody to report to) is an extra, and
//! goes through [`discard_payload`]:
//!
//! 1. The payload is **dropped** inside `catch_unwind`, so it is freed (no
//!    leak, which Miri's leak check would report) and nothing it owns
//!    outlives the failure.
//! 2. If that destructor panics, the new payload is discarded the same way,
//!    up to [`MAX_NESTED_PAYLOAD_DROPS`] times (one covers the realistic
//!    case: a destructor that panics with a plain message). A payload still
//!    panicking after that is **forgotten**: its destructor could panic
//!    without end.
//!
//! So a payload's destructor never unwinds out of runtime internals (a
//! driver's wake batch, the scheduler, a scope's completion loop), and
//! nothing leaks unless destructors keep panicking. The panic hook has
//! already reported every discarded panic when it was raised.
//!
//! Use [`keep_first`] where several panics race to be the one reported,
//! and [`contain`] to run code whose panic has no caller to go to.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A panic payload, as `catch_unwind` returns it.
pub(crate) type Payload = Box<dyn Any + Send + 'static>;

/// How many nested panicking payload destructors [`discard_payload`]
/// follows before it forgets the last payload.
const MAX_NESTED_PAYLOAD_DROPS: usize = 4;

/// Disposes of a payload that will not be resumed (see the module docs):
/// drops it without letting its destructor unwind.
#[cold]
#[inline(never)]
pub(crate) fn discard_payload(payload: Payload) {
    let mut payload = payload;
    for _ in 0..MAX_NESTED_PAYLOAD_DROPS {
        match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            Ok(()) => return,
            Err(inner) => payload = inner,
        }
    }
    std::mem::forget(payload);
}

/// Keeps the first payload in `slot` and discards any later one.
pub(crate) fn keep_first(slot: &mut Option<Payload>, payload: Payload) {
    match slot {
        None => *slot = Some(payload),
        Some(_) => discard_payload(payload),
    }
}

/// Runs `f`, containing a panic: returns `None` after discarding the
/// payload. For code run on behalf of nobody who could take the panic (a
/// waker run by a driver, a destructor run by the scheduler).
#[inline]
pub(crate) fn contain<R>(f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(payload) => {
            discard_payload(payload);
            None
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::panic::panic_any;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    /// Counts its drops; its destructor panics with another `Nested` while
    /// `depth` is not zero, else with a plain message.
    struct Nested {
        depth: usize,
        drops: Arc<AtomicUsize>,
    }

    impl Drop for Nested {
        fn drop(&mut self) {
            self.drops.fetch_add(1, SeqCst);
            if self.depth == 0 {
                panic!("payload destructor");
            }
            panic_any(Nested {
                depth: self.depth - 1,
                drops: self.drops.clone(),
            });
        }
    }

    fn nested(depth: usize) -> (Payload, Arc<AtomicUsize>) {
        let drops = Arc::new(AtomicUsize::new(0));
        let payload = Box::new(Nested {
            depth,
            drops: drops.clone(),
        });
        (payload, drops)
    }

    #[test]
    fn payload_whose_drop_panics_is_dropped_without_unwinding() {
        let (payload, drops) = nested(0);
        discard_payload(payload);
        assert_eq!(drops.load(SeqCst), 1);
    }

    #[test]
    fn nested_panicking_payloads_are_followed_then_forgotten() {
        // Within the bound: every payload is dropped (Miri's leak check
        // would catch a forgotten one).
        let (payload, drops) = nested(MAX_NESTED_PAYLOAD_DROPS - 2);
        discard_payload(payload);
        assert_eq!(drops.load(SeqCst), MAX_NESTED_PAYLOAD_DROPS - 1);
    }

    #[test]
    fn keep_first_keeps_the_first_and_discards_the_rest() {
        let mut slot = None;
        keep_first(&mut slot, Box::new("first"));
        let (second, drops) = nested(0);
        keep_first(&mut slot, second);
        assert_eq!(drops.load(SeqCst), 1);
        let first = slot.expect("first payload kept");
        assert_eq!(first.downcast_ref::<&str>(), Some(&"first"));
    }

    #[test]
    fn contain_discards_a_panic_whose_payload_panics_on_drop() {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let out = contain(move || {
            panic_any(Nested { depth: 0, drops: d });
        });
        assert!(out.is_none());
        assert_eq!(drops.load(SeqCst), 1);
        assert_eq!(contain(|| 3), Some(3));
    }
}
