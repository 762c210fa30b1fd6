//! http_client: fetches N URLs from the `http_server` example concurrently,
//! with a `tether::ScopedJoinSet` whose children *borrow* one pooled hyper
//! client and the URL list — no `Arc<Client>`, no cloned `Vec<String>`.
//!
//! ```text
//! let client = http_app::client(http2);          // hyper-util's Client on tether
//! let urls: Vec<String> = ...;
//! let mut set = tether::ScopedJoinSet::new();
//! for url in &urls {
//!     set.spawn(fetch(&client, url));             // borrows both
//! }
//! while let Some(result) = set.join_next().await { .. }
//! ```
//!
//! With `tokio::task::JoinSet` each task must be `'static`: the client is
//! cloned into every task (it is an `Arc` inside) and each URL moved or
//! cloned in.
//!
//! ```sh
//! cargo run --example http_server &                 # in one terminal
//! cargo run --example http_client -- -n 200 --http2
//! cargo run --example http_client -- --small        # starts its own server
//! ```

use std::process::ExitCode;
use std::time::Instant;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use tether::net::TcpListener;
use tether_examples::http_app::{self, AppState, Config};
use tether_examples::{USAGE_EXIT_CODE, millis};

/// The usage text.
const USAGE: &str = "\
usage: http_client [--url BASE] [-n N] [--http2] [--small]

Fetches N URLs (a mix of the server's GET routes) from BASE concurrently,
all children of one ScopedJoinSet borrowing one client and the URL list.

  --url BASE   the http_server to query (default http://127.0.0.1:3000)
  -n N         how many URLs (default 200)
  --http2      HTTP/2 with prior knowledge instead of HTTP/1.1
  --small      start an in-process server on an ephemeral port and fetch
               50 URLs from it over both protocols (what CI runs)
  -h, --help   this text";

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    /// The server's base URL; `None` with `--small`.
    base: Option<String>,
    /// URLs to fetch.
    count: usize,
    /// Use HTTP/2 prior knowledge.
    http2: bool,
}

/// Parses the arguments (without the program name); `Ok(None)` for help.
fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        base: Some("http://127.0.0.1:3000".into()),
        count: 200,
        http2: false,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--small" => {
                parsed.base = None;
                parsed.count = 50;
            }
            "--http2" => parsed.http2 = true,
            "--url" => parsed.base = Some(args.next().ok_or("--url needs a base URL")?),
            "-n" => {
                let n = args.next().ok_or("-n needs a number")?;
                parsed.count = n
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(format!("-n needs a positive number, not {n:?}"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(parsed))
}

/// The error type of the example's top level.
type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("http_client: {e}\n\n{USAGE}");
            std::process::exit(USAGE_EXIT_CODE);
        }
    };
    let result = tether::Runtime::new()
        .map_err(Error::from)
        .and_then(|rt| rt.block_on(run(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs against `args.base`, or against an in-process server.
async fn run(args: Args) -> Result<(), Error> {
    let Some(base) = args.base else {
        return run_small(args.count).await;
    };
    let summary = fetch_all(&base, args.count, args.http2).await?;
    summary.print(&base, args.http2);
    if summary.failed > 0 {
        return Err(format!("{} of {} requests failed", summary.failed, args.count).into());
    }
    Ok(())
}

/// `--small`: an in-process server on an ephemeral port, fetched from over
/// HTTP/1.1 and HTTP/2, then shut down.
async fn run_small(count: usize) -> Result<(), Error> {
    let state = AppState::new(Config::default());
    let state = &state;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let base = &base;
    let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let (report, fetched) = futures::join!(http_app::serve(listener, state, stop), async move {
        let mut result = Ok(());
        for http2 in [false, true] {
            match fetch_all(base, count, http2).await {
                Ok(summary) => {
                    summary.print(base, http2);
                    if summary.failed > 0 {
                        result = Err(Error::from(format!("{} requests failed", summary.failed)));
                        break;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let _ = stop_tx.send(());
        result
    });
    fetched?;
    report.outcome?;
    Ok(())
}

/// What fetching the URLs gave.
#[derive(Debug, Default)]
struct Summary {
    /// Requests answered 2xx.
    ok: usize,
    /// Requests answered with another status (a 404 is expected for the
    /// ids no item has).
    other_status: usize,
    /// Requests that failed (connection or protocol errors).
    failed: usize,
    /// Body bytes received.
    bytes: usize,
    /// Wall time of the whole batch.
    elapsed: std::time::Duration,
}

impl Summary {
    /// Prints one line about the batch.
    fn print(&self, base: &str, http2: bool) {
        let total = self.ok + self.other_status + self.failed;
        println!(
            "{total} URLs from {base} over {}: {} ok, {} other status, {} failed, {} body bytes, {}",
            if http2 { "HTTP/2" } else { "HTTP/1.1" },
            self.ok,
            self.other_status,
            self.failed,
            self.bytes,
            millis(self.elapsed)
        );
    }
}

/// The URLs to fetch: the server's GET routes, round robin.
fn urls(base: &str, count: usize) -> Vec<String> {
    const PATHS: [&str; 5] = ["/health", "/items", "/items/1", "/work?n=20000", "/fanout"];
    (0..count)
        .map(|i| format!("{base}{}", PATHS[i % PATHS.len()]))
        .collect()
}

/// Fetches `count` URLs from `base` at once: one child per URL in a
/// `ScopedJoinSet`, every child borrowing the client and its URL.
async fn fetch_all(base: &str, count: usize, http2: bool) -> Result<Summary, Error> {
    let client = http_app::client(http2);
    let urls = urls(base, count);
    // Make sure `/items/1` exists (a 404 there would be fine too).
    let seed = Request::post(format!("{base}/items"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(
            br#"{"name":"seed","price_cents":1}"#,
        )))?;
    http_app::fetch(&client, seed).await?;

    let started = Instant::now();
    let mut set = tether::ScopedJoinSet::new();
    for url in &urls {
        let client = &client;
        set.spawn(async move {
            let req = Request::get(url.as_str()).body(Full::new(Bytes::new()))?;
            http_app::fetch(client, req).await
        });
    }
    let mut summary = Summary::default();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok((status, body))) => {
                summary.bytes += body.len();
                if status.is_success() {
                    summary.ok += 1;
                } else if status == StatusCode::NOT_FOUND || status.is_client_error() {
                    summary.other_status += 1;
                } else {
                    summary.failed += 1;
                }
            }
            Ok(Err(e)) => {
                eprintln!("http_client: {e}");
                summary.failed += 1;
            }
            Err(e) => {
                eprintln!("http_client: a fetch was cancelled: {e}");
                summary.failed += 1;
            }
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Option<Args>, String> {
        parse(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn command_line() {
        assert_eq!(args(&["--help"]), Ok(None));
        let small = args(&["--small"]).unwrap().unwrap();
        assert_eq!(small.base, None);
        let n = args(&["-n", "7", "--http2"]).unwrap().unwrap();
        assert_eq!((n.count, n.http2), (7, true));
        assert!(args(&["-n", "0"]).is_err());
        assert!(args(&["--nope"]).is_err());
    }
}
