//! [`File`]: an open file whose reads, writes and seeks run on the blocking
//! pool (the engine is `crate::io::blocking`; its module docs carry the
//! invariants).

use std::fs::{Metadata, Permissions};
use std::future::poll_fn;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

use super::{OpenOptions, asyncify};
use crate::io::blocking::{Blocking, BlockingIo};

type StdFile = std::fs::File;

impl BlockingIo for Arc<StdFile> {
    // A `std::fs::File` has no user-space buffer.
    const FLUSHES: bool = false;

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&**self).read(buf)
    }

    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        (&**self).write_all(buf)
    }

    fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    fn seek(&self, pos: SeekFrom) -> io::Result<u64> {
        (&**self).seek(pos)
    }
}

/// An open file, tokio's `tokio::fs::File` on tether: it implements tokio's
/// [`AsyncRead`], [`AsyncWrite`] and [`AsyncSeek`] (use
/// [`AsyncReadExt`](crate::io::AsyncReadExt) and friends), each operation
/// running on the runtime's blocking pool.
///
/// One operation is in flight at a time. Reads may read ahead into an
/// internal buffer; writes are buffered too: a write returns once its bytes
/// were handed to the pool, and its outcome — including an error — is
/// reported by the next write or by [`flush`](crate::io::AsyncWriteExt::flush).
/// **Flush (or [`sync_all`](File::sync_all)) before dropping a file** you
/// wrote to, or the last write may still be in flight and its error lost.
///
/// # Examples
///
/// ```
/// use tether::fs::File;
/// use tether::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, SeekFrom};
///
/// # tether::Runtime::new().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("tether-file-doc-{}", std::process::id()));
/// let mut file = File::create(&path).await?;
/// file.write_all(b"hello, file").await?;
/// file.flush().await?;
///
/// let mut file = File::open(&path).await?;
/// file.seek(SeekFrom::Start(7)).await?;
/// let mut rest = String::new();
/// file.read_to_string(&mut rest).await?;
/// assert_eq!(rest, "file");
/// # tether::fs::remove_file(&path).await
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct File {
    /// The file, shared with the job in flight (if any).
    std: Arc<StdFile>,
    /// The state machine; locked by the `&self` methods so they run after
    /// the operation in flight, as tokio does.
    inner: tokio::sync::Mutex<Blocking<Arc<StdFile>>>,
}

