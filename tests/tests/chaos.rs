//! Chaos test: a scoped echo server under connection churn, with random
//! child panics and aborts, nested scopes and the runtime dropped while
//! connections and children are in flight.
//!
//! Bounded and seeded: a few seconds by default; `TETHER_CHAOS_SECS=N`
//! runs longer, `TETHER_CHAOS_SEED=S` replays a run (the seed is printed).
//! It asserts that
//!
//! * every byte sent on a connection that no one cut is echoed back, in
//!   order;
//! * every future the server creates is dropped exactly once (counted on
//!   creation and on drop, per round, after the runtime is gone);
//! * the process's open descriptors return to their baseline and its
//!   resident memory stays within a generous bound of it;
//! * the whole run finishes (a watchdog aborts it otherwise).
//!
//! It is the only test in its binary, so descriptor counts are not
//! disturbed by other tests running in parallel.

use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use futures::future::Either;
use futures::{AsyncReadExt, AsyncWriteExt};
use tether::ScopedJoinSet;
use tether::net::{TcpListener, TcpStream};
use tether::runtime::Builder;

/// Default length of a run, in seconds.
const DEFAULT_SECS: u64 = 3;
/// Largest message of an ordinary client.
const MAX_MESSAGE: usize = 64 * 1024;
/// Message of a slow reader: large enough to fill the socket buffers, so
/// the server's writes wait for the client.
const SLOW_MESSAGE: usize = 1024 * 1024;
/// Blocking client sockets give up after this long; a server that stops
/// echoing fails the test with an error instead of a hang.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Resident memory may grow this much over the baseline (allocator caches,
/// thread stacks kept by the C library): generous on purpose; a leak per
/// connection over thousands of connections would exceed it.
const RSS_SLACK_BYTES: u64 = 96 * 1024 * 1024;

/// A small deterministic generator (SplitMix64).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// A new generator for a sub-task, so its draws do not depend on
    /// timing.
    fn fork(&mut self) -> Rng {
        Rng(self.next())
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Between `lo` and `hi` random bytes.
    fn message(&mut self, lo: u64, hi: u64) -> Vec<u8> {
        let len = self.range(lo, hi) as usize;
        self.bytes(len)
    }
}

/// What the server records in one round.
#[derive(Debug, Default)]
struct Stats {
    /// Futures wrapped in [`Counted`] so far.
    created: AtomicUsize,
    /// [`Counted`] futures dropped so far.
    dropped: AtomicUsize,
    /// Side children that panicked (seen as a `JoinError`).
    panics: AtomicUsize,
    /// Side children cancelled by an abort.
    aborted: AtomicUsize,
    /// Connections accepted.
    accepted: AtomicUsize,
}

/// A future that counts its creation and its drop in [`Stats`].
struct Counted<'a, T> {
    /// The wrapped future.
    fut: Pin<Box<dyn Future<Output = T> + Send + 'a>>,
    /// Where to count.
    stats: &'a Stats,
}

impl<'a, T> Counted<'a, T> {
    fn new(stats: &'a Stats, fut: impl Future<Output = T> + Send + 'a) -> Self {
        stats.created.fetch_add(1, SeqCst);
        Counted {
            fut: Box::pin(fut),
            stats,
        }
    }
}

impl<T> Future for Counted<'_, T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.fut.as_mut().poll(cx)
    }
}

impl<T> Drop for Counted<'_, T> {
    fn drop(&mut self) {
        self.stats.dropped.fetch_add(1, SeqCst);
    }
}

/// The prefix of every deliberate panic, which the panic hook keeps quiet.
const CHAOS_PANIC: &str = "chaos: deliberate child panic";

/// A side child of a connection: sleeps, and maybe panics afterwards.
async fn side_job(mut rng: Rng) {
    tether::time::sleep(Duration::from_millis(rng.range(0, 20))).await;
    if rng.chance(40) {
        panic!("{CHAOS_PANIC}");
    }
}

