//! Echo servers under load, with latency distributions: a long-lived
//! `tether::scope` whose children are the connections (borrowing the
//! server's `Config` and `Stats`, as `examples/echo_server.rs` does), the same
//! server with `tether::spawn` + `Arc`, and tokio's `spawn` + `Arc`. Every
//! server is loaded by the same tokio client in the same process.
//!
//! Sections (a word on the command line runs only the sections whose name
//! contains it):
//!
//! * `echo/N`: N connections (64, 256, 1024) each send [`MESSAGES`]
//!   messages of [`MESSAGE_SIZE`] bytes, one in flight per connection.
//!   Reports the total time (all connections started together, until the
//!   last echo), the throughput, and the distribution of per-message
//!   round-trip latency (write to last byte of the echo read back).
//! * `echo_burn/N` (64, 256): the same, but connection 0 makes the server burn
//!   [`BURN`] of CPU inside the handler's poll for every message it sends.
//!   Reports when the *other* connections are done and their latency
//!   distribution: how much one CPU-heavy child hurts its siblings.
//! * `echo_fifo/N` (256, 1024): the `echo` load from a current-thread
//!   tokio client instead of the one-worker multi-thread one. At 1024
//!   connections that client's own queues keep a few per cent of the
//!   messages waiting 100–170 ms whatever the server, which is every
//!   server's p99 in `echo/1024`; a FIFO client has no such wait, so the
//!   tail it reports is the server's (see `Client::Fifo`).
//! * `soak`: a sustained mixed load for a few seconds per server: 256
//!   connections, message sizes from 16 B to 16 KiB, a quarter of the
//!   connections pausing up to 2 ms between messages, every connection
//!   closing and reconnecting after 10–300 messages (so the long-lived scope
//!   keeps gaining and losing children). Reports throughput and the latency
//!   distribution including the maximum.
//!
//! Peers: `tether_scope` (the scope awaited in `block_on` on a server
//! thread, as `#[tether::main]` would: that thread polls handlers too, as
//! the scope's owner), `tether_scope_in_task` (the same scope inside a
//! `tether::spawn`ed task, so only the workers poll handlers),
//! `tether_spawn`, `tokio` (both with the accept loop in `block_on` on a
//! server thread, handlers spawned onto the workers). Every server runtime
//! has [`WORKERS`] workers; the client is a one-worker tokio runtime shared
//! by every run (`echo_fifo`: a current-thread one). Each measurement
//! starts a fresh server and stops it afterwards, so two servers never
//! compete for the cores; the order of the peers rotates from one
//! repetition to the next, so slow phases of a shared machine do not always
//! hit the same peer.
//!
//! Regenerate (this bench alone, or every latency bench into
//! `benches/LATENCY.md`):
//!
//! ```text
//! cargo bench -p tether-benches --bench echo_latency            # ~1.5 min
//! cargo bench -p tether-benches --bench echo_latency -- --quick # smoke run
//! cargo bench -p tether-benches --bench echo_latency -- soak    # one section
//! bash benches/latency.sh                                       # all latency benches
//! ```

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::future::{Either, select};
use tether_benches::{
    BenchArgs, Distribution, Rng, Table, WORKERS, fmt_duration, fmt_ratio, median, median_f64,
    spin_for,
};

/// Bytes per message in the `echo` sections (~1 KiB, as in the issue).
const MESSAGE_SIZE: usize = 1024;
/// Messages each connection sends in the `echo` sections.
const MESSAGES: usize = 200;
/// CPU the server burns per message of the burning connection.
const BURN: Duration = Duration::from_millis(5);
/// First byte of every message of the burning connection; the server
/// recognises the connection by the first byte it reads.
const BURN_BYTE: u8 = 0xB0;
/// Fill byte of every other message.
const NORMAL_BYTE: u8 = 0x5A;
/// Size of each handler's read buffer (as in `examples/echo_server.rs`).
const BUFFER_SIZE: usize = 16 * 1024;
/// Largest soak message: fits the loopback socket buffers, so the client may
/// write a whole message before reading its echo without deadlocking.
const SOAK_MAX_MESSAGE: u64 = 16 * 1024;
/// Longest a server may take to finish its handlers once the client has
/// closed every connection, before the bench reports a hang.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Rounds of the fixed-count tables (`echo`, `echo_fifo`, `echo_burn`):
/// odd, so the per-round ratios have a middle one; three keeps the whole
/// `latency.sh` run under four minutes.
const ECHO_ROUNDS: usize = 3;

// ---------------------------------------------------------------------------
// The server side: configuration and statistics shared by every handler.
// ---------------------------------------------------------------------------

