//! Raw protocol sessions over each transport: handshake (and its failures), pings, broadcasts,
//! closes with `allowReconnect`, bad frames, 404/409 on ids, slow clients, CORS and shutdown.

use crate::emulator_support;

use std::time::Duration;

use emulator_support::{client_token, spawn, spawn_with, WsClient};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};
use serverless_signalr::emulator::browser_policy::BrowserPolicy;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const V: &str = "api-version=2022-06-01";

#[tokio::test]
async fn websocket_pings_bad_frames_and_no_upstream() {
    let emu = spawn_with(|c| c.keep_alive_interval = Duration::from_millis(200)).await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    assert_eq!(ws.next_any().await, Some(json!({"type": 6})));
    ws.send_raw("{\"type\":6}\u{1e}{\"type\":1,\"target\":\"fire\",\"arguments\":[]}\u{1e}")
        .await;
    ws.send_raw("{\"type\":1,\"invocationId\":\"7\",\"target\":\"ask\",\"arguments\":[1]}\u{1e}")
        .await;
    let completion = ws.next().await.unwrap();
    assert_eq!(completion["type"], 3);
    assert_eq!(completion["invocationId"], "7");
    assert!(
        completion["error"]
            .as_str()
            .unwrap()
            .contains("no upstream is configured"),
        "{completion}"
    );
    ws.send_raw("{\"type\":\"x\"}\u{1e}").await;
    let close = ws.next().await.unwrap();
    assert_eq!(close["type"], 7);
    assert!(
        close["error"].as_str().unwrap().contains("numeric `type`"),
        "{close}"
    );
    assert!(close.get("allowReconnect").is_none());
    assert_eq!(ws.next().await, None);
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    ws.send_raw("not json at all\u{1e}").await;
    assert_eq!(ws.next().await.unwrap()["type"], 7);
    assert_eq!(emu.send_all("chat", "still", json!([])).await, 202);
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn websocket_handshake_failures() {
    let emu = spawn_with(|c| c.handshake_timeout = Duration::from_millis(300)).await;
    let mut ws = WsClient::open(&emu, "chat", None).await;
    ws.send_raw("{\"protocol\":\"bson\",\"version\":1}\u{1e}")
        .await;
    let answer = ws.next().await.unwrap();
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("'bson' is not available; use 'json' or 'messagepack'"),
        "{answer}"
    );
    assert_eq!(ws.next().await, None);
    let mut ws = WsClient::open(&emu, "chat", None).await;
    let answer = ws.next().await.unwrap();
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("Handshake was canceled"),
        "{answer}"
    );
    assert_eq!(ws.next().await, None);
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn websocket_unknown_id_is_404_and_second_socket_409() {
    let emu = spawn().await;
    let port = emu.handle.local_addr().port();
    let attempt = |token: String| {
        let mut request = format!("ws://127.0.0.1:{port}/client/?hub=chat&id={token}")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "Authorization",
            format!("Bearer {}", client_token("chat", None))
                .parse()
                .unwrap(),
        );
        tokio_tungstenite::connect_async(request)
    };
    match attempt("nope".into()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 404),
        other => panic!("expected 404, got {:?}", other.map(|_| ())),
    }
    let (_, token) = emu.negotiate("chat", None).await;
    let (_first, _) = attempt(token.clone()).await.unwrap();
    match attempt(token).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 409),
        other => panic!("expected 409, got {:?}", other.map(|_| ())),
    }
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn negotiate_v0_has_no_connection_token_and_its_connection_id_is_a_secret_token() {
    let emu = spawn().await;
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
    assert!(body.get("connectionToken").is_none(), "{body}");
    let id = body["connectionId"].as_str().unwrap().to_string();
    assert_eq!(body["availableTransports"].as_array().unwrap().len(), 3);
    // A v0 client connects with `id=<connectionId>`.
    let mut request = format!(
        "ws://127.0.0.1:{}/client/?hub=chat&id={id}",
        emu.handle.local_addr().port()
    )
    .into_client_request()
    .unwrap();
    let bearer = format!("Bearer {}", client_token("chat", None));
    request
        .headers_mut()
        .insert("Authorization", bearer.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        "{\"protocol\":\"json\",\"version\":1}\u{1e}",
    ))
    .await
    .unwrap();
    let handshake = ws.next().await.unwrap().unwrap();
    assert_eq!(handshake.into_text().unwrap().as_str(), "{}\u{1e}");
    // The `connectionId` a v0 client uses as its `id` is its secret, not the id the app sees.
    let path = format!("/api/hubs/chat/connections/{id}?{V}");
    assert_eq!(emu.exists(&path).await, 404);
    emu.handle.shutdown().await;
}