/// Echoes everything read from `conn` until end-of-file or an error.
async fn echo(conn: &mut TcpStream, stats: &Stats, mut rng: Rng) {
    let (mut rd, mut wr) = conn.split();
    let mut buf = vec![0u8; rng.range(512, 16 * 1024) as usize];
    loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // A nested scope per chunk now and then: the write is its child.
        let res = if rng.chance(10) {
            let (wr, chunk) = (&mut wr, &buf[..n]);
            tether::scope(|s| async move {
                s.spawn(Counted::new(
                    stats,
                    async move { wr.write_all(chunk).await },
                ))
                .await
                .expect("the write child was cancelled")
            })
            .await
        } else {
            wr.write_all(&buf[..n]).await
        };
        if res.is_err() {
            return;
        }
    }
}

/// One connection: the echo loop in a nested scope beside an aborted
/// sibling, and side children in a `ScopedJoinSet` (some panic, some are
/// aborted).
async fn connection(mut conn: TcpStream, stats: &Stats, mut rng: Rng) {
    let mut side = ScopedJoinSet::new();
    for _ in 0..rng.range(0, 4) {
        side.spawn(Counted::new(stats, side_job(rng.fork())));
    }
    if rng.chance(20) {
        side.abort_all();
    }
    let echo_rng = rng.fork();
    let abort_sibling = rng.chance(50);
    let conn = &mut conn;
    let echo = tether::scope(|s| async move {
        let sibling = s.spawn(Counted::new(
            stats,
            tether::time::sleep(Duration::from_secs(3600)),
        ));
        let h = s.spawn(Counted::new(stats, echo(conn, stats, echo_rng)));
        if abort_sibling {
            sibling.abort();
            let r = sibling.await;
            assert!(r.unwrap_err().is_cancelled());
        }
        let r = h.await;
        // The hour-long sibling, if not aborted, keeps the scope (which
        // waits for every child) and the connection open until the runtime
        // is dropped: the set of idle connections a long-lived server has.
        r.expect("the echo child was cancelled")
    });
    let side = async {
        while let Some(r) = side.join_next().await {
            match r {
                Ok(()) => {}
                Err(e) if e.is_panic() => {
                    stats.panics.fetch_add(1, SeqCst);
                }
                Err(e) if e.is_cancelled() => {
                    stats.aborted.fetch_add(1, SeqCst);
                }
                Err(e) => panic!("unexpected join error {e:?}"),
            }
        }
    };
    futures::join!(echo, side);
}

/// The server: accepts connections into a `ScopedJoinSet` whose children
/// borrow the server's own locals (the statistics and the listener).
async fn server(listener: std::net::TcpListener, stats: Arc<Stats>, mut rng: Rng) {
    let listener = TcpListener::from_std(listener).unwrap();
    let stats = &*stats;
    let mut conns = ScopedJoinSet::new();
    loop {
        let accepted = if conns.is_empty() {
            listener.accept().await
        } else {
            let accept = std::pin::pin!(listener.accept());
            let next = std::pin::pin!(conns.join_next());
            match futures::future::select(accept, next).await {
                Either::Left((accepted, _)) => accepted,
                Either::Right((joined, _)) => {
                    joined
                        .expect("the set was not empty")
                        .expect("a connection child failed");
                    continue;
                }
            }
        };
        match accepted {
            Ok((conn, _)) => {
                stats.accepted.fetch_add(1, SeqCst);
                conns.spawn(Counted::new(stats, connection(conn, stats, rng.fork())));
            }
            // Connections reset before they were accepted, or descriptor
            // pressure: keep serving.
            Err(_) => tether::time::sleep(Duration::from_millis(1)).await,
        }
    }
}

fn connect(addr: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    s.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    Ok(s)
}

/// Writes `msg` in random chunks while another thread reads the echo
/// (slowly, if `slow`); returns what was read.
fn exchange(s: std::net::TcpStream, msg: Arc<Vec<u8>>, mut rng: Rng, slow: bool) -> Vec<u8> {
    let mut reader = s.try_clone().unwrap();
    let len = msg.len();
    let read = thread::spawn(move || {
        let mut got = Vec::with_capacity(len);
        let mut buf = vec![0u8; if slow { 4096 } else { 64 * 1024 }];
        while got.len() < len {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("an uncut connection failed while reading: {e}"),
            }
            if slow && got.len() % (64 * 1024) < 4096 {
                thread::sleep(Duration::from_millis(1));
            }
        }
        got
    });
    let mut writer = s;
    let mut off = 0;
    while off < len {
        let n = (rng.range(1, 16 * 1024) as usize).min(len - off);
        writer
            .write_all(&msg[off..off + n])
            .expect("an uncut connection failed while writing");
        off += n;
    }
    writer.shutdown(Shutdown::Write).unwrap();
    read.join().unwrap()
}

