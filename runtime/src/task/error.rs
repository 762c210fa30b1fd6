//! [`JoinError`]: why a task produced no value.

use std::any::Any;
use std::fmt;
use std::io;

/// The reason a task (or scoped child) did not produce its output: it was
/// cancelled, or it panicked.
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let handle = tether::spawn(async { panic!("boom") });
/// let err = handle.await.unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
/// # });
/// ```
pub struct JoinError {
    /// Cancelled, or the panic payload.
    repr: Repr,
    /// The id of the task that failed.
    id: u64,
}

/// What went wrong.
enum Repr {
    /// The task was aborted, or its runtime shut down, before it finished.
    Cancelled,
    /// The task panicked; the payload is kept for [`JoinError::into_panic`].
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    pub(crate) fn cancelled(id: u64) -> JoinError {
        JoinError {
            repr: Repr::Cancelled,
            id,
        }
    }

    pub(crate) fn panic(id: u64, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            repr: Repr::Panic(payload),
            id,
        }
    }

    /// True if the task was cancelled (aborted, dropped with its scope, or
    /// dropped at runtime shutdown) before it completed.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload.
    ///
    /// # Panics
    ///
    /// Panics if the error is not a panic; use [`JoinError::try_into_panic`]
    /// to check first.
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("`JoinError::into_panic` called on a cancellation error")
    }

    /// The panic payload, or the error back if it is a cancellation.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p),
            Repr::Cancelled => Err(self),
        }
    }

    /// The id of the task that failed.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let handle = tether::spawn(std::future::pending::<()>());
    /// let id = handle.id();
    /// handle.abort();
    /// assert_eq!(handle.await.unwrap_err().id(), id);
    /// # });
    /// ```
    pub fn id(&self) -> super::Id {
        super::Id::from_u64(self.id)
    }
}

/// The panic message, if the payload is a string.
fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(p) => match panic_message(&**p) {
                Some(msg) => write!(f, "task {} panicked with message {msg:?}", self.id),
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic(p) => match panic_message(&**p) {
                Some(msg) => write!(f, "JoinError::Panic({}, {msg:?}, ..)", self.id),
                None => write!(f, "JoinError::Panic({}, ..)", self.id),
            },
        }
    }
}

impl std::error::Error for JoinError {}

/// A task that failed becomes an `io::Error` of kind `Other` — also when it
/// was cancelled: `Interrupted` would tell `read_exact`-style loops to retry
/// an operation that can never complete. The message says which it was.
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let handle = tether::spawn(std::future::pending::<()>());
/// handle.abort();
/// let err = std::io::Error::from(handle.await.unwrap_err());
/// assert_eq!(err.kind(), std::io::ErrorKind::Other);
/// assert!(err.to_string().contains("cancelled"), "{err}");
/// # });
/// ```
impl From<JoinError> for io::Error {
    fn from(e: JoinError) -> io::Error {
        io::Error::other(e.to_string())
    }
}
