//! hyper on tether (`tether::hyper`), on real loopback sockets: HTTP/1.1
//! keep-alive and pipelining, HTTP/2 prior knowledge with 100 concurrent
//! streams, 10 MiB bodies streamed both ways, clients that vanish
//! mid-request, malformed requests, the header read timeout, graceful
//! shutdown, hyper-util's auto server and legacy client, Unix sockets.
//!
//! Every test runs under a watchdog that aborts the process if it hangs.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::rt::Timer;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use tether::hyper::{
    GracefulShutdown, HttpConnector, ScopeExecutor, TetherExecutor, TetherIo, TetherTimer,
    server::Builder, with_deadline,
};
use tether::net::{TcpListener, TcpStream};
use tether::{Scope, ScopedJoinHandle};

/// A multi-thread runtime with two workers (the machine has few cores).
fn rt() -> tether::Runtime {
    tether::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

/// Aborts the process if not dropped within `limit`: a hung test fails
/// instead of hanging CI.
struct Watchdog(Option<mpsc::Sender<()>>);

impl Watchdog {
    fn new(name: &'static str, limit: Duration) -> Self {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: `{name}` still running after {limit:?}; aborting");
                std::process::abort();
            }
        });
        Watchdog(Some(tx))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.take();
    }
}

/// Runs `test` on a fresh runtime under a 60 s watchdog.
fn run<F: Future>(name: &'static str, test: F) -> F::Output {
    let _watchdog = Watchdog::new(name, Duration::from_secs(60));
    rt().block_on(test)
}

type Body = BoxBody<Bytes, hyper::Error>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Counts live handlers: +1 on creation, -1 on drop (also when the
/// handler is cancelled mid-request).
struct Live<'a>(&'a AtomicUsize);

impl<'a> Live<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::SeqCst);
        Live(n)
    }
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A server running as children of a scope: an accept loop plus one child
/// per connection, all watched by `graceful`.
struct Server<'env> {
    accept: ScopedJoinHandle<'env, ()>,
    graceful: &'env GracefulShutdown,
}

impl Server<'_> {
    /// Stops accepting and closes the connections gracefully.
    fn stop(self) {
        self.accept.abort();
        self.graceful.trigger();
    }
}

/// Serves `listener` inside `s` with `handler`, configured by `builder`.
fn serve<'env, H, Fut>(
    s: &Scope<'env>,
    listener: TcpListener,
    builder: Builder<ScopeExecutor<'env>>,
    graceful: &'env GracefulShutdown,
    handler: H,
) -> Server<'env>
where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'env,
    Fut: Future<Output = Result<Response<Body>, Infallible>> + Send + 'env,
{
    let scope = s.clone();
    let accept = s.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let conn = builder.serve_connection(TetherIo::new(stream), service_fn(handler.clone()));
            scope.spawn(async move {
                let _ = graceful.watch(conn).await;
            });
        }
    });
    Server { accept, graceful }
}

/// A builder on `s` with hyper's defaults plus the tether timer.
fn builder<'env>(s: &Scope<'env>) -> Builder<ScopeExecutor<'env>> {
    Builder::new(ScopeExecutor::new(s.clone()))
}

async fn listener() -> (TcpListener, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Reads from `stream` until `n` complete HTTP/1 responses with
/// `Content-Length` bodies arrived (or EOF); returns the raw text.
async fn read_responses(stream: &mut TcpStream, n: usize) -> String {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if count_responses(&raw) >= n {
            break;
        }
        let read = stream.read(&mut buf).await.unwrap();
        if read == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..read]);
    }
    String::from_utf8(raw).unwrap()
}

/// Complete responses in `raw` (each with a Content-Length body).
fn count_responses(raw: &[u8]) -> usize {
    let text = String::from_utf8_lossy(raw);
    let mut rest: &str = &text;
    let mut count = 0;
    while let Some(head_end) = rest.find("\r\n\r\n") {
        let head = &rest[..head_end];
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        let end = head_end + 4 + len;
        if rest.len() < end {
            break;
        }
        count += 1;
        rest = &rest[end..];
    }
    count
}

