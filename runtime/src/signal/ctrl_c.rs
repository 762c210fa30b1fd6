//! [`ctrl_c`]: completes on the next Ctrl-C (SIGINT on Unix).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

#[cfg(unix)]
use super::unix::{Signal, SignalKind, signal};

/// Completes when the process next receives Ctrl-C (`SIGINT`).
///
/// Called inside a tether runtime, the handler is installed by this call, so
/// a Ctrl-C that arrives before the future is first polled is not lost.
/// Called outside one (while building a future to run later), it is
/// installed on the first poll. Each pending `ctrl_c()` future sees the
/// same Ctrl-C.
///
/// # Errors
///
/// If the handler cannot be installed (see [`unix::signal`](super::unix::signal)),
/// or the runtime shut down while waiting.
///
/// # Examples
///
/// ```no_run
/// #[tether::main]
/// async fn main() {
///     tether::signal::ctrl_c().await.expect("failed to listen for Ctrl-C");
///     println!("received Ctrl-C");
/// }
/// ```
pub fn ctrl_c() -> CtrlC {
    let state = if crate::runtime::Handle::try_current().is_ok() {
        State::Listening(signal(SignalKind::interrupt()))
    } else {
        State::Unregistered
    };
    CtrlC { state }
}

/// Future returned by [`ctrl_c`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct CtrlC {
    /// Where the listener stands.
    state: State,
}

/// The listener of a [`CtrlC`], created on the first poll if `ctrl_c` was
/// called outside a runtime.
enum State {
    /// Not created yet.
    Unregistered,
    /// Created (or its creation failed, reported on the next poll).
    Listening(io::Result<Signal>),
    /// Completed.
    Done,
}

impl Future for CtrlC {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.state {
                State::Unregistered => {
                    self.state = State::Listening(signal(SignalKind::interrupt()));
                }
                State::Listening(Ok(listener)) => {
                    let result = ready!(listener.poll_recv(cx)).ok_or_else(|| {
                        io::Error::other("the tether runtime shut down while waiting for Ctrl-C")
                    });
                    self.state = State::Done;
                    return Poll::Ready(result);
                }
                State::Listening(Err(_)) => {
                    let State::Listening(Err(e)) = std::mem::replace(&mut self.state, State::Done)
                    else {
                        unreachable!("matched above")
                    };
                    return Poll::Ready(Err(e));
                }
                State::Done => panic!("`CtrlC` polled after completion"),
            }
        }
    }
}

impl fmt::Debug for CtrlC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Unregistered => "unregistered",
            State::Listening(Ok(_)) => "listening",
            State::Listening(Err(_)) => "failed",
            State::Done => "done",
        };
        f.debug_struct("CtrlC").field("state", &state).finish()
    }
}