/// Server settings, read by every connection handler.
#[derive(Debug)]
struct Config {
    /// Size of each handler's read buffer.
    buffer_size: usize,
    /// Message size, for counting the burning connection's messages.
    message_size: usize,
    /// CPU burned per message of a connection whose first byte is
    /// [`BURN_BYTE`].
    burn: Duration,
}

/// Counters updated by every connection handler.
#[derive(Debug, Default)]
struct Stats {
    /// Connections accepted.
    accepted: AtomicU64,
    /// Connections served to completion (peer closed).
    finished: AtomicU64,
    /// Bytes echoed.
    bytes: AtomicU64,
    /// Handlers that ended with an I/O error.
    errors: AtomicU64,
}

/// Decides whether a connection burns CPU and burns it once per message.
#[derive(Debug, Default)]
struct Burner {
    /// Decided on the first read: whether this connection burns.
    burning: Option<bool>,
    /// Bytes read so far on this connection.
    bytes: usize,
}

impl Burner {
    /// Accounts for `chunk` just read; burns [`Config::burn`] for each
    /// message boundary it completes (before the echo is written back).
    fn on_read(&mut self, chunk: &[u8], config: &Config) {
        let burning = *self.burning.get_or_insert(chunk[0] == BURN_BYTE);
        let before = self.bytes / config.message_size;
        self.bytes += chunk.len();
        if burning {
            for _ in before..self.bytes / config.message_size {
                spin_for(config.burn);
            }
        }
    }
}

/// The tether connection handler: echoes until the peer closes. Takes
/// `&Config`/`&Stats`: borrowed from the server's stack by the scoped
/// server, from an `Arc` by the spawning one.
async fn tether_handle(mut conn: tether::net::TcpStream, config: &Config, stats: &Stats) {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    let result: std::io::Result<()> = async {
        conn.set_nodelay(true)?;
        let mut buf = vec![0u8; config.buffer_size];
        let mut burner = Burner::default();
        loop {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            burner.on_read(&buf[..n], config);
            conn.write_all(&buf[..n]).await?;
            stats.bytes.fetch_add(n as u64, Relaxed);
        }
    }
    .await;
    if result.is_err() {
        stats.errors.fetch_add(1, Relaxed);
    }
    stats.finished.fetch_add(1, Relaxed);
}

/// The tokio connection handler, the same loop as [`tether_handle`].
async fn tokio_handle(mut conn: tokio::net::TcpStream, config: &Config, stats: &Stats) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let result: std::io::Result<()> = async {
        conn.set_nodelay(true)?;
        let mut buf = vec![0u8; config.buffer_size];
        let mut burner = Burner::default();
        loop {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            burner.on_read(&buf[..n], config);
            conn.write_all(&buf[..n]).await?;
            stats.bytes.fetch_add(n as u64, Relaxed);
        }
    }
    .await;
    if result.is_err() {
        stats.errors.fetch_add(1, Relaxed);
    }
    stats.finished.fetch_add(1, Relaxed);
}

/// The servers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// Connections are children of one `tether::scope` borrowing the
    /// server's `Config` and `Stats`, awaited in `block_on`.
    TetherScope,
    /// The same scope inside a `tether::spawn`ed task.
    TetherScopeInTask,
    /// Connections are `tether::spawn`ed tasks holding `Arc`s.
    TetherSpawn,
    /// Connections are `tokio::spawn`ed tasks holding `Arc`s.
    Tokio,
}

/// Every server, the baseline (tokio) last.
const SERVERS: [Server; 4] = [
    Server::TetherScope,
    Server::TetherScopeInTask,
    Server::TetherSpawn,
    Server::Tokio,
];

/// Index of the baseline in [`SERVERS`].
const BASE: usize = SERVERS.len() - 1;

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::TetherScope => "tether_scope",
            Server::TetherScopeInTask => "tether_scope_in_task",
            Server::TetherSpawn => "tether_spawn",
            Server::Tokio => "tokio",
        }
    }

    /// Starts the server on its own thread and runtime.
    fn start(self, message_size: usize) -> RunningServer {
        let config = Config {
            buffer_size: BUFFER_SIZE,
            message_size,
            burn: BURN,
        };
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("{}-server", self.name()))
            .spawn(move || match self {
                Server::TetherScope => tether_scope_server(config, addr_tx, stop_rx, false),
                Server::TetherScopeInTask => tether_scope_server(config, addr_tx, stop_rx, true),
                Server::TetherSpawn => tether_spawn_server(config, addr_tx, stop_rx),
                Server::Tokio => tokio_server(config, addr_tx, stop_rx),
            })
            .expect("spawn the server thread");
        let addr = addr_rx.recv().expect("the server did not start");
        RunningServer {
            addr,
            stop: stop_tx,
            thread,
        }
    }
}

/// A server running on its own thread.
struct RunningServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Stats>,
}

