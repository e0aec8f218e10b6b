//! The MessagePack hub protocol against the real emulator with raw clients: binary WebSocket
//! messages and long-polling bodies, REST sends to a group mixing JSON and MessagePack clients,
//! invocations forwarded upstream as `application/x-msgpack`, and bad input (a broken message, a
//! truncated length prefix, a 10 MB message, SSE) refused with clear errors; and a JSON body's
//! object keys reach both kinds of client in the order they were sent.

use crate::emulator_support;

use std::time::Duration;

use emulator_support::recorder::Recorder;
use emulator_support::{client_token, spawn, spawn_with, Emu, WsClient};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use rmpv::Value as Pack;
use serde_json::{json, Value};
use serverless_signalr::emulator::UpstreamTemplate;
use serverless_signalr::service::hub_protocol::msgpack;
use tokio_tungstenite::tungstenite::Message;

const V: &str = "api-version=2022-06-01";
const HANDSHAKE: &str = "{\"protocol\":\"messagepack\",\"version\":1}\u{1e}";

/// Splits a binary body into its decoded messages.
fn messages(mut bytes: &[u8]) -> Vec<Pack> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, prefix) = msgpack::read_length(bytes).unwrap().unwrap();
        out.push(msgpack::decode(&bytes[prefix..prefix + len]).unwrap());
        bytes = &bytes[prefix + len..];
    }
    out
}

/// A MessagePack client over WebSockets, past its handshake.
async fn packed_client(emu: &Emu, user: Option<&str>) -> WsClient {
    let mut ws = WsClient::open(emu, "chat", user).await;
    ws.send_raw(HANDSHAKE).await;
    match next_binary(&mut ws).await {
        Some(bytes) => assert_eq!(bytes, b"{}\x1e", "the handshake answer is JSON text"),
        None => panic!("no handshake answer"),
    }
    ws
}

/// The next text or binary WebSocket message; `None` once the socket closed.
async fn next_data(ws: &mut WsClient) -> Option<Message> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.ws.next())
            .await
            .expect("no message within 10 s");
        match frame {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
            Some(Ok(data @ (Message::Binary(_) | Message::Text(_)))) => return Some(data),
            Some(Ok(_)) => {}
        }
    }
}

/// The next binary WebSocket message; `None` once the socket closed.
async fn next_binary(ws: &mut WsClient) -> Option<Vec<u8>> {
    match next_data(ws).await? {
        Message::Binary(bytes) => Some(bytes.to_vec()),
        other => panic!("a text message to a MessagePack client: {other:?}"),
    }
}

/// The next MessagePack hub message other than a ping.
async fn next_message(ws: &mut WsClient) -> Option<Pack> {
    loop {
        let bytes = next_binary(ws).await?;
        for message in messages(&bytes) {
            if message[0] != Pack::from(6) {
                return Some(message);
            }
        }
    }
}

fn invocation(id: Option<&str>, target: &str, args: Vec<Pack>) -> Vec<u8> {
    msgpack::frame(&Pack::Array(vec![
        Pack::from(1),
        Pack::Map(vec![]),
        id.map_or(Pack::Nil, Pack::from),
        Pack::from(target),
        Pack::Array(args),
    ]))
}

