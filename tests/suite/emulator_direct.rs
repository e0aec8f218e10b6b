//! What client tokens may do besides negotiate-then-connect: WebSockets straight to
//! `/client/?hub=…` without `id` (as the SDKs of other languages connect), the transports
//! `asrs.s.htt` allows, and the close when an `asrs.s.coae` token expires.

use crate::emulator_support;

use std::time::Duration;

use emulator_support::recorder::Recorder;
use emulator_support::{client_token, now, sign, spawn, spawn_with, WsClient};
use reqwest::Method;
use serde_json::{json, Value};
use serverless_signalr::emulator::UpstreamTemplate;
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;

fn token_with(hub: &str, extra: Value) -> String {
    let mut claims = json!({ "aud": format!("http://127.0.0.1/client/?hub={hub}") });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    sign(DEV_ACCESS_KEY, claims)
}

#[tokio::test]
async fn a_websocket_without_id_is_a_new_connection_like_a_negotiated_one() {
    let rec = Recorder::start().await;
    let base = rec.base.clone();
    let emu = spawn_with(|c| {
        c.upstream = vec![UpstreamTemplate::all(format!(
            "{base}/up/{{hub}}/{{category}}/{{event}}"
        ))]
    })
    .await;
    let token = token_with("chat", json!({"asrs.s.uid": "ann", "tid": "t1"}));
    // The token in the Authorization header, as the Python and .NET clients send it.
    let mut ws = WsClient::connect_direct(&emu, "/client/?hub=chat", Some(&token))
        .await
        .unwrap();
    let connected = rec.wait_for("/up/chat/connections/connected").await;
    let id = connected.header("x-asrs-connection-id").to_string();
    assert!(id.len() >= 16, "the emulator assigns an id: {id:?}");
    assert_eq!(connected.header("x-asrs-user-id"), "ann");
    assert!(connected.header("x-asrs-user-claims").contains("tid: t1"));
    assert_eq!(connected.header("x-asrs-client-query"), "?hub=chat");

    // Sends by connection, user and group reach it.
    let r = emu
        .rest(
            Method::POST,
            &format!("/api/v1/hubs/chat/connections/{id}"),
            Some(json!({"target": "c", "arguments": ["to connection"]})),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        ws.next().await.unwrap()["arguments"],
        json!(["to connection"])
    );
    let r = emu
        .rest(
            Method::POST,
            "/api/v1/hubs/chat/users/ann",
            Some(json!({"target": "u", "arguments": ["to user"]})),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(ws.next().await.unwrap()["arguments"], json!(["to user"]));
    let r = emu
        .rest(
            Method::PUT,
            &format!("/api/v1/hubs/chat/groups/g1/connections/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = emu
        .rest(
            Method::POST,
            "/api/v1/hubs/chat/groups/g1",
            Some(json!({"target": "g", "arguments": [{"nested": [1, "ü"]}]})),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        ws.next().await.unwrap()["arguments"],
        json!([{"nested": [1, "ü"]}])
    );

    // Invocations go upstream; a REST close ends it with `disconnected`.
    ws.send_raw("{\"type\":1,\"target\":\"fire\",\"arguments\":[]}\u{1e}")
        .await;
    rec.wait_for("/up/chat/messages/fire").await;
    let r = emu
        .rest(
            Method::DELETE,
            &format!("/api/v1/hubs/chat/connections/{id}"),
            None,
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let close = ws.next().await.unwrap();
    assert_eq!(close["type"], 7);
    let gone = rec.wait_for("/up/chat/connections/disconnected").await;
    assert_eq!(gone.header("x-asrs-connection-id"), id);
}

#[tokio::test]
async fn direct_connects_take_the_query_token_and_either_path_form() {
    let emu = spawn().await;
    let token = client_token("Chat", Some("bob"));
    // `access_token` in the query (browsers), at `/client` without the trailing slash, and the
    // hub in another case than the token's.
    let mut ws = WsClient::connect_direct(
        &emu,
        &format!("/client?hub=Chat&access_token={token}"),
        None,
    )
    .await
    .unwrap();
    emu.wait_for_status("/api/v1/hubs/chat/users/bob", 200, "bob never connected")
        .await;
    let r = emu
        .rest(
            Method::POST,
            "/api/v1/hubs/chat/users/bob",
            Some(json!({"target": "t", "arguments": [1]})),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(ws.next().await.unwrap()["arguments"], json!([1]));

    // A bad token is still refused, with the reason.
    let bad = sign(
        "another key",
        json!({"aud": "http://127.0.0.1/client/?hub=chat"}),
    );
    let (status, body) = WsClient::connect_direct(&emu, "/client/?hub=chat", Some(&bad))
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("signature is invalid"), "{body}");
}

#[tokio::test]
async fn server_sent_events_and_long_polling_still_need_the_id() {
    let emu = spawn().await;
    let token = client_token("chat", None);
    for accept in ["text/event-stream", "*/*"] {
        let r = emu
            .http
            .get(format!("{}/client/?hub=chat", emu.base))
            .bearer_auth(&token)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("`id` query parameter")
                && message.contains("only WebSocket connections may skip negotiate"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn negotiate_lists_and_connect_allows_only_the_tokens_transports() {
    let emu = spawn().await;
    // `asrs.s.htt` = 6: ServerSentEvents | LongPolling, as the SDK writes it.
    let token = token_with("chat", json!({"asrs.s.htt": "6"}));
    let r = emu
        .http
        .post(format!(
            "{}/client/negotiate?hub=chat&negotiateVersion=1",
            emu.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let names: Vec<&str> = body["availableTransports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transport"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ServerSentEvents", "LongPolling"]);
    let connection_token = body["connectionToken"].as_str().unwrap();

    // WebSockets is refused, negotiated or not.
    for path in [
        format!("/client/?hub=chat&id={connection_token}"),
        "/client/?hub=chat".to_string(),
    ] {
        let (status, body) = WsClient::connect_direct(&emu, &path, Some(&token))
            .await
            .err()
            .expect("WebSockets must be refused");
        assert_eq!(status, 403, "{path}");
        assert!(
            body.contains("does not allow the WebSockets transport")
                && body.contains("allows ServerSentEvents, LongPolling"),
            "{body}"
        );
    }

    // A WebSockets-only token cannot start Server-Sent Events or long polling.
    let ws_only = token_with("chat", json!({"asrs.s.htt": "1"}));
    for accept in ["text/event-stream", "*/*"] {
        let (_, id) = emu.negotiate_with_token("chat", &ws_only).await;
        let r = emu
            .http
            .get(format!("{}/client/?hub=chat&id={id}", emu.base))
            .bearer_auth(&ws_only)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{accept}");
        let body: Value = r.json().await.unwrap();
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains("allows WebSockets"));
    }
    WsClient::connect_direct(&emu, "/client/?hub=chat", Some(&ws_only))
        .await
        .unwrap();

    // A malformed claim is refused with what it should be.
    let bad = token_with("chat", json!({"asrs.s.htt": "WebSockets"}));
    let r = emu
        .http
        .post(format!("{}/client/negotiate?hub=chat", emu.base))
        .bearer_auth(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("asrs.s.htt"));
}

#[tokio::test]
async fn a_close_on_expiry_token_is_closed_with_allow_reconnect_when_it_expires() {
    let emu = spawn().await;
    let expires = now() + 2;
    let token = token_with(
        "chat",
        json!({"asrs.s.uid": "eve", "exp": expires, "asrs.s.coae": "true", "asrs.s.aeo": expires.to_string()}),
    );
    // Without the claim, a token that expires at the same time stays open past `exp`.
    let plain = token_with("chat", json!({"asrs.s.uid": "pat", "exp": expires}));
    let mut closing = WsClient::connect_direct(&emu, "/client/?hub=chat", Some(&token))
        .await
        .unwrap();
    let mut staying = WsClient::connect_with_token(&emu, "chat", &plain).await;

    let started = std::time::Instant::now();
    let close = closing.next().await.expect("a Close message");
    assert_eq!(
        close,
        json!({"type": 7, "error": "The access token expired (asrs.s.aeo). Negotiate again for a new token.", "allowReconnect": true})
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(
        closing.next().await,
        None,
        "the socket closes after the Close message"
    );
    emu.wait_for_status("/api/v1/hubs/chat/users/eve", 404, "eve is still connected")
        .await;

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(now() > expires + 1);
    let r = emu
        .rest(
            Method::POST,
            "/api/v1/hubs/chat/users/pat",
            Some(json!({"target": "t", "arguments": ["still here"]})),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        staying.next().await.unwrap()["arguments"],
        json!(["still here"])
    );

    // Once past, the same token cannot connect again: the client must negotiate anew.
    let (status, body) = WsClient::connect_direct(&emu, "/client/?hub=chat", Some(&token))
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("asrs.s.aeo"), "{body}");
}
