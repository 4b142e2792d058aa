//! The web listener's bound on connections (`src/web/listener.rs`, issue
//! 12): past the connections served, a client gets a 503 with
//! `Retry-After` (its body read and thrown away, so it reads the answer and
//! not a reset); past the refused ones too, it waits in the backlog until a
//! place frees; a freed place serves again.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use grantwatch::web::{self, AppState, listener::Limits};

use crate::fleet_http::{exchange, post};

/// Serves an empty database with `limits` on a runtime of its own; the
/// address. The server runs until the test process ends.
fn serve(db: &Path, limits: Limits) -> String {
    grantwatch::store::Store::open(db).expect("create the database");
    let state = AppState::new(db);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(tcp.local_addr().expect("addr").to_string())
                .expect("send the address");
            let _ = web::serve_bounded(tcp, state, std::future::pending(), limits).await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the server's address")
}

/// A connection that sent half a request head: the server holds it open,
/// waiting for the rest.
fn hold(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .expect("half a head");
    s
}

fn healthz(addr: &str) -> u16 {
    exchange(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .status
}

/// `GET /healthz` until it is answered 200, for up to 10 s.
fn served_within(addr: &str) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if healthz(addr) == 200 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn past_the_bound_a_client_gets_503_with_retry_after_and_a_freed_place_serves_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = serve(
        &dir.path().join("g.db"),
        Limits {
            served: 2,
            refused: 4,
        },
    );
    // The first two connections of a fresh server take both places (a
    // connection served and closed before them could still hold its place
    // for a moment, and one of them would be refused instead).
    let held = [hold(&addr), hold(&addr)];
    // Let the listener take both before the next connection arrives.
    std::thread::sleep(Duration::from_millis(200));

    // A 1 MB body the server never reads into the router: the client
    // writes all of it and still reads the 503 (not a reset).
    let body = vec![b'x'; 1 << 20];
    let answer = post(
        &addr,
        "/v1/logs",
        &[("Content-Type", "application/x-protobuf")],
        &body,
    );
    assert_eq!(answer.status, 503, "{:?}", answer.headers);
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(
        answer.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("too many connections")),
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(healthz(&addr), 503, "still over the bound");

    drop(held);
    assert!(served_within(&addr), "a freed place serves again");
    let metrics = exchange(
        &addr,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&metrics.body);
    let refused: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("grantwatch_http_connections_total{outcome=\"refused\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // Counted for the whole test process (other tests' servers too).
    assert!(refused >= 2, "{text}");
}

#[test]
fn past_both_bounds_a_connection_waits_in_the_backlog_until_a_place_frees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = serve(
        &dir.path().join("g.db"),
        Limits {
            served: 1,
            refused: 1,
        },
    );
    let served = hold(&addr);
    std::thread::sleep(Duration::from_millis(200));
    // Takes the one refused place: it never finishes its head, so it is
    // kept until the listener's linger runs out.
    let refused = hold(&addr);
    std::thread::sleep(Duration::from_millis(200));

    // The kernel completes the handshake; nothing answers while both
    // places are taken.
    let mut waiting = TcpStream::connect(&addr).expect("connect");
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("a request");
    waiting
        .set_read_timeout(Some(Duration::from_millis(700)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    assert!(
        waiting.read(&mut byte).is_err(),
        "answered while every place was taken"
    );

    drop(served);
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = waiting.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    drop(refused);
}
