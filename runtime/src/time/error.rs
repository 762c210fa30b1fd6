//! Errors returned by the timer utilities.

use std::fmt;
use std::io;

/// The deadline of a [`timeout`](super::timeout()) passed before its future
/// completed.
///
/// Converts into an [`io::Error`] of kind [`io::ErrorKind::TimedOut`], so
/// `?` works in functions returning `io::Result`.
///
/// # Examples
///
/// ```
/// use tether::time::error::Elapsed;
///
/// fn check(result: Result<u32, Elapsed>) -> std::io::Result<u32> {
///     Ok(result?)
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl Elapsed {
    /// The error value; only the timer utilities create it.
    pub(crate) fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(elapsed: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, elapsed)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn converts_to_timed_out() {
        let err = io::Error::from(Elapsed::new());
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(err.to_string(), "deadline has elapsed");
    }
}
