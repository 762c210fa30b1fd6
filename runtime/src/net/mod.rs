//! TCP, UDP and Unix-domain sockets driven by the tether reactor.
//!
//! The types and signatures mirror tokio's `tokio::net`, so porting is
//! mostly a rename: `TcpListener::bind(addr).await`,
//! `listener.accept().await`, `TcpStream::connect(addr).await`,
//! `UdpSocket::bind(addr).await`. Streams and all their halves implement
//! tokio's [`AsyncRead`](crate::io::AsyncRead) and
//! [`AsyncWrite`](crate::io::AsyncWrite) (see [`tether::io`](crate::io)) as
//! well as [`futures::io::AsyncRead`] and [`futures::io::AsyncWrite`]
//! (vectored writes included), so the tokio-io ecosystem (`tokio-util`,
//! `tokio-rustls`, ...) and everything built on `futures-io` work with them.
//! Import one family's extension traits in a module: both name their
//! methods `read`, `write_all`, ...
//!
//! Sockets must be created inside a tether runtime (they register with its
//! reactor); creating one elsewhere panics with a clear message. Every
//! operation spends the task's cooperative budget, so a socket that is
//! always ready cannot starve the other tasks of its worker.
//!
//! # Examples
//!
//! ```
//! use futures::{AsyncReadExt, AsyncWriteExt};
//! use tether::net::{TcpListener, TcpStream};
//!
//! # fn main() -> std::io::Result<()> {
//! tether::Runtime::new()?.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = tether::spawn(async move {
//!         let (mut conn, _) = listener.accept().await?;
//!         let (mut rd, mut wr) = TcpStream::split(&mut conn);
//!         futures::io::copy(&mut rd, &mut wr).await
//!     });
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"echo").await?;
//!     client.close().await?;
//!     let mut back = Vec::new();
//!     client.read_to_end(&mut back).await?;
//!     assert_eq!(back, b"echo");
//!     assert_eq!(server.await.unwrap()?, 4);
//!     Ok(())
//! })
//! # }
//! ```

mod addr;
mod listener;
#[cfg(unix)]
mod os;
mod split_owned;
mod stream;
pub mod tcp;
mod udp;
#[cfg(unix)]
pub mod unix;

pub use addr::ToSocketAddrs;
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixListener, UnixStream};
