//! Asynchronous filesystem access: tokio's `tokio::fs`, over tether's
//! blocking pool.
//!
//! Operating systems offer no portable asynchronous file I/O, so, as in
//! tokio, every call here runs the corresponding `std::fs` call on the
//! runtime's blocking pool (see [`spawn_blocking`](crate::spawn_blocking))
//! and awaits it. Names, signatures and behaviour follow `tokio::fs`, so a
//! tokio program ports by renaming; [`File`] implements tokio's
//! [`AsyncRead`](crate::io::AsyncRead), [`AsyncWrite`](crate::io::AsyncWrite)
//! and [`AsyncSeek`](crate::io::AsyncSeek).
//!
//! Every function needs a tether runtime (it panics outside one, like
//! tokio's without a tokio runtime). Many small operations are cheaper done
//! together in one [`spawn_blocking`](crate::spawn_blocking) closure with
//! `std::fs` than one by one here.
//!
//! ```
//! # tether::Runtime::new().unwrap().block_on(async {
//! let dir = std::env::temp_dir().join(format!("tether-fs-doc-{}", std::process::id()));
//! tether::fs::create_dir_all(&dir).await?;
//! tether::fs::write(dir.join("greeting.txt"), "hello").await?;
//! let text = tether::fs::read_to_string(dir.join("greeting.txt")).await?;
//! assert_eq!(text, "hello");
//!
//! let mut names = Vec::new();
//! let mut entries = tether::fs::read_dir(&dir).await?;
//! while let Some(entry) = entries.next_entry().await? {
//!     names.push(entry.file_name());
//! }
//! assert_eq!(names, ["greeting.txt"]);
//! tether::fs::remove_dir_all(&dir).await?;
//! # std::io::Result::Ok(())
//! # }).unwrap();
//! ```

mod dir_builder;
mod file;
mod open_options;
mod read_dir;

use std::fs::{Metadata, Permissions};
use std::io;
use std::path::{Path, PathBuf};

pub use dir_builder::DirBuilder;
pub use file::File;
pub use open_options::OpenOptions;
pub use read_dir::{DirEntry, ReadDir, read_dir};

/// Runs a blocking filesystem call on the blocking pool and awaits it. A
/// panic in `f` comes back as an `io::Error` of kind `Other`.
pub(crate) async fn asyncify<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match crate::spawn_blocking(f).await {
        Ok(res) => res,
        Err(join) => Err(join.into()),
    }
}

/// Reads the whole file at `path` into a vector; see [`std::fs::read`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("tether-read-{}", std::process::id()));
/// tether::fs::write(&path, [1u8, 2, 3]).await?;
/// assert_eq!(tether::fs::read(&path).await?, [1, 2, 3]);
/// # tether::fs::remove_file(&path).await
/// # }).unwrap();
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read(path)).await
}

/// Reads the whole file at `path` into a string; fails with
/// `InvalidData` if it is not UTF-8. See [`std::fs::read_to_string`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("tether-rts-{}", std::process::id()));
/// tether::fs::write(&path, "text").await?;
/// assert_eq!(tether::fs::read_to_string(&path).await?, "text");
/// # tether::fs::remove_file(&path).await
/// # }).unwrap();
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_to_string(path)).await
}

/// Creates or truncates the file at `path` and writes `contents` to it;
/// see [`std::fs::write`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("tether-write-{}", std::process::id()));
/// tether::fs::write(&path, b"bytes").await?;
/// assert_eq!(tether::fs::read(&path).await?, b"bytes");
/// # tether::fs::remove_file(&path).await
/// # }).unwrap();
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    asyncify(move || std::fs::write(path, contents)).await
}

/// Creates a directory; its parent must exist. See [`std::fs::create_dir`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("tether-mkdir-{}", std::process::id()));
/// tether::fs::create_dir(&dir).await?;
/// assert!(tether::fs::metadata(&dir).await?.is_dir());
/// # tether::fs::remove_dir(&dir).await
/// # }).unwrap();
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::create_dir(path)).await
}

/// Creates a directory and any missing parents; see
/// [`std::fs::create_dir_all`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let root = std::env::temp_dir().join(format!("tether-mkdirs-{}", std::process::id()));
/// tether::fs::create_dir_all(root.join("a/b/c")).await?;
/// assert!(tether::fs::try_exists(root.join("a/b/c")).await?);
/// # tether::fs::remove_dir_all(&root).await
/// # }).unwrap();
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::create_dir_all(path)).await
}

/// Removes a file; see [`std::fs::remove_file`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("tether-rm-{}", std::process::id()));
/// tether::fs::write(&path, "x").await?;
/// tether::fs::remove_file(&path).await?;
/// assert!(!tether::fs::try_exists(&path).await?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_file(path)).await
}

/// Removes an empty directory; see [`std::fs::remove_dir`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("tether-rmdir-{}", std::process::id()));
/// tether::fs::create_dir(&dir).await?;
/// tether::fs::remove_dir(&dir).await?;
/// assert!(!tether::fs::try_exists(&dir).await?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir(path)).await
}

