//! [`HttpConnector`]: opens tether TCP connections for hyper-util's client.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};

use super::TetherIo;
use crate::net::{TcpStream, UnixStream};

/// A connector for hyper-util's legacy [`Client`]: a
/// `tower_service::Service<Uri>` that resolves the URI's host and opens a
/// [`TcpStream`] on the current tether runtime (plain `http://` only; wrap
/// it in a TLS connector for `https://`).
///
/// Connections get `TCP_NODELAY` (HTTP writes whole messages, so Nagle's
/// algorithm only adds latency) unless turned off with
/// [`set_nodelay`](Self::set_nodelay).
///
/// [`Client`]: hyper_util::client::legacy::Client
///
/// # Examples
///
/// ```no_run
/// use http_body_util::{BodyExt, Empty};
/// use hyper::body::Bytes;
/// use hyper_util::client::legacy::Client;
/// use tether::hyper::{HttpConnector, TetherExecutor, TetherTimer};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let client: Client<_, Empty<Bytes>> = Client::builder(TetherExecutor::new())
///     .timer(TetherTimer::new())
///     .pool_timer(TetherTimer::new())
///     .build(HttpConnector::new());
/// let res = client.get("http://127.0.0.1:3000/health".parse()?).await?;
/// let body = res.into_body().collect().await?.to_bytes();
/// assert_eq!(&body[..], b"ok");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct HttpConnector {
    /// Whether connections get `TCP_NODELAY`.
    nodelay: bool,
    /// Limit on one connection attempt (resolution included).
    connect_timeout: Option<Duration>,
}

impl HttpConnector {
    /// A connector with `TCP_NODELAY` on and no connect timeout.
    pub fn new() -> Self {
        HttpConnector {
            nodelay: true,
            connect_timeout: None,
        }
    }

    /// Whether new connections get `TCP_NODELAY` (default: yes).
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.nodelay = nodelay;
    }

    /// Fails a connection attempt (resolution and connect) that takes
    /// longer than `timeout` with [`io::ErrorKind::TimedOut`].
    pub fn set_connect_timeout(&mut self, timeout: Option<Duration>) {
        self.connect_timeout = timeout;
    }
}

impl Default for HttpConnector {
    fn default() -> Self {
        HttpConnector::new()
    }
}

/// The `host:port` an `http://` URI connects to.
fn authority(uri: &Uri) -> io::Result<(String, u16)> {
    match uri.scheme_str() {
        Some("http") | None => {}
        Some(other) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("HttpConnector speaks plain http, not `{other}` (use a TLS connector)"),
            ));
        }
    }
    let host = uri.host().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("URI `{uri}` has no host"),
        )
    })?;
    // `[::1]` in a URI is `::1` to the resolver.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_owned(), uri.port_u16().unwrap_or(80)))
}

impl tower_service::Service<Uri> for HttpConnector {
    type Response = TetherIo<TcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TetherIo<TcpStream>>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let (host, port) = authority(&uri)?;
            if crate::runtime::Handle::try_current().is_err() {
                return Err(io::Error::other(
                    "tether::hyper::HttpConnector used outside a tether runtime",
                ));
            }
            let connect = TcpStream::connect((host.as_str(), port));
            let stream = match this.connect_timeout {
                Some(limit) => crate::time::timeout(limit, connect).await.map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("connecting to {host}:{port} took longer than {limit:?}"),
                    )
                })??,
                None => connect.await?,
            };
            stream.set_nodelay(this.nodelay)?;
            Ok(TetherIo::new(stream))
        })
    }
}

impl Connection for TetherIo<TcpStream> {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl Connection for TetherIo<UnixStream> {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}