impl RunningServer {
    /// Stops accepting, waits for every handler and returns the counters.
    fn stop(self) -> Stats {
        let _ = self.stop.send(());
        let stats = self.thread.join().expect("the server panicked");
        assert_eq!(stats.errors.load(Relaxed), 0, "a handler failed");
        stats
    }
}

/// Waits (polling every millisecond, up to [`STOP_TIMEOUT`]) until every
/// accepted connection's handler has finished: the spawning servers have no
/// scope to wait for their handlers.
fn wait_for_handlers(stats: &Stats) {
    let deadline = Instant::now() + STOP_TIMEOUT;
    while stats.finished.load(Relaxed) < stats.accepted.load(Relaxed) {
        assert!(Instant::now() < deadline, "handlers did not finish");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The scoped server: one `tether::scope` lives as long as the server;
/// every connection is a child that borrows `config` and `stats`.
async fn serve_scoped(
    listener: &tether::net::TcpListener,
    mut stop: oneshot::Receiver<()>,
    config: &Config,
    stats: &Stats,
) {
    tether::scope(|s| async move {
        loop {
            match select(pin!(listener.accept()), &mut stop).await {
                Either::Left((Ok((conn, _)), _)) => {
                    stats.accepted.fetch_add(1, Relaxed);
                    s.spawn(tether_handle(conn, config, stats));
                }
                Either::Left((Err(e), _)) => panic!("accept failed: {e}"),
                Either::Right(_) => break,
            }
        }
        // The scope itself waits for every handler still running.
    })
    .await;
}

/// Runs [`serve_scoped`] with `config` and a fresh `Stats` on the server's
/// stack: in `block_on` (the scope's owner is the server thread, as with
/// `#[tether::main]`), or, if `in_task`, inside a spawned task (the owner is
/// a worker; no thread outside the workers polls a handler).
fn tether_scope_server(
    config: Config,
    addr_tx: std::sync::mpsc::Sender<SocketAddr>,
    stop: oneshot::Receiver<()>,
    in_task: bool,
) -> Stats {
    let rt = tether_benches::tether_runtime();
    let server = async move {
        let stats = Stats::default();
        let listener = tether::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        addr_tx.send(listener.local_addr().expect("addr")).ok();
        serve_scoped(&listener, stop, &config, &stats).await;
        stats
    };
    let stats = if in_task {
        rt.block_on(async { tether::spawn(server).await.expect("server task") })
    } else {
        rt.block_on(server)
    };
    assert_eq!(stats.finished.load(Relaxed), stats.accepted.load(Relaxed));
    stats
}

/// The same server with `tether::spawn` and `Arc`.
fn tether_spawn_server(
    config: Config,
    addr_tx: std::sync::mpsc::Sender<SocketAddr>,
    mut stop: oneshot::Receiver<()>,
) -> Stats {
    let rt = tether_benches::tether_runtime();
    let (config, stats) = (Arc::new(config), Arc::new(Stats::default()));
    rt.block_on(async {
        let listener = tether::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        addr_tx.send(listener.local_addr().expect("addr")).ok();
        loop {
            match select(pin!(listener.accept()), &mut stop).await {
                Either::Left((Ok((conn, _)), _)) => {
                    stats.accepted.fetch_add(1, Relaxed);
                    let (config, stats) = (config.clone(), stats.clone());
                    drop(tether::spawn(async move {
                        tether_handle(conn, &config, &stats).await;
                    }));
                }
                Either::Left((Err(e), _)) => panic!("accept failed: {e}"),
                Either::Right(_) => break,
            }
        }
    });
    wait_for_handlers(&stats);
    drop(rt);
    Arc::into_inner(stats).expect("a handler still holds the stats")
}

/// tokio's server: `tokio::spawn` and `Arc`.
fn tokio_server(
    config: Config,
    addr_tx: std::sync::mpsc::Sender<SocketAddr>,
    mut stop: oneshot::Receiver<()>,
) -> Stats {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (config, stats) = (Arc::new(config), Arc::new(Stats::default()));
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        addr_tx.send(listener.local_addr().expect("addr")).ok();
        loop {
            match select(pin!(listener.accept()), &mut stop).await {
                Either::Left((Ok((conn, _)), _)) => {
                    stats.accepted.fetch_add(1, Relaxed);
                    let (config, stats) = (config.clone(), stats.clone());
                    drop(tokio::spawn(async move {
                        tokio_handle(conn, &config, &stats).await;
                    }));
                }
                Either::Left((Err(e), _)) => panic!("accept failed: {e}"),
                Either::Right(_) => break,
            }
        }
    });
    wait_for_handlers(&stats);
    drop(rt);
    Arc::into_inner(stats).expect("a handler still holds the stats")
}