impl File {
    /// Opens a file for reading; see [`std::fs::File::open`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let err = tether::fs::File::open("/no/such/file").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # });
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        asyncify(move || StdFile::open(path))
            .await
            .map(File::from_std)
    }

    /// Opens a file for writing, creating it or truncating it; see
    /// [`std::fs::File::create`].
    ///
    /// ```
    /// use tether::io::AsyncWriteExt;
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-create-{}", std::process::id()));
    /// let mut f = tether::fs::File::create(&path).await?;
    /// f.write_all(b"new").await?;
    /// f.flush().await?;
    /// assert_eq!(tether::fs::read(&path).await?, b"new");
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        asyncify(move || StdFile::create(path))
            .await
            .map(File::from_std)
    }

    /// Creates a new file for reading and writing, failing with
    /// `AlreadyExists` if it exists; see [`std::fs::File::create_new`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-create-new-{}", std::process::id()));
    /// let _f = tether::fs::File::create_new(&path).await?;
    /// let again = tether::fs::File::create_new(&path).await.unwrap_err();
    /// assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        asyncify(move || StdFile::create_new(path))
            .await
            .map(File::from_std)
    }

    /// Options for opening a file (append, create, truncate, ...); same as
    /// [`OpenOptions::new`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-options-{}", std::process::id()));
    /// let f = tether::fs::File::options().write(true).create(true).open(&path).await?;
    /// # drop(f);
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open `std::fs::File`.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-from-std-{}", std::process::id()));
    /// let std_file = std::fs::File::create(&path)?;
    /// let file = tether::fs::File::from_std(std_file);
    /// assert_eq!(file.metadata().await?.len(), 0);
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub fn from_std(std: StdFile) -> File {
        let std = Arc::new(std);
        File {
            inner: tokio::sync::Mutex::new(Blocking::new(std.clone())),
            std,
        }
    }

    /// Waits for the operation in flight (keeping a failed write to
    /// report), then runs `f` with the file on the blocking pool, holding
    /// the lock so no read or write starts in between. With
    /// `report_write_error`, a failed earlier write is returned instead;
    /// with `rewind`, bytes read ahead are dropped and the OS position moved
    /// back to the reader's first.
    async fn after_inflight<T, F>(
        &self,
        report_write_error: bool,
        rewind: bool,
        f: F,
    ) -> io::Result<T>
    where
        F: FnOnce(&StdFile) -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let mut inner = self.inner.lock().await;
        poll_fn(|cx| inner.poll_idle(cx)).await;
        if report_write_error {
            inner.take_write_error()?;
        }
        let seek_back = if rewind {
            inner.discard_read_ahead()
        } else {
            None
        };
        let std = self.std.clone();
        asyncify(move || {
            if let Some(seek_back) = seek_back {
                (&*std).seek(seek_back)?;
            }
            f(&std)
        })
        .await
    }

    /// Flushes data and metadata to the device, after the operation in
    /// flight; reports a failed earlier write. See
    /// [`std::fs::File::sync_all`].
    ///
    /// ```
    /// use tether::io::AsyncWriteExt;
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-sync-{}", std::process::id()));
    /// let mut f = tether::fs::File::create(&path).await?;
    /// f.write_all(b"durable").await?;
    /// f.sync_all().await?;
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub async fn sync_all(&self) -> io::Result<()> {
        self.after_inflight(true, false, |f| f.sync_all()).await
    }

    /// Flushes data (not necessarily metadata) to the device; see
    /// [`std::fs::File::sync_data`].
    ///
    /// ```
    /// use tether::io::AsyncWriteExt;
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-sync-data-{}", std::process::id()));
    /// let mut f = tether::fs::File::create(&path).await?;
    /// f.write_all(b"data").await?;
    /// f.sync_data().await?;
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub async fn sync_data(&self) -> io::Result<()> {
        self.after_inflight(true, false, |f| f.sync_data()).await
    }

    /// Truncates or extends the file to `size` bytes; the position does not
    /// move. See [`std::fs::File::set_len`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-set-len-{}", std::process::id()));
    /// let f = tether::fs::File::create(&path).await?;
    /// f.set_len(1024).await?;
    /// assert_eq!(f.metadata().await?.len(), 1024);
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        self.after_inflight(true, true, move |f| f.set_len(size))
            .await
    }

    /// The file's metadata, after the operation in flight; see
    /// [`std::fs::File::metadata`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-meta-{}", std::process::id()));
    /// tether::fs::write(&path, "12345").await?;
    /// let f = tether::fs::File::open(&path).await?;
    /// assert_eq!(f.metadata().await?.len(), 5);
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub async fn metadata(&self) -> io::Result<Metadata> {
        self.after_inflight(false, false, |f| f.metadata()).await
    }

    /// A new `File` for the same open file (sharing its position); see
    /// [`std::fs::File::try_clone`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-clone-{}", std::process::id()));
    /// let f = tether::fs::File::create(&path).await?;
    /// let g = f.try_clone().await?;
    /// assert_eq!(g.metadata().await?.len(), 0);
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub async fn try_clone(&self) -> io::Result<File> {
        self.after_inflight(false, true, |f| f.try_clone())
            .await
            .map(File::from_std)
    }

    /// Changes the file's permissions; see
    /// [`std::fs::File::set_permissions`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-fperm-{}", std::process::id()));
    /// let f = tether::fs::File::create(&path).await?;
    /// let mut perm = f.metadata().await?.permissions();
    /// perm.set_readonly(true);
    /// f.set_permissions(perm).await?;
    /// assert!(f.metadata().await?.permissions().readonly());
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub async fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        self.after_inflight(false, false, move |f| f.set_permissions(perm))
            .await
    }

    /// Waits for the operation in flight, moves the OS position back over
    /// bytes read ahead, and returns the `std::fs::File`. A failed write not
    /// yet reported is lost: flush first to see it.
    ///
    /// ```
    /// use std::io::Read;
    /// use tether::io::AsyncReadExt;
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-into-std-{}", std::process::id()));
    /// tether::fs::write(&path, "abcdef").await?;
    /// let mut f = tether::fs::File::open(&path).await?;
    /// let mut two = [0u8; 2];
    /// f.read_exact(&mut two).await?; // may read ahead
    /// let mut std_file = f.into_std().await;
    /// let mut rest = String::new();
    /// std_file.read_to_string(&mut rest)?;
    /// assert_eq!(rest, "cdef");
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub async fn into_std(mut self) -> StdFile {
        let inner = self.inner.get_mut();
        poll_fn(|cx| inner.poll_idle(cx)).await;
        if let Some(seek_back) = inner.discard_read_ahead() {
            let job = self.std.clone();
            // Best effort, as tokio's signature has no room for an error:
            // if this seek fails the position stays past the bytes read
            // ahead.
            let _ = asyncify(move || (&*job).seek(seek_back)).await;
        }
        let File { std, inner } = self;
        // The state machine's own reference goes first; the jobs' went when
        // they finished.
        drop(inner);
        Arc::try_unwrap(std)
            .expect("no job is in flight, so the File holds the only reference to its file")
    }

    /// The `std::fs::File`, if no operation is in flight and nothing is
    /// read ahead; otherwise the `File` back.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-try-into-std-{}", std::process::id()));
    /// let f = tether::fs::File::create(&path).await?;
    /// let std_file = f.try_into_std().expect("idle");
    /// assert_eq!(std_file.metadata()?.len(), 0);
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub fn try_into_std(mut self) -> Result<StdFile, File> {
        if !self.inner.get_mut().is_idle_and_empty() {
            return Err(self);
        }
        let File { std, inner } = self;
        drop(inner);
        match Arc::try_unwrap(std) {
            Ok(std) => Ok(std),
            Err(std) => Err(File::from_std_shared(std)),
        }
    }

    /// Rebuilds a `File` around a shared file (only when a caller raced a
    /// job that has not yet released its reference, which the state
    /// machine rules out; kept so `try_into_std` never panics).
    fn from_std_shared(std: Arc<StdFile>) -> File {
        File {
            inner: tokio::sync::Mutex::new(Blocking::new(std.clone())),
            std,
        }
    }

    /// Sets the most bytes one read or write job moves (2 MiB by default).
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("tether-max-buf-{}", std::process::id()));
    /// let mut f = tether::fs::File::create(&path).await?;
    /// f.set_max_buf_size(64 * 1024);
    /// # drop(f);
    /// # tether::fs::remove_file(&path).await
    /// # }).unwrap();
    /// ```
    pub fn set_max_buf_size(&mut self, max_buf_size: usize) {
        self.inner.get_mut().set_max_buf_size(max_buf_size);
    }
}

impl From<StdFile> for File {
    fn from(std: StdFile) -> File {
        File::from_std(std)
    }
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().inner.get_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().inner.get_mut().poll_write(cx, buf)
    }

    /// Waits for the write in flight and reports its error, if any.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.get_mut().poll_flush(cx)
    }

    /// Same as `poll_flush`; the file stays open until dropped.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.get_mut().poll_flush(cx)
    }
}

impl AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        self.get_mut().inner.get_mut().start_seek(position)
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        self.get_mut().inner.get_mut().poll_complete(cx)
    }
}
