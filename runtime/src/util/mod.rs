//! Small helpers shared across the crate.

pub(crate) mod panic;
