//! A blocking I/O object driven from async code through the blocking pool:
//! the engine under [`fs::File`](crate::fs::File) and
//! [`stdin`](super::stdin) / [`stdout`](super::stdout) /
//! [`stderr`](super::stderr).
//!
//! [`Blocking`] is a small state machine, `Idle(buffer)` or
//! `Busy(blocking job)`. Invariants:
//!
//! - **One operation in flight.** A read, write, seek or flush is a job on
//!   the blocking pool that *owns* the buffer while it runs and hands it back
//!   with its result; nothing is shared with the job but the handle `H`
//!   (itself a shared, thread-safe object: `Arc<std::fs::File>`, the process'
//!   stdout). A new operation starts only once the previous one was
//!   collected, so operations reach the OS in call order.
//! - **What the idle buffer holds.** Only bytes read ahead and not yet given
//!   to the reader. A write hands its bytes to a job at once and returns how
//!   many it took (as a buffered writer does); its outcome is collected by
//!   the next operation.
//! - **Read-ahead and position.** With `k` unread bytes buffered, the OS
//!   position is `k` bytes ahead of the reader's. A write or a seek first
//!   drops them and moves the position back by `k` (a relative seek is
//!   adjusted by `-k`), so position-sensitive operations see the reader's
//!   position.
//! - **Deferred write errors.** A write that fails in its job is reported by
//!   the next `poll_write` or `poll_flush` (or by `File::sync_all`, ...), as
//!   tokio's `File` does; it is never lost silently while the object lives.
//! - **Cancellation.** Dropping the object or a future polling it leaves the
//!   job running to completion on the pool (a blocking call cannot be
//!   interrupted); its result is discarded only if the object is dropped.

use std::future::Future;
use std::io::{self, SeekFrom};
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::ReadBuf;

use crate::task::JoinHandle;

/// The most bytes one read or write job moves. Large enough that big
/// transfers are a few system calls per pool round trip (a round trip costs
/// two thread hand-offs), small enough that a huge `write_all` does not copy
/// its whole input at once. tokio's `File` uses the same bound.
pub(crate) const DEFAULT_MAX_BUF_SIZE: usize = 2 * 1024 * 1024;

/// The blocking object: what a job does with it. Implemented by the handles
/// of `File` and of the standard streams.
pub(crate) trait BlockingIo: Clone + Send + Sync + 'static {
    /// Whether `flush` does anything (a file has no user-space buffer;
    /// stdout has one), so a flush of a file costs no pool round trip.
    const FLUSHES: bool;

    /// Reads once into `buf`.
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes all of `buf`.
    fn write_all(&self, buf: &[u8]) -> io::Result<()>;

    /// Flushes user-space buffers to the OS.
    fn flush(&self) -> io::Result<()>;

    /// Moves the position.
    fn seek(&self, pos: SeekFrom) -> io::Result<u64>;
}

/// Bytes travelling between the async side and a job.
#[derive(Debug, Default)]
pub(crate) struct Buf {
    /// Bytes read ahead (from `pos` on), or bytes to write.
    bytes: Vec<u8>,
    /// How many of `bytes` the reader already took.
    pos: usize,
}

impl Buf {
    /// Bytes read ahead and not yet taken.
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.pos = 0;
    }

    /// Moves as many unread bytes as fit into `dst`.
    fn copy_to(&mut self, dst: &mut ReadBuf<'_>) {
        let n = self.remaining().min(dst.remaining());
        dst.put_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        if self.is_empty() {
            self.clear();
        }
    }

    /// Takes up to `max` bytes of `src` to write; the buffer must be empty.
    fn copy_from(&mut self, src: &[u8], max: usize) -> usize {
        debug_assert!(self.is_empty());
        let n = src.len().min(max);
        self.bytes.extend_from_slice(&src[..n]);
        n
    }

    /// Drops the unread bytes, returning how far the OS position must move
    /// back (a non-positive offset).
    fn discard_unread(&mut self) -> i64 {
        let back = self.remaining();
        self.clear();
        // `back` is at most `DEFAULT_MAX_BUF_SIZE`-ish: it fits an i64.
        -(back as i64)
    }

    /// Job side: reads up to `want` bytes, retrying interrupted reads.
    fn read_from<H: BlockingIo>(&mut self, io: &H, want: usize) -> io::Result<usize> {
        debug_assert!(self.is_empty());
        self.bytes.resize(want, 0);
        loop {
            match io.read(&mut self.bytes) {
                Ok(n) => {
                    self.bytes.truncate(n);
                    self.pos = 0;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.clear();
                    return Err(e);
                }
            }
        }
    }

    /// Job side: writes every byte, then empties the buffer.
    fn write_to<H: BlockingIo>(&mut self, io: &H) -> io::Result<()> {
        let res = io.write_all(&self.bytes);
        self.clear();
        res
    }
}

