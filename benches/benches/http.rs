//! HTTP serving: hyper on tether (scoped handlers borrowing the state)
//! against hyper on tokio (`tokio::spawn` + `Arc<AppState>`), in one run.
//!
//! Both servers run the same hyper version, detect HTTP/1 vs HTTP/2 per
//! connection (tether's `server::Builder`, hyper-util's `auto::Builder`),
//! and serve two routes:
//!
//! * `GET /` — `Hello, World!`;
//! * `GET /json` — a small JSON document rendered from the state
//!   (config fields, a request counter, a few items).
//!
//! One load generator on its own tokio runtime keeps `C` keep-alive
//! HTTP/1.1 connections busy (one request in flight per connection) for a
//! fixed time and records every request's latency; it reports requests/s
//! and the 50th/99th percentile latency. `C` is 64 and 256. Both servers
//! get [`WORKERS`] worker threads; the client gets its own [`WORKERS`].
//!
//! This is a bench binary rather than a criterion bench because its
//! outputs are a rate and a tail latency under sustained load, which
//! criterion's per-iteration timing does not give.
//!
//! Run: `cargo bench -p tether-benches --bench http` (options after `--`:
//! `--seconds S` per measurement, default 3; `--warmup S`, default 1;
//! `--quick` = 1 s each, for a smoke run).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response};
use serde::Serialize;
use tether_benches::WORKERS;

/// Connection counts measured.
const CONNECTIONS: [usize; 2] = [64, 256];
/// Routes measured.
const ROUTES: [&str; 2] = ["/", "/json"];
/// The hello-world body.
const HELLO: &str = "Hello, World!";

/// The application state both servers serve from.
#[derive(Debug)]
struct AppState {
    /// Service name, echoed in the JSON route.
    name: String,
    /// Served from the JSON route.
    items: Vec<Item>,
    /// Requests served.
    requests: AtomicU64,
}

/// One entry of the JSON route's list.
#[derive(Debug, Clone, Serialize)]
struct Item {
    /// Id.
    id: u64,
    /// Name.
    name: String,
    /// Price in cents.
    price_cents: u64,
}

/// The JSON route's document.
#[derive(Serialize)]
struct Doc<'a> {
    /// The service name.
    service: &'a str,
    /// Requests so far.
    requests: u64,
    /// A few items.
    items: &'a [Item],
}

impl AppState {
    fn new() -> Self {
        AppState {
            name: "bench".into(),
            items: (0..5)
                .map(|id| Item {
                    id,
                    name: format!("item {id}"),
                    price_cents: 100 + id,
                })
                .collect(),
            requests: AtomicU64::new(0),
        }
    }
}

/// The handler, identical for both servers: borrows the state.
fn respond(req: &Request<Incoming>, state: &AppState) -> Response<Full<Bytes>> {
    let n = state.requests.fetch_add(1, Ordering::Relaxed);
    if req.uri().path() == "/json" {
        let doc = Doc {
            service: &state.name,
            requests: n,
            items: &state.items,
        };
        let body = serde_json::to_vec(&doc).expect("serialisable");
        let mut res = Response::new(Full::new(Bytes::from(body)));
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        res
    } else {
        Response::new(Full::new(Bytes::from_static(HELLO.as_bytes())))
    }
}

/// A running server: its address and how to stop it.
struct Running {
    addr: SocketAddr,
    stop: futures::channel::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Running {
    fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().expect("server thread");
    }
}

/// hyper on tether: the state lives on the server thread's stack, the
/// accept loop is a scope, connections and HTTP/2 streams are scoped
/// children, handlers borrow `&AppState`.
fn tether_server() -> Running {
    use tether::hyper::{ScopeExecutor, TetherIo, server::Builder};
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, stop_rx) = futures::channel::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tether::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .build()
            .expect("tether runtime");
        let state = AppState::new();
        let state = &state;
        rt.block_on(async move {
            let listener = tether::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("send addr");
            let server = tether::scope(|s| async move {
                let builder = Builder::new(ScopeExecutor::new(s.clone()));
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let service =
                        service_fn(
                            move |req| async move { Ok::<_, Infallible>(respond(&req, state)) },
                        );
                    let conn = builder.serve_connection(TetherIo::new(stream), service);
                    s.spawn(async move {
                        let _ = conn.await;
                    });
                }
            });
            // Stopping drops the scope: connections still open are
            // cancelled (the client closed its own already).
            let server = std::pin::pin!(server);
            futures::future::select(server, stop_rx).await;
        });
    });
    Running {
        addr: addr_rx.recv().expect("server address"),
        stop,
        thread,
    }
}

/// hyper on tokio, the usual way: the state in an `Arc`, cloned into every
/// connection task and every request future.
fn tokio_server() -> Running {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, stop_rx) = futures::channel::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let state = Arc::new(AppState::new());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("send addr");
            let accept = async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            let state = state.clone();
                            async move { Ok::<_, Infallible>(respond(&req, &state)) }
                        });
                        let _ = auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            };
            tokio::select! {
                _ = accept => {}
                _ = stop_rx => {}
            }
        });
    });
    Running {
        addr: addr_rx.recv().expect("server address"),
        stop,
        thread,
    }
}