#[tokio::test]
async fn a_group_mixing_json_and_messagepack_clients_gets_the_same_arguments() {
    let emu = spawn().await;
    let mut packed = packed_client(&emu, Some("ann")).await;
    let mut text = WsClient::connect(&emu, "chat", Some("bob")).await;
    for id in [&packed.connection_id, &text.connection_id] {
        let path = format!("/api/hubs/chat/groups/g/connections/{id}?{V}");
        assert_eq!(emu.rest(Method::PUT, &path, None).await.status(), 200);
    }
    let args = json!(["héllo 😀", {"n": [1, -2, 3.5, null, true], "big": 18446744073709551615u64}]);
    let send = json!({ "target": "news", "arguments": args });
    let path = format!("/api/hubs/chat/groups/g/:send?{V}");
    assert_eq!(
        emu.rest(Method::POST, &path, Some(send)).await.status(),
        202
    );
    let got = next_message(&mut packed).await.unwrap();
    assert_eq!(got[0], Pack::from(1));
    assert_eq!(got[2], Pack::Nil, "no invocation id");
    assert_eq!(got[3], Pack::from("news"));
    assert_eq!(msgpack::to_json(&got[4]), args);
    assert_eq!(
        text.next().await.unwrap(),
        json!({"type": 1, "target": "news", "arguments": args})
    );
    let path = format!("/api/hubs/chat/users/ann/:send?{V}");
    let send = json!({ "target": "dm", "arguments": ["only ann"] });
    assert_eq!(
        emu.rest(Method::POST, &path, Some(send)).await.status(),
        202
    );
    assert_eq!(
        msgpack::to_json(&next_message(&mut packed).await.unwrap()[4]),
        json!(["only ann"])
    );

    // No upstream: an invocation with an id gets a MessagePack completion error.
    packed
        .ws
        .send(Message::binary(invocation(Some("5"), "ask", vec![])))
        .await
        .unwrap();
    let completion = next_message(&mut packed).await.unwrap();
    assert_eq!(completion[0], Pack::from(3));
    assert_eq!(completion[2], Pack::from("5"));
    assert_eq!(completion[3], Pack::from(1), "result kind 1 = error");
    assert!(completion[4]
        .as_str()
        .unwrap()
        .contains("no upstream is configured"));

    // A REST close reaches it as [7, reason, true].
    let path = format!(
        "/api/hubs/chat/connections/{}?{V}&reason=bye",
        packed.connection_id
    );
    assert_eq!(emu.rest(Method::DELETE, &path, None).await.status(), 200);
    let close = next_message(&mut packed).await.unwrap();
    assert_eq!(
        close,
        Pack::Array(vec![Pack::from(7), Pack::from("bye"), Pack::Boolean(true)])
    );
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn messagepack_invocations_go_upstream_as_sent() {
    let rec = Recorder::start().await;
    let upstream = format!("{}/up/{{event}}", rec.base);
    let emu = spawn_with(|c| c.upstream = vec![UpstreamTemplate::all(upstream)]).await;
    let mut packed = packed_client(&emu, None).await;
    let call = invocation(Some("1"), "nocontent", vec![Pack::from("x"), Pack::from(7)]);
    packed.ws.send(Message::binary(call.clone())).await.unwrap();
    let completion = next_message(&mut packed).await.unwrap();
    assert_eq!(
        completion,
        Pack::Array(vec![
            Pack::from(3),
            Pack::Map(vec![]),
            Pack::from("1"),
            Pack::from(2)
        ])
    );
    let seen = rec.wait_for("/up/nocontent").await;
    assert_eq!(seen.header("content-type"), "application/x-msgpack");
    assert_eq!(
        seen.bytes,
        call[1..],
        "the message without its length prefix"
    );
    emu.handle.shutdown().await;
}

/// Sends `bytes` as one binary message and expects a Close message whose error contains `want`.
async fn refused(emu: &Emu, bytes: Vec<u8>, want: &str) {
    let mut packed = packed_client(emu, None).await;
    packed.ws.send(Message::binary(bytes)).await.unwrap();
    let close = next_message(&mut packed).await.expect("a Close message");
    assert_eq!(close[0], Pack::from(7));
    let error = close[1].as_str().unwrap();
    assert!(error.contains(want), "{error}");
    assert_eq!(close[2], Pack::Boolean(false));
    assert_eq!(next_message(&mut packed).await, None);
}

#[tokio::test]
async fn bad_messagepack_input_gets_clear_errors() {
    let emu = spawn().await;
    refused(&emu, vec![0x03, 0x91, 0xa5, b'a'], "not valid MessagePack").await;
    refused(&emu, vec![0x80, 0x80], "truncated").await;
    refused(
        &emu,
        vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        "invalid length prefix",
    )
    .await;
    let mut huge = Vec::new();
    msgpack::write_length(&mut huge, 10 << 20);
    refused(&emu, huge.clone(), "larger than the limit").await;
    // A real 10 MB message: the emulator stops reading it at its limit and closes, possibly
    // before the whole message was written.
    huge.resize(10 << 20, 0xc0);
    let mut packed = packed_client(&emu, None).await;
    let _ = packed.ws.send(Message::binary(huge)).await;
    if let Some(close) = next_message(&mut packed).await {
        assert_eq!(close[0], Pack::from(7));
        assert!(
            close[1].as_str().unwrap().contains("larger than the limit"),
            "{close}"
        );
    }
    refused(&emu, msgpack::frame(&Pack::from("x")), "must be an array").await;
    // The emulator still serves.
    let mut packed = packed_client(&emu, None).await;
    assert_eq!(emu.send_all("chat", "ok", json!([1])).await, 202);
    assert_eq!(
        msgpack::to_json(&next_message(&mut packed).await.unwrap()[4]),
        json!([1])
    );
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn long_polling_carries_messagepack_and_sse_refuses_it() {
    let emu = spawn().await;
    let (_, token) = emu.negotiate("chat", None).await;
    let url = format!("{}/client/?hub=chat&id={token}", emu.base);
    let auth = client_token("chat", None);
    let get = || emu.http.get(&url).bearer_auth(&auth).send();
    assert_eq!(get().await.unwrap().status(), 200);
    let post = emu
        .http
        .post(&url)
        .bearer_auth(&auth)
        .body(HANDSHAKE)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    let poll = get().await.unwrap();
    assert_eq!(poll.bytes().await.unwrap().as_ref(), b"{}\x1e");
    assert_eq!(
        emu.send_all("chat", "lp", json!(["a", {"b": 2}])).await,
        202
    );
    let poll = get().await.unwrap();
    assert_eq!(poll.headers()["content-type"], "application/octet-stream");
    let got: Vec<Value> = messages(&poll.bytes().await.unwrap())
        .iter()
        .filter(|m| m[0] == Pack::from(1))
        .map(|m| msgpack::to_json(&m[4]))
        .collect();
    assert_eq!(got, vec![json!(["a", {"b": 2}])]);
    // A truncated message in a POST closes the connection with a clear error.
    let post = emu
        .http
        .post(&url)
        .bearer_auth(&auth)
        .body(vec![0x05, 0x91])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    let poll = get().await.unwrap();
    let close = messages(&poll.bytes().await.unwrap()).pop().unwrap();
    assert_eq!(close[0], Pack::from(7));
    assert!(close[1].as_str().unwrap().contains("truncated"), "{close}");

    let (_, token) = emu.negotiate("chat", None).await;
    let url = format!(
        "{}/client/?hub=chat&id={token}&access_token={auth}",
        emu.base
    );
    let mut sse = emu
        .http
        .get(&url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let post = emu
        .http
        .post(&url)
        .bearer_auth(&auth)
        .body(HANDSHAKE)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    let mut text = String::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), sse.chunk())
        .await
        .unwrap()
        .unwrap()
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        text.contains("Cannot use the 'messagepack' protocol"),
        "{text}"
    );
    assert!(
        text.contains("Server-Sent Events carry text only"),
        "{text}"
    );
    emu.handle.shutdown().await;
}

