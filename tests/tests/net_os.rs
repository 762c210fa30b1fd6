//! The sockets' OS-level surface on loopback: the `TcpSocket` builder,
//! raw descriptors, `into_std` / `from_std` round trips and the socket
//! options that go through `socket2`.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd};
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use tether::net::{TcpListener, TcpSocket, TcpStream, UdpSocket, UnixStream};

fn rt() -> tether::Runtime {
    tether::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A `TcpSocket` configured before `listen` and before `connect` carries
/// its options into the listener and stream, and the pair exchanges data.
#[test]
fn tcp_socket_options_survive_listen_and_connect() {
    rt().block_on(async {
        let server = TcpSocket::new_v4().unwrap();
        server.set_reuseaddr(true).unwrap();
        server.set_reuseport(true).unwrap();
        server.set_recv_buffer_size(128 * 1024).unwrap();
        server.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = server.local_addr().unwrap();
        assert!(server.reuseaddr().unwrap());
        assert!(server.reuseport().unwrap());
        let listener = server.listen(64).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);
        assert!(socket2::SockRef::from(&listener).reuse_address().unwrap());

        let client = TcpSocket::new_v4().unwrap();
        client.set_nodelay(true).unwrap();
        client.set_keepalive(true).unwrap();
        client.set_send_buffer_size(64 * 1024).unwrap();
        let send_buf = client.send_buffer_size().unwrap();
        assert!(send_buf >= 64 * 1024, "{send_buf}");
        client.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let local = client.local_addr().unwrap();
        let mut stream = client.connect(addr).await.unwrap();
        assert_eq!(stream.local_addr().unwrap(), local);
        assert!(stream.nodelay().unwrap());
        assert_eq!(
            socket2::SockRef::from(&stream).send_buffer_size().unwrap(),
            send_buf as usize
        );

        let (mut conn, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, local);
        stream.write_all(b"through the builder").await.unwrap();
        let mut buf = [0u8; 19];
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"through the builder");
    });
}

/// Connecting a `TcpSocket` to a closed port is an error, not a hang.
#[test]
fn tcp_socket_connect_refused_is_an_error() {
    rt().block_on(async {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpSocket::new_v4()
            .unwrap()
            .connect(port)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

/// Two listeners with `SO_REUSEPORT` share one port; binding a third
/// without it fails with `AddrInUse`.
#[test]
fn reuseport_lets_two_listeners_share_a_port() {
    rt().block_on(async {
        let a = TcpSocket::new_v4().unwrap();
        a.set_reuseport(true).unwrap();
        a.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = a.local_addr().unwrap();
        let b = TcpSocket::new_v4().unwrap();
        b.set_reuseport(true).unwrap();
        b.bind(addr).unwrap();
        let (_la, _lb) = (a.listen(8).unwrap(), b.listen(8).unwrap());
        let c = TcpSocket::new_v4().unwrap();
        assert_eq!(c.bind(addr).unwrap_err().kind(), ErrorKind::AddrInUse);
    });
}

/// An IPv6 socket, where the host has IPv6 loopback.
#[test]
fn tcp_socket_v6_where_available() {
    rt().block_on(async {
        let Ok(socket) = TcpSocket::new_v6() else {
            return;
        };
        if socket.bind("[::1]:0".parse().unwrap()).is_err() {
            return; // no IPv6 loopback on this host
        }
        let listener = socket.listen(8).unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.is_ipv6());
        let stream = TcpSocket::new_v6().unwrap().connect(addr).await.unwrap();
        assert!(stream.peer_addr().unwrap().is_ipv6());
    });
}

/// Raw descriptors: `as_raw_fd` and `as_fd` name the socket `into_std`
/// hands over, and a `TcpSocket` round-trips through `into_raw_fd` /
/// `from_raw_fd`.
#[test]
fn raw_descriptors_name_the_same_socket() {
    rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = TcpStream::connect(addr).await.unwrap();
        let fd = stream.as_raw_fd();
        assert_eq!(stream.as_fd().as_raw_fd(), fd);
        assert_eq!(listener.as_fd().as_raw_fd(), listener.as_raw_fd());
        let std_stream = stream.into_std().unwrap();
        assert_eq!(std_stream.as_raw_fd(), fd);

        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert!(udp.as_raw_fd() >= 0);
        let (u1, _u2) = UnixStream::pair().unwrap();
        assert_eq!(u1.as_fd().as_raw_fd(), u1.as_raw_fd());

        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        let raw = socket.into_raw_fd();
        // SAFETY: `raw` was just released by `into_raw_fd` and is owned by
        // nobody else.
        let socket = unsafe { TcpSocket::from_raw_fd(raw) };
        assert_eq!(socket.as_raw_fd(), raw);
        assert!(socket.reuseaddr().unwrap());
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let _listener = socket.listen(4).unwrap();
    });
}

/// `into_std` deregisters: the std stream keeps working (blocking), and a
/// stream turned back with `from_std` works under the runtime again.
#[test]
fn into_std_and_back_keeps_the_connection() {
    rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();

        let mut std_client = client.into_std().unwrap();
        std_client.set_nonblocking(false).unwrap();
        let mut server = TcpStream::from_std(server.into_std().unwrap()).unwrap();
        std_client.write_all(b"one").unwrap();
        let mut buf = [0u8; 3];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"one");
        server.write_all(b"two").await.unwrap();
        std_client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"two");

        let std_listener = listener.into_std().unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let _c = TcpStream::connect(addr).await.unwrap();
        let (_s, _) = listener.accept().await.unwrap();

        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let udp_addr = udp.local_addr().unwrap();
        let udp = UdpSocket::from_std(udp.into_std().unwrap()).unwrap();
        assert_eq!(udp.local_addr().unwrap(), udp_addr);

        let (a, b) = UnixStream::pair().unwrap();
        let mut a = UnixStream::from_std(a.into_std().unwrap()).unwrap();
        let mut b = b.into_std().unwrap();
        b.set_nonblocking(false).unwrap();
        a.write_all(b"unix").await.unwrap();
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"unix");
    });
}

/// `set_linger(Some(ZERO))` makes the drop reset the connection: the peer
/// reads `ConnectionReset` instead of end-of-file.
#[test]
fn zero_linger_resets_the_connection_on_drop() {
    rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        assert_eq!(client.linger().unwrap(), None);
        client.set_linger(Some(Duration::ZERO)).unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::ZERO));
        drop(client);
        let mut buf = [0u8; 8];
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    });
}

/// `set_ttl` / `ttl` on every socket that has them.
#[test]
fn ttl_on_streams_listeners_and_datagrams() {
    rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.set_ttl(33).unwrap();
        assert_eq!(listener.ttl().unwrap(), 33);
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        stream.set_ttl(44).unwrap();
        assert_eq!(stream.ttl().unwrap(), 44);
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        udp.set_ttl(55).unwrap();
        assert_eq!(udp.ttl().unwrap(), 55);
    });
}
