//! [`Builder`]: configures and creates a [`Runtime`].

use std::fmt;
use std::io;
use std::time::Duration;

use super::Runtime;

/// Default cap on blocking-pool threads: blocking work is usually I/O-bound
/// (files, DNS), so many threads may wait at once.
const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;

/// How long an idle blocking-pool thread waits for work before exiting.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Default stack size of worker and blocking threads. Larger than the
/// platform default because nested scopes (and deeply nested futures in
/// debug builds) run on the worker's stack.
const DEFAULT_STACK_SIZE: usize = 8 * 1024 * 1024;

/// Environment variable that overrides the default worker count.
const WORKER_THREADS_ENV: &str = "TETHER_WORKER_THREADS";

/// Which scheduler to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Work-stealing over worker threads.
    MultiThread,
    /// Everything on the thread calling `block_on`.
    CurrentThread,
}

/// Configures a [`Runtime`].
///
/// ```
/// let rt = tether::runtime::Builder::new_multi_thread()
///     .worker_threads(2)
///     .thread_name("my-worker")
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Clone)]
pub struct Builder {
    /// The scheduler flavour.
    kind: Kind,
    /// Worker threads (multi-thread only); `None` means one per core.
    worker_threads: Option<usize>,
    /// Name of the runtime's threads.
    thread_name: String,
    /// Stack size of the runtime's threads.
    thread_stack_size: usize,
    /// Cap on blocking-pool threads.
    max_blocking_threads: usize,
    /// Idle timeout of blocking-pool threads.
    keep_alive: Duration,
}

impl Builder {
    /// A builder for the multi-thread, work-stealing runtime (the default).
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_multi_thread().build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn new_multi_thread() -> Builder {
        Builder::new(Kind::MultiThread)
    }

    /// A builder for the current-thread runtime: tasks run on the thread
    /// that calls [`Runtime::block_on`].
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_current_thread().build().unwrap();
    /// assert_eq!(rt.block_on(async { 3 }), 3);
    /// ```
    pub fn new_current_thread() -> Builder {
        Builder::new(Kind::CurrentThread)
    }

    fn new(kind: Kind) -> Builder {
        Builder {
            kind,
            worker_threads: None,
            thread_name: "tether-runtime-worker".to_string(),
            thread_stack_size: DEFAULT_STACK_SIZE,
            max_blocking_threads: DEFAULT_MAX_BLOCKING_THREADS,
            keep_alive: DEFAULT_KEEP_ALIVE,
        }
    }

    /// Sets the number of worker threads (multi-thread runtime). Defaults to
    /// the `TETHER_WORKER_THREADS` environment variable, else the number of
    /// cores. Zero is rejected by [`Builder::build`].
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_multi_thread()
    ///     .worker_threads(3)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.metrics().num_workers(), 3);
    /// ```
    pub fn worker_threads(&mut self, n: usize) -> &mut Builder {
        self.worker_threads = Some(n);
        self
    }

    /// Names the runtime's threads (workers and blocking pool).
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_multi_thread()
    ///     .thread_name("io-worker")
    ///     .build()
    ///     .unwrap();
    /// let name = rt.block_on(async {
    ///     tether::spawn(async { std::thread::current().name().map(String::from) })
    ///         .await
    ///         .unwrap()
    /// });
    /// assert_eq!(name.as_deref(), Some("io-worker"));
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.thread_name = name.into();
        self
    }

    /// Sets the stack size of the runtime's threads (default 8 MiB).
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_multi_thread()
    ///     .thread_stack_size(4 * 1024 * 1024)
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.thread_stack_size = bytes;
        self
    }

    /// Caps the blocking pool (default 512 threads). Zero is rejected by
    /// [`Builder::build`].
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_multi_thread()
    ///     .max_blocking_threads(8)
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Builder {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking-pool thread lives (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = tether::runtime::Builder::new_multi_thread()
    ///     .thread_keep_alive(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn thread_keep_alive(&mut self, duration: Duration) -> &mut Builder {
        self.keep_alive = duration;
        self
    }

    /// Accepted for source compatibility with tokio builders: tether's I/O
    /// and timer drivers are always enabled.
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn enable_all(&mut self) -> &mut Builder {
        self
    }

    /// Creates the runtime.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for zero worker or blocking threads; the OS error if
    /// the I/O driver or a thread cannot be created.
    ///
    /// ```
    /// let err = tether::runtime::Builder::new_multi_thread()
    ///     .worker_threads(0)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        if self.max_blocking_threads == 0 {
            return Err(invalid("max_blocking_threads must be at least 1"));
        }
        let blocking = crate::blocking::Spawner::new(crate::blocking::Config {
            thread_cap: self.max_blocking_threads,
            keep_alive: self.keep_alive,
            thread_name: self.thread_name.clone(),
            stack_size: Some(self.thread_stack_size),
        });
        match self.kind {
            Kind::CurrentThread => Runtime::new_current_thread(blocking),
            Kind::MultiThread => {
                let n = match self.worker_threads {
                    Some(n) => n,
                    None => default_worker_threads()?,
                };
                if n == 0 {
                    return Err(invalid("worker_threads must be at least 1"));
                }
                Runtime::new_multi_thread(n, blocking, &self.thread_name, self.thread_stack_size)
            }
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn default_worker_threads() -> io::Result<usize> {
    match std::env::var(WORKER_THREADS_ENV) {
        Ok(s) => s.trim().parse::<usize>().map_err(|_| {
            invalid(&format!(
                "{WORKER_THREADS_ENV} must be a positive integer, got {s:?}"
            ))
        }),
        Err(_) => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("kind", &self.kind)
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .field("thread_stack_size", &self.thread_stack_size)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("keep_alive", &self.keep_alive)
            .finish()
    }
}
