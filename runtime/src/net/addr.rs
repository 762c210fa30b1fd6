//! [`ToSocketAddrs`]: what the socket constructors accept as an address.
//!
//! Literal addresses (`SocketAddr`, `(IpAddr, u16)`, `"127.0.0.1:8080"`,
//! `("::1", 80)`) are converted on the spot. A host name (`"localhost:0"`)
//! needs the system resolver, which blocks, so it runs on the blocking pool
//! and the caller awaits it. A string that is not `host:port` with a valid
//! port fails at once with [`ErrorKind::InvalidInput`](io::ErrorKind), before
//! any lookup.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Types that name one or more socket addresses, possibly via a lookup.
///
/// This trait is sealed: it is implemented for [`SocketAddr`],
/// [`SocketAddrV4`], [`SocketAddrV6`], `(IpAddr, u16)`, `(Ipv4Addr, u16)`,
/// `(Ipv6Addr, u16)`, `&[SocketAddr]`, [`str`] and [`String`] (`"host:port"`),
/// `(&str, u16)` and `(String, u16)`, and references to any of these.
///
/// # Examples
///
/// ```
/// use tether::net::TcpListener;
/// use std::net::{Ipv4Addr, SocketAddr};
///
/// # fn main() -> std::io::Result<()> {
/// tether::Runtime::new()?.block_on(async {
///     // A literal address resolves without a lookup.
///     let a = TcpListener::bind("127.0.0.1:0").await?;
///     let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
///     let c = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
///     // A host name is looked up on the blocking pool.
///     let d = TcpListener::bind("localhost:0").await?;
///     // Something that is not `host:port` is rejected at once.
///     let err = TcpListener::bind("no port here").await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
///     # drop((a, b, c, d));
///     Ok(())
/// })
/// # }
/// ```
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

pub(crate) mod sealed {
    //! The method behind [`ToSocketAddrs`](super::ToSocketAddrs), kept out
    //! of reach so the trait cannot be implemented or called from outside.

    use super::MaybeReady;

    /// Converts `self` into addresses.
    pub trait ToSocketAddrsPriv {
        /// Starts the conversion; a host name needs a lookup.
        fn to_socket_addrs(&self, _: Internal) -> MaybeReady;
    }

    /// A token only this crate can create, so only it can call the method.
    #[derive(Debug)]
    pub struct Internal;
}

use sealed::{Internal, ToSocketAddrsPriv};

/// The addresses named by a [`ToSocketAddrs`] value, once known.
pub(crate) type Addrs = std::vec::IntoIter<SocketAddr>;

/// A conversion that is either done or waiting for a lookup.
pub enum MaybeReady {
    /// The addresses are known (or the input was invalid).
    Ready(Option<io::Result<Addrs>>),
    /// A lookup on the blocking pool.
    Blocking(Pin<Box<dyn Future<Output = io::Result<Addrs>> + Send>>),
}

impl std::fmt::Debug for MaybeReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaybeReady::Ready(r) => f.debug_tuple("Ready").field(r).finish(),
            MaybeReady::Blocking(_) => f.write_str("Blocking(..)"),
        }
    }
}

impl Future for MaybeReady {
    type Output = io::Result<Addrs>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            MaybeReady::Ready(r) => {
                Poll::Ready(r.take().expect("MaybeReady polled after completion"))
            }
            MaybeReady::Blocking(fut) => fut.as_mut().poll(cx),
        }
    }
}

/// Resolves `addr` (see the module docs).
pub(crate) fn to_socket_addrs<A: ToSocketAddrs>(addr: A) -> MaybeReady {
    addr.to_socket_addrs(Internal)
}

/// Tries `f` on every address in turn; returns the first success or the
/// last error.
pub(crate) fn each_addr<T>(
    addrs: Addrs,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in addrs {
        match f(addr) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}

/// The error for a name that resolved to nothing.
pub(crate) fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any address",
    )
}

fn ready(addrs: Vec<SocketAddr>) -> MaybeReady {
    MaybeReady::Ready(Some(Ok(addrs.into_iter())))
}

fn invalid(msg: &'static str) -> MaybeReady {
    MaybeReady::Ready(Some(Err(io::Error::new(io::ErrorKind::InvalidInput, msg))))
}

/// Looks `host` up with the system resolver on the blocking pool.
///
/// # Panics
///
/// Panics outside a tether runtime, like every socket constructor.
fn lookup(host: String, port: u16) -> MaybeReady {
    let handle = crate::spawn_blocking(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .map(|it| it.collect::<Vec<_>>())
    });
    MaybeReady::Blocking(Box::pin(async move {
        match handle.await {
            Ok(resolved) => resolved.map(Vec::into_iter),
            Err(e) => Err(io::Error::other(format!("the address lookup failed: {e}"))),
        }
    }))
}