#[test]
fn http1_keep_alive_and_pipelining() {
    run("http1_keep_alive_and_pipelining", async {
        let served = AtomicUsize::new(0);
        let served = &served;
        let graceful = GracefulShutdown::new();
        let graceful = &graceful;
        let (listener, addr) = listener().await;
        tether::scope(|s| async move {
            let mut b = builder(&s);
            b.http1().pipeline_flush(true);
            let server = serve(
                &s,
                listener,
                b,
                graceful,
                move |req: Request<Incoming>| async move {
                    served.fetch_add(1, Ordering::SeqCst);
                    Ok(Response::new(full(req.uri().path().to_owned())))
                },
            );

            let mut stream = TcpStream::connect(addr).await.unwrap();
            // Three pipelined requests in one write, on one connection.
            stream
                .write_all(
                    b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n\
                      GET /two HTTP/1.1\r\nHost: x\r\n\r\n\
                      GET /three HTTP/1.1\r\nHost: x\r\n\r\n",
                )
                .await
                .unwrap();
            let text = read_responses(&mut stream, 3).await;
            let bodies: Vec<_> = ["/one", "/two", "/three"]
                .iter()
                .map(|p| text.find(&format!("\r\n\r\n{p}")).expect(p))
                .collect();
            assert!(
                bodies.windows(2).all(|w| w[0] < w[1]),
                "answered in order: {text}"
            );
            assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3);
            // Keep-alive: the same connection serves a fourth request later.
            tether::time::sleep(Duration::from_millis(20)).await;
            stream
                .write_all(b"GET /four HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let text = read_responses(&mut stream, 1).await;
            assert!(
                text.starts_with("HTTP/1.1 200 OK") && text.ends_with("/four"),
                "{text}"
            );
            assert_eq!(served.load(Ordering::SeqCst), 4);
            // And closes it when asked to.
            stream
                .write_all(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let text = read_responses(&mut stream, 2).await;
            assert!(text.ends_with("/last"), "{text}");
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
            server.stop();
        })
        .await;
    });
}

#[test]
fn http2_prior_knowledge_100_concurrent_streams() {
    const STREAMS: usize = 100;
    run("http2_prior_knowledge_100_concurrent_streams", async {
        // Every handler waits until all 100 are in flight at once: this
        // only completes if the streams really run concurrently.
        let barrier = tether::sync::Barrier::new(STREAMS);
        let barrier = &barrier;
        let peak = AtomicUsize::new(0);
        let live = AtomicUsize::new(0);
        let (peak, live) = (&peak, &live);
        let graceful = GracefulShutdown::new();
        let graceful = &graceful;
        let (listener, addr) = listener().await;
        tether::scope(|s| async move {
            let server = serve(
                &s,
                listener,
                builder(&s),
                graceful,
                move |req: Request<Incoming>| async move {
                    let _live = Live::new(live);
                    peak.fetch_max(live.load(Ordering::SeqCst), Ordering::SeqCst);
                    barrier.wait().await;
                    assert_eq!(req.version(), hyper::Version::HTTP_2);
                    Ok(Response::new(full(req.uri().path().to_owned())))
                },
            );

            let stream = TcpStream::connect(addr).await.unwrap();
            let (send, conn) = hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(
                TetherExecutor::new(),
                TetherIo::new(stream),
            )
            .await
            .unwrap();
            let driver = s.spawn(conn);
            let mut set = tether::ScopedJoinSet::new();
            for i in 0..STREAMS {
                let mut send = send.clone();
                set.spawn(async move {
                    let req = Request::get(format!("http://x/{i}"))
                        .body(Empty::new())
                        .unwrap();
                    let res = send.send_request(req).await.unwrap();
                    assert_eq!(res.status(), StatusCode::OK);
                    let body = res.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(body, format!("/{i}"));
                });
            }
            assert_eq!(set.join_all().await.len(), STREAMS);
            assert_eq!(peak.load(Ordering::SeqCst), STREAMS);
            assert_eq!(live.load(Ordering::SeqCst), 0);
            drop(send);
            driver.await.unwrap().unwrap();
            server.stop();
        })
        .await;
    });
}

/// Bytes of the big-body test, and the chunk size it is sent in.
const BIG: usize = 10 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// The byte at offset `i` of the big body (a pattern that catches
/// reordered or dropped chunks).
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// A 10 MiB request body, produced chunk by chunk (never all in memory).
fn big_body() -> BoxBody<Bytes, Infallible> {
    let chunks = (0..BIG / CHUNK).map(|c| {
        let chunk: Vec<u8> = (c * CHUNK..(c + 1) * CHUNK).map(pattern).collect();
        Ok::<_, Infallible>(Frame::data(Bytes::from(chunk)))
    });
    StreamBody::new(futures::stream::iter(chunks)).boxed()
}

/// Streams `body` and checks it is the big pattern; returns its length.
async fn check_big(mut body: Incoming) -> usize {
    let mut offset = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap();
        if let Some(data) = frame.data_ref() {
            for (k, b) in data.iter().enumerate() {
                assert_eq!(*b, pattern(offset + k), "byte {}", offset + k);
            }
            offset += data.len();
        }
    }
    offset
}

