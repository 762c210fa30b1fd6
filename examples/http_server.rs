//! http_server: a JSON API on hyper + tether whose handlers *borrow* the
//! application state — the web server `Arc<AppState>` was invented for,
//! without the `Arc`.
//!
//! Routes (HTTP/1.1 and HTTP/2 with prior knowledge on the same port):
//!
//! | route | answer |
//! |---|---|
//! | `GET /health` | `ok` |
//! | `GET /items` | every stored item, as JSON |
//! | `GET /items/{id}` | one item, or 404 |
//! | `POST /items` | stores the JSON body (`{"name": .., "price_cents": ..}`), returns it with its id |
//! | `GET /work?n=N` | counts the primes below N, split over scoped children (CPU-heavy) |
//! | `GET /fanout` | asks several backends at once through a scope, returns their replies |
//!
//! Every handler takes `&AppState` (config, an item store behind a borrowed
//! `tether::sync::RwLock`, counters) and owns a per-request `bumpalo` arena
//! that its children borrow. The accept loop is a `tether::scope`: every
//! connection and every HTTP/2 stream is a scoped child. SIGINT or SIGTERM
//! shut it down gracefully: the listener closes, in-flight requests get up
//! to 5 s to finish, the rest are cancelled, and the process exits 0.
//!
//! The handlers are in `examples/http_app.rs` (shared with `http_client`);
//! the heart of it:
//!
//! ```text
//! let state = AppState::new(config);              // on main's stack
//! let state = &state;
//! tether::scope(|s| async move {
//!     let builder = Builder::new(ScopeExecutor::new(s.clone()));
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         let service = service_fn(move |req| handle(req, state));   // borrows
//!         s.spawn(graceful.watch(builder.serve_connection(TetherIo::new(stream), service)));
//!     }
//! })
//! ```
//!
//! # The axum/tokio version it replaces
//!
//! ```text
//! #[derive(Clone)]
//! struct AppState {                                   // or: every field in its own Arc
//!     config: Arc<Config>,
//!     store: Arc<tokio::sync::RwLock<Store>>,
//!     counters: Arc<Counters>,
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     let state = Arc::new(AppState::new(config));   // 'static: must live on the heap
//!     let app = Router::new()
//!         .route("/items/{id}", get(get_item))
//!         .route("/fanout", get(fanout))
//!         // ...
//!         .with_state(state.clone());                 // cloned into the router
//!     let listener = tokio::net::TcpListener::bind(addr).await?;
//!     axum::serve(listener, app)
//!         .with_graceful_shutdown(shutdown_signal())
//!         .await?;
//! }
//!
//! async fn get_item(
//!     State(state): State<Arc<AppState>>,             // an Arc clone per request
//!     Path(id): Path<u64>,
//! ) -> Result<Json<Item>, StatusCode> { .. }
//!
//! async fn fanout(State(state): State<Arc<AppState>>) -> Json<Vec<Reply>> {
//!     let mut set = tokio::task::JoinSet::new();
//!     for i in 0..state.config.backends {
//!         let state = state.clone();                  // one more per backend call
//!         set.spawn(async move { backend(&state, i).await });
//!     }
//!     // results collected into a fresh Vec; a per-request arena cannot be
//!     // lent to 'static tasks
//! }
//! ```
//!
//! ```sh
//! cargo run --example http_server                        # serve on 127.0.0.1:3000
//! cargo run --example http_server -- --addr 0.0.0.0:8080
//! cargo run --example http_server -- --self-test         # drive every route, exit 0
//! curl localhost:3000/items -d '{"name":"pen","price_cents":120}'
//! curl --http2-prior-knowledge localhost:3000/fanout
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use tether::net::TcpListener;
use tether_examples::USAGE_EXIT_CODE;
use tether_examples::http_app::{self, AppState, Config, Item, ROUTES};

/// The usage text.
const USAGE: &str = "\
usage: http_server [--addr HOST:PORT] [--self-test | --small]

Serves a JSON API (HTTP/1.1 and HTTP/2 prior knowledge on one port):
GET /health, GET /items, GET /items/{id}, POST /items, GET /work?n=N,
GET /fanout. SIGINT/SIGTERM shut it down gracefully (exit 0).

  --addr HOST:PORT  where to listen (default 127.0.0.1:3000)
  --self-test       serve on an ephemeral port, drive every route over
                    HTTP/1.1 and HTTP/2 with the tether client, shut down
                    gracefully with a request in flight, exit 0
  --small           the same as --self-test (what CI runs)
  -h, --help        this text";

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
enum Mode {
    /// Serve on this address until a signal.
    Serve(String),
    /// Run the self-test.
    SelfTest,
    /// Print the usage.
    Help,
}

