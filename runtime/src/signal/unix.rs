//! Unix signals as async streams: [`signal`] returns a [`Signal`] whose
//! [`recv`](Signal::recv) completes each time the signal is delivered.

use std::fmt;
use std::io;
use std::os::raw::c_int;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use signal_hook_mio::v1_0::Signals;

use crate::io::{Direction, PollEvented};

/// One past the largest signal number signal-hook's delivery table holds
/// (it indexes a 128-entry array; real-time signals end well below).
const MAX_SIGNAL: c_int = 128;

/// A kind of Unix signal, as understood by [`signal`].
///
/// ```
/// use tether::signal::unix::SignalKind;
///
/// assert_eq!(SignalKind::interrupt().as_raw_value(), 2);
/// assert_eq!(SignalKind::from_raw(15), SignalKind::terminate());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(c_int);

impl SignalKind {
    /// The signal with number `signum` (for signals without a named
    /// constructor, such as real-time signals).
    pub const fn from_raw(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(&self) -> c_int {
        self.0
    }

    /// `SIGALRM`: a real-time timer expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(signal_hook::consts::SIGALRM)
    }

    /// `SIGCHLD`: a child process changed state.
    pub const fn child() -> SignalKind {
        SignalKind(signal_hook::consts::SIGCHLD)
    }

    /// `SIGHUP`: the terminal was closed (often: reload configuration).
    pub const fn hangup() -> SignalKind {
        SignalKind(signal_hook::consts::SIGHUP)
    }

    /// `SIGINT`: interrupt from the keyboard (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(signal_hook::consts::SIGINT)
    }

    /// `SIGIO`: I/O is possible on a descriptor.
    pub const fn io() -> SignalKind {
        SignalKind(signal_hook::consts::SIGIO)
    }

    /// `SIGPIPE`: write to a pipe with no reader.
    pub const fn pipe() -> SignalKind {
        SignalKind(signal_hook::consts::SIGPIPE)
    }

    /// `SIGQUIT`: quit from the keyboard (Ctrl-\\).
    pub const fn quit() -> SignalKind {
        SignalKind(signal_hook::consts::SIGQUIT)
    }

    /// `SIGTERM`: polite request to terminate (what service managers send).
    pub const fn terminate() -> SignalKind {
        SignalKind(signal_hook::consts::SIGTERM)
    }

    /// `SIGUSR1`: user-defined signal 1.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(signal_hook::consts::SIGUSR1)
    }

    /// `SIGUSR2`: user-defined signal 2.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(signal_hook::consts::SIGUSR2)
    }

    /// `SIGWINCH`: the terminal window changed size.
    pub const fn window_change() -> SignalKind {
        SignalKind(signal_hook::consts::SIGWINCH)
    }
}

impl From<c_int> for SignalKind {
    fn from(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for c_int {
    fn from(kind: SignalKind) -> c_int {
        kind.0
    }
}

/// Listens for deliveries of `kind`.
///
/// The handler is installed by this call, so a signal delivered at any time
/// after it returns is reported by the next [`Signal::recv`]. Every
/// listener sees every delivery, however many listen to the same signal.
///
/// # Errors
///
/// If signal-hook refuses the signal (`SIGKILL`, `SIGSTOP`, `SIGSEGV`,
/// `SIGILL`, `SIGFPE`, or an invalid number), or the self-pipe cannot be
/// created or registered with the reactor.
///
/// # Panics
///
/// Panics outside a tether runtime.
///
/// # Examples
///
/// ```
/// use tether::signal::unix::{SignalKind, signal};
///
/// # fn main() -> std::io::Result<()> {
/// tether::Runtime::new()?.block_on(async {
///     // Install the handler first: only then is SIGUSR1 caught instead of
///     // terminating the process.
///     let mut usr1 = signal(SignalKind::user_defined1())?;
///     signal_hook::low_level::raise(signal_hook::consts::SIGUSR1)?;
///     assert_eq!(usr1.recv().await, Some(()));
///     Ok(())
/// })
/// # }
/// ```
#[track_caller]
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    // signal-hook panics (rather than failing) on these; report them.
    if !(1..MAX_SIGNAL).contains(&kind.0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a signal number", kind.0),
        ));
    }
    if signal_hook::consts::FORBIDDEN.contains(&kind.0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "signal {} cannot be handled (it is reserved for the OS)",
                kind.0
            ),
        ));
    }
    let signals = Signals::new([kind.0])?;
    let io = PollEvented::new_with_interest(signals, mio::Interest::READABLE)?;
    Ok(Signal { io, kind })
}

/// A stream of deliveries of one signal, created by [`signal`].
///
/// Dropping it removes its handler (the signal's default action is not
/// restored; see the [module docs](super)).
pub struct Signal {
    /// The signal-hook self-pipe, registered with the reactor.
    io: PollEvented<Signals>,
    /// The signal listened for.
    kind: SignalKind,
}

impl Signal {
    /// Waits for the next delivery. Deliveries since the previous call (or
    /// since [`signal`] returned) are reported at once, coalesced into one.
    ///
    /// Returns `None` only if the runtime shut down, so no delivery can be
    /// observed any more (the same shape as tokio's `Option<()>`).
    ///
    /// Cancel safe: dropping the future loses no delivery.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery; see [`Signal::recv`].
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let (signals, registration) = self.io.get_mut();
        loop {
            let event = match ready!(registration.poll_ready(cx, Direction::Read)) {
                Ok(event) => event,
                Err(_) => return Poll::Ready(None),
            };
            // `pending` drains the self-pipe first and then reads the
            // flags, so a delivery after the drain writes a new byte: it
            // raises a new edge, which the clear below cannot erase.
            if signals.pending().next().is_some() {
                return Poll::Ready(Some(()));
            }
            registration.clear_readiness(event);
        }
    }

    /// The signal this stream listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl futures::Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