#[test]
fn ten_mib_streamed_both_ways() {
    run("ten_mib_streamed_both_ways", async {
        let graceful = GracefulShutdown::new();
        let graceful = &graceful;
        let (listener, addr) = listener().await;
        tether::scope(|s| async move {
            // Echo: the response body *is* the request body, streamed back
            // as it arrives.
            let server = serve(
                &s,
                listener,
                builder(&s),
                graceful,
                |req: Request<Incoming>| async move { Ok(Response::new(req.into_body().boxed())) },
            );
            for http2 in [false, true] {
                let client: Client<_, BoxBody<Bytes, Infallible>> =
                    Client::builder(TetherExecutor::new())
                        .timer(TetherTimer::new())
                        .http2_only(http2)
                        .build(HttpConnector::new());
                let req = Request::post(format!("http://{addr}/echo"))
                    .body(big_body())
                    .unwrap();
                let res = client.request(req).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                assert_eq!(check_big(res.into_body()).await, BIG, "http2: {http2}");
            }
            server.stop();
        })
        .await;
    });
}

#[test]
fn client_disconnecting_mid_request_cancels_the_handler() {
    run(
        "client_disconnecting_mid_request_cancels_the_handler",
        async {
            let live = AtomicUsize::new(0);
            let live = &live;
            let graceful = GracefulShutdown::new();
            let graceful = &graceful;
            let (listener, addr) = listener().await;
            tether::scope(|s| async move {
                let server = serve(
                    &s,
                    listener,
                    builder(&s),
                    graceful,
                    move |_req: Request<Incoming>| async move {
                        let _live = Live::new(live);
                        std::future::pending::<()>().await;
                        unreachable!()
                    },
                );
                let until = |want: usize, phase: &'static str| async move {
                    let start = Instant::now();
                    while live.load(Ordering::SeqCst) != want {
                        assert!(
                            start.elapsed() < Duration::from_secs(10),
                            "{phase}: live handlers stuck at {}",
                            live.load(Ordering::SeqCst)
                        );
                        tether::time::sleep(Duration::from_millis(2)).await;
                    }
                };

                // HTTP/1.1: the client closes the socket while the handler runs.
                for _ in 0..5 {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream
                        .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
                        .await
                        .unwrap();
                    until(1, "http1 request").await;
                    drop(stream);
                    until(0, "http1 disconnect").await;
                }

                // HTTP/2: the client drops the request (RST_STREAM), then its
                // socket dies under a request (connection reset).
                let std_stream = std::net::TcpStream::connect(addr).unwrap();
                std_stream.set_nonblocking(true).unwrap();
                let kill = std_stream.try_clone().unwrap();
                let stream = TcpStream::from_std(std_stream).unwrap();
                let (mut send, conn) = hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(
                    TetherExecutor::new(),
                    TetherIo::new(stream),
                )
                .await
                .unwrap();
                let driver = s.spawn(conn);
                let req = || Request::get("http://x/slow").body(Empty::new()).unwrap();
                let pending = tether::spawn(send.send_request(req()));
                until(1, "http2 request").await;
                pending.abort();
                until(0, "http2 reset").await;
                let pending = tether::spawn(send.send_request(req()));
                until(1, "http2 second request").await;
                kill.shutdown(std::net::Shutdown::Both).unwrap();
                until(0, "http2 disconnect").await;
                assert!(
                    pending.await.unwrap().is_err(),
                    "the request failed with the connection"
                );
                drop(send);
                let _ = driver.await;
                server.stop();
            })
            .await;
        },
    );
}