/// Parses the arguments (without the program name).
fn parse(args: impl IntoIterator<Item = String>) -> Result<Mode, String> {
    let mut addr = String::from("127.0.0.1:3000");
    let mut self_test = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Mode::Help),
            "--self-test" | "--small" => self_test = true,
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            other => match other.strip_prefix("--addr=") {
                Some(a) => addr = a.to_owned(),
                None => return Err(format!("unknown argument {other:?}")),
            },
        }
    }
    Ok(if self_test {
        Mode::SelfTest
    } else {
        Mode::Serve(addr)
    })
}

fn main() -> ExitCode {
    let mode = match parse(std::env::args().skip(1)) {
        Ok(mode) => mode,
        Err(e) => {
            eprintln!("http_server: {e}\n\n{USAGE}");
            std::process::exit(USAGE_EXIT_CODE);
        }
    };
    let rt = match tether::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("http_server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match mode {
        Mode::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Mode::Serve(addr) => rt.block_on(serve_until_signal(&addr)),
        Mode::SelfTest => rt.block_on(self_test()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The error type of the example's top level.
type Error = Box<dyn std::error::Error + Send + Sync>;

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The listeners are installed
/// before this returns, so a signal that arrives while the server starts
/// is not lost.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
    use tether::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        let interrupted = std::pin::pin!(interrupt.recv());
        let terminated = std::pin::pin!(terminate.recv());
        let name = match futures::future::select(interrupted, terminated).await {
            futures::future::Either::Left(_) => "SIGINT",
            futures::future::Either::Right(_) => "SIGTERM",
        };
        eprintln!("http_server: {name} received, shutting down gracefully");
    })
}

/// Serves on `addr` until SIGINT/SIGTERM, then shuts down gracefully.
async fn serve_until_signal(addr: &str) -> Result<(), Error> {
    let state = AppState::new(Config::default());
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let shutdown = shutdown_signal()?;
    println!(
        "http_server: listening on http://{} (HTTP/1.1 and HTTP/2); Ctrl-C to stop",
        listener.local_addr()?
    );
    let report = http_app::serve(listener, &state, shutdown).await;
    print_summary(&state);
    if let Err(e) = report.outcome {
        println!("http_server: {e}");
    }
    Ok(())
}

/// Prints the counters and the `Arc` tally.
fn print_summary(state: &AppState) {
    let requests = state.counters.requests.load(Ordering::Relaxed);
    let connections = state.counters.connections.load(Ordering::Relaxed);
    println!("served {requests} requests on {connections} connections:");
    for route in ROUTES {
        let n = state.route_count(route);
        if n > 0 {
            println!("  {route:<16} {n}");
        }
    }
    println!(
        "Arc<AppState> clones the handlers needed: 0 (each borrowed &AppState from main's stack); \
         the axum/tokio version clones its Arc once per connection and once per request: {}",
        connections + requests
    );
}

/// Serves on an ephemeral port, drives every route over HTTP/1.1 and
/// HTTP/2, shuts down gracefully with a request in flight, and checks the
/// answers.
async fn self_test() -> Result<(), Error> {
    let config = Config {
        backend_latency: Duration::from_millis(50),
        max_work: 200_000,
        ..Config::default()
    };
    let state = AppState::new(config);
    let state = &state;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let (report, driven) = futures::join!(
        http_app::serve(listener, state, stop),
        drive(addr, state, stop_tx)
    );
    driven?;
    report.outcome?;
    // The listener is gone: new connections are refused.
    if tether::net::TcpStream::connect(addr).await.is_ok() {
        return Err("a connection was accepted after the shutdown".into());
    }
    if state.counters.live_handlers.load(Ordering::Relaxed) != 0 {
        return Err("handlers still live after the shutdown".into());
    }
    println!(
        "self-test: every route answered on HTTP/1.1 and HTTP/2; a request in flight at shutdown completed; new connections refused after it"
    );
    print_summary(state);
    Ok(())
}

