//! The limits of the HTTP listener the app and the emulator share (`http_server`), against the
//! emulator's real listener with short limits: a slow request head is cut off, a slow body gets
//! 408, an idle keep-alive connection is closed, connections beyond the cap wait, and WebSocket,
//! Server-Sent Events and long-polling connections outlive the idle timeout. The app's listener
//! is the same: a slow head is cut off there too, and a slow body gets the app's 408.

use crate::emulator_support;
use crate::support;

use std::time::Duration;

use emulator_support::{client_token, rest_token, spawn_with, Emu, WsClient};
use serde_json::json;
use serverless_signalr::app::settings::ServeArgs;
use serverless_signalr::http_server::ServerLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const V: &str = "api-version=2022-06-01";

/// Limits short enough for a test; each test shortens the one it checks further.
fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_secs(10),
        body_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(10),
        max_connections: 100,
    }
}

async fn emulator(limits: ServerLimits) -> Emu {
    spawn_with(|c| c.server = limits).await
}

async fn connect(emu: &Emu) -> TcpStream {
    TcpStream::connect(emu.handle.local_addr()).await.unwrap()
}

/// Reads until the server closes the socket (within `within`); returns what it sent.
async fn read_until_closed(socket: &mut TcpStream, within: Duration) -> String {
    let mut seen = Vec::new();
    tokio::time::timeout(within, async {
        let mut chunk = [0u8; 4096];
        loop {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the server kept the connection open for {within:?}"));
    String::from_utf8_lossy(&seen).into_owned()
}

/// Reads one response head and its body of `Content-Length` bytes (the connection stays open).
async fn read_response(socket: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&seen).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_string)
                    })
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if seen.len() >= end + 4 + length {
                    return;
                }
            }
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            seen.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("no response within 5 s");
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn a_request_head_sent_slowly_is_cut_off() {
    let emu = emulator(ServerLimits {
        header_read_timeout: Duration::from_millis(400),
        ..limits()
    })
    .await;
    let mut socket = connect(&emu).await;
    let started = tokio::time::Instant::now();
    // One header line every 100 ms: each is progress, but the head never completes in time.
    for i in 0..6 {
        let line = if i == 0 {
            "GET /api/health HTTP/1.1\r\n".to_string()
        } else {
            format!("X-Slow-{i}: {i}\r\n")
        };
        if socket.write_all(line.as_bytes()).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    read_until_closed(&mut socket, Duration::from_secs(3)).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    // The listener still serves.
    assert_eq!(
        emu.exists(&format!("/api/hubs/chat/users/u?{V}")).await,
        404
    );
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn a_body_sent_slowly_is_answered_408() {
    let emu = emulator(ServerLimits {
        body_read_timeout: Duration::from_millis(400),
        ..limits()
    })
    .await;
    let mut socket = connect(&emu).await;
    let head = format!(
        "POST /api/hubs/chat/:send?{V} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"target\"",
        rest_token("/api/hubs/chat/:send")
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let response = read_until_closed(&mut socket, Duration::from_secs(3)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("Error.Request.Timeout"), "{response}");
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let emu = emulator(ServerLimits {
        idle_timeout: Duration::from_millis(400),
        ..limits()
    })
    .await;
    let mut socket = connect(&emu).await;
    let request = "GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    socket.write_all(request.as_bytes()).await.unwrap();
    assert!(read_response(&mut socket).await.starts_with("HTTP/1.1 404"));
    // Still usable right after a request…
    socket.write_all(request.as_bytes()).await.unwrap();
    assert!(read_response(&mut socket).await.starts_with("HTTP/1.1 404"));
    // …and closed once idle for longer than the limit.
    let started = tokio::time::Instant::now();
    assert_eq!(
        read_until_closed(&mut socket, Duration::from_secs(3)).await,
        ""
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let emu = emulator(ServerLimits {
        max_connections: 2,
        ..limits()
    })
    .await;
    let first = connect(&emu).await;
    let _second = connect(&emu).await;
    // The third connects (the listen backlog) but is not served while two are open.
    let mut third = connect(&emu).await;
    third
        .write_all(b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte))
            .await
            .is_err(),
        "a connection beyond the cap was served"
    );
    drop(first);
    assert!(read_response(&mut third).await.starts_with("HTTP/1.1 404"));
    emu.handle.shutdown().await;
}

/// Short header and idle timeouts must not touch connections that follow their own keep-alive
/// rules: an upgraded WebSocket, a Server-Sent Events stream and a long poll within its duration.
#[tokio::test]
async fn websocket_sse_and_long_polling_outlive_the_idle_timeout() {
    let emu = spawn_with(|c| {
        c.server = ServerLimits {
            header_read_timeout: Duration::from_millis(200),
            idle_timeout: Duration::from_millis(200),
            ..limits()
        };
        c.long_poll_timeout = Duration::from_secs(5);
    })
    .await;
    let mut ws = WsClient::connect(&emu, "chat", Some("ws")).await;

    let (_, token) = emu.negotiate("chat", Some("sse")).await;
    let url = format!("{}/client/?hub=chat&id={token}", emu.base);
    let mut sse = emu
        .http
        .get(format!(
            "{url}&access_token={}",
            client_token("chat", Some("sse"))
        ))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let handshake = emu
        .http
        .post(&url)
        .bearer_auth(client_token("chat", Some("sse")))
        .body("{\"protocol\":\"json\",\"version\":1}\u{1e}")
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status(), 200);

    let (_, lp_token) = emu.negotiate("chat", Some("lp")).await;
    let lp_url = format!("{}/client/?hub=chat&id={lp_token}", emu.base);
    let lp_auth = client_token("chat", Some("lp"));
    let first = emu
        .http
        .get(&lp_url)
        .bearer_auth(&lp_auth)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let handshake = emu
        .http
        .post(&lp_url)
        .bearer_auth(&lp_auth)
        .body("{\"protocol\":\"json\",\"version\":1}\u{1e}")
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status(), 200);
    let answer = emu
        .http
        .get(&lp_url)
        .bearer_auth(&lp_auth)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.text().await.unwrap(), "{}\u{1e}");
    let poll = {
        let (http, lp_url, lp_auth) = (emu.http.clone(), lp_url.clone(), lp_auth.clone());
        tokio::spawn(async move {
            http.get(&lp_url)
                .bearer_auth(&lp_auth)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };

    // Five idle timeouts later every connection is still there and gets a broadcast.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(emu.send_all("chat", "late", json!([1])).await, 202);
    let message = ws.next().await.expect("the WebSocket was closed");
    assert_eq!(message["target"], "late");
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.contains("\"target\":\"late\"") {
            let chunk = sse.chunk().await.unwrap().expect("the SSE stream ended");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the SSE stream got no broadcast");
    assert!(poll.await.unwrap().contains("\"target\":\"late\""));
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn the_app_cuts_off_slow_heads_and_answers_slow_bodies_408() {
    let rec = support::FakeService::start().await;
    let args = ServeArgs {
        connection_string: Some(rec.connection_string()),
        ..support::keyed()
    };
    let limits = ServerLimits {
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        ..limits()
    };
    let app = support::spawn_app_with(
        args,
        support::AppOptions {
            limits,
            ..Default::default()
        },
    )
    .await;
    let addr = app.url.trim_start_matches("http://").to_string();

    let mut socket = TcpStream::connect(&addr).await.unwrap();
    socket
        .write_all(b"POST /api/messages HTTP/1.1\r\n")
        .await
        .unwrap();
    read_until_closed(&mut socket, Duration::from_secs(3)).await;

    let mut socket = TcpStream::connect(&addr).await.unwrap();
    socket
        .write_all(
            b"POST /api/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-functions-key: test-key\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"target\"",
        )
        .await
        .unwrap();
    let response = read_until_closed(&mut socket, Duration::from_secs(3)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("BodyTimeout"), "{response}");
    assert!(rec.take().is_empty(), "the service was called");
}
