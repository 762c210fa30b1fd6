//! Timers: a hierarchical timing wheel driven by the runtime's parked worker.

mod driver;
pub(crate) mod wheel;

pub(crate) use driver::Handle;