/// Drives every route on both protocols, then starts the shutdown (`stop`)
/// while a request is in flight and checks that it is still answered.
async fn drive(
    addr: SocketAddr,
    state: &AppState,
    stop: futures::channel::oneshot::Sender<()>,
) -> Result<(), Error> {
    let base = format!("http://{addr}");
    for http2 in [false, true] {
        let proto = if http2 { "HTTP/2" } else { "HTTP/1.1" };
        let client = http_app::client(http2);
        let get = |path: &str| {
            Request::get(format!("{base}{path}"))
                .body(Full::new(Bytes::new()))
                .expect("a valid request")
        };
        let (status, body) = http_app::fetch(&client, get("/health")).await?;
        check(
            proto,
            "GET /health",
            status == StatusCode::OK && &body[..] == b"ok",
            &body,
        )?;

        let post = Request::builder()
            .method(Method::POST)
            .uri(format!("{base}/items"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(format!(
                r#"{{"name":"pen ({proto})","price_cents":120}}"#
            ))))?;
        let (status, body) = http_app::fetch(&client, post).await?;
        let item: Item = serde_json::from_slice(&body)?;
        check(
            proto,
            "POST /items",
            status == StatusCode::CREATED && item.price_cents == 120,
            &body,
        )?;

        let (status, body) = http_app::fetch(&client, get(&format!("/items/{}", item.id))).await?;
        let fetched: Item = serde_json::from_slice(&body)?;
        check(
            proto,
            "GET /items/{id}",
            status == StatusCode::OK && fetched == item,
            &body,
        )?;

        let (status, body) = http_app::fetch(&client, get("/items/999999")).await?;
        check(
            proto,
            "GET /items/999999",
            status == StatusCode::NOT_FOUND,
            &body,
        )?;

        let (status, body) = http_app::fetch(&client, get("/items")).await?;
        let items: Vec<Item> = serde_json::from_slice(&body)?;
        check(
            proto,
            "GET /items",
            status == StatusCode::OK && items.contains(&item),
            &body,
        )?;

        let (status, body) = http_app::fetch(&client, get("/work?n=100000")).await?;
        let work: serde_json::Value = serde_json::from_slice(&body)?;
        // There are 9592 primes below 100 000.
        check(
            proto,
            "GET /work",
            status == StatusCode::OK && work["primes"] == 9592,
            &body,
        )?;

        let (status, body) = http_app::fetch(&client, get("/fanout")).await?;
        let fanout: serde_json::Value = serde_json::from_slice(&body)?;
        let replies = fanout["backends"].as_array().map_or(0, Vec::len);
        check(
            proto,
            "GET /fanout",
            status == StatusCode::OK && replies == state.config.backends,
            &body,
        )?;
        println!("self-test: {proto}: 7 requests on 6 routes answered correctly");
    }
    // A slow request (the fan-out waits for its backends) in flight when
    // the shutdown starts: it must still be answered.
    let client = http_app::client(false);
    let req = Request::get(format!("{base}/fanout")).body(Full::new(Bytes::new()))?;
    let trigger = async {
        // Start the shutdown once the request has reached its handler.
        while state.counters.live_handlers.load(Ordering::Relaxed) == 0 {
            tether::time::sleep(Duration::from_millis(1)).await;
        }
        let _ = stop.send(());
    };
    let (answer, ()) = futures::join!(http_app::fetch(&client, req), trigger);
    let (status, body) = answer?;
    check(
        "HTTP/1.1",
        "GET /fanout in flight at shutdown",
        status == StatusCode::OK,
        &body,
    )?;
    Ok(())
}

/// Fails with a message naming the route if `ok` is false.
fn check(proto: &str, route: &str, ok: bool, body: &[u8]) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{proto} {route}: unexpected answer {:?}",
            String::from_utf8_lossy(body)
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Mode, String> {
        parse(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn command_line() {
        assert_eq!(args(&[]), Ok(Mode::Serve("127.0.0.1:3000".into())));
        assert_eq!(
            args(&["--addr", "0.0.0.0:80"]),
            Ok(Mode::Serve("0.0.0.0:80".into()))
        );
        assert_eq!(args(&["--small"]), Ok(Mode::SelfTest));
        assert_eq!(args(&["--help"]), Ok(Mode::Help));
        assert!(args(&["--addr"]).is_err());
        assert!(args(&["--bogus"]).is_err());
    }
}