/// Sends `raw` on a new connection and returns what the server answered
/// before closing (or the first response, if it keeps the connection).
async fn exchange(addr: std::net::SocketAddr, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may close while we still write (e.g. oversized headers).
    let _ = stream.write_all(raw).await;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        if count_responses(&got) >= 1 {
            break;
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A client error status or a closed connection without an answer.
fn rejected(answer: &str) -> bool {
    answer.is_empty() || answer.starts_with("HTTP/1.1 4")
}

#[test]
fn malformed_requests_are_rejected_while_others_are_served() {
    run(
        "malformed_requests_are_rejected_while_others_are_served",
        async {
            let graceful = GracefulShutdown::new();
            let graceful = &graceful;
            let (listener, addr) = listener().await;
            tether::scope(|s| async move {
            let mut b = builder(&s);
            b.http1().max_buf_size(16 * 1024);
            let server = serve(&s, listener, b, graceful, |req: Request<Incoming>| async move {
                let body = req.into_body().collect().await;
                Ok(match body {
                    Ok(body) => Response::new(full(format!("{} bytes", body.to_bytes().len()))),
                    Err(_) => {
                        let mut res = Response::new(full("bad body"));
                        *res.status_mut() = StatusCode::BAD_REQUEST;
                        res
                    }
                })
            });
            // A healthy keep-alive connection, used between the bad ones.
            let mut good = TcpStream::connect(addr).await.unwrap();
            let mut check_good = async move || {
                good.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc").await.unwrap();
                let text = read_responses(&mut good, 1).await;
                assert!(text.starts_with("HTTP/1.1 200") && text.ends_with("3 bytes"), "{text}");
            };
            check_good().await;

            let bad_line = exchange(addr, b"GARBAGE\r\n\r\n").await;
            assert!(rejected(&bad_line), "bad request line: {bad_line}");
            assert!(bad_line.is_empty() || bad_line.starts_with("HTTP/1.1 400"), "{bad_line}");
            check_good().await;

            let huge = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024));
            let oversized = exchange(addr, huge.as_bytes()).await;
            assert!(rejected(&oversized), "oversized headers: {oversized}");
            check_good().await;

            let bad_chunked = exchange(
                addr,
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n",
            )
            .await;
            assert!(rejected(&bad_chunked), "invalid chunked encoding: {bad_chunked}");
            check_good().await;

            let bad_version = exchange(addr, b"GET / HTTP/9.9\r\nHost: x\r\n\r\n").await;
            assert!(rejected(&bad_version) || bad_version.starts_with("HTTP/1.1 505"), "{bad_version}");
            check_good().await;
            server.stop();
        })
        .await;
        },
    );
}

