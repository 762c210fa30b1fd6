//! Tasks: the unit of work the schedulers run.

mod error;

pub use error::JoinError;
