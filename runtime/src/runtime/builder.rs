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
    /// Callbacks run on every runtime thread at start and exit.
    hooks: super::ThreadHooks,
    /// Scheduler tick intervals (`None`: the scheduler's defaults).
    intervals: crate::scheduler::Intervals,
    /// Start with the clock paused (current-thread only).
    start_paused: bool,
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
            hooks: super::ThreadHooks::default(),
            intervals: crate::scheduler::Intervals::default(),
            start_paused: false,
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

    /// Accepted for source compatibility with tokio builders; not needed:
    /// every tether runtime always has its I/O and timer drivers (they cost
    /// nothing until a socket or timer is used).
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn enable_all(&mut self) -> &mut Builder {
        self
    }

    /// Accepted for source compatibility with tokio builders; not needed:
    /// the I/O driver is always enabled (see [`Builder::enable_all`]).
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn enable_io(&mut self) -> &mut Builder {
        self
    }

    /// Accepted for source compatibility with tokio builders; not needed:
    /// timers are always enabled (see [`Builder::enable_all`]).
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    /// rt.block_on(async { tether::time::sleep(std::time::Duration::from_millis(1)).await });
    /// ```
    pub fn enable_time(&mut self) -> &mut Builder {
        self
    }

    /// Runs `f` on every thread the runtime starts (workers and blocking
    /// pool threads, including workers started later to take over from a
    /// worker that blocks), first thing, before it runs any task. The
    /// current-thread runtime starts no worker (the thread calling
    /// `block_on` drives it), so there `f` runs on blocking threads only.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = started.clone();
    /// let rt = tether::runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .on_thread_start(move || {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async { tether::spawn_blocking(|| ()).await }).unwrap();
    /// drop(rt);
    /// assert_eq!(started.load(Ordering::SeqCst), 3); // two workers, one blocking thread
    /// ```
    pub fn on_thread_start<F>(&mut self, f: F) -> &mut Builder
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.on_start = Some(std::sync::Arc::new(f));
        self
    }

    /// Runs `f` on every runtime thread (workers and blocking pool threads)
    /// right before it exits: at shutdown, or when an idle blocking thread
    /// retires.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let stopped = Arc::new(AtomicUsize::new(0));
    /// let counter = stopped.clone();
    /// let rt = tether::runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .on_thread_stop(move || {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// drop(rt); // joins the workers
    /// assert_eq!(stopped.load(Ordering::SeqCst), 2);
    /// ```
    pub fn on_thread_stop<F>(&mut self, f: F) -> &mut Builder
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.on_stop = Some(std::sync::Arc::new(f));
        self
    }

    /// How many tasks a worker polls between non-blocking looks at I/O and
    /// timers (default 61). Lower values make I/O and timers more
    /// responsive while the runtime is busy; higher ones spend less time in
    /// the driver. Zero is rejected by [`Builder::build`].
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_multi_thread()
    ///     .event_interval(31)
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn event_interval(&mut self, ticks: u32) -> &mut Builder {
        self.intervals.event = Some(ticks);
        self
    }

    /// How many tasks a worker polls between forced looks at the global
    /// (injection) queue, where tasks spawned or woken from outside the
    /// workers wait. Lower values are fairer to those tasks; higher ones
    /// favour the local queue's cache locality. By default the
    /// current-thread runtime uses 31, and multi-thread workers adapt the
    /// interval to how long their polls take (so a task waiting in the
    /// global queue waits about the same time whatever the poll size);
    /// setting it fixes the interval. Zero is rejected by
    /// [`Builder::build`].
    ///
    /// ```
    /// let rt = tether::runtime::Builder::new_current_thread()
    ///     .global_queue_interval(15)
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn global_queue_interval(&mut self, ticks: u32) -> &mut Builder {
        self.intervals.global_queue = Some(ticks);
        self
    }

    /// Starts the runtime with its clock paused (see
    /// [`tether::time::pause`](crate::time::pause)): timers auto-advance
    /// the clock when the runtime is idle, so code that sleeps runs in no
    /// real time. What `#[tether::test(start_paused = true)]` uses.
    /// Current-thread runtime only: [`Builder::build`] rejects it on the
    /// multi-thread runtime.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = tether::runtime::Builder::new_current_thread()
    ///     .start_paused(true)
    ///     .build()
    ///     .unwrap();
    /// let real = std::time::Instant::now();
    /// rt.block_on(async { tether::time::sleep(Duration::from_secs(3600)).await });
    /// assert!(real.elapsed() < Duration::from_secs(3600));
    /// ```
    pub fn start_paused(&mut self, paused: bool) -> &mut Builder {
        self.start_paused = paused;
        self
    }

    /// Creates the runtime.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for zero worker or blocking threads, a zero
    /// `event_interval` or `global_queue_interval`, or `start_paused` on the
    /// multi-thread runtime; the OS error if the I/O driver or a thread
    /// cannot be created.
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
        if self.intervals.event == Some(0) {
            return Err(invalid("event_interval must be at least 1"));
        }
        if self.intervals.global_queue == Some(0) {
            return Err(invalid("global_queue_interval must be at least 1"));
        }
        if self.start_paused && self.kind == Kind::MultiThread {
            return Err(invalid(
                "start_paused needs the current-thread runtime: the multi-thread runtime cannot \
                 tell when all of its workers are idle, so it cannot auto-advance a paused clock",
            ));
        }
        let blocking = crate::blocking::Spawner::new(crate::blocking::Config {
            thread_cap: self.max_blocking_threads,
            keep_alive: self.keep_alive,
            thread_name: self.thread_name.clone(),
            stack_size: Some(self.thread_stack_size),
            hooks: self.hooks.clone(),
        });
        match self.kind {
            Kind::CurrentThread => {
                Runtime::new_current_thread(blocking, self.intervals, self.start_paused)
            }
            Kind::MultiThread => {
                let n = match self.worker_threads {
                    Some(n) => n,
                    None => default_worker_threads()?,
                };
                if n == 0 {
                    return Err(invalid("worker_threads must be at least 1"));
                }
                Runtime::new_multi_thread(
                    n,
                    blocking,
                    &self.thread_name,
                    self.thread_stack_size,
                    self.intervals,
                    &self.hooks,
                )
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
            .field("hooks", &self.hooks)
            .field("intervals", &self.intervals)
            .field("start_paused", &self.start_paused)
            .finish()
    }
}
