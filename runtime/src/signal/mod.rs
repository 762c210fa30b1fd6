//! Asynchronous signal handling: [`ctrl_c`] and, on Unix, [`unix::signal`].
//!
//! The API mirrors `tokio::signal`, so a program that waits for Ctrl-C or
//! SIGTERM ports by renaming.
//!
//! # How it works
//!
//! Every listener ([`unix::Signal`], or the one inside [`ctrl_c`]) registers
//! its own handler with [`signal-hook`](https://docs.rs/signal-hook), which
//! writes a byte into a self-pipe owned by that listener when the signal
//! arrives. The read end of the pipe is a `mio` source registered with the
//! runtime's I/O reactor, so a waiting task is woken by the reactor like a
//! socket read; no thread is dedicated to signals. Because each listener has
//! its own handler and pipe, several listeners of the same signal **each**
//! see every delivery.
//!
//! Deliveries that arrive while nobody is waiting are remembered (and
//! coalesced: two SIGINTs before the next `recv` are reported once), so a
//! signal raised between creating a listener and awaiting it is not lost.
//!
//! # Caveats
//!
//! * Registering a listener replaces the signal's default action (for
//!   SIGINT and SIGTERM: terminating the process) for the rest of the
//!   process's life, even after every listener is dropped — the same rule
//!   as tokio's.
//! * Signals signal-hook refuses to handle (`SIGKILL`, `SIGSTOP`, `SIGSEGV`,
//!   `SIGILL`, `SIGFPE`) are reported as an [`io::Error`](std::io::Error)
//!   when creating the listener.
//!
//! # Examples
//!
//! ```no_run
//! #[tether::main]
//! async fn main() -> std::io::Result<()> {
//!     println!("press Ctrl-C to stop");
//!     tether::signal::ctrl_c().await?;
//!     println!("stopping");
//!     Ok(())
//! }
//! ```

mod ctrl_c;
#[cfg(unix)]
pub mod unix;

pub use ctrl_c::{CtrlC, ctrl_c};
