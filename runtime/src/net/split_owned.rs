//! Owned halves of a stream, shared by `tcp::{OwnedReadHalf,
//! OwnedWriteHalf}` and the Unix equivalents (thin wrappers of the generic
//! types here; `Debug` is forwarded, so they print as these do).
//!
//! Both halves share the stream through an `Arc`; the reactor's separate
//! reader and writer wakers let them wait concurrently from different tasks.
//! Dropping the write half shuts the write direction down (the peer reads
//! end-of-stream), unless the halves are put back together with [`reunite`],
//! which is the only place the `Arc` is unwrapped: it checks that both halves
//! hold the same `Arc`, so it is the last owner.

use super::stream::Connection;
use crate::loom::sync::Arc;

/// The owned read half of a stream `S`.
#[derive(Debug)]
pub(crate) struct OwnedReadHalf<S> {
    /// The shared stream.
    pub(crate) inner: Arc<S>,
}

/// The owned write half of a stream `S`. Dropping it shuts the stream's
/// write direction down.
#[derive(Debug)]
pub(crate) struct OwnedWriteHalf<S: Connection> {
    /// The shared stream.
    pub(crate) inner: Arc<S>,
    /// Whether dropping this half shuts the write direction down (false
    /// once it was reunited with its read half).
    shutdown_on_drop: bool,
}

/// Splits `stream` into owned halves sharing it.
pub(crate) fn split_owned<S: Connection>(stream: S) -> (OwnedReadHalf<S>, OwnedWriteHalf<S>) {
    let inner = Arc::new(stream);
    (
        OwnedReadHalf {
            inner: inner.clone(),
        },
        OwnedWriteHalf {
            inner,
            shutdown_on_drop: true,
        },
    )
}

/// The message of every `ReuniteError`.
pub(crate) const REUNITE_MISMATCH: &str =
    "tried to reunite halves that are not from the same socket";

/// Puts the halves back together into the original stream, or hands both
/// back if they belong to different streams.
pub(crate) fn reunite<S: Connection>(
    read: OwnedReadHalf<S>,
    mut write: OwnedWriteHalf<S>,
) -> Result<S, (OwnedReadHalf<S>, OwnedWriteHalf<S>)> {
    if !Arc::ptr_eq(&read.inner, &write.inner) {
        return Err((read, write));
    }
    write.shutdown_on_drop = false;
    drop(write);
    Ok(Arc::try_unwrap(read.inner)
        .expect("both halves of a stream were reunited, so no other owner exists"))
}

impl<S: Connection> Drop for OwnedWriteHalf<S> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // The peer may already be gone; there is nobody to report to.
            let _ = self.inner.io().shutdown_write();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use futures::{AsyncReadExt, AsyncWriteExt};

    use crate::net::{TcpListener, TcpStream};
    use crate::runtime::Builder;

    #[test]
    fn wrappers_print_as_the_shared_halves() {
        let rt = Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let stream = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (rd, wr) = stream.into_split();
            let (rd, wr) = (format!("{rd:?}"), format!("{wr:?}"));
            assert!(rd.starts_with("OwnedReadHalf { inner: TcpStream {"), "{rd}");
            assert!(
                wr.starts_with("OwnedWriteHalf { inner: TcpStream {"),
                "{wr}"
            );
            assert!(wr.ends_with("shutdown_on_drop: true }"), "{wr}");
        });
    }

    #[test]
    fn reunite_keeps_the_write_direction_open() {
        let rt = Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let a = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let b = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (mut server, _) = listener.accept().await.unwrap();

            let (a_rd, a_wr) = a.into_split();
            let (b_rd, b_wr) = b.into_split();
            let err = a_rd.reunite(b_wr).unwrap_err();
            assert_eq!(err.to_string(), super::REUNITE_MISMATCH);
            let mut a = err.0.reunite(a_wr).expect("same stream");
            drop((b_rd, err.1));

            // The reunited write half did not shut the stream down on drop.
            a.write_all(b"still open").await.unwrap();
            a.close().await.unwrap();
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"still open");
        });
    }
}
