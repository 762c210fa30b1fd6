//! The JSON API behind the `http_server` and `http_client` examples: hyper
//! on tether, with every handler borrowing the application state.
//!
//! * [`AppState`]: configuration, an in-memory item store behind a
//!   [`tether::sync::RwLock`], request counters. It lives on the stack of
//!   whoever calls [`serve`]; handlers get `&AppState`.
//! * [`handle`]: the routes. Each request gets its own `bumpalo` arena
//!   (path segments, fan-out slots, the rendered JSON), freed in one go
//!   when the handler returns.
//! * [`serve`]: the accept loop, a [`tether::scope()`]: each connection is a
//!   scoped child, HTTP/2 streams are scoped children too (hyper's HTTP/2
//!   server spawns them on a [`ScopeExecutor`]). A shutdown future stops
//!   it gracefully: the listener closes, in-flight requests finish within
//!   the configured grace period, the rest is cancelled.
//! * [`client`]: hyper-util's pooled client on tether, HTTP/1 or HTTP/2.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bumpalo::Bump;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use serde::{Deserialize, Serialize};
use tether::hyper::{
    DeadlineElapsed, GracefulShutdown, HttpConnector, ScopeExecutor, TetherExecutor, TetherIo,
    TetherTimer, server::Builder, with_deadline,
};
use tether::net::TcpListener;
use tether::sync::RwLock;

/// Largest `POST /items` body accepted; bigger ones get 413.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Numbers per child task of `GET /work`: enough trial divisions that a
/// child outweighs the cost of spawning it.
const WORK_CHUNK: u64 = 20_000;

/// Server configuration, read by the handlers through `&AppState`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Simulated backends `GET /fanout` queries concurrently.
    pub backends: usize,
    /// Latency of one simulated backend call.
    pub backend_latency: Duration,
    /// Upper bound of `n` in `GET /work?n=N`.
    pub max_work: u64,
    /// How long in-flight requests may take to finish after a shutdown
    /// signal before they are cancelled.
    pub grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            backends: 4,
            backend_latency: Duration::from_millis(20),
            max_work: 5_000_000,
            grace: Duration::from_secs(5),
        }
    }
}

/// A stored item.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Item {
    /// Assigned by the server.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Price in cents.
    pub price_cents: u64,
}

/// The body of `POST /items`; the name borrows from the request body.
#[derive(Debug, Deserialize)]
struct NewItem<'a> {
    /// Display name.
    name: &'a str,
    /// Price in cents.
    price_cents: u64,
}

/// The in-memory store.
#[derive(Debug, Default)]
struct Store {
    /// Next id to hand out.
    next_id: u64,
    /// Items by id, in id order.
    items: std::collections::BTreeMap<u64, Item>,
}

/// Request counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests answered (any route, any status).
    pub requests: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Handlers running right now.
    pub live_handlers: AtomicUsize,
    /// Requests per route, in [`ROUTES`] order.
    pub by_route: [AtomicU64; ROUTES.len()],
}

/// Route names, for [`Counters::by_route`].
pub const ROUTES: [&str; 7] = [
    "GET /health",
    "GET /items",
    "GET /items/{id}",
    "POST /items",
    "GET /work",
    "GET /fanout",
    "other",
];

/// Everything the handlers share. Owned by the caller of [`serve`] (on its
/// stack); handlers borrow it.
#[derive(Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Config,
    /// The items, behind a borrowed async read-write lock.
    store: RwLock<Store>,
    /// Counters.
    pub counters: Counters,
}

impl AppState {
    /// An empty store with `config`.
    pub fn new(config: Config) -> Self {
        AppState {
            config,
            store: RwLock::new(Store {
                next_id: 1,
                ..Store::default()
            }),
            counters: Counters::default(),
        }
    }

    /// Requests served on `route` (an entry of [`ROUTES`]).
    pub fn route_count(&self, route: &str) -> u64 {
        ROUTES
            .iter()
            .position(|r| *r == route)
            .map_or(0, |i| self.counters.by_route[i].load(Ordering::Relaxed))
    }
}