/// A client that runs short connections until `stop`: most are checked
/// byte for byte; some close or reset in the middle of a message.
fn churn_client(addr: SocketAddr, mut rng: Rng, stop: &AtomicBool, echoed: &AtomicU64) {
    while !stop.load(SeqCst) {
        let s = connect(addr).expect("connect");
        match rng.range(0, 10) {
            // Close mid-message: part of a message, then drop.
            0 => {
                let part = rng.message(1, 8192);
                let _ = (&s).write_all(&part);
                drop(s);
            }
            // Reset mid-message: SO_LINGER 0 makes the close an RST.
            1 => {
                let part = rng.message(1, 8192);
                let _ = (&s).write_all(&part);
                socket2::SockRef::from(&s)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(s);
            }
            // Slow reader of a large message.
            2 => {
                let msg = Arc::new(rng.bytes(SLOW_MESSAGE));
                let got = exchange(s, msg.clone(), rng.fork(), true);
                assert!(got == *msg, "slow reader: echo differs");
                echoed.fetch_add(got.len() as u64, SeqCst);
            }
            // Ordinary: a random-sized message, checked.
            _ => {
                let len = rng.range(1, MAX_MESSAGE as u64 + 1) as usize;
                let msg = Arc::new(rng.bytes(len));
                let got = exchange(s, msg.clone(), rng.fork(), false);
                assert!(
                    got == *msg,
                    "echo differs ({} of {len} bytes back)",
                    got.len()
                );
                echoed.fetch_add(got.len() as u64, SeqCst);
            }
        }
    }
}

/// A client whose connection stays open across the runtime drop: it
/// sends a few bytes now and then until the connection is cut.
fn lingering_client(addr: SocketAddr, mut rng: Rng, stop: &AtomicBool) {
    let Ok(mut s) = connect(addr) else { return };
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 64];
    while !stop.load(SeqCst) {
        let msg = rng.message(1, 64);
        if s.write_all(&msg).is_err() {
            return;
        }
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
            Err(_) => return,
        }
        thread::sleep(Duration::from_millis(rng.range(1, 10)));
    }
}

/// One round: a fresh runtime and server, churn for `len`, then the
/// runtime is dropped with connections and children in flight. Returns
/// the bytes echoed on checked connections and the server's statistics.
fn round(mut rng: Rng, len: Duration) -> (u64, Arc<Stats>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    // Current-thread, or 1, 2 or 4 workers: a session has more than one
    // helper only with three workers or more.
    let flavour = rng.range(0, 4);
    let rt = match flavour {
        0 => Builder::new_current_thread().enable_all().build(),
        n => Builder::new_multi_thread()
            .worker_threads(if n == 3 { 4 } else { n as usize })
            .enable_all()
            .build(),
    }
    .unwrap();
    let stats = Arc::new(Stats::default());
    let server = rt.spawn(server(listener, stats.clone(), rng.fork()));

    let stop_churn = AtomicBool::new(false);
    let stop_lingering = AtomicBool::new(false);
    let churn_done = AtomicUsize::new(0);
    let echoed = AtomicU64::new(0);
    let churners = rng.range(2, 6) as usize;
    thread::scope(|ts| {
        for _ in 0..rng.range(1, 4) {
            let r = rng.fork();
            let stop = &stop_lingering;
            ts.spawn(move || lingering_client(addr, r, stop));
        }
        for _ in 0..churners {
            let r = rng.fork();
            let (stop, done, echoed) = (&stop_churn, &churn_done, &echoed);
            ts.spawn(move || {
                let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    churn_client(addr, r, stop, echoed)
                }));
                done.fetch_add(1, SeqCst);
                if let Err(p) = res {
                    std::panic::resume_unwind(p);
                }
            });
        }
        // Drive the runtime (a current-thread runtime runs only here)
        // until the churn ends; checked connections must all complete.
        rt.block_on(async {
            tether::time::sleep(len).await;
            stop_churn.store(true, SeqCst);
            while churn_done.load(SeqCst) < churners {
                tether::time::sleep(Duration::from_millis(2)).await;
            }
        });
        // Mid-flight: lingering connections are open, side children sleep.
        drop(rt);
        stop_lingering.store(true, SeqCst);
    });
    // The server never returns: the runtime drop cancelled it. Anything
    // else (a panic) is a failure of the server itself.
    match futures::executor::block_on(server) {
        Err(e) if e.is_cancelled() => {}
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        other => panic!("the server ended on its own: {other:?}"),
    }
    let created = stats.created.load(SeqCst);
    let dropped = stats.dropped.load(SeqCst);
    assert_eq!(
        created, dropped,
        "futures created and dropped differ after the runtime drop ({stats:?})"
    );
    assert!(stats.accepted.load(SeqCst) > 0, "no connection was served");
    assert_eq!(
        Arc::strong_count(&stats),
        1,
        "the server's statistics are still referenced: the server was not dropped"
    );
    (echoed.load(SeqCst), stats)
}