// ---------------------------------------------------------------------------
// The client: one tokio runtime, the same for every server.
// ---------------------------------------------------------------------------

/// The client of the `echo_fifo` section: a current-thread tokio runtime
/// (see [`Client::Fifo`]).
fn fifo_client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime")
}

/// The load generator's runtime: one worker, shared by every run.
fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("echo-client")
        .enable_all()
        .build()
        .expect("client runtime")
}

/// What one connection of the fixed-count load measured.
struct ConnResult {
    /// Round-trip time of every message.
    latencies: Vec<Duration>,
    /// When its last echo arrived.
    done: Instant,
}

/// What one fixed-count run measured.
struct EchoRun {
    /// From the start signal to the last echo of every connection.
    total: Duration,
    /// From the start signal to the last echo of every connection but the
    /// burning one (equal to `total` without one).
    others_done: Duration,
    /// Round trips of every connection but the burning one.
    others: Vec<Duration>,
}

/// Connects `connections` clients to `addr`, starts them together, and
/// has each send `messages` messages of `size` bytes (connection 0 sends
/// burning messages if `burn`), one in flight, checking every echo.
fn echo_load(
    client: &tokio::runtime::Runtime,
    addr: SocketAddr,
    connections: usize,
    messages: usize,
    size: usize,
    burn: bool,
) -> EchoRun {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    client.block_on(async {
        let (start_tx, start_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::with_capacity(connections);
        for i in 0..connections {
            let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
            conn.set_nodelay(true).expect("nodelay");
            let mut start_rx = start_rx.clone();
            let fill = if burn && i == 0 {
                BURN_BYTE
            } else {
                NORMAL_BYTE
            };
            tasks.push(tokio::spawn(async move {
                let msg = vec![fill; size];
                let mut back = vec![0u8; size];
                let mut latencies = Vec::with_capacity(messages);
                start_rx.wait_for(|go| *go).await.expect("start signal");
                for _ in 0..messages {
                    let sent = Instant::now();
                    conn.write_all(&msg).await.expect("write");
                    conn.read_exact(&mut back).await.expect("read");
                    latencies.push(sent.elapsed());
                    assert!(back == msg, "echo differs from the message");
                }
                ConnResult {
                    latencies,
                    done: Instant::now(),
                }
            }));
        }
        let start = Instant::now();
        start_tx.send(true).expect("start");
        let mut total = Duration::ZERO;
        let mut others_done = Duration::ZERO;
        let mut others = Vec::with_capacity(connections * messages);
        for (i, task) in tasks.into_iter().enumerate() {
            let r = task.await.expect("client task");
            let took = r.done - start;
            total = total.max(took);
            if !(burn && i == 0) {
                others_done = others_done.max(took);
                others.extend(r.latencies);
            }
        }
        EchoRun {
            total,
            others_done,
            others,
        }
    })
}

/// Runs one fixed-count measurement against a fresh `server`, checking
/// that every byte was echoed.
fn echo_once(
    client: &tokio::runtime::Runtime,
    server: Server,
    connections: usize,
    messages: usize,
    burn: bool,
) -> EchoRun {
    let running = server.start(MESSAGE_SIZE);
    let run = echo_load(
        client,
        running.addr,
        connections,
        messages,
        MESSAGE_SIZE,
        burn,
    );
    let stats = running.stop();
    assert_eq!(
        stats.bytes.load(Relaxed),
        (connections * messages * MESSAGE_SIZE) as u64,
        "{} did not echo every byte",
        server.name()
    );
    run
}

/// The results of one server over all repetitions of a fixed-count run.
/// The per-run vectors are in round order, so entry `i` of two servers
/// comes from the same round of [`echo_series`].
#[derive(Default)]
struct EchoSummary {
    totals: Vec<Duration>,
    others_done: Vec<Duration>,
    /// The p99 of each run's latencies.
    p99s: Vec<Duration>,
    latencies: Vec<Duration>,
}

/// The median over rounds of `this[i] ÷ base[i]`: each run is compared
/// with the peer's run of the same round. The machine's speed drifts by
/// up to 2× over seconds (other processes share the cores), so a ratio of
/// runs far apart in time measures the drift; runs of one round are a few
/// seconds apart, and the median drops a round that a phase change split.
fn paired_ratio(this: &[Duration], base: &[Duration]) -> String {
    let ratios: Vec<f64> = this
        .iter()
        .zip(base)
        .filter(|(_, b)| !b.is_zero())
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
        .collect();
    match median_f64(&ratios) {
        Some(median) => format!("{median:.2}"),
        None => "—".to_owned(),
    }
}

/// Runs `reps` repetitions for every server (rotating their order) and
/// returns each server's summary, in [`SERVERS`] order.
fn echo_series(
    client: &tokio::runtime::Runtime,
    connections: usize,
    messages: usize,
    burn: bool,
    reps: usize,
) -> Vec<EchoSummary> {
    let mut out: Vec<EchoSummary> = SERVERS.iter().map(|_| EchoSummary::default()).collect();
    for rep in 0..reps {
        for k in 0..SERVERS.len() {
            let idx = (k + rep) % SERVERS.len();
            let run = echo_once(client, SERVERS[idx], connections, messages, burn);
            out[idx].totals.push(run.total);
            out[idx].others_done.push(run.others_done);
            let run_latencies = Distribution::new(run.others);
            out[idx].p99s.push(run_latencies.p99());
            out[idx].latencies.extend(run_latencies.into_samples());
        }
    }
    out
}

fn bench_echo(args: &BenchArgs, client: &tokio::runtime::Runtime) {
    echo_table(args, client, Client::OneWorker);
}

/// `echo_fifo/N`: the fixed-count load from a current-thread client (see
/// [`Client::Fifo`]).
fn bench_echo_fifo(args: &BenchArgs) {
    if !Client::Fifo.selected(args) {
        return;
    }
    let client = fifo_client_runtime();
    warm_up(&client);
    echo_table(args, &client, Client::Fifo);
}

/// One short untimed run per server (thread creation, allocator caches,
/// the kernel's loopback path) before a client's first measurement.
fn warm_up(client: &tokio::runtime::Runtime) {
    for server in SERVERS {
        echo_once(client, server, 16, 20, false);
    }
}

/// The client of a fixed-count echo table.
#[derive(Clone, Copy, PartialEq)]
enum Client {
    /// [`client_runtime`]: the client of every other section.
    OneWorker,
    /// [`fifo_client_runtime`]. A one-worker multi-thread tokio runtime
    /// keeps at most 256 tasks in its worker's local queue and takes the
    /// rest from its global queue once every few dozen polls, so at 1024
    /// connections a few per cent of the messages wait 100–170 ms *in the
    /// client*, whatever the server (every server's p99 there is that
    /// wait), and the faster the server answers the hot connections, the
    /// longer the others wait. A current-thread runtime's queue is FIFO:
    /// no message waits behind more than one round of the others, so the
    /// tail it reports is the server's.
    Fifo,
}

impl Client {
    /// The section's name, before `/N`.
    fn prefix(self) -> &'static str {
        match self {
            Client::OneWorker => "echo",
            Client::Fifo => "echo_fifo",
        }
    }

    /// The connection counts of the section.
    fn sizes(self, args: &BenchArgs) -> &'static [usize] {
        match self {
            Client::OneWorker => args.pick(&[64, 256, 1024], &[64, 256]),
            Client::Fifo => args.pick(&[256, 1024], &[64]),
        }
    }

    /// True if the command line selects any size of the section.
    fn selected(self, args: &BenchArgs) -> bool {
        self.sizes(args)
            .iter()
            .any(|n| args.selects(&format!("{}/{n}", self.prefix())))
    }
}

