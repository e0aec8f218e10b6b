//! Limits a client cannot push past: the per-connection upstream queue (bounded in bytes), the
//! message size on WebSockets and on Server-Sent Events sends, and frames packed with many
//! records. Each gets a clear answer and the emulator keeps serving.

use crate::emulator_support;

use emulator_support::recorder::Recorder;
use emulator_support::{client_token, spawn, spawn_with, WsClient};
use serde_json::{json, Value};
use serverless_signalr::emulator::UpstreamTemplate;

const V: &str = "api-version=2022-06-01";

fn invocation(id: Option<&str>, target: &str, payload_bytes: usize) -> String {
    let id = id
        .map(|id| format!("\"invocationId\":\"{id}\","))
        .unwrap_or_default();
    format!(
        "{{\"type\":1,{id}\"target\":\"{target}\",\"arguments\":[\"{}\"]}}\u{1e}",
        "x".repeat(payload_bytes)
    )
}

#[tokio::test]
async fn a_full_upstream_queue_fails_invocations_at_once() {
    let rec = Recorder::start().await;
    let emu = spawn_with(|c| {
        c.upstream = vec![UpstreamTemplate::all(format!("{}/up/{{event}}", rec.base))];
        c.max_upstream_queued_bytes = 64 * 1024;
    })
    .await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    rec.wait_for("/up/connected").await;

    // `hold` keeps the upstream busy; two 30 KiB invocations fill the 64 KiB queue behind it.
    ws.send_raw(&invocation(Some("0"), "hold", 0)).await;
    ws.send_raw(&invocation(Some("1"), "big", 30 * 1024)).await;
    ws.send_raw(&invocation(Some("2"), "big", 30 * 1024)).await;
    ws.send_raw(&invocation(Some("3"), "big", 30 * 1024)).await;
    ws.send_raw(&invocation(None, "lost", 30 * 1024)).await;
    let refused = ws.next().await.unwrap();
    assert_eq!(
        (refused["type"].clone(), refused["invocationId"].clone()),
        (json!(3), json!("3"))
    );
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .starts_with("Invocation failed: upstream queue full"),
        "{refused}"
    );

    rec.release();
    for id in ["0", "1", "2"] {
        assert_eq!(
            ws.next().await,
            Some(json!({"type": 3, "invocationId": id}))
        );
    }
    // One connection's calls go out in order, so once `after` is answered, `lost` would have
    // been delivered had it been queued.
    ws.send_raw(&invocation(Some("4"), "after", 0)).await;
    assert_eq!(
        ws.next().await,
        Some(json!({"type": 3, "invocationId": "4"}))
    );
    assert!(!rec.called("/up/lost"));
    assert_eq!(
        rec.calls().iter().filter(|c| c.path == "/up/big").count(),
        2
    );
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn a_frame_packed_with_records_is_handled_record_by_record() {
    let emu = spawn().await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    let mut frame = "{\"type\":6}\u{1e}".repeat(50_000);
    frame.push_str(&invocation(Some("9"), "ask", 0));
    ws.send_raw(&frame).await;
    let answer = ws.next().await.unwrap();
    assert_eq!(answer["invocationId"], "9", "{answer}");
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("no upstream is configured"));

    // A frame of 300 000 empty records: the first one already breaks the protocol.
    ws.send_raw(&"{}\u{1e}".repeat(300_000)).await;
    let close = ws.next().await.unwrap();
    assert_eq!(close["type"], 7);
    assert!(
        close["error"].as_str().unwrap().contains("numeric `type`"),
        "{close}"
    );
    assert_eq!(ws.next().await, None);
    assert_eq!(emu.send_all("chat", "still", json!([])).await, 202);
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn an_oversized_websocket_frame_closes_the_connection_with_a_clear_error() {
    let rec = Recorder::start().await;
    let emu = spawn_with(|c| {
        c.upstream = vec![UpstreamTemplate::all(format!("{}/up/{{event}}", rec.base))];
        c.max_message_bytes = 1024;
    })
    .await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    let id = ws.connection_id.clone();
    ws.send_raw(&invocation(None, "big", 4096)).await;
    let close = ws
        .next()
        .await
        .expect("a Close message before the socket ends");
    assert_eq!(close["type"], 7, "{close}");
    assert!(
        close["error"]
            .as_str()
            .unwrap()
            .contains("larger than the limit of 1024 bytes"),
        "{close}"
    );
    assert_eq!(ws.next().await, None);
    let gone = rec.wait_for("/up/disconnected").await;
    let body: Value = serde_json::from_str(&gone.body).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("1024 bytes"),
        "{body}"
    );
    assert!(!rec.called("/up/big"));
    assert_eq!(
        emu.exists(&format!("/api/hubs/chat/connections/{id}?{V}"))
            .await,
        404
    );
    // Others are unaffected.
    let mut other = WsClient::connect(&emu, "chat", None).await;
    assert_eq!(emu.send_all("chat", "hi", json!([1])).await, 202);
    assert_eq!(
        other.next().await,
        Some(json!({"type": 1, "target": "hi", "arguments": [1]}))
    );
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn an_oversized_server_sent_events_send_is_refused_with_413() {
    let emu = spawn_with(|c| c.max_message_bytes = 1024).await;
    let (id, token) = emu.negotiate("chat", None).await;
    let url = format!("{}/client/?hub=chat&id={token}", emu.base);
    let auth = client_token("chat", None);
    let stream = emu
        .http
        .get(&url)
        .bearer_auth(&auth)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let post = |body: String| emu.http.post(&url).bearer_auth(&auth).body(body).send();
    let handshake = post("{\"protocol\":\"json\",\"version\":1}\u{1e}".into());
    assert_eq!(handshake.await.unwrap().status(), 200);
    let r = post(invocation(None, "big", 2048)).await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["x-ms-error-code"], "Error.Request.TooLarge");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("1024 bytes"),
        "{body}"
    );
    assert_eq!(
        post(invocation(None, "small", 10)).await.unwrap().status(),
        200
    );
    let path = format!("/api/hubs/chat/connections/{id}?{V}");
    emu.wait_for_status(&path, 200, "the connection is gone")
        .await;
    drop(stream);
    emu.handle.shutdown().await;
}

/// A URL longer than the emulator takes gets a clear 414 (not a dropped connection), and the
/// emulator keeps serving.
#[tokio::test]
async fn an_overlong_url_is_answered_with_414() {
    let emu = spawn().await;
    let close = |excluded: String| {
        let path = format!("/api/hubs/chat/:closeConnections?{V}{excluded}");
        let emu = &emu;
        async move { emu.rest(reqwest::Method::POST, &path, None).await }
    };
    let r = close("&excluded=0123456789abcdefghijkl".repeat(1000)).await;
    assert_eq!(r.status(), 414);
    assert_eq!(r.headers()["x-ms-error-code"], "Error.Request.UriTooLong");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("8192 bytes"),
        "{body}"
    );
    let r = close("&excluded=a".into()).await;
    assert_eq!(r.status(), 204);
    emu.handle.shutdown().await;
}