/// What a finished job did, with its result.
#[derive(Debug)]
enum Operation {
    Read(io::Result<usize>),
    Write(io::Result<()>),
    Seek(io::Result<u64>),
    Flush(io::Result<()>),
}

#[derive(Debug)]
enum State {
    /// No job in flight; the buffer holds read-ahead bytes, if any.
    Idle(Buf),
    /// A job owns the buffer.
    Busy(JoinHandle<(Operation, Buf)>),
}

/// A blocking object `H` with at most one pool job in flight; see the
/// module docs.
#[derive(Debug)]
pub(crate) struct Blocking<H> {
    io: H,
    state: State,
    /// A failed write, to report from the next write or flush.
    last_write_err: Option<io::Error>,
    /// The position the last completed seek returned.
    pos: u64,
    /// Whether a write happened since the last flush.
    needs_flush: bool,
    /// See [`DEFAULT_MAX_BUF_SIZE`].
    max_buf_size: usize,
}

impl<H: BlockingIo> Blocking<H> {
    pub(crate) fn new(io: H) -> Blocking<H> {
        Blocking {
            io,
            state: State::Idle(Buf::default()),
            last_write_err: None,
            pos: 0,
            needs_flush: false,
            max_buf_size: DEFAULT_MAX_BUF_SIZE,
        }
    }

    pub(crate) fn set_max_buf_size(&mut self, max: usize) {
        self.max_buf_size = max.max(1);
    }

    /// Whether no job is in flight and no byte is read ahead.
    pub(crate) fn is_idle_and_empty(&self) -> bool {
        matches!(&self.state, State::Idle(buf) if buf.is_empty())
    }

    /// Starts `job` on the blocking pool with the idle buffer.
    ///
    /// # Panics
    ///
    /// Outside a tether runtime (the pool is the runtime's), like tokio.
    #[track_caller]
    fn start(&mut self, job: impl FnOnce(&H, &mut Buf) -> Operation + Send + 'static) {
        let State::Idle(buf) = &mut self.state else {
            unreachable!("a job was started while another one is in flight")
        };
        let mut buf = mem::take(buf);
        let io = self.io.clone();
        self.state = State::Busy(crate::spawn_blocking(move || {
            let op = job(&io, &mut buf);
            (op, buf)
        }));
    }

    /// Waits for the job in flight, if any, and returns what it did. The
    /// state is `Idle` afterwards, also when the job panicked (reported as
    /// an `io::Error`).
    fn poll_job(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Operation>>> {
        let State::Busy(job) = &mut self.state else {
            return Poll::Ready(None);
        };
        let res = ready!(Pin::new(job).poll(cx));
        Poll::Ready(Some(match res {
            Ok((op, buf)) => {
                self.state = State::Idle(buf);
                if let Operation::Seek(Ok(pos)) = op {
                    self.pos = pos;
                }
                Ok(op)
            }
            Err(join) => {
                self.state = State::Idle(Buf::default());
                Err(join.into())
            }
        }))
    }

    /// Waits until no job is in flight. A failed write or flush is kept for
    /// the next write or flush to report.
    pub(crate) fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while let Some(done) = ready!(self.poll_job(cx)) {
            match done {
                Ok(Operation::Write(Err(e)) | Operation::Flush(Err(e))) | Err(e) => {
                    self.last_write_err.get_or_insert(e);
                }
                Ok(_) => {}
            }
        }
        Poll::Ready(())
    }

    /// Takes the failed write kept by [`poll_idle`](Self::poll_idle), if any.
    pub(crate) fn take_write_error(&mut self) -> io::Result<()> {
        self.last_write_err.take().map_or(Ok(()), Err)
    }