fn echo_table(args: &BenchArgs, client: &tokio::runtime::Runtime, kind: Client) {
    let (prefix, sizes) = (kind.prefix(), kind.sizes(args));
    let messages = args.pick(MESSAGES, 40);
    // Three rounds at every size: the ratios are medians of per-round
    // ratios (see `paired_ratio`), and an odd count has a middle one.
    let reps = args.pick(ECHO_ROUNDS, 1);
    if !kind.selected(args) {
        return;
    }
    let (title, client_note) = match kind {
        Client::OneWorker => (
            "echo: scoped echo server vs tether::spawn vs tokio::spawn",
            "one-worker tokio client",
        ),
        Client::Fifo => (
            "echo_fifo: the same load from a FIFO client",
            "current-thread tokio client (its run queue is FIFO: at 1024 connections the \
             one-worker client of `echo` keeps some connections waiting 100–170 ms in its \
             global queue whatever the server, and that wait is every server's p99 there; \
             this client has no such wait, so the tail is the server's)",
        ),
    };
    let table = Table::new(
        title,
        &format!(
            "N connections × {messages} messages of {MESSAGE_SIZE} B, one in flight per \
             connection; {WORKERS} server workers, {client_note}; {reps} rounds (1 with \
             --quick), each running every server once, in rotated order; median total, \
             latency percentiles over every message of every round; the ratios are the \
             median of the per-round ratios (each run against tokio's run of the same \
             round). Goal: throughput ≥ tokio, p99 ≤ 1.2× tokio."
        ),
        &[
            "bench",
            "server",
            "total time",
            "throughput",
            "p50",
            "p99",
            "max",
            "time ÷ tokio",
            "p99 ÷ tokio",
        ],
    );
    for &connections in sizes {
        let name = format!("{prefix}/{connections}");
        if !args.selects(&name) {
            continue;
        }
        let results = echo_series(client, connections, messages, false, reps);
        let (base_totals, base_p99s) = (results[BASE].totals.clone(), results[BASE].p99s.clone());
        for (server, r) in SERVERS.iter().zip(results) {
            let total = median(&r.totals);
            let d = Distribution::new(r.latencies);
            let msgs = (connections * messages) as f64;
            table.row(&[
                name.clone(),
                server.name().to_owned(),
                fmt_duration(total),
                format!("{:.0} k msg/s", msgs / total.as_secs_f64() / 1e3),
                fmt_duration(d.p50()),
                fmt_duration(d.p99()),
                fmt_duration(d.max()),
                paired_ratio(&r.totals, &base_totals),
                paired_ratio(&r.p99s, &base_p99s),
            ]);
        }
    }
    table.finish();
}

