//! Upstream calls to a recording HTTP server on 127.0.0.1: URLs from templates (first match
//! wins), `X-ASRS-*` headers, the signature (recomputed here with `hmac`), exact bodies, and how
//! upstream answers become completions for the client.

use crate::emulator_support;

use std::time::Duration;

use emulator_support::recorder::{Call, Recorder};
use emulator_support::{spawn_with, WsClient};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use serverless_signalr::emulator::UpstreamTemplate;
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use sha2::Sha256;

fn expected_signature(connection_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(DEV_ACCESS_KEY.as_bytes()).unwrap();
    mac.update(connection_id.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn header<'a>(call: &'a Call, name: &str) -> &'a str {
    call.header(name)
}

#[tokio::test]
async fn events_reach_the_upstream_signed_and_results_come_back() {
    let rec = Recorder::start().await;
    let base = rec.base.clone();
    let emu = spawn_with(|c| {
        c.upstream = vec![
            UpstreamTemplate {
                url_template: format!("{base}/special/{{event}}"),
                hub_pattern: "other".into(),
                category_pattern: "*".into(),
                event_pattern: "*".into(),
            },
            UpstreamTemplate::all(format!("{base}/up/{{hub}}/{{category}}/{{event}}")),
        ]
    })
    .await;
    let mut ws = WsClient::connect(&emu, "chat", Some("ann")).await;
    let id = ws.connection_id.clone();

    let connected = rec.wait_for("/up/chat/connections/connected").await;
    assert_eq!(connected.body, "{\"type\":10}");
    assert_eq!(header(&connected, "content-type"), "application/json");
    assert_eq!(header(&connected, "x-asrs-connection-id"), id);
    assert_eq!(header(&connected, "x-asrs-hub"), "chat");
    assert_eq!(header(&connected, "x-asrs-category"), "connections");
    assert_eq!(header(&connected, "x-asrs-event"), "connected");
    assert_eq!(header(&connected, "x-asrs-user-id"), "ann");
    assert!(header(&connected, "x-asrs-user-claims").contains("asrs.s.uid: ann"));
    // The client's connect query with its leading `?` (`docs/protocol.md` §5.1), minus the token.
    let query = header(&connected, "x-asrs-client-query");
    assert!(
        query.starts_with("?hub=chat&id=") && !query.contains("access_token"),
        "{query}"
    );
    assert!(header(&connected, "x-asrs-signature").eq_ignore_ascii_case(&expected_signature(&id)));

    let fire = "{\"type\":1,\"target\":\"fire\",\"arguments\":[1,\"a\"]}";
    ws.send_raw(&format!("{fire}\u{1e}")).await;
    let call = rec.wait_for("/up/chat/messages/fire").await;
    assert_eq!(call.body, fire);
    assert_eq!(
        (
            header(&call, "x-asrs-category"),
            header(&call, "x-asrs-event")
        ),
        ("messages", "fire")
    );

    ws.send_raw("{\"type\":1,\"invocationId\":\"1\",\"target\":\"echo\",\"arguments\":[]}\u{1e}")
        .await;
    assert_eq!(
        ws.next().await,
        Some(json!({"type": 3, "invocationId": "1", "result": "pong"}))
    );
    ws.send_raw("{\"type\":1,\"invocationId\":\"2\",\"target\":\"empty\",\"arguments\":[]}\u{1e}")
        .await;
    assert_eq!(
        ws.next().await,
        Some(json!({"type": 3, "invocationId": "2"}))
    );
    ws.send_raw(
        "{\"type\":1,\"invocationId\":\"3\",\"target\":\"nocontent\",\"arguments\":[]}\u{1e}",
    )
    .await;
    assert_eq!(
        ws.next().await,
        Some(json!({"type": 3, "invocationId": "3"}))
    );
    ws.send_raw("{\"type\":1,\"invocationId\":\"4\",\"target\":\"fail\",\"arguments\":[]}\u{1e}")
        .await;
    assert_eq!(
        ws.next().await,
        Some(
            json!({"type": 3, "invocationId": "4", "error": "Invocation failed, status code 403"})
        )
    );

    ws.send_raw("{\"type\":7}\u{1e}").await;
    let disconnected = rec.wait_for("/up/chat/connections/disconnected").await;
    assert_eq!(
        serde_json::from_str::<Value>(&disconnected.body).unwrap(),
        json!({"type": 11})
    );

    let mut other = WsClient::connect(&emu, "other", None).await;
    let special = rec.wait_for("/special/connected").await;
    assert_eq!(header(&special, "x-asrs-hub"), "other");
    assert!(header(&special, "x-asrs-user-id").is_empty());
    other
        .send_raw("{\"type\":99,\"invocationId\":5}\u{1e}")
        .await;
    assert_eq!(other.next().await.unwrap()["type"], 7);
    let gone = rec.wait_for("/special/disconnected").await;
    let body: Value = serde_json::from_str(&gone.body).unwrap();
    assert_eq!(body["type"], 11);
    assert!(
        body["error"].as_str().unwrap().contains("invocationId"),
        "{body}"
    );
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_upstream_fails_invocations_with_500() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let emu = spawn_with(|c| {
        c.upstream = vec![UpstreamTemplate::all(format!(
            "http://127.0.0.1:{closed}/api/upstream"
        ))];
        c.upstream_timeout = Duration::from_secs(2);
    })
    .await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    ws.send_raw("{\"type\":1,\"invocationId\":\"9\",\"target\":\"x\",\"arguments\":[]}\u{1e}")
        .await;
    assert_eq!(
        ws.next().await,
        Some(
            json!({"type": 3, "invocationId": "9", "error": "Invocation failed, status code 500"})
        )
    );
    emu.handle.shutdown().await;
}