/// What one load run measured.
#[derive(Debug, Clone, Copy)]
struct Load {
    /// Requests completed per second.
    rps: f64,
    /// Median latency.
    p50: Duration,
    /// 99th percentile latency.
    p99: Duration,
    /// Requests that failed.
    errors: u64,
}

/// Loads `addr`'s `path` from `connections` keep-alive HTTP/1.1
/// connections for `warmup` + `measure`; latencies of the measured part
/// only.
fn load(
    addr: SocketAddr,
    path: &str,
    connections: usize,
    warmup: Duration,
    measure: Duration,
) -> Load {
    use hyper_util::rt::TokioIo;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("client runtime");
    rt.block_on(async {
        let recording = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let uri: hyper::Uri = format!("http://{addr}{path}").parse().expect("uri");
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (recording, done, errors, uri) =
                (recording.clone(), done.clone(), errors.clone(), uri.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies: Vec<u32> = Vec::with_capacity(64 * 1024);
                let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let (mut send, conn) =
                    hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                        .await
                        .expect("handshake");
                let driver = tokio::spawn(conn);
                while !done.load(Ordering::Relaxed) {
                    let req = Request::get(uri.clone())
                        .header(hyper::header::HOST, "bench")
                        .body(Empty::new())
                        .expect("request");
                    let started = Instant::now();
                    let ok = match send.send_request(req).await {
                        Ok(res) => res.into_body().collect().await.is_ok(),
                        Err(_) => false,
                    };
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    if recording.load(Ordering::Relaxed) {
                        let micros = started.elapsed().as_micros();
                        latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                    }
                }
                drop(send);
                let _ = driver.await;
                latencies
            }));
        }
        tokio::time::sleep(warmup).await;
        recording.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(measure).await;
        recording.store(false, Ordering::Relaxed);
        let elapsed = started.elapsed();
        done.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("client task"));
        }
        all.sort_unstable();
        let pct = |p: f64| {
            let i = ((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1));
            Duration::from_micros(all.get(i).copied().unwrap_or(0).into())
        };
        Load {
            rps: all.len() as f64 / elapsed.as_secs_f64(),
            p50: pct(0.50),
            p99: pct(0.99),
            errors: errors.load(Ordering::Relaxed),
        }
    })
}

/// Reads `--seconds S`, `--warmup S` and `--quick`; ignores what cargo's
/// bench runner passes (`--bench`, filters).
fn options() -> (Duration, Duration) {
    let mut measure = Duration::from_secs(3);
    let mut warmup = Duration::from_secs(1);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let secs = |v: Option<String>| {
            Duration::from_secs_f64(v.and_then(|v| v.parse().ok()).unwrap_or(1.0))
        };
        match arg.as_str() {
            "--seconds" => measure = secs(args.next()),
            "--warmup" => warmup = secs(args.next()),
            "--quick" => {
                measure = Duration::from_secs(1);
                warmup = Duration::from_millis(300);
            }
            _ => {}
        }
    }
    (measure, warmup)
}

fn main() {
    let (measure, warmup) = options();
    println!(
        "http: hyper on tether (scoped, borrowed state) vs hyper on tokio (spawn + Arc); \
         {WORKERS} server workers, client on its own {WORKERS}-worker tokio runtime; \
         {warmup:?} warm-up + {measure:?} per row"
    );
    println!(
        "{:<8} {:>5} | {:>10} {:>8} {:>8} | {:>10} {:>8} {:>8} | {:>7} {:>7}",
        "route", "conns", "tether r/s", "p50", "p99", "tokio r/s", "p50", "p99", "r/s ×", "p99 ×"
    );
    for path in ROUTES {
        for connections in CONNECTIONS {
            let server = tether_server();
            let t = load(server.addr, path, connections, warmup, measure);
            server.stop();
            let server = tokio_server();
            let k = load(server.addr, path, connections, warmup, measure);
            server.stop();
            let ms = |d: Duration| format!("{:.2}ms", d.as_secs_f64() * 1e3);
            println!(
                "{:<8} {:>5} | {:>10.0} {:>8} {:>8} | {:>10.0} {:>8} {:>8} | {:>7.2} {:>7.2}",
                path,
                connections,
                t.rps,
                ms(t.p50),
                ms(t.p99),
                k.rps,
                ms(k.p50),
                ms(k.p99),
                t.rps / k.rps,
                t.p99.as_secs_f64() / k.p99.as_secs_f64().max(1e-9),
            );
            if t.errors + k.errors > 0 {
                println!(
                    "  (failed requests: tether {}, tokio {})",
                    t.errors, k.errors
                );
            }
        }
    }
}