/// The response body type of every route.
pub type Body = Full<Bytes>;

/// Counts a handler as live for as long as it exists, so a cancelled
/// handler (dropped mid-request) is seen leaving too.
struct LiveGuard<'a>(&'a AtomicUsize);

impl<'a> LiveGuard<'a> {
    /// Counts one more live handler.
    fn new(live: &'a AtomicUsize) -> Self {
        live.fetch_add(1, Ordering::Relaxed);
        LiveGuard(live)
    }
}

impl Drop for LiveGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The routes, recognised before the request moves into its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `GET /health`.
    Health,
    /// `GET /items`.
    ListItems,
    /// `GET /items/{id}` (`None`: the id is not a number).
    GetItem(Option<u64>),
    /// `POST /items`.
    CreateItem,
    /// `GET /work?n=N` (`None`: no usable `n`).
    Work(Option<u64>),
    /// `GET /fanout`.
    Fanout,
    /// Anything else.
    NotFound,
}

impl Route {
    /// Recognises `req`'s route.
    fn of(req: &Request<Incoming>) -> Route {
        let mut segments = req.uri().path().split('/').filter(|s| !s.is_empty());
        let segments = (segments.next(), segments.next(), segments.next());
        match (req.method(), segments) {
            (&Method::GET, (Some("health"), None, _)) => Route::Health,
            (&Method::GET, (Some("items"), None, _)) => Route::ListItems,
            (&Method::GET, (Some("items"), Some(id), None)) => Route::GetItem(id.parse().ok()),
            (&Method::POST, (Some("items"), None, _)) => Route::CreateItem,
            (&Method::GET, (Some("work"), None, _)) => Route::Work(
                req.uri()
                    .query()
                    .into_iter()
                    .flat_map(|q| q.split('&'))
                    .find_map(|kv| kv.strip_prefix("n="))
                    .and_then(|n| n.parse().ok()),
            ),
            (&Method::GET, (Some("fanout"), None, _)) => Route::Fanout,
            _ => Route::NotFound,
        }
    }

    /// Index in [`ROUTES`].
    fn index(self) -> usize {
        match self {
            Route::Health => 0,
            Route::ListItems => 1,
            Route::GetItem(_) => 2,
            Route::CreateItem => 3,
            Route::Work(_) => 4,
            Route::Fanout => 5,
            Route::NotFound => 6,
        }
    }
}

/// Serves one request. Borrows the state; allocates its scratch memory in
/// a per-request arena that it owns and lends out (`&mut Bump` is `Send`,
/// so the handler can still run on any worker).
pub async fn handle(
    req: Request<Incoming>,
    state: &AppState,
) -> Result<Response<Body>, Infallible> {
    let _live = LiveGuard::new(&state.counters.live_handlers);
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let mut arena = Bump::new();
    let arena = &mut arena;
    let route = Route::of(&req);
    let response = match route {
        Route::Health => text(StatusCode::OK, "ok"),
        Route::ListItems => list_items(state, arena).await,
        Route::GetItem(id) => get_item(state, id, arena).await,
        Route::CreateItem => create_item(req, state, arena).await,
        Route::Work(n) => work(state, n, arena).await,
        Route::Fanout => fanout(state, arena).await,
        Route::NotFound => text(StatusCode::NOT_FOUND, "no such route"),
    };
    state.counters.by_route[route.index()].fetch_add(1, Ordering::Relaxed);
    Ok(response)
    // The arena is freed here, all at once.
}

/// `GET /items`: every item, in id order.
async fn list_items(state: &AppState, arena: &mut Bump) -> Response<Body> {
    let store = state.store.read().await;
    let items = store.items.values().collect::<Vec<_>>();
    json(arena, StatusCode::OK, &items)
}