fn bench_echo_burn(args: &BenchArgs, client: &tokio::runtime::Runtime) {
    // At 1024 connections the others' own traffic outlasts the burning
    // connection's 200 × 5 ms, so that size adds run time, not information.
    let sizes: &[usize] = args.pick(&[64, 256], &[64]);
    let messages = args.pick(MESSAGES, 20);
    let reps = args.pick(ECHO_ROUNDS, 1);
    if !sizes
        .iter()
        .any(|n| args.selects(&format!("echo_burn/{n}")))
    {
        return;
    }
    let table = Table::new(
        "echo_burn: one connection burns 5 ms of CPU per message",
        &format!(
            "As `echo`, but the server burns {} of CPU in the handler's poll for every \
             message of connection 0. Times and latencies are those of the *other* \
             connections ({reps} rounds as in `echo`; median of “others done”; ratios \
             are medians of per-round ratios). Goal: p99 ≤ 1.2× tokio.",
            fmt_duration(BURN)
        ),
        &[
            "bench",
            "server",
            "others done",
            "p50",
            "p99",
            "max",
            "done ÷ tokio",
            "p99 ÷ tokio",
        ],
    );
    for &connections in sizes {
        let name = format!("echo_burn/{connections}");
        if !args.selects(&name) {
            continue;
        }
        let results = echo_series(client, connections, messages, true, reps);
        let (base_done, base_p99s) = (
            results[BASE].others_done.clone(),
            results[BASE].p99s.clone(),
        );
        for (server, r) in SERVERS.iter().zip(results) {
            let done = median(&r.others_done);
            let d = Distribution::new(r.latencies);
            table.row(&[
                name.clone(),
                server.name().to_owned(),
                fmt_duration(done),
                fmt_duration(d.p50()),
                fmt_duration(d.p99()),
                fmt_duration(d.max()),
                paired_ratio(&r.others_done, &base_done),
                paired_ratio(&r.p99s, &base_p99s),
            ]);
        }
    }
    table.finish();
}

// ---------------------------------------------------------------------------
// Soak: a sustained mixed load.
// ---------------------------------------------------------------------------

/// Connections of the soak load.
const SOAK_CONNECTIONS: usize = 256;

/// Length of one soak run (`--quick`: one second).
const SOAK_DURATION: Duration = Duration::from_secs(4);

/// What one soak run measured.
struct SoakRun {
    /// Length of the run (start signal to the last connection stopping).
    elapsed: Duration,
    /// Messages echoed.
    messages: u64,
    /// Bytes echoed.
    bytes: u64,
    /// Connections opened.
    connects: u64,
    /// Round trip of every message.
    latencies: Vec<Duration>,
    /// CPU time the server used (the process's, less the client's).
    server_cpu: Duration,
}

/// One soak connection slot: until `deadline`, opens a connection, sends
/// 10–300 messages of random sizes (pausing up to 2 ms between messages if
/// `paced`), closes it and starts again. Sizes and lifetimes come from a
/// generator seeded by the slot's index, so every server sees the same
/// sequence.
async fn soak_slot(
    addr: SocketAddr,
    slot: usize,
    deadline: Instant,
    out: Arc<std::sync::Mutex<SoakRun>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut rng = Rng::new(slot as u64 + 1);
    let paced = slot % 4 == 3;
    let mut latencies = Vec::new();
    let (mut messages, mut bytes, mut connects) = (0u64, 0u64, 0u64);
    let mut msg = Vec::new();
    let mut back = Vec::new();
    'conns: while Instant::now() < deadline {
        let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
        conn.set_nodelay(true).expect("nodelay");
        connects += 1;
        for _ in 0..rng.range(10, 300) {
            // Mostly small requests, some medium, a few large.
            let size = match rng.below(100) {
                0..80 => rng.range(16, 1024),
                80..97 => rng.range(1024, 4096),
                _ => rng.range(4096, SOAK_MAX_MESSAGE + 1),
            } as usize;
            msg.clear();
            msg.extend((0..size).map(|i| (i as u8) ^ NORMAL_BYTE));
            back.resize(size, 0);
            let sent = Instant::now();
            conn.write_all(&msg).await.expect("write");
            conn.read_exact(&mut back).await.expect("read");
            latencies.push(sent.elapsed());
            assert!(back == msg, "echo differs from the message");
            messages += 1;
            bytes += size as u64;
            if Instant::now() >= deadline {
                break 'conns;
            }
            if paced {
                tokio::time::sleep(Duration::from_micros(rng.below(2_000))).await;
            }
        }
    }
    let mut out = out.lock().expect("soak results");
    out.messages += messages;
    out.bytes += bytes;
    out.connects += connects;
    out.latencies.extend(latencies);
}