/// Removes a directory and everything in it; see
/// [`std::fs::remove_dir_all`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("tether-rmall-{}", std::process::id()));
/// tether::fs::create_dir_all(dir.join("sub")).await?;
/// tether::fs::write(dir.join("sub/f"), "x").await?;
/// tether::fs::remove_dir_all(&dir).await?;
/// assert!(!tether::fs::try_exists(&dir).await?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir_all(path)).await
}

/// Renames a file or directory, replacing `to` if it exists (as the
/// platform allows); see [`std::fs::rename`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let tmp = std::env::temp_dir();
/// let (from, to) = (tmp.join(format!("tether-mv-a-{}", std::process::id())),
///                   tmp.join(format!("tether-mv-b-{}", std::process::id())));
/// tether::fs::write(&from, "x").await?;
/// tether::fs::rename(&from, &to).await?;
/// assert_eq!(tether::fs::read_to_string(&to).await?, "x");
/// # tether::fs::remove_file(&to).await
/// # }).unwrap();
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::rename(from, to)).await
}

/// Copies the contents and permissions of one file to another, returning
/// the number of bytes copied; see [`std::fs::copy`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let tmp = std::env::temp_dir();
/// let (from, to) = (tmp.join(format!("tether-cp-a-{}", std::process::id())),
///                   tmp.join(format!("tether-cp-b-{}", std::process::id())));
/// tether::fs::write(&from, "copy me").await?;
/// assert_eq!(tether::fs::copy(&from, &to).await?, 7);
/// # tether::fs::remove_file(&from).await?;
/// # tether::fs::remove_file(&to).await
/// # }).unwrap();
/// ```
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::copy(from, to)).await
}

/// Metadata of `path`, following symbolic links; see [`std::fs::metadata`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let meta = tether::fs::metadata(std::env::temp_dir()).await?;
/// assert!(meta.is_dir());
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::metadata(path)).await
}

/// Metadata of `path` itself, not following a symbolic link; see
/// [`std::fs::symlink_metadata`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let meta = tether::fs::symlink_metadata(std::env::temp_dir()).await?;
/// assert!(!meta.file_type().is_file());
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::symlink_metadata(path)).await
}

/// The absolute path of `path` with every symbolic link and `.`/`..`
/// resolved; see [`std::fs::canonicalize`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let here = tether::fs::canonicalize(".").await?;
/// assert!(here.is_absolute());
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::canonicalize(path)).await
}

/// Creates a hard link `dst` to the file `src`; see [`std::fs::hard_link`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let tmp = std::env::temp_dir();
/// let (src, dst) = (tmp.join(format!("tether-ln-a-{}", std::process::id())),
///                   tmp.join(format!("tether-ln-b-{}", std::process::id())));
/// tether::fs::write(&src, "shared").await?;
/// tether::fs::hard_link(&src, &dst).await?;
/// assert_eq!(tether::fs::read_to_string(&dst).await?, "shared");
/// # tether::fs::remove_file(&src).await?;
/// # tether::fs::remove_file(&dst).await
/// # }).unwrap();
/// ```
pub async fn hard_link(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> io::Result<()> {
    let (src, dst) = (src.as_ref().to_owned(), dst.as_ref().to_owned());
    asyncify(move || std::fs::hard_link(src, dst)).await
}

/// Creates a symbolic link `dst` pointing at `src`; see
/// [`std::os::unix::fs::symlink`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let tmp = std::env::temp_dir();
/// let link = tmp.join(format!("tether-symlink-{}", std::process::id()));
/// tether::fs::symlink(&tmp, &link).await?;
/// assert_eq!(tether::fs::read_link(&link).await?, tmp);
/// # tether::fs::remove_file(&link).await
/// # }).unwrap();
/// ```
#[cfg(unix)]
pub async fn symlink(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> io::Result<()> {
    let (src, dst) = (src.as_ref().to_owned(), dst.as_ref().to_owned());
    asyncify(move || std::os::unix::fs::symlink(src, dst)).await
}

/// The target of the symbolic link at `path`; see [`std::fs::read_link`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// // Not a link: an error.
/// assert!(tether::fs::read_link(std::env::temp_dir()).await.is_err());
/// # });
/// ```
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_link(path)).await
}

/// Changes the permissions of `path`; see [`std::fs::set_permissions`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("tether-perm-{}", std::process::id()));
/// tether::fs::write(&path, "x").await?;
/// let mut perm = tether::fs::metadata(&path).await?.permissions();
/// perm.set_readonly(true);
/// tether::fs::set_permissions(&path, perm).await?;
/// assert!(tether::fs::metadata(&path).await?.permissions().readonly());
/// # tether::fs::remove_file(&path).await
/// # }).unwrap();
/// ```
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::set_permissions(path, perm)).await
}

/// Whether `path` exists: `Ok(false)` for a missing path or a broken
/// symbolic link, an error if existence cannot be determined (e.g. no
/// permission); see [`std::fs::exists`].
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// assert!(tether::fs::try_exists(std::env::temp_dir()).await?);
/// assert!(!tether::fs::try_exists("/definitely/not/here").await?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref().to_owned();
    asyncify(move || path.try_exists()).await
}
