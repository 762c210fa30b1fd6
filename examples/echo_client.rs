//! echo_client: a load client for `echo_server`.
//!
//! Opens `--connections N` connections to `--addr`, sends `--messages M`
//! messages of `--size S` bytes on each (one in flight per connection),
//! checks every echo byte for byte, and prints the throughput.
//!
//! ```sh
//! cargo run --example echo_server -- --addr 127.0.0.1:7000 --connections 8 --messages 100
//! cargo run --example echo_client -- --addr 127.0.0.1:7000 --connections 8 --messages 100
//! cargo run --example echo_client -- --small   # against an in-process server
//! ```
//!
//! Like the server, the connection tasks borrow from the caller's stack: all
//! of them read the same payload buffer through a `tether::scope`, with no
//! `Arc` and no per-task copy.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use tether::net::TcpStream;

/// What a load run did.
#[derive(Debug)]
pub struct Report {
    /// Connections opened.
    pub connections: usize,
    /// Messages echoed, over all connections.
    pub messages: usize,
    /// Bytes sent (and received back).
    pub bytes: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(f64::EPSILON);
        write!(
            f,
            "{} connections, {} messages, {} bytes echoed in {:.3} s ({:.0} msg/s, {:.1} MiB/s)",
            self.connections,
            self.messages,
            self.bytes,
            secs,
            self.messages as f64 / secs,
            self.bytes as f64 / secs / (1024.0 * 1024.0),
        )
    }
}

/// Runs the load against `addr`; fails if any echo differs from what was
/// sent.
pub async fn run_load(
    addr: SocketAddr,
    connections: usize,
    messages: usize,
    size: usize,
) -> io::Result<Report> {
    if size < 8 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--size must be at least 8 (each message carries its sequence number)",
        ));
    }
    // One payload on the stack, shared by every connection task.
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let payload = &payload[..];
    let start = Instant::now();
    let results = tether::scope(|s| async move {
        let handles: Vec<_> = (0..connections)
            .map(|id| s.spawn(one_connection(addr, id, messages, payload)))
            .collect();
        let mut results = Vec::with_capacity(connections);
        for h in handles {
            results.push(h.await.expect("connection task"));
        }
        results
    })
    .await;
    for r in results {
        r?;
    }
    Ok(Report {
        connections,
        messages: connections * messages,
        bytes: connections * messages * size,
        elapsed: start.elapsed(),
    })
}

/// One connection: `messages` round trips of `payload`, each stamped with
/// the connection id and sequence number so a lost or reordered message is
/// caught.
async fn one_connection(
    addr: SocketAddr,
    id: usize,
    messages: usize,
    payload: &[u8],
) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut msg = payload.to_vec();
    let mut back = vec![0u8; payload.len()];
    for seq in 0..messages {
        msg[..4].copy_from_slice(&(id as u32).to_le_bytes());
        msg[4..8].copy_from_slice(&(seq as u32).to_le_bytes());
        stream.write_all(&msg).await?;
        stream.read_exact(&mut back).await?;
        if back != msg {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("connection {id}: echo of message {seq} differs"),
            ));
        }
    }
    stream.close().await
}

/// Command-line options shared by the client and the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Address to connect to or listen on.
    pub addr: Option<String>,
    /// Number of connections.
    pub connections: Option<usize>,
    /// Messages per connection.
    pub messages: usize,
    /// Bytes per message.
    pub size: usize,
    /// Server only: also run the load client in-process.
    pub self_test: bool,
    /// A small self-contained run (what CI does): 8 connections × 100
    /// messages against an in-process server.
    pub small: bool,
    /// `-h` / `--help`: print the usage and exit successfully.
    pub help: bool,
}

/// Connections of a self-test (or `--small` run) when `--connections` is
/// not given: enough to run handlers in parallel, quick in a debug build.
pub const DEFAULT_SELF_TEST_CONNECTIONS: usize = 8;

impl Options {
    /// Parses `--addr`, `--connections`, `--messages`, `--size`,
    /// `--self-test`, `--small` and `-h`/`--help` from the process
    /// arguments.
    pub fn from_args() -> Result<Options, String> {
        let mut opts = Options {
            addr: None,
            connections: None,
            messages: 100,
            size: 64,
            self_test: false,
            small: false,
            help: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            let number = |name: &str, v: String| {
                v.parse::<usize>()
                    .map_err(|_| format!("{name} expects a number, got {v:?}"))
            };
            match flag.as_str() {
                "--addr" => opts.addr = Some(value("--addr")?),
                "--connections" => {
                    opts.connections = Some(number("--connections", value("--connections")?)?)
                }
                "--messages" => opts.messages = number("--messages", value("--messages")?)?,
                "--size" => opts.size = number("--size", value("--size")?)?,
                "--self-test" => opts.self_test = true,
                "--small" => opts.small = true,
                "-h" | "--help" => opts.help = true,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if opts.small {
            opts.self_test = true;
        }
        if opts.self_test {
            opts.connections
                .get_or_insert(DEFAULT_SELF_TEST_CONNECTIONS);
        }
        Ok(opts)
    }
}

/// A minimal echo server for `--small` runs without a separate server.
async fn spawn_local_server() -> io::Result<SocketAddr> {
    let listener = tether::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tether::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tether::spawn(async move {
                let (mut rd, mut wr) = TcpStream::split(&mut conn);
                let _ = futures::io::copy(&mut rd, &mut wr).await;
            });
        }
    });
    Ok(addr)
}

/// The client's command line.
const USAGE: &str =
    "usage: echo_client --addr HOST:PORT [--connections N] [--messages M] [--size S]
       echo_client --small";

/// What `--help` adds to the usage line.
const HELP: &str = "
Opens N connections (default 8) to an echo server and sends M messages
(default 100) of S bytes (default 64) on each, checking every echo.
With --small it starts its own in-process echo server instead of --addr.";

fn main() {
    let opts = match Options::from_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("echo_client: {e}");
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if opts.help {
        println!("{USAGE}\n{HELP}");
        return;
    }
    let connections = opts.connections.unwrap_or(8);
    let rt = tether::Runtime::new().expect("failed to start the tether runtime");
    let result = if opts.small {
        println!("echo_client: --small: loading an in-process echo server");
        rt.block_on(async {
            let addr = spawn_local_server().await?;
            run_load(addr, connections, opts.messages, opts.size).await
        })
    } else {
        let Some(addr) = opts.addr.clone() else {
            eprintln!(
                "echo_client: --addr is required (the address echo_server printed), or --small"
            );
            std::process::exit(2);
        };
        // Resolved up front with the blocking std resolver: main is not async.
        let addr =
            match std::net::ToSocketAddrs::to_socket_addrs(addr.as_str()).map(|mut a| a.next()) {
                Ok(Some(addr)) => addr,
                Ok(None) | Err(_) => {
                    eprintln!("echo_client: cannot resolve {addr:?}");
                    std::process::exit(2);
                }
            };
        rt.block_on(run_load(addr, connections, opts.messages, opts.size))
    };
    match result {
        Ok(report) => println!("echo_client: {report}"),
        Err(e) => {
            eprintln!("echo_client: {e}");
            std::process::exit(1);
        }
    }
}