#[test]
fn header_read_timeout_fires_through_the_tether_timer() {
    run(
        "header_read_timeout_fires_through_the_tether_timer",
        async {
            let graceful = GracefulShutdown::new();
            let graceful = &graceful;
            let (listener, addr) = listener().await;
            const LIMIT: Duration = Duration::from_millis(300);
            tether::scope(|s| async move {
                let mut b = builder(&s);
                b.header_read_timeout(LIMIT);
                let server = serve(
                    &s,
                    listener,
                    b,
                    graceful,
                    |_req: Request<Incoming>| async move { Ok(Response::new(full("too late"))) },
                );
                // Half a request head, then silence (HTTP/1 path), and nothing
                // at all (protocol detection path).
                for partial in [&b"GET / HTTP/1.1\r\nHost: x\r\n"[..], &b""[..]] {
                    let started = Instant::now();
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream.write_all(partial).await.unwrap();
                    let mut got = Vec::new();
                    let _ = stream.read_to_end(&mut got).await;
                    let waited = started.elapsed();
                    let text = String::from_utf8_lossy(&got);
                    assert!(got.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
                    assert!(
                        waited >= LIMIT,
                        "closed after {waited:?}, before the {LIMIT:?} timeout"
                    );
                    assert!(waited < LIMIT * 10, "closed only after {waited:?}");
                }
                // A prompt client is unaffected.
                let answer = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
                assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
                server.stop();
            })
            .await;
        },
    );
}

#[test]
fn graceful_shutdown_finishes_in_flight_and_refuses_new_connections() {
    run(
        "graceful_shutdown_finishes_in_flight_and_refuses_new_connections",
        async {
            let live = AtomicUsize::new(0);
            let live = &live;
            let graceful = GracefulShutdown::new();
            let graceful = &graceful;
            let (listener, addr) = listener().await;
            let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
            const GRACE: Duration = Duration::from_secs(5);
            let server = tether::scope(|s| async move {
                let b = builder(&s);
                let mut stop_rx = stop_rx;
                loop {
                    let accept = std::pin::pin!(listener.accept());
                    match futures::future::select(accept, &mut stop_rx).await {
                        futures::future::Either::Left((Ok((stream, _)), _)) => {
                            let service = service_fn(move |_req: Request<Incoming>| async move {
                                let _live = Live::new(live);
                                tether::time::sleep(Duration::from_millis(300)).await;
                                Ok::<_, Infallible>(Response::new(full("finished")))
                            });
                            s.spawn(
                                graceful.watch(b.serve_connection(TetherIo::new(stream), service)),
                            );
                        }
                        futures::future::Either::Left((Err(_), _)) => {}
                        futures::future::Either::Right(_) => break,
                    }
                }
                drop(listener);
                graceful.shutdown().await;
            });
            let client = async move {
                // Two requests in flight (HTTP/1.1 and HTTP/2) when the
                // shutdown starts.
                let h1: Client<_, Empty<Bytes>> =
                    Client::builder(TetherExecutor::new()).build(HttpConnector::new());
                let h2: Client<_, Empty<Bytes>> = Client::builder(TetherExecutor::new())
                    .http2_only(true)
                    .build(HttpConnector::new());
                let get = || {
                    Request::get(format!("http://{addr}/"))
                        .body(Empty::new())
                        .unwrap()
                };
                let (r1, r2, stopped_at) =
                    futures::join!(h1.request(get()), h2.request(get()), async {
                        while live.load(Ordering::SeqCst) < 2 {
                            tether::time::sleep(Duration::from_millis(2)).await;
                        }
                        stop_tx.send(()).unwrap();
                        Instant::now()
                    });
                for r in [r1, r2] {
                    let res = r.expect("an in-flight request is answered");
                    assert_eq!(res.status(), StatusCode::OK);
                    let body = res.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(&body[..], b"finished");
                }
                stopped_at
            };
            let (outcome, stopped_at) =
                futures::join!(with_deadline(graceful, server, GRACE), client);
            outcome.expect("the server finishes within the grace period");
            assert!(stopped_at.elapsed() < GRACE);
            assert_eq!(live.load(Ordering::SeqCst), 0);
            assert_eq!(graceful.live(), 0);
            let refused = TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        },
    );
}

#[test]
fn graceful_shutdown_cancels_what_misses_the_deadline() {
    run(
        "graceful_shutdown_cancels_what_misses_the_deadline",
        async {
            let live = AtomicUsize::new(0);
            let live = &live;
            let graceful = GracefulShutdown::new();
            let graceful = &graceful;
            let (listener, addr) = listener().await;
            const GRACE: Duration = Duration::from_millis(200);
            let server = tether::scope(|s| async move {
                let b = builder(&s);
                let (stream, _) = listener.accept().await.unwrap();
                let service = service_fn(move |_req: Request<Incoming>| async move {
                    let _live = Live::new(live);
                    std::future::pending::<()>().await;
                    Ok::<_, Infallible>(Response::new(full("never")))
                });
                s.spawn(graceful.watch(b.serve_connection(TetherIo::new(stream), service)));
                drop(listener);
                while live.load(Ordering::SeqCst) == 0 {
                    tether::time::sleep(Duration::from_millis(2)).await;
                }
                graceful.shutdown().await;
            });
            let client = async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream
                    .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
                let mut rest = Vec::new();
                // The server closes the connection when it cancels it.
                let _ = stream.read_to_end(&mut rest).await;
                rest
            };
            let started = Instant::now();
            let (outcome, answer) = futures::join!(with_deadline(graceful, server, GRACE), client);
            let elapsed = started.elapsed();
            let err = outcome.expect_err("the stuck request misses the deadline");
            assert_eq!(err.cancelled, 1);
            assert!(elapsed >= GRACE && elapsed < GRACE * 20, "{elapsed:?}");
            assert!(answer.is_empty(), "no answer for a cancelled request");
            assert_eq!(live.load(Ordering::SeqCst), 0, "the handler was cancelled");
            assert_eq!(graceful.live(), 0);
        },
    );
}

