//! UDP on real loopback sockets.

use std::io::ErrorKind;

use tether::net::UdpSocket;
use tether_tests::multi_thread;

#[test]
fn send_to_and_recv_from_round_trip() {
    multi_thread(2).block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut buf = [0u8; 64];
        for i in 0..100u8 {
            assert_eq!(a.send_to(&[i; 7], b_addr).await.unwrap(), 7);
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (7, a_addr));
            assert_eq!(&buf[..n], &[i; 7]);
            // And back.
            b.send_to(&buf[..n], from).await.unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (7, b_addr));
        }
    });
}

#[test]
fn connected_send_and_recv() {
    multi_thread(2).block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        a.send(b"hello").await.unwrap();
        let mut buf = [0u8; 16];
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        b.send(b"world").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"world");
    });
}

#[test]
fn recv_waits_for_a_datagram_sent_by_another_task() {
    multi_thread(2).block_on(async {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = rx.local_addr().unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(
            rx.try_recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        let sender = tether::spawn(async move {
            let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            tx.send_to(b"late", target).await.unwrap();
        });
        let (n, _) = rx.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"late");
        sender.await.unwrap();
    });
}

#[test]
fn many_tasks_receive_on_one_shared_socket() {
    multi_thread(2).block_on(async {
        let rx = std::sync::Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let target = rx.local_addr().unwrap();
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                tether::spawn(async move {
                    let mut buf = [0u8; 4];
                    let (n, _) = rx.recv_from(&mut buf).await.unwrap();
                    buf[..n].to_vec()
                })
            })
            .collect();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for i in 0..4u8 {
            tx.send_to(&[i], target).await.unwrap();
        }
        let mut got: Vec<u8> = Vec::new();
        for r in receivers {
            got.extend(r.await.unwrap());
        }
        got.sort();
        assert_eq!(got, [0, 1, 2, 3]);
    });
}

#[test]
fn bad_addresses_are_clear_errors() {
    multi_thread(2).block_on(async {
        let err = UdpSocket::bind("not an address").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let err = a.send_to(b"x", "nowhere").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let taken = a.local_addr().unwrap();
        let err = UdpSocket::bind(taken).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        // `send` needs a peer: the OS refuses (EDESTADDRREQ), no hang.
        let err = a.send(b"x").await.unwrap_err();
        assert!(err.raw_os_error().is_some(), "{err}");
        assert_ne!(err.kind(), ErrorKind::WouldBlock);
    });
}
