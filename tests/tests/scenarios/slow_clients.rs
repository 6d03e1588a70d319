//! Slow and idle clients cannot hold the server's connections: trickled headers, trickled
//! bodies, silent sockets and sockets past the connection limit are cut off, and the health
//! check keeps answering through it all.
//!
//! The limits are lowered to a second or two so the test is quick; the bounds asserted are
//! generous (a trickle that was not cut would take far longer).

use bothy_tests::{Backend, Harness};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The listener is the same on both databases: these run on SQLite only.
async fn server(max_connections: usize) -> Harness {
    Harness::start_with(Backend::Sqlite, |cfg| {
        cfg.header_timeout = 1;
        cfg.body_timeout = 2;
        cfg.idle_timeout = 2;
        cfg.max_connections = max_connections;
    })
    .await
    .expect("SQLite is always available")
}

/// Reads until the server closes the connection (or `limit` passes): what it sent, and when.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, started.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the server kept the connection open for {limit:?} (got {:?})",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

/// Sends `data` a byte at a time, `gap` apart, until the server stops taking it.
/// Returns how long the server put up with it.
async fn trickle(stream: &mut TcpStream, data: &[u8], gap: Duration) -> Duration {
    let started = Instant::now();
    for byte in data {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(gap).await;
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_trickled_headers_are_cut_off() {
    let h = server(64).await;
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    // Forty header bytes at 250 ms each would take ten seconds; the header timeout is one.
    let request = b"GET /healthz HTTP/1.1\r\nhost: bothy\r\nx-slow: abcdefghijklmnop\r\n\r\n";
    let held = trickle(&mut stream, request, Duration::from_millis(250)).await;
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        held < Duration::from_secs(8),
        "a trickled header was accepted for {held:?}"
    );
    // Whatever was answered, it was not the health check's success.
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "a trickled request was served: {}",
        String::from_utf8_lossy(&answer)
    );
    assert!(h.healthy().await);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_trickled_bodies_get_408() {
    let h = server(64).await;
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    let body = br#"{"username":"admin","password":"not the password, sent very slowly"}"#;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nhost: bothy\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Sixty-odd body bytes at 200 ms each would take thirteen seconds; the body timeout is two.
    let reader = async {
        let mut s = stream;
        let held = trickle(&mut s, body, Duration::from_millis(200)).await;
        let (answer, _) = read_until_closed(&mut s, Duration::from_secs(10)).await;
        (held, answer)
    };
    let (held, answer) = reader.await;
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(
        held < Duration::from_secs(9),
        "a trickled body was accepted for {held:?}"
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "answer: {answer}");
    assert!(answer.contains("body_timeout"), "answer: {answer}");
    assert!(h.healthy().await);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_idle_sockets_are_closed_and_health_answers() {
    let h = server(512).await;
    // Three hundred sockets that never send a byte.
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(h.addr).await.unwrap());
    }
    let started = Instant::now();
    let health = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{}/healthz", h.url()))
        .send()
        .await
        .expect("the health check answers while 300 sockets sit idle");
    assert!(health.status().is_success());
    // Every idle socket is closed by the server well before a minute.
    for stream in &mut idle {
        read_until_closed(stream, Duration::from_secs(20)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(20));

    // A kept-alive connection that goes quiet after a response is closed too.
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: bothy\r\n\r\n")
        .await
        .unwrap();
    let (answer, after) = read_until_closed(&mut stream, Duration::from_secs(15)).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert!(
        after >= Duration::from_millis(500),
        "closed at once: {after:?}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_past_the_connection_limit_get_503() {
    let h = server(4).await;
    let mut held: Vec<TcpStream> = Vec::new();
    // Once the server has accepted four silent connections, a fifth is answered 503. The server
    // closes a silent connection after its one-second header timeout, and on a busy machine it
    // may not have accepted all four when the fifth arrives (that one is let in and takes a
    // place) or may give up writing the answer to a refused one: so each try fills the four
    // places afresh and knocks once more.
    let mut answer = String::new();
    for _ in 0..20 {
        held.clear();
        for _ in 0..4 {
            held.push(TcpStream::connect(h.addr).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut extra = TcpStream::connect(h.addr).await.unwrap();
        let mut bytes = Vec::new();
        match tokio::time::timeout(Duration::from_secs(2), extra.read_to_end(&mut bytes)).await {
            Ok(_) => {
                answer = String::from_utf8_lossy(&bytes).to_string();
                if !answer.is_empty() {
                    break;
                }
            }
            Err(_) => held.push(extra),
        }
    }
    assert!(answer.starts_with("HTTP/1.1 503"), "answer: {answer}");
    assert!(answer.contains("connection limit"), "answer: {answer}");
    // Once the silent ones are timed out, the server serves again.
    for stream in &mut held {
        read_until_closed(stream, Duration::from_secs(20)).await;
    }
    drop(held);
    let mut healthy = false;
    for _ in 0..50 {
        if h.healthy().await {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        healthy,
        "the server did not serve again after the idle sockets closed"
    );
    h.finish().await;
}