/// Reads SSE `data:` payloads until `count` hub messages arrived (10 s at most).
async fn sse_messages(
    stream: &mut reqwest::Response,
    buffer: &mut String,
    count: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\r\n\r\n") {
            let event: String = buffer.drain(..end + 4).collect();
            for line in event.lines().filter_map(|l| l.strip_prefix("data: ")) {
                for record in line.split('\u{1e}').filter(|r| !r.is_empty()) {
                    let value: Value = serde_json::from_str(record).unwrap();
                    if value["type"] != json!(6) {
                        out.push(value);
                    }
                }
            }
        }
        if out.len() >= count {
            return out;
        }
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(chunk))) => buffer.push_str(std::str::from_utf8(&chunk).unwrap()),
            Ok(_) => return out,
            Err(_) => panic!("SSE: only {out:?} within 10 s"),
        }
    }
}

#[tokio::test]
async fn server_sent_events_session() {
    let emu = spawn().await;
    let (id, token) = emu.negotiate("chat", Some("sue")).await;
    let url = format!("{}/client/?hub=chat&id={token}", emu.base);
    let response = emu
        .http
        .get(format!(
            "{url}&access_token={}",
            client_token("chat", Some("sue"))
        ))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response;
    let mut buffer = String::new();
    let post = |body: &'static str| {
        emu.http
            .post(&url)
            .bearer_auth(client_token("chat", Some("sue")))
            .body(body)
            .send()
    };
    assert_eq!(
        post("{\"protocol\":\"json\",\"version\":1}\u{1e}")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        sse_messages(&mut stream, &mut buffer, 1).await,
        vec![json!({})]
    );
    let r = emu
        .rest(
            Method::POST,
            &format!("/api/hubs/chat/users/sue/:send?{V}"),
            Some(json!({"target": "t", "arguments": ["a\nb"]})),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        sse_messages(&mut stream, &mut buffer, 1).await,
        vec![json!({"type": 1, "target": "t", "arguments": ["a\nb"]})]
    );
    let second = emu
        .http
        .get(&url)
        .bearer_auth(client_token("chat", Some("sue")))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 409);
    emu.rest(
        Method::DELETE,
        &format!("/api/hubs/chat/connections/{id}?{V}&reason=done"),
        None,
    )
    .await;
    assert_eq!(
        sse_messages(&mut stream, &mut buffer, 1).await,
        vec![json!({"type": 7, "error": "done", "allowReconnect": true})]
    );
    assert!(
        sse_messages(&mut stream, &mut buffer, 1).await.is_empty(),
        "the stream ends"
    );
    emu.handle.shutdown().await;
}

fn records(text: &str) -> Vec<Value> {
    text.split('\u{1e}')
        .filter(|r| !r.is_empty())
        .map(|r| serde_json::from_str(r).unwrap())
        .collect()
}

