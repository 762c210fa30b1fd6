//! [`read_dir`], [`ReadDir`] and [`DirEntry`]: listing a directory on the
//! blocking pool, a chunk of entries per job.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::future::{Future, poll_fn};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use super::asyncify;
use crate::task::JoinHandle;

/// Entries fetched per blocking job: amortizes the pool round trip over
/// many entries without holding up a large directory's first entry.
const CHUNK_SIZE: usize = 32;

/// The entries of the directory at `path`, in no particular order; see
/// [`std::fs::read_dir`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let mut entries = tether::fs::read_dir(".").await?;
/// let mut count = 0;
/// while let Some(entry) = entries.next_entry().await? {
///     assert!(entry.path().starts_with("."));
///     count += 1;
/// }
/// assert!(count > 0);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let std = asyncify(move || std::fs::read_dir(path)).await?;
    Ok(ReadDir(State::Idle(Some(Chunk {
        entries: VecDeque::new(),
        std,
        done: false,
    }))))
}

/// The entries of a directory, from [`read_dir`]; tokio's
/// `tokio::fs::ReadDir`.
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("tether-readdir-{}", std::process::id()));
/// tether::fs::create_dir_all(&dir).await?;
/// tether::fs::write(dir.join("a"), "").await?;
/// let mut entries: tether::fs::ReadDir = tether::fs::read_dir(&dir).await?;
/// let first = entries.next_entry().await?.expect("one entry");
/// assert_eq!(first.file_name(), "a");
/// assert!(entries.next_entry().await?.is_none());
/// # tether::fs::remove_dir_all(&dir).await
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct ReadDir(State);

#[derive(Debug)]
enum State {
    /// No job in flight. `None` once listing failed beyond recovery (the
    /// job was lost); the directory then reads as finished.
    Idle(Option<Chunk>),
    /// A job fills the next chunk.
    Pending(JoinHandle<Chunk>),
}

#[derive(Debug)]
struct Chunk {
    entries: VecDeque<io::Result<DirEntry>>,
    std: std::fs::ReadDir,
    /// Whether `std` is exhausted.
    done: bool,
}

impl Chunk {
    /// Job side: fetches up to [`CHUNK_SIZE`] entries.
    fn fill(&mut self) {
        for _ in 0..CHUNK_SIZE {
            match self.std.next() {
                Some(entry) => self
                    .entries
                    .push_back(entry.map(|std| DirEntry { std: Arc::new(std) })),
                None => {
                    self.done = true;
                    return;
                }
            }
        }
    }
}

impl ReadDir {
    /// The next entry, `None` at the end. An error for one entry does not
    /// end the listing.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut entries = tether::fs::read_dir(std::env::temp_dir()).await?;
    /// while let Some(entry) = entries.next_entry().await? {
    ///     let _ = entry.file_name();
    /// }
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry; `Ready(Ok(None))` at the end. For
    /// hand-written futures and streams.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut entries = tether::fs::read_dir(".").await?;
    /// let first = poll_fn(|cx| entries.poll_next_entry(cx)).await?;
    /// assert!(first.is_some());
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            match &mut self.0 {
                State::Idle(None) => return Poll::Ready(Ok(None)),
                State::Idle(Some(chunk)) => {
                    if let Some(entry) = chunk.entries.pop_front() {
                        return Poll::Ready(entry.map(Some));
                    }
                    if chunk.done {
                        return Poll::Ready(Ok(None));
                    }
                    let State::Idle(Some(mut chunk)) =
                        std::mem::replace(&mut self.0, State::Idle(None))
                    else {
                        unreachable!("matched Idle(Some) above")
                    };
                    self.0 = State::Pending(crate::spawn_blocking(move || {
                        chunk.fill();
                        chunk
                    }));
                }
                State::Pending(job) => match ready!(Pin::new(job).poll(cx)) {
                    Ok(chunk) => self.0 = State::Idle(Some(chunk)),
                    Err(join) => {
                        self.0 = State::Idle(None);
                        return Poll::Ready(Err(join.into()));
                    }
                },
            }
        }
    }
}

/// One entry of a directory listing, from [`ReadDir`]; tokio's
/// `tokio::fs::DirEntry`.
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("tether-direntry-{}", std::process::id()));
/// tether::fs::create_dir_all(&dir).await?;
/// tether::fs::write(dir.join("f"), "abc").await?;
/// let entry = tether::fs::read_dir(&dir).await?.next_entry().await?.unwrap();
/// assert_eq!(entry.path(), dir.join("f"));
/// assert!(entry.file_type().await?.is_file());
/// assert_eq!(entry.metadata().await?.len(), 3);
/// # tether::fs::remove_dir_all(&dir).await
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct DirEntry {
    std: Arc<std::fs::DirEntry>,
}

impl DirEntry {
    /// The full path: the listed directory joined with the file name.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let entry = tether::fs::read_dir(".").await?.next_entry().await?.unwrap();
    /// assert!(entry.path().starts_with("."));
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The bare file name.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let entry = tether::fs::read_dir(".").await?.next_entry().await?.unwrap();
    /// assert_eq!(Some(entry.file_name().as_os_str()), entry.path().file_name());
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's inode number (no system call).
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let entry = tether::fs::read_dir(".").await?.next_entry().await?.unwrap();
    /// let _inode: u64 = entry.ino();
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    #[cfg(unix)]
    pub fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&*self.std)
    }

    /// The entry's metadata, not following a symbolic link; see
    /// [`std::fs::DirEntry::metadata`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let entry = tether::fs::read_dir(".").await?.next_entry().await?.unwrap();
    /// let _len = entry.metadata().await?.len();
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        asyncify(move || std.metadata()).await
    }

    /// The entry's file type, not following a symbolic link; see
    /// [`std::fs::DirEntry::file_type`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let entry = tether::fs::read_dir(".").await?.next_entry().await?.unwrap();
    /// let t = entry.file_type().await?;
    /// assert!(t.is_file() || t.is_dir() || t.is_symlink());
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn file_type(&self) -> io::Result<FileType> {
        let std = self.std.clone();
        asyncify(move || std.file_type()).await
    }
}
