//! Long-polling connections that end without a DELETE: a client that stops polling, and one whose
//! poll is dropped at the TCP level mid-poll, are both expired after the idle timeout, and the
//! upstream hears `disconnected`. Also: an oversized POSTed send is refused with 413.

use crate::emulator_support;

use std::time::Duration;

use emulator_support::recorder::Recorder;
use emulator_support::{client_token, spawn_with, Emu};
use serde_json::{json, Value};
use serverless_signalr::emulator::{EmulatorConfig, UpstreamTemplate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const V: &str = "api-version=2022-06-01";

/// An emulator whose upstream is `rec`, with a 1 s long-poll idle timeout.
async fn emulator(rec: &Recorder, change: impl FnOnce(&mut EmulatorConfig)) -> Emu {
    let upstream = format!("{}/up/{{event}}", rec.base);
    spawn_with(|c| {
        c.upstream = vec![UpstreamTemplate::all(upstream)];
        c.long_poll_idle_timeout = Duration::from_secs(1);
        change(c);
    })
    .await
}

/// Negotiates and starts a long-polling connection through its handshake; returns (connection
/// id, connection token).
async fn start_long_polling(emu: &Emu) -> (String, String) {
    let (id, token) = emu.negotiate("chat", None).await;
    let url = format!("{}/client/?hub=chat&id={token}", emu.base);
    let auth = client_token("chat", None);
    let first = emu.http.get(&url).bearer_auth(&auth).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let handshake = emu
        .http
        .post(&url)
        .bearer_auth(&auth)
        .body("{\"protocol\":\"json\",\"version\":1}\u{1e}")
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status(), 200);
    let answer = emu.http.get(&url).bearer_auth(&auth).send().await.unwrap();
    assert_eq!(answer.text().await.unwrap(), "{}\u{1e}");
    (id, token)
}

/// Waits (10 s at most) until the REST API says the connection no longer exists.
async fn wait_until_gone(emu: &Emu, id: &str) {
    let path = format!("/api/hubs/chat/connections/{id}?{V}");
    emu.wait_for_status(
        &path,
        404,
        "the connection still exists 10 s after its client went away",
    )
    .await;
}