/// `host` and `port`, resolved without a lookup when `host` is an IP literal.
fn host_port(host: &str, port: u16) -> MaybeReady {
    if host.is_empty() {
        return invalid("empty host name");
    }
    // `[::1]` is accepted in a `host:port` string; strip the brackets.
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ready(vec![SocketAddr::new(ip, port)]),
        Err(_) => lookup(host.to_owned(), port),
    }
}

impl ToSocketAddrs for SocketAddr {}
impl ToSocketAddrsPriv for SocketAddr {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        ready(vec![*self])
    }
}

impl ToSocketAddrs for SocketAddrV4 {}
impl ToSocketAddrsPriv for SocketAddrV4 {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        ready(vec![SocketAddr::V4(*self)])
    }
}

impl ToSocketAddrs for SocketAddrV6 {}
impl ToSocketAddrsPriv for SocketAddrV6 {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        ready(vec![SocketAddr::V6(*self)])
    }
}

impl ToSocketAddrs for (IpAddr, u16) {}
impl ToSocketAddrsPriv for (IpAddr, u16) {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        ready(vec![SocketAddr::new(self.0, self.1)])
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {}
impl ToSocketAddrsPriv for (Ipv4Addr, u16) {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        ready(vec![SocketAddr::new(self.0.into(), self.1)])
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {}
impl ToSocketAddrsPriv for (Ipv6Addr, u16) {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        ready(vec![SocketAddr::new(self.0.into(), self.1)])
    }
}

impl ToSocketAddrs for &[SocketAddr] {}
impl ToSocketAddrsPriv for &[SocketAddr] {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        ready(self.to_vec())
    }
}

impl ToSocketAddrs for str {}
impl ToSocketAddrsPriv for str {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return ready(vec![addr]);
        }
        let Some((host, port)) = self.rsplit_once(':') else {
            return invalid("invalid socket address: expected `host:port`");
        };
        let Ok(port) = port.parse::<u16>() else {
            return invalid("invalid socket address: the port is not a number in 0..=65535");
        };
        host_port(host, port)
    }
}

impl ToSocketAddrs for String {}
impl ToSocketAddrsPriv for String {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        self.as_str().to_socket_addrs(Internal)
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl ToSocketAddrsPriv for (&str, u16) {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        host_port(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {}
impl ToSocketAddrsPriv for (String, u16) {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        host_port(&self.0, self.1)
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrsPriv + ?Sized> ToSocketAddrsPriv for &T {
    fn to_socket_addrs(&self, _: Internal) -> MaybeReady {
        (**self).to_socket_addrs(Internal)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Polls a conversion that must not need a lookup.
    fn now(m: MaybeReady) -> io::Result<Vec<SocketAddr>> {
        match m {
            MaybeReady::Ready(r) => r.unwrap().map(Iterator::collect),
            MaybeReady::Blocking(_) => panic!("a literal address needed a lookup"),
        }
    }

    #[test]
    fn literals_resolve_without_lookup() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(now(to_socket_addrs("127.0.0.1:80")).unwrap(), [v4]);
        assert_eq!(now(to_socket_addrs("[::1]:443")).unwrap(), [v6]);
        assert_eq!(
            now(to_socket_addrs(String::from("127.0.0.1:80"))).unwrap(),
            [v4]
        );
        assert_eq!(now(to_socket_addrs(("127.0.0.1", 80))).unwrap(), [v4]);
        assert_eq!(now(to_socket_addrs(("::1", 443))).unwrap(), [v6]);
        assert_eq!(
            now(to_socket_addrs(("[::1]".to_string(), 443))).unwrap(),
            [v6]
        );
        assert_eq!(
            now(to_socket_addrs((Ipv4Addr::LOCALHOST, 80))).unwrap(),
            [v4]
        );
        assert_eq!(
            now(to_socket_addrs((IpAddr::from(Ipv6Addr::LOCALHOST), 443))).unwrap(),
            [v6]
        );
        assert_eq!(now(to_socket_addrs(&[v4, v6][..])).unwrap(), [v4, v6]);
        let by_ref: &SocketAddr = &v4;
        assert_eq!(now(by_ref.to_socket_addrs(Internal)).unwrap(), [v4]);
    }

    #[test]
    fn malformed_strings_are_invalid_input() {
        for bad in [
            "",
            "no-port",
            "host:",
            "host:99999",
            "host:port",
            ":80",
            "127.0.0.1",
        ] {
            let err = now(to_socket_addrs(bad)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}: {err}");
        }
        let err = now(to_socket_addrs(("", 80))).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn each_addr_returns_first_success_or_last_error() {
        let addrs: Vec<SocketAddr> = vec![
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        ];
        let got = each_addr(addrs.clone().into_iter(), |a| {
            if a.port() == 2 {
                Ok(a)
            } else {
                Err(io::Error::other("no"))
            }
        });
        assert_eq!(got.unwrap().port(), 2);
        let err = each_addr(addrs.into_iter(), |a| {
            Err::<(), _>(io::Error::other(a.to_string()))
        });
        assert_eq!(err.unwrap_err().to_string(), "127.0.0.1:2");
        let err = each_addr(Vec::new().into_iter(), Ok).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