#[test]
fn settings_file_in_microsofts_shape() {
    let dir = std::env::temp_dir().join(format!("emu-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("settings.json");
    std::fs::write(&path, r#"{"UpstreamSettings":{"Templates":[{"UrlTemplate":"http://localhost:7071/runtime/webhooks/signalr","EventPattern":"*","HubPattern":"*","CategoryPattern":"*"}]}}"#).unwrap();
    let templates = UpstreamTemplate::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        templates,
        vec![UpstreamTemplate::all(
            "http://localhost:7071/runtime/webhooks/signalr"
        )]
    );
}

/// A hundred clients connecting at once against a slow upstream: at most
/// `MAX_CONCURRENT_CALLS` calls are in flight (not one connection per client), and every
/// `connected` event still arrives once the upstream answers.
#[tokio::test]
async fn upstream_calls_in_flight_are_bounded() {
    use serverless_signalr::emulator::upstream::MAX_CONCURRENT_CALLS;
    const CLIENTS: usize = 100;
    let rec = Recorder::start().await;
    let base = rec.base.clone();
    let emu = std::sync::Arc::new(
        spawn_with(|c| c.upstream = vec![UpstreamTemplate::all(format!("{base}/{{event}}/hold"))])
            .await,
    );
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let emu = std::sync::Arc::clone(&emu);
            tokio::spawn(
                async move { WsClient::connect(&emu, "chat", Some(&format!("user{i}"))).await },
            )
        })
        .collect();
    let held = |rec: &Recorder| {
        rec.calls()
            .iter()
            .filter(|c| c.path == "/connected/hold")
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while held(&rec) < MAX_CONCURRENT_CALLS {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} calls arrived",
            held(&rec)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nothing more arrives while those are held.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(held(&rec), MAX_CONCURRENT_CALLS);

    for _ in 0..CLIENTS {
        rec.release();
    }
    let mut connected = Vec::new();
    for client in clients {
        connected.push(client.await.expect("client task"));
    }
    while held(&rec) < CLIENTS {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {CLIENTS} events",
            held(&rec)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(connected.len(), CLIENTS);
}
