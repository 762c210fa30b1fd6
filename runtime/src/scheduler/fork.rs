//! Fork/join within one poll, used by async scopes, `ScopedJoinSet` and
//! `join_all`.
//!
//! [`join_all`] is the only entry point: it runs `job(0..n)` and returns once
//! every call finished. On a worker of a multi-thread runtime the calls are
//! forked onto the worker's job deque, where idle workers steal them (see
//! `multi_thread/worker.rs`); elsewhere they run one after another on the
//! calling thread.

use std::panic::{self, AssertUnwindSafe};

/// Runs `job(i)` for every `i in 0..n`, possibly in parallel on other
/// workers of the current runtime, and returns only after every call has
/// returned or unwound. If any call panicked, the first panic is resumed on
/// the calling thread after all calls finished.
pub(crate) fn join_all(n: usize, job: &(dyn Fn(usize) + Sync)) {
    if super::multi_thread::worker::fork_join(n, job) {
        return;
    }
    let mut first_panic = None;
    for i in 0..n {
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| job(i))) {
            first_panic.get_or_insert(p);
        }
    }
    if let Some(p) = first_panic {
        panic::resume_unwind(p);
    }
}