#[tokio::test]
async fn a_client_that_stops_polling_is_expired_and_the_upstream_told() {
    let rec = Recorder::start().await;
    let emu = emulator(&rec, |_| {}).await;
    let (id, _) = start_long_polling(&emu).await;
    rec.wait_for("/up/connected").await;
    wait_until_gone(&emu, &id).await;
    let gone = rec.wait_for("/up/disconnected").await;
    assert_eq!(gone.header("x-asrs-connection-id"), id);
    assert_eq!(
        serde_json::from_str::<Value>(&gone.body).unwrap()["type"],
        11
    );
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn a_poll_dropped_mid_poll_does_not_keep_the_connection_forever() {
    let rec = Recorder::start().await;
    // Polls wait far longer than the test: only the drop can end the one left waiting.
    let emu = emulator(&rec, |c| c.long_poll_timeout = Duration::from_secs(600)).await;
    let (id, token) = start_long_polling(&emu).await;
    rec.wait_for("/up/connected").await;

    // Two pipelined polls on one socket. The first answers with the message sent below; by then
    // the server has read the second one too, which starts waiting.
    let poll = format!(
        "GET /client/?hub=chat&id={token}&_=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {}\r\n\r\n",
        client_token("chat", None)
    );
    let mut socket = tokio::net::TcpStream::connect(emu.handle.local_addr())
        .await
        .unwrap();
    socket
        .write_all(format!("{poll}{poll}").as_bytes())
        .await
        .unwrap();
    assert_eq!(emu.send_all("chat", "m", json!([1])).await, 202);
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !String::from_utf8_lossy(&seen).contains("\"target\":\"m\"") {
            let mut chunk = [0u8; 4096];
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the server closed the socket");
            seen.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("the first poll answered with the message");
    // The client goes away in the middle of the second poll.
    drop(socket);

    wait_until_gone(&emu, &id).await;
    let gone = rec.wait_for("/up/disconnected").await;
    assert_eq!(gone.header("x-asrs-connection-id"), id);
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn an_oversized_send_is_refused_with_413_and_the_connection_lives_on() {
    let rec = Recorder::start().await;
    let emu = emulator(&rec, |c| {
        c.max_message_bytes = 1024;
        c.long_poll_idle_timeout = Duration::from_secs(60);
    })
    .await;
    let (id, token) = start_long_polling(&emu).await;
    let url = format!("{}/client/?hub=chat&id={token}", emu.base);
    let auth = client_token("chat", None);
    let big = format!(
        "{{\"type\":1,\"target\":\"big\",\"arguments\":[\"{}\"]}}\u{1e}",
        "x".repeat(2048)
    );
    let r = emu
        .http
        .post(&url)
        .bearer_auth(&auth)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["x-ms-error-code"], "Error.Request.TooLarge");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("1024 bytes"),
        "{body}"
    );
    let small = emu
        .http
        .post(&url)
        .bearer_auth(&auth)
        .body("{\"type\":1,\"target\":\"small\",\"arguments\":[]}\u{1e}")
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
    rec.wait_for("/up/small").await;
    assert!(!rec.called("/up/big"));
    assert_eq!(
        emu.exists(&format!("/api/hubs/chat/connections/{id}?{V}"))
            .await,
        200
    );
    emu.handle.shutdown().await;
}

/// Negotiates with `negotiateVersion=0`; returns the `connectionId`, which a v0 client uses as
/// its `id`.
async fn negotiate_v0(emu: &Emu) -> String {
    let response = emu
        .http
        .post(format!("{}/client/negotiate?hub=chat", emu.base))
        .bearer_auth(client_token("chat", None))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["negotiateVersion"], 0, "{body}");
    body["connectionId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn another_client_cannot_use_the_id_the_app_sees_of_a_v0_connection() {
    let rec = Recorder::start().await;
    let emu = emulator(&rec, |c| c.long_poll_idle_timeout = Duration::from_secs(60)).await;
    let own = negotiate_v0(&emu).await;
    let url = |id: &str| format!("{}/client/?hub=chat&id={id}", emu.base);
    let auth = client_token("chat", None);
    let first = emu
        .http
        .get(url(&own))
        .bearer_auth(&auth)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let handshake = emu
        .http
        .post(url(&own))
        .bearer_auth(&auth)
        .body("{\"protocol\":\"json\",\"version\":1}\u{1e}")
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status(), 200);
    // What the app sees, and may pass on (e.g. as the `sender` of a topic publish).
    let seen = rec
        .wait_for("/up/connected")
        .await
        .header("x-asrs-connection-id")
        .to_string();
    assert_ne!(
        seen, own,
        "the id the app sees must not be the client's secret"
    );

    // Another anonymous client with its own valid token, using the id the app saw.
    let other = client_token("chat", None);
    let poll = emu
        .http
        .get(url(&seen))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), 404, "another client polled the connection");
    let send = emu
        .http
        .post(url(&seen))
        .bearer_auth(&other)
        .body("{\"type\":1,\"target\":\"forged\",\"arguments\":[]}\u{1e}")
        .send()
        .await
        .unwrap();
    assert_eq!(send.status(), 404, "another client sent on the connection");
    let close = emu
        .http
        .delete(url(&seen))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(close.status(), 404, "another client closed the connection");

    // The owner's connection is untouched.
    assert_eq!(
        emu.exists(&format!("/api/hubs/chat/connections/{seen}?{V}"))
            .await,
        200
    );
    let answer = emu
        .http
        .get(url(&own))
        .bearer_auth(&auth)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.text().await.unwrap(), "{}\u{1e}");
    assert!(!rec.called("/up/forged"));
    emu.handle.shutdown().await;
}