#[tokio::test]
async fn long_polling_session() {
    let emu = spawn_with(|c| c.long_poll_timeout = Duration::from_millis(300)).await;
    let (id, token) = emu.negotiate("chat", None).await;
    let url = format!("{}/client/?hub=chat&id={token}", emu.base);
    let auth = client_token("chat", None);
    let get = || emu.http.get(format!("{url}&_=1")).bearer_auth(&auth).send();
    let first = get().await.unwrap();
    assert_eq!(
        (first.status().as_u16(), first.text().await.unwrap()),
        (200, String::new())
    );
    let r = emu
        .http
        .post(&url)
        .bearer_auth(&auth)
        .body("{\"protocol\":\"json\",\"version\":1}\u{1e}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        records(&get().await.unwrap().text().await.unwrap()),
        vec![json!({})]
    );
    let started = std::time::Instant::now();
    let idle = get().await.unwrap();
    assert_eq!(
        (idle.status().as_u16(), idle.text().await.unwrap()),
        (200, String::new())
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    emu.send_all("chat", "a", json!([1])).await;
    emu.send_all("chat", "b", json!([2])).await;
    assert_eq!(
        records(&get().await.unwrap().text().await.unwrap()),
        vec![
            json!({"type": 1, "target": "a", "arguments": [1]}),
            json!({"type": 1, "target": "b", "arguments": [2]})
        ]
    );
    emu.rest(
        Method::DELETE,
        &format!("/api/hubs/chat/connections/{id}?{V}&reason=bye"),
        None,
    )
    .await;
    assert_eq!(
        records(&get().await.unwrap().text().await.unwrap()),
        vec![json!({"type": 7, "error": "bye", "allowReconnect": true})]
    );
    assert_eq!(get().await.unwrap().status(), 204);

    // DELETE from the client ends a waiting poll with 204.
    let (_, token) = emu.negotiate("chat", None).await;
    let url = format!("{}/client/?hub=chat&id={token}", emu.base);
    emu.http.get(&url).bearer_auth(&auth).send().await.unwrap();
    emu.http
        .post(&url)
        .bearer_auth(&auth)
        .body("{\"protocol\":\"json\",\"version\":1}\u{1e}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        records(
            &emu.http
                .get(&url)
                .bearer_auth(&auth)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        ),
        vec![json!({})]
    );
    let poll = tokio::spawn(emu.http.get(&url).bearer_auth(&auth).send());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        emu.http
            .delete(&url)
            .bearer_auth(&auth)
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(poll.await.unwrap().unwrap().status(), 204);
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn a_slow_client_is_closed_and_the_others_keep_receiving() {
    let emu = spawn_with(|c| c.max_queued_bytes = 64 * 1024).await;
    let mut slow = WsClient::connect(&emu, "chat", None).await;
    let mut fast = WsClient::connect(&emu, "chat", None).await;
    let payload = "x".repeat(32 * 1024);
    let sends = 400;
    let reader = tokio::spawn(async move {
        let mut got = 0;
        while got < sends {
            match fast.next().await {
                Some(m) if m["target"] == "big" => got += 1,
                Some(_) => {}
                None => break,
            }
        }
        got
    });
    for _ in 0..sends {
        assert_eq!(emu.send_all("chat", "big", json!([payload])).await, 202);
    }
    assert_eq!(
        reader.await.unwrap(),
        sends,
        "the fast client got every message"
    );
    let path = format!("/api/hubs/chat/connections/{}?{V}", slow.connection_id);
    emu.wait_for_status(&path, 404, "the slow client was not dropped")
        .await;
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        let mut n = 0;
        while slow.next_any().await.is_some() {
            n += 1;
        }
        n
    })
    .await
    .expect("the slow client's socket is closed");
    assert!(drained < sends, "the slow client got {drained} of {sends}");
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn cors_for_browsers() {
    // A configured origin (loopback origins need none; others are refused: `emulator_cors`).
    let emu = spawn_with(|c| {
        c.browser = BrowserPolicy::parse("http://app.example:3000").unwrap();
    })
    .await;
    let r = emu
        .http
        .request(
            Method::OPTIONS,
            format!("{}/client/negotiate?hub=chat&negotiateVersion=1", emu.base),
        )
        .header("Origin", "http://app.example:3000")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,x-requested-with,x-signalr-user-agent",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "http://app.example:3000");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-signalr-user-agent"));
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let r = emu
        .http
        .post(format!(
            "{}/client/negotiate?hub=chat&negotiateVersion=1",
            emu.base
        ))
        .header("Origin", "http://app.example:3000")
        .bearer_auth(client_token("chat", None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://app.example:3000"
    );
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_clients_with_reconnect_allowed() {
    let emu = spawn().await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    let handle = emu.handle;
    let stop = tokio::spawn(handle.shutdown());
    assert_eq!(
        ws.next().await,
        Some(json!({"type": 7, "error": "The emulator is shutting down.", "allowReconnect": true}))
    );
    assert_eq!(ws.next().await, None);
    tokio::time::timeout(Duration::from_secs(10), stop)
        .await
        .unwrap()
        .unwrap();
}