/// `GET /items/{id}`.
async fn get_item(state: &AppState, id: Option<u64>, arena: &mut Bump) -> Response<Body> {
    let Some(id) = id else {
        return text(StatusCode::BAD_REQUEST, "item ids are numbers");
    };
    match state.store.read().await.items.get(&id) {
        Some(item) => json(arena, StatusCode::OK, item),
        None => text(StatusCode::NOT_FOUND, "no such item"),
    }
}

/// `POST /items`: stores the JSON body and returns it with its id.
async fn create_item(req: Request<Incoming>, state: &AppState, arena: &mut Bump) -> Response<Body> {
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "body too large or cut short"),
    };
    let new: NewItem<'_> = match serde_json::from_slice(&body) {
        Ok(new) => new,
        Err(e) => {
            let msg = bumpalo::format!(in arena, "invalid item: {}", e);
            return text(StatusCode::UNPROCESSABLE_ENTITY, msg.into_bump_str());
        }
    };
    let item = {
        let mut store = state.store.write().await;
        let id = store.next_id;
        store.next_id += 1;
        let item = Item {
            id,
            name: new.name.to_owned(),
            price_cents: new.price_cents,
        };
        store.items.insert(id, item.clone());
        item
    };
    json(arena, StatusCode::CREATED, &item)
}

/// `GET /work?n=N`: counts the primes below `N` by trial division, split
/// over scoped children that borrow their slot of an arena slice.
async fn work(state: &AppState, n: Option<u64>, arena: &mut Bump) -> Response<Body> {
    let Some(n) = n.filter(|&n| n <= state.config.max_work) else {
        let msg = bumpalo::format!(in arena, "need ?n=N with N <= {}", state.config.max_work);
        return text(StatusCode::BAD_REQUEST, msg.into_bump_str());
    };
    let chunks = n.div_ceil(WORK_CHUNK) as usize;
    let counts: &mut [u64] = arena.alloc_slice_fill_copy(chunks, 0);
    {
        let slots = &mut *counts;
        tether::scope(|s| async move {
            for (i, slot) in slots.iter_mut().enumerate() {
                let start = i as u64 * WORK_CHUNK;
                let end = (start + WORK_CHUNK).min(n);
                s.spawn(
                    async move { *slot = (start..end).filter(|&k| is_prime(k)).count() as u64 },
                );
            }
        })
        .await;
    }
    let primes: u64 = counts.iter().sum();
    #[derive(Serialize)]
    struct Work {
        n: u64,
        primes: u64,
        chunks: usize,
    }
    json(arena, StatusCode::OK, &Work { n, primes, chunks })
}

/// Trial division (deliberately naive: this route is the CPU-heavy one).
fn is_prime(k: u64) -> bool {
    if k < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= k {
        if k % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

/// One simulated backend's answer to `GET /fanout`.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct BackendReply {
    /// Which backend.
    backend: usize,
    /// Items it saw.
    items: usize,
    /// Sum of their prices it computed.
    total_cents: u64,
}

/// A simulated backend: waits its latency, then reads the store (borrowed
/// lock) and summarises its share of the items.
async fn backend(state: &AppState, backend: usize) -> BackendReply {
    tether::time::sleep(state.config.backend_latency).await;
    let store = state.store.read().await;
    let mine = store
        .items
        .values()
        .filter(|item| item.id as usize % state.config.backends == backend);
    let (items, total_cents) = mine.fold((0, 0), |(n, t), item| (n + 1, t + item.price_cents));
    BackendReply {
        backend,
        items,
        total_cents,
    }
}

/// `GET /fanout`: asks every backend at once, through a scope whose
/// children borrow the state and their own slot of an arena slice.
async fn fanout(state: &AppState, arena: &mut Bump) -> Response<Body> {
    let replies: &mut [BackendReply] = arena.alloc_slice_fill_default(state.config.backends.max(1));
    let started = tether::time::Instant::now();
    {
        let slots = &mut *replies;
        tether::scope(|s| async move {
            for (i, slot) in slots.iter_mut().enumerate() {
                s.spawn(async move { *slot = backend(state, i).await });
            }
        })
        .await;
    }
    #[derive(Serialize)]
    struct Fanout<'a> {
        backends: &'a [BackendReply],
        elapsed_ms: u128,
    }
    let elapsed_ms = started.elapsed().as_millis();
    json(
        arena,
        StatusCode::OK,
        &Fanout {
            backends: replies,
            elapsed_ms,
        },
    )
}