/// Runs the soak load for `duration` against a fresh `server`.
fn soak_once(client: &tokio::runtime::Runtime, server: Server, duration: Duration) -> SoakRun {
    let running = server.start(MESSAGE_SIZE);
    let addr = running.addr;
    let out = Arc::new(std::sync::Mutex::new(SoakRun {
        elapsed: Duration::ZERO,
        messages: 0,
        bytes: 0,
        connects: 0,
        latencies: Vec::new(),
        server_cpu: Duration::ZERO,
    }));
    let (process_cpu, client_cpu) = (cpu_time("self/stat"), client_cpu_time(client));
    let start = Instant::now();
    client.block_on(async {
        let deadline = start + duration;
        let tasks: Vec<_> = (0..SOAK_CONNECTIONS)
            .map(|slot| tokio::spawn(soak_slot(addr, slot, deadline, out.clone())))
            .collect();
        for t in tasks {
            t.await.expect("soak client task");
        }
    });
    let elapsed = start.elapsed();
    let stats = running.stop();
    let client_cpu = client_cpu_time(client).saturating_sub(client_cpu);
    let server_cpu = cpu_time("self/stat")
        .saturating_sub(process_cpu)
        .saturating_sub(client_cpu);
    let mut run = Arc::into_inner(out)
        .expect("soak results still shared")
        .into_inner()
        .expect("soak results");
    run.elapsed = elapsed;
    run.server_cpu = server_cpu;
    assert_eq!(
        stats.bytes.load(Relaxed),
        run.bytes,
        "{} did not echo every byte",
        server.name()
    );
    assert_eq!(stats.finished.load(Relaxed), run.connects);
    run
}

/// User plus system CPU time of `/proc/<stat>` (a process's counts its
/// exited threads too); zero where `/proc` is missing.
fn cpu_time(stat: &str) -> Duration {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{stat}")) else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are
    // fields 14 and 15 of the whole line, in clock ticks (100 per second on
    // Linux).
    let rest = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// CPU time of the client runtime's one worker thread.
fn client_cpu_time(client: &tokio::runtime::Runtime) -> Duration {
    client.block_on(async {
        tokio::spawn(async { cpu_time("thread-self/stat") })
            .await
            .expect("client CPU time")
    })
}

fn bench_soak(args: &BenchArgs, client: &tokio::runtime::Runtime) {
    if !args.selects("soak") {
        return;
    }
    let duration = args.pick(SOAK_DURATION, Duration::from_secs(1));
    let rounds = args.pick(2, 1);
    let table = Table::new(
        "soak: sustained mixed load",
        &format!(
            "{SOAK_CONNECTIONS} connections for {} per run, {rounds} run(s) per server \
             (order rotated): sizes 16 B–16 KiB (80% < 1 KiB), a quarter of the \
             connections pause up to 2 ms between messages, every connection reconnects \
             after 10–300 messages. Throughput = messages echoed ÷ run time, over all runs; \
             server CPU = the process's CPU time less the client thread's, per message. \
             Goal: throughput within 5% of tokio.",
            fmt_duration(duration)
        ),
        &[
            "bench",
            "server",
            "throughput",
            "MiB/s",
            "connections",
            "p50",
            "p99",
            "max",
            "server CPU / msg",
            "throughput ÷ tokio",
            "max ÷ tokio",
        ],
    );
    let mut runs: Vec<Vec<SoakRun>> = SERVERS.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for k in 0..SERVERS.len() {
            let idx = (k + round) % SERVERS.len();
            runs[idx].push(soak_once(client, SERVERS[idx], duration));
        }
    }
    let summarize = |runs: &mut Vec<SoakRun>| {
        let secs: f64 = runs.iter().map(|r| r.elapsed.as_secs_f64()).sum();
        let msgs: u64 = runs.iter().map(|r| r.messages).sum();
        let bytes: u64 = runs.iter().map(|r| r.bytes).sum();
        let connects: u64 = runs.iter().map(|r| r.connects).sum();
        let cpu: Duration = runs.iter().map(|r| r.server_cpu).sum();
        let lat = Distribution::new(
            runs.iter_mut()
                .flat_map(|r| r.latencies.drain(..))
                .collect(),
        );
        let cpu_per_msg = cpu.as_secs_f64() / msgs.max(1) as f64;
        (
            msgs as f64 / secs,
            bytes as f64 / secs,
            connects,
            lat,
            cpu_per_msg,
        )
    };
    let summaries: Vec<_> = runs.iter_mut().map(summarize).collect();
    let (base_tput, _, _, base_lat, _) = &summaries[BASE];
    for (server, (tput, bps, connects, lat, cpu_per_msg)) in SERVERS.iter().zip(&summaries) {
        table.row(&[
            "soak".to_owned(),
            server.name().to_owned(),
            format!("{:.0} k msg/s", tput / 1e3),
            format!("{:.0}", bps / (1024.0 * 1024.0)),
            connects.to_string(),
            fmt_duration(lat.p50()),
            fmt_duration(lat.p99()),
            fmt_duration(lat.max()),
            fmt_duration(Duration::from_secs_f64(*cpu_per_msg)),
            fmt_ratio(*tput, *base_tput),
            fmt_ratio(lat.max().as_secs_f64(), base_lat.max().as_secs_f64()),
        ]);
    }
    table.finish();
}

