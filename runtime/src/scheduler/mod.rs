//! Schedulers: the multi-thread work-stealing scheduler and the
//! current-thread scheduler, plus the fork/join hook used by scopes.

pub(crate) mod fork;