/// Open descriptors of this process.
fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Resident memory of this process, in bytes.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Keeps deliberate panics quiet; every other panic is reported as usual.
fn quiet_deliberate_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied());
        if !msg.is_some_and(|m| m.starts_with(CHAOS_PANIC)) {
            default(info);
        }
    }));
}

#[test]
fn chaos_echo_server_under_churn_panics_aborts_and_runtime_drop() {
    let secs = std::env::var("TETHER_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECS);
    let seed = std::env::var("TETHER_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("chaos: {secs} s, seed {seed} (TETHER_CHAOS_SEED={seed} replays the draws)");

    // Watchdog: the run is bounded; a hang aborts with the seed printed.
    let finished = Arc::new(Mutex::new(false));
    {
        let finished = finished.clone();
        let limit = Duration::from_secs(secs * 3 + 60);
        thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < limit {
                thread::sleep(Duration::from_millis(100));
                if *finished.lock().unwrap() {
                    return;
                }
            }
            eprintln!("chaos: watchdog fired after {limit:?} (seed {seed}); aborting");
            std::process::abort();
        });
    }
    quiet_deliberate_panics();

    let mut rng = Rng(seed);
    // A warm-up round, so the baseline includes what the first runtime
    // allocates once per process (thread-locals, allocator arenas).
    round(rng.fork(), Duration::from_millis(200));
    let fds = fd_count();
    let rss = rss_bytes();

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut rounds = 0;
    let (mut echoed, mut conns, mut panics, mut aborted) = (0, 0, 0, 0);
    while Instant::now() < deadline {
        let (bytes, stats) = round(rng.fork(), Duration::from_millis(rng.range(200, 800)));
        echoed += bytes;
        conns += stats.accepted.load(SeqCst);
        panics += stats.panics.load(SeqCst);
        aborted += stats.aborted.load(SeqCst);
        rounds += 1;
    }
    assert!(echoed > 0, "no byte was echoed on a checked connection");
    // Dozens of connections per round, each drawing its children: a run
    // without a single child panic or abort means the draws are broken.
    assert!(
        panics > 0 && aborted > 0,
        "panics {panics}, aborts {aborted}"
    );

    // Every descriptor of the runtimes (selector, wake-up, sockets) is
    // closed synchronously by the time `round` returns.
    let fds_after = fd_count();
    assert_eq!(
        fds_after, fds,
        "open descriptors: {fds} before, {fds_after} after"
    );
    let rss_after = rss_bytes();
    assert!(
        rss_after <= rss + RSS_SLACK_BYTES,
        "resident memory grew from {rss} to {rss_after} bytes"
    );
    eprintln!(
        "chaos: {rounds} rounds, {conns} connections, {echoed} bytes echoed and checked, \
         {panics} child panics, {aborted} aborted children, fds {fds} -> {fds_after}, \
         rss {} -> {} KiB",
        rss / 1024,
        rss_after / 1024
    );
    *finished.lock().unwrap() = true;
}