    /// Once idle: drops the read-ahead bytes and returns the seek that puts
    /// the OS position back where the reader is, if one is needed.
    pub(crate) fn discard_read_ahead(&mut self) -> Option<SeekFrom> {
        match &mut self.state {
            State::Idle(buf) if !buf.is_empty() => Some(SeekFrom::Current(buf.discard_unread())),
            _ => None,
        }
    }

    /// `AsyncRead::poll_read`.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            match &mut self.state {
                State::Idle(buf) => {
                    if !buf.is_empty() || dst.remaining() == 0 {
                        buf.copy_to(dst);
                        return Poll::Ready(Ok(()));
                    }
                    let want = dst.remaining().min(self.max_buf_size);
                    self.start(move |io, buf| Operation::Read(buf.read_from(io, want)));
                }
                State::Busy(_) => match ready!(self.poll_job(cx)) {
                    Some(Ok(Operation::Read(Ok(_)))) => {
                        // `Idle` again, with what was read (nothing at
                        // end-of-file).
                        if let State::Idle(buf) = &mut self.state {
                            buf.copy_to(dst);
                        }
                        return Poll::Ready(Ok(()));
                    }
                    Some(Ok(Operation::Read(Err(e)))) | Some(Err(e)) => {
                        return Poll::Ready(Err(e));
                    }
                    Some(Ok(Operation::Write(Err(e)) | Operation::Flush(Err(e)))) => {
                        self.last_write_err.get_or_insert(e);
                    }
                    Some(Ok(_)) | None => {}
                },
            }
        }
    }

    /// `AsyncWrite::poll_write`: hands up to the buffer bound of `src` to a
    /// job and returns at once.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.take_write_error()?;
        loop {
            match &mut self.state {
                State::Idle(buf) => {
                    if src.is_empty() {
                        return Poll::Ready(Ok(0));
                    }
                    let seek = (!buf.is_empty()).then(|| SeekFrom::Current(buf.discard_unread()));
                    let n = buf.copy_from(src, self.max_buf_size);
                    self.needs_flush = true;
                    self.start(move |io, buf| {
                        let res = match seek {
                            Some(seek) => io.seek(seek).and_then(|_| buf.write_to(io)),
                            None => buf.write_to(io),
                        };
                        Operation::Write(res)
                    });
                    return Poll::Ready(Ok(n));
                }
                State::Busy(_) => match ready!(self.poll_job(cx)) {
                    Some(Ok(Operation::Write(Err(e)) | Operation::Flush(Err(e))))
                    | Some(Err(e)) => {
                        return Poll::Ready(Err(e));
                    }
                    Some(Ok(_)) | None => {}
                },
            }
        }
    }

    /// `AsyncWrite::poll_flush`: waits for the write in flight and, for a
    /// handle with a user-space buffer, flushes it.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.poll_idle(cx));
            self.take_write_error()?;
            if !(H::FLUSHES && self.needs_flush) {
                return Poll::Ready(Ok(()));
            }
            self.needs_flush = false;
            self.start(|io, _| Operation::Flush(io.flush()));
        }
    }

    /// `AsyncSeek::start_seek`.
    pub(crate) fn start_seek(&mut self, mut pos: SeekFrom) -> io::Result<()> {
        let State::Idle(buf) = &mut self.state else {
            return Err(io::Error::other(
                "another operation is in flight: call `poll_complete` before `start_seek`",
            ));
        };
        if !buf.is_empty() {
            let back = buf.discard_unread();
            if let SeekFrom::Current(offset) = &mut pos {
                *offset = offset.checked_add(back).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "seek offset overflows i64")
                })?;
            }
        }
        self.start(move |io, _| Operation::Seek(io.seek(pos)));
        Ok(())
    }

    /// `AsyncSeek::poll_complete`: the new position once the seek in flight
    /// is done (other jobs in flight are collected on the way; a failed
    /// write is kept for the next write or flush).
    pub(crate) fn poll_complete(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        loop {
            match ready!(self.poll_job(cx)) {
                None => return Poll::Ready(Ok(self.pos)),
                Some(Ok(Operation::Seek(res))) => return Poll::Ready(res),
                Some(Ok(Operation::Write(Err(e)) | Operation::Flush(Err(e)))) | Some(Err(e)) => {
                    self.last_write_err.get_or_insert(e);
                }
                Some(Ok(_)) => {}
            }
        }
    }
}
