//! echo_server: a TCP echo server whose connection handlers borrow the
//! server's configuration and statistics straight from `main`'s stack.
//!
//! With tokio, every handler is a `tokio::spawn`ed `'static` task, so shared
//! state has to be moved to the heap and reference-counted:
//!
//! ```text
//! let config = Arc::new(config);
//! let stats = Arc::new(Stats::default());
//! loop {
//!     let (conn, _) = listener.accept().await?;
//!     let (config, stats) = (config.clone(), stats.clone());   // per connection
//!     tokio::spawn(async move { handle(conn, &config, &stats).await });
//! }
//! ```
//!
//! Here the handlers are children of a `tether::scope`: they take plain
//! `&Config` and `&Stats`, run in parallel on the runtime's workers, and the
//! scope does not finish before every handler has, so the borrows are
//! checked by the compiler. No `Arc`, no clone per connection.
//!
//! ```sh
//! # serve forever on a chosen address
//! cargo run --example echo_server -- --addr 127.0.0.1:7000
//! # serve 8 connections, then print statistics and exit; drive it with
//! cargo run --example echo_client -- --addr 127.0.0.1:7000 --connections 8 --messages 100
//! # or both in one process (8 connections unless --connections is given):
//! cargo run --example echo_server -- --self-test
//! # the same with defaults (what CI runs):
//! cargo run --example echo_server -- --small
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use tether::net::{TcpListener, TcpStream};

#[path = "echo_client.rs"]
#[allow(dead_code)]
mod echo_client;

use echo_client::Options;

/// Server settings, read by every connection handler.
#[derive(Debug)]
struct Config {
    /// Size of each handler's read buffer.
    buffer_size: usize,
    /// Whether to disable Nagle's algorithm on accepted connections.
    nodelay: bool,
}

/// Counters updated by every connection handler.
#[derive(Debug, Default)]
struct Stats {
    /// Connections served to completion.
    connections: AtomicU64,
    /// Bytes read and written back.
    bytes: AtomicU64,
    /// Read calls that returned data.
    reads: AtomicU64,
    /// Connections that ended with an I/O error.
    errors: AtomicU64,
}

/// Echoes one connection until the peer closes its write side.
async fn handle(mut conn: TcpStream, config: &Config, stats: &Stats) -> io::Result<()> {
    conn.set_nodelay(config.nodelay)?;
    let mut buf = vec![0u8; config.buffer_size];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        conn.write_all(&buf[..n]).await?;
        stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
        stats.reads.fetch_add(1, Ordering::Relaxed);
    }
    conn.close().await?;
    stats.connections.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Accepts `limit` connections (forever if `None`) and serves each in a
/// scoped child that borrows `config` and `stats`.
async fn serve(
    listener: &TcpListener,
    limit: Option<usize>,
    config: &Config,
    stats: &Stats,
) -> io::Result<()> {
    tether::scope(|s| async move {
        let mut accepted = 0;
        while limit.is_none_or(|l| accepted < l) {
            let (conn, _peer) = listener.accept().await?;
            accepted += 1;
            s.spawn(async move {
                if handle(conn, config, stats).await.is_err() {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // Returning ends the body; the scope still waits for every handler.
        io::Result::Ok(())
    })
    .await
}

/// The server's command line.
const USAGE: &str = "usage: echo_server [--addr HOST:PORT] [--connections N] [--messages M] [--size S] [--self-test | --small]";

/// What `--help` adds to the usage line.
const HELP: &str = "
A TCP echo server whose connection handlers borrow the server's config and
statistics through a scope (no Arc). Listens on --addr (default: a free
port on 127.0.0.1) and serves forever, or exactly N connections with
--connections N. --self-test also runs the load client in-process (N
connections, default 8, of M messages of S bytes) and checks every byte;
--small is the same quick run CI does.";

fn main() {
    let opts = match Options::from_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("echo_server: {e}");
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if opts.help {
        println!("{USAGE}\n{HELP}");
        return;
    }
    let rt = tether::Runtime::new().expect("failed to start the tether runtime");
    let outcome = rt.block_on(async {
        let config = Config {
            buffer_size: 16 * 1024,
            nodelay: true,
        };
        let stats = Stats::default();
        let listener = TcpListener::bind(opts.addr.as_deref().unwrap_or("127.0.0.1:0")).await?;
        let addr: SocketAddr = listener.local_addr()?;
        println!("echo_server: listening on {addr}");

        let load = async {
            match (opts.self_test, opts.connections) {
                (true, Some(n)) => {
                    Some(echo_client::run_load(addr, n, opts.messages, opts.size).await)
                }
                _ => None,
            }
        };
        let (served, load) =
            futures::join!(serve(&listener, opts.connections, &config, &stats), load);
        served?;
        if let Some(report) = load {
            println!("echo_server: self-test client: {}", report?);
        }
        io::Result::Ok(stats)
    });
    let stats = match outcome {
        Ok(stats) => stats,
        Err(e) => {
            eprintln!("echo_server: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "echo_server: served {} connections ({} failed), echoed {} bytes in {} reads; \
         every handler borrowed one Config and one Stats from main's stack",
        stats.connections.load(Ordering::Relaxed),
        stats.errors.load(Ordering::Relaxed),
        stats.bytes.load(Ordering::Relaxed),
        stats.reads.load(Ordering::Relaxed),
    );
    if opts.self_test {
        let expected = (opts.connections.unwrap_or(0) * opts.messages * opts.size) as u64;
        let ok = stats.bytes.load(Ordering::Relaxed) == expected
            && stats.errors.load(Ordering::Relaxed) == 0;
        println!(
            "echo_server: self-test {}",
            if ok { "passed" } else { "FAILED" }
        );
        if !ok {
            std::process::exit(1);
        }
    }
}
