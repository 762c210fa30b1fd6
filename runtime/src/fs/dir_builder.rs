//! [`DirBuilder`]: creating directories with options.

use std::io;
use std::path::Path;

use super::asyncify;

/// Creates directories with options (recursive, mode) — tokio's
/// `tokio::fs::DirBuilder`, over `std::fs::DirBuilder`.
///
/// # Examples
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let root = std::env::temp_dir().join(format!("tether-dirbuilder-{}", std::process::id()));
/// tether::fs::DirBuilder::new().recursive(true).create(root.join("x/y")).await?;
/// assert!(tether::fs::metadata(root.join("x/y")).await?.is_dir());
/// # tether::fs::remove_dir_all(&root).await
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct DirBuilder {
    recursive: bool,
    #[cfg(unix)]
    mode: Option<u32>,
}

impl DirBuilder {
    /// A builder that creates one directory whose parent must exist.
    ///
    /// ```
    /// let builder = tether::fs::DirBuilder::new();
    /// # drop(builder);
    /// ```
    pub fn new() -> DirBuilder {
        DirBuilder::default()
    }

    /// Also creates missing parents, and succeeds if the directory exists.
    ///
    /// ```
    /// tether::fs::DirBuilder::new().recursive(true);
    /// ```
    pub fn recursive(&mut self, recursive: bool) -> &mut DirBuilder {
        self.recursive = recursive;
        self
    }

    /// The permission bits of created directories (before the umask).
    ///
    /// ```
    /// tether::fs::DirBuilder::new().mode(0o700);
    /// ```
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut DirBuilder {
        self.mode = Some(mode);
        self
    }

    /// Creates `path` on the blocking pool; see
    /// [`std::fs::DirBuilder::create`].
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let dir = std::env::temp_dir().join(format!("tether-dirbuilder-create-{}", std::process::id()));
    /// tether::fs::DirBuilder::new().create(&dir).await?;
    /// # tether::fs::remove_dir(&dir).await
    /// # }).unwrap();
    /// ```
    pub async fn create(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref().to_owned();
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(self.recursive);
        #[cfg(unix)]
        if let Some(mode) = self.mode {
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode);
        }
        asyncify(move || builder.create(path)).await
    }
}
