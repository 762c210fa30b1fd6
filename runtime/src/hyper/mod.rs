//! hyper 1.x on tether (cargo feature `hyper`): everything hyper's `rt`
//! module asks of a runtime, plus a client connector and graceful shutdown.
//!
//! | hyper needs | tether provides | tokio's counterpart in hyper-util |
//! |---|---|---|
//! | `rt::Read` / `rt::Write` | [`TetherIo`] over any `futures::io` stream | `TokioIo` |
//! | `rt::Executor` (`'static`) | [`TetherExecutor`] | `TokioExecutor` |
//! | `rt::Executor` (borrowing) | [`ScopeExecutor`] over a [`Scope`](crate::Scope) | — |
//! | `rt::Timer` | [`TetherTimer`] (timer wheel, real `reset`) | `TokioTimer` |
//! | client `Connect` | [`HttpConnector`] | `HttpConnector` |
//! | HTTP/1 + HTTP/2 on one port | [`server::Builder`] (also works: hyper-util's `auto::Builder`) | `auto::Builder` |
//! | graceful shutdown | [`GracefulShutdown`], [`with_deadline`] | `GracefulShutdown` |
//!
//! HTTP itself is hyper's; this module only connects it to the runtime.
//!
//! # Handlers that borrow
//!
//! The point of running hyper on tether: accept connections inside a
//! [`scope`](crate::scope()), spawn each connection as a scoped child, and
//! give hyper a [`ScopeExecutor`] for its HTTP/2 streams. Request handlers
//! may then borrow `&AppState` from the stack that owns the listener — no
//! `Arc<AppState>`, no `.clone()` per request. See [`server::Builder`] for a
//! complete example and [`ScopeExecutor`] for exactly which hyper APIs allow
//! it (servers do; hyper's client side requires `'static`).

mod client;
mod executor;
mod io;
pub mod server;
mod shutdown;
mod timer;

pub use client::HttpConnector;
pub use executor::{ScopeExecutor, TetherExecutor};
pub use io::TetherIo;
pub use shutdown::{DeadlineElapsed, GracefulConnection, GracefulShutdown, Watched, with_deadline};
pub use timer::{TetherSleep, TetherTimer};
