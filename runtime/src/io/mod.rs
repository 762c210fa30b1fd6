//! The I/O reactor: readiness events from `mio`, delivered to the tasks that
//! wait on them.

mod driver;

pub(crate) use driver::{Driver, Handle};