/// A plain-text response.
fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// A JSON response, rendered in the request's arena and copied out once
/// into the body hyper sends.
fn json<T: Serialize + ?Sized>(arena: &Bump, status: StatusCode, value: &T) -> Response<Body> {
    let mut buf = bumpalo::collections::Vec::with_capacity_in(256, arena);
    if let Err(e) = serde_json::to_writer(&mut buf, value) {
        let msg = bumpalo::format!(in arena, "cannot render JSON: {}", e);
        return text(StatusCode::INTERNAL_SERVER_ERROR, msg.into_bump_str());
    }
    let mut res = Response::new(Full::new(Bytes::copy_from_slice(&buf)));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// How a [`serve`] run ended.
#[derive(Debug)]
pub struct ServeReport {
    /// Connections still open at the deadline, cancelled with their
    /// requests (zero for a clean shutdown).
    pub cancelled_connections: usize,
    /// `Err` if the grace period ran out.
    pub outcome: Result<(), DeadlineElapsed>,
}

/// Serves `listener` until `shutdown` completes, then shuts down
/// gracefully: stops accepting (the listener is closed, so new connections
/// are refused), lets requests in flight finish for up to
/// `state.config.grace`, and cancels whatever is left.
///
/// The accept loop is a scope; every connection (and every HTTP/2 stream)
/// is a scoped child borrowing `state`.
pub async fn serve(
    listener: TcpListener,
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> ServeReport {
    let graceful = GracefulShutdown::new();
    let graceful = &graceful;
    let server = tether::scope(|s| async move {
        let builder = Builder::new(ScopeExecutor::new(s.clone()));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let accept = std::pin::pin!(listener.accept());
            let stream = match futures::future::select(accept, shutdown.as_mut()).await {
                futures::future::Either::Left((Ok((stream, _peer)), _)) => stream,
                // A connection that failed before we took it (reset, out of
                // descriptors): keep serving the others.
                futures::future::Either::Left((Err(_), _)) => continue,
                futures::future::Either::Right(((), _)) => break,
            };
            let _ = stream.set_nodelay(true);
            state.counters.connections.fetch_add(1, Ordering::Relaxed);
            let service = service_fn(move |req| handle(req, state));
            let conn = builder.serve_connection(TetherIo::new(stream), service);
            s.spawn(graceful.watch(conn));
        }
        // Closing the listener refuses new connections from here on.
        drop(listener);
        graceful.shutdown().await;
    });
    let outcome = with_deadline(graceful, server, state.config.grace).await;
    ServeReport {
        cancelled_connections: outcome.as_ref().err().map_or(0, |e| e.cancelled),
        outcome,
    }
}

/// hyper-util's pooled client on tether (HTTP/1.1, or HTTP/2 with prior
/// knowledge if `http2`).
pub fn client(http2: bool) -> Client<HttpConnector, Body> {
    Client::builder(TetherExecutor::new())
        .timer(TetherTimer::new())
        .pool_timer(TetherTimer::new())
        .http2_only(http2)
        .build(HttpConnector::new())
}

/// Sends `req` and collects the status and body.
///
/// # Errors
///
/// If the request fails or the body cannot be read.
pub async fn fetch(
    client: &Client<HttpConnector, Body>,
    req: Request<Body>,
) -> Result<(StatusCode, Bytes), Box<dyn std::error::Error + Send + Sync>> {
    let res = client.request(req).await?;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, body))
}