/// POSTs `body` as `content_type` to the broadcast send.
async fn send_body(emu: &Emu, content_type: &str, body: Vec<u8>) -> (u16, String) {
    let path = "/api/hubs/chat/:send";
    let response = emu
        .http
        .post(format!("{}{path}?{V}", emu.base))
        .bearer_auth(emulator_support::rest_token(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn encode(value: &Pack) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).unwrap();
    out
}

#[tokio::test]
async fn rest_takes_messagepack_bodies() {
    let emu = spawn().await;
    let mut packed = packed_client(&emu, None).await;
    let mut text = WsClient::connect(&emu, "chat", None).await;

    // application/x-msgpack: the PayloadMessage as a MessagePack map.
    let payload = Pack::Map(vec![
        (Pack::from("Target"), Pack::from("m")),
        (
            Pack::from("Arguments"),
            Pack::Array(vec![
                Pack::from("é"),
                Pack::Map(vec![(Pack::from("k"), Pack::from(-1))]),
            ]),
        ),
    ]);
    let (status, body) = send_body(&emu, "application/x-msgpack", encode(&payload)).await;
    assert_eq!(status, 202, "{body}");
    let args = json!(["é", {"k": -1}]);
    assert_eq!(
        msgpack::to_json(&next_message(&mut packed).await.unwrap()[4]),
        args
    );
    assert_eq!(
        text.next().await.unwrap(),
        json!({"type": 1, "target": "m", "arguments": args})
    );

    // application/octet-stream: each protocol's clients get that protocol's frame as sent (here
    // a binary argument JSON cannot carry).
    let packed_frame = msgpack::frame(&Pack::Array(vec![
        Pack::from(1),
        Pack::Map(vec![]),
        Pack::Nil,
        Pack::from("bin"),
        Pack::Array(vec![Pack::Binary(vec![0, 1, 2])]),
    ]));
    let json_frame = b"{\"type\":1,\"target\":\"bin\",\"arguments\":[\"AAEC\"]}\x1e".to_vec();
    let frames = Pack::Map(vec![
        (Pack::from("json"), Pack::Binary(json_frame)),
        (
            Pack::from("messagepack"),
            Pack::Binary(packed_frame.clone()),
        ),
    ]);
    let (status, body) = send_body(&emu, "application/octet-stream", encode(&frames)).await;
    assert_eq!(status, 202, "{body}");
    let mut got = next_binary(&mut packed).await.unwrap();
    while got == msgpack::ping_frame() {
        got = next_binary(&mut packed).await.unwrap();
    }
    assert_eq!(got, packed_frame);
    assert_eq!(
        text.next().await.unwrap(),
        json!({"type": 1, "target": "bin", "arguments": ["AAEC"]})
    );
    // Only a MessagePack frame: JSON clients get it converted.
    let only = Pack::Map(vec![(
        Pack::from("messagepack"),
        Pack::Binary(invocation(None, "one", vec![Pack::from(5)])),
    )]);
    assert_eq!(
        send_body(&emu, "application/octet-stream", encode(&only))
            .await
            .0,
        202
    );
    assert_eq!(
        text.next().await.unwrap(),
        json!({"type": 1, "target": "one", "arguments": [5]})
    );
    assert_eq!(
        msgpack::to_json(&next_message(&mut packed).await.unwrap()[4]),
        json!([5])
    );

    for (body, needle) in [
        (Pack::Map(vec![]), "neither a json nor a messagepack entry"),
        (
            Pack::Map(vec![(
                Pack::from("messagepack"),
                Pack::Binary(vec![0x05, 0x91]),
            )]),
            "length prefix says 5 bytes but 1 follow",
        ),
        (
            Pack::Map(vec![(
                Pack::from("json"),
                Pack::Binary(b"{\"type\":6}".to_vec()),
            )]),
            "must be an invocation",
        ),
        (
            Pack::Map(vec![(Pack::from("json"), Pack::from(1))]),
            "must be binary",
        ),
    ] {
        let (status, text) = send_body(&emu, "application/octet-stream", encode(&body)).await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(needle), "{text}");
    }
    let (status, text) = send_body(&emu, "application/x-msgpack", encode(&Pack::Map(vec![]))).await;
    assert_eq!((status, text.contains("no target")), (400, true), "{text}");
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn json_objects_keep_their_key_order_for_both_protocols() {
    let emu = spawn().await;
    let mut packed = packed_client(&emu, None).await;
    let mut text = WsClient::connect(&emu, "chat", None).await;
    let body =
        r#"{"target":"t","arguments":[{"text":"hi","n":1,"a":{"z":0,"b":[{"y":1,"x":2}]}}]}"#;
    assert_eq!(
        send_body(&emu, "application/json", body.into()).await.0,
        202
    );
    let got = next_message(&mut packed).await.unwrap();
    let keys = |map: &Pack| -> Vec<String> {
        let pairs = map.as_map().expect("a map");
        pairs
            .iter()
            .map(|(k, _)| k.as_str().unwrap().to_string())
            .collect()
    };
    let object = &got[4][0];
    assert_eq!(keys(object), ["text", "n", "a"]);
    assert_eq!(keys(&object["a"]), ["z", "b"]);
    assert_eq!(keys(&object["a"]["b"][0]), ["y", "x"]);
    // The JSON client reads the arguments as sent, too.
    let frame = loop {
        match next_text(&mut text).await {
            Some(record) if record.contains("\"target\"") => break record,
            Some(_) => continue,
            None => panic!("the JSON client got nothing"),
        }
    };
    assert!(
        frame.contains(r#"[{"text":"hi","n":1,"a":{"z":0,"b":[{"y":1,"x":2}]}}]"#),
        "{frame}"
    );
}

/// The next text WebSocket message; `None` once the socket closed.
async fn next_text(ws: &mut WsClient) -> Option<String> {
    match next_data(ws).await? {
        Message::Text(text) => Some(text.to_string()),
        other => panic!("a binary message to a JSON client: {other:?}"),
    }
}
