//! The blocking thread pool behind `spawn_blocking`.

mod pool;

pub(crate) use pool::{Config, Spawner, spawn_blocking_on};