#[test]
fn hyper_util_auto_server_runs_on_tether() {
    use hyper_util::server::conn::auto;
    run("hyper_util_auto_server_runs_on_tether", async {
        let (listener, addr) = listener().await;
        // hyper-util's own HTTP/1 + HTTP/2 server: 'static services
        // (state behind an Arc, as with tokio), tether I/O, executor, timer.
        let hits = std::sync::Arc::new(AtomicUsize::new(0));
        let server_hits = hits.clone();
        let server = tether::spawn(async move {
            let mut builder = auto::Builder::new(TetherExecutor::new());
            builder.http1().timer(TetherTimer::new());
            builder.http2().timer(TetherTimer::new());
            for _ in 0..2 {
                let (stream, _) = listener.accept().await.unwrap();
                let hits = server_hits.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let hits = hits.clone();
                    async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, Infallible>(Response::new(full(format!("{:?}", req.version()))))
                    }
                });
                let conn = builder
                    .serve_connection(TetherIo::new(stream), service)
                    .into_owned();
                tether::spawn(conn);
            }
        });
        for (http2, want) in [(false, "HTTP/1.1"), (true, "HTTP/2.0")] {
            let client: Client<_, Empty<Bytes>> = Client::builder(TetherExecutor::new())
                .http2_only(http2)
                .build(HttpConnector::new());
            let res = client
                .request(
                    Request::get(format!("http://{addr}/"))
                        .body(Empty::new())
                        .unwrap(),
                )
                .await
                .unwrap();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], want.as_bytes());
        }
        server.await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn http_over_a_unix_socket() {
    run("http_over_a_unix_socket", async {
        let dir = std::env::temp_dir().join(format!("tether-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sock");
        let _ = std::fs::remove_file(&path);
        let listener = tether::net::UnixListener::bind(&path).unwrap();
        let greeting = String::from("over unix");
        let greeting = &greeting;
        tether::scope(|s| async move {
            let b = builder(&s);
            s.spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let service = service_fn(move |_req: Request<Incoming>| async move {
                    Ok::<_, Infallible>(Response::new(full(greeting.clone())))
                });
                b.serve_connection(TetherIo::new(stream), service)
                    .await
                    .unwrap();
            });
            let stream = tether::net::UnixStream::connect(&path).await.unwrap();
            let (mut send, conn) = hyper::client::conn::http1::handshake(TetherIo::new(stream))
                .await
                .unwrap();
            let driver = s.spawn(conn);
            let res = send
                .send_request(Request::get("/").body(Empty::<Bytes>::new()).unwrap())
                .await
                .unwrap();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"over unix");
            drop(send);
            driver.await.unwrap().unwrap();
        })
        .await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn timer_reset_moves_the_existing_wheel_entry() {
    run("timer_reset_moves_the_existing_wheel_entry", async {
        let timer = TetherTimer::new();
        let base = tether::time::registered_timers();
        let mut sleep = timer.sleep(Duration::from_secs(3600));
        // Register it with the wheel by polling once.
        assert!(futures::poll!(sleep.as_mut()).is_pending());
        assert_eq!(tether::time::registered_timers(), base + 1);
        let started = Instant::now();
        timer.reset(&mut sleep, timer.now() + Duration::from_millis(20));
        assert_eq!(
            tether::time::registered_timers(),
            base + 1,
            "reset reuses the entry"
        );
        assert!(
            sleep
                .as_mut()
                .downcast_mut_pin::<tether::hyper::TetherSleep>()
                .is_some()
        );
        sleep.as_mut().await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(20) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        // Later, too: a reset into the future re-arms a completed sleep.
        timer.reset(&mut sleep, timer.now() + Duration::from_millis(10));
        assert!(futures::poll!(sleep.as_mut()).is_pending());
        sleep.await;
    });
}

#[test]
fn connector_reports_refused_connections_and_bad_schemes() {
    run(
        "connector_reports_refused_connections_and_bad_schemes",
        async {
            use tower_service::Service;
            let (listener, addr) = listener().await;
            drop(listener);
            let mut connector = HttpConnector::new();
            let err = connector
                .call(format!("http://{addr}/").parse().unwrap())
                .await
                .unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
            let err = connector
                .call("https://example.invalid/".parse().unwrap())
                .await
                .unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
            let client: Client<_, Empty<Bytes>> =
                Client::builder(TetherExecutor::new()).build(connector);
            let err = client
                .get(format!("http://{addr}/").parse().unwrap())
                .await
                .unwrap_err();
            assert!(err.is_connect(), "{err:?}");
        },
    );
}