/// Profiling mode: `TETHER_BENCH_PROFILE=<server>:<connections>:<runs>`
/// (a server name of the tables; `:burn` at the end for the `echo_burn`
/// load, `:fifo` for the `echo_fifo` client) runs only that server's
/// fixed-count echo run, `runs` times, and prints each total, so a
/// profiler sees one server; `TETHER_BENCH_PROFILE=<server>:soak:<runs>` runs its soak load
/// ([`SOAK_DURATION`] per run):
///
/// ```text
/// TETHER_BENCH_PROFILE=tether_scope:64:20 \
///     perf record -g target/release/deps/echo_latency-<hash>
/// ```
fn profile(spec: &str) {
    let mut parts = spec.split(':');
    let server = parts
        .next()
        .and_then(|name| SERVERS.into_iter().find(|s| s.name() == name));
    let mut parts = parts.peekable();
    if let (Some(server), Some(&"soak")) = (server, parts.peek()) {
        parts.next();
        let runs: usize = parts
            .next()
            .and_then(|n| n.parse().ok())
            .expect("soak profiling: <server>:soak:<runs>");
        let client = client_runtime();
        for _ in 0..runs {
            let run = soak_once(&client, server, SOAK_DURATION);
            eprintln!(
                "{}: {:.0} msg/s, server CPU {} per message",
                server.name(),
                run.messages as f64 / run.elapsed.as_secs_f64(),
                fmt_duration(run.server_cpu.div_f64(run.messages.max(1) as f64))
            );
        }
        return;
    }
    let mut number = || parts.next().and_then(|n| n.parse::<usize>().ok());
    let (Some(server), Some(connections), Some(runs)) = (server, number(), number()) else {
        panic!("TETHER_BENCH_PROFILE={spec}: expected <server>:<connections>:<runs>[:burn][:fifo]");
    };
    let rest: Vec<&str> = parts.collect();
    let burn = rest.contains(&"burn");
    let client = if rest.contains(&"fifo") {
        fifo_client_runtime()
    } else {
        client_runtime()
    };
    for _ in 0..runs {
        let run = echo_once(&client, server, connections, MESSAGES, burn);
        let latency = Distribution::new(run.others);
        eprintln!(
            "{}: total {}, others done {}, p50 {} p90 {} p99 {} p99.9 {} max {}",
            server.name(),
            fmt_duration(run.total),
            fmt_duration(run.others_done),
            fmt_duration(latency.percentile(50.0)),
            fmt_duration(latency.percentile(90.0)),
            fmt_duration(latency.percentile(99.0)),
            fmt_duration(latency.percentile(99.9)),
            fmt_duration(latency.max())
        );
    }
}

fn main() {
    if let Ok(spec) = std::env::var("TETHER_BENCH_PROFILE") {
        profile(&spec);
        return;
    }
    let args = BenchArgs::from_env();
    let sections = [
        "echo/64",
        "echo/256",
        "echo/1024",
        "echo_burn/64",
        "echo_burn/256",
        "soak",
        "echo_fifo/64",
        "echo_fifo/256",
        "echo_fifo/1024",
    ];
    if !sections.iter().any(|s| args.selects(s)) {
        return;
    }
    let client = client_runtime();
    warm_up(&client);
    bench_echo(&args, &client);
    bench_echo_burn(&args, &client);
    bench_soak(&args, &client);
    bench_echo_fifo(&args);
}
