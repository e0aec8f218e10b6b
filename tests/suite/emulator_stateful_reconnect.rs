//! Stateful reconnect in the emulator (`docs/stateful-reconnect.md`), over raw WebSockets: what
//! negotiate and the handshake accept; a socket that drops and a new one to the same `id` that
//! takes over with `Sequence` and the unacknowledged messages (none lost, none twice, group and
//! user kept, one `connected`), the client's replay de-duplicated; and the edges: the window
//! ends, the buffer overflows while the client is away, a `Sequence` past what was received, a
//! Close frame, a second socket on a live one, an expired token or another user's.

use std::time::Duration;

use futures_util::SinkExt;
use reqwest::Method;
use serde_json::{json, Value};
use serverless_signalr::emulator::{EmulatorConfig, UpstreamTemplate};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::emulator_support::recorder::Recorder;
use crate::emulator_support::{client_token, invocation, now, sign, spawn_with, Emu, WsClient};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;

const HUB: &str = "chat";
const V2: &str = "{\"protocol\":\"json\",\"version\":2}\u{1e}";
const API: &str = "api-version=2022-06-01";

/// A negotiated connection and the token it connects with.
struct Negotiated {
    id: String,
    token: String,
    access_token: String,
}

/// An emulator whose upstream records every call at `/up/{hub}/{category}/{event}`.
async fn emulator(change: impl FnOnce(&mut EmulatorConfig)) -> (Emu, Recorder) {
    let rec = Recorder::start().await;
    let url = format!("{}/up/{{hub}}/{{category}}/{{event}}", rec.base);
    let emu = spawn_with(|c| {
        c.upstream = vec![UpstreamTemplate::all(url)];
        change(c);
    })
    .await;
    (emu, rec)
}

/// `POST /client/negotiate?hub=chat{query}` for `user`.
async fn negotiate(emu: &Emu, user: Option<&str>, query: &str) -> (Value, String) {
    let access_token = client_token(HUB, user);
    let response = emu
        .http
        .post(format!("{}/client/negotiate?hub={HUB}{query}", emu.base))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    (response.json().await.unwrap(), access_token)
}

async fn negotiate_stateful(emu: &Emu, user: Option<&str>) -> Negotiated {
    let query = "&negotiateVersion=1&useStatefulReconnect=true";
    let (body, access_token) = negotiate(emu, user, query).await;
    assert_eq!(body["useStatefulReconnect"], json!(true), "{body}");
    Negotiated {
        id: body["connectionId"].as_str().unwrap().into(),
        token: body["connectionToken"].as_str().unwrap().into(),
        access_token,
    }
}

/// Opens a socket of `connection`; a refused upgrade gives its status.
async fn socket(emu: &Emu, connection: &Negotiated) -> Result<WsClient, u16> {
    let port = emu.handle.local_addr().port();
    let url = format!(
        "ws://127.0.0.1:{port}/client/?hub={HUB}&id={}",
        connection.token
    );
    let mut request = url.into_client_request().unwrap();
    let bearer = format!("Bearer {}", connection.access_token);
    request
        .headers_mut()
        .insert("Authorization", bearer.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(WsClient::new(ws, connection.id.clone())),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("WebSocket connect failed: {e}"),
    }
}

/// Negotiates stateful reconnect for `user`, connects and shakes hands with version 2.
async fn connect(emu: &Emu, user: Option<&str>) -> (Negotiated, WsClient) {
    let connection = negotiate_stateful(emu, user).await;
    let mut client = socket(emu, &connection).await.unwrap();
    client.send_raw(V2).await;
    assert_eq!(client.next().await, Some(json!({})));
    (connection, client)
}

/// Whether the dashboard shows the connection as away, once it does (or 10 s have passed).
async fn wait_away(emu: &Emu, id: &str, away: bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let snapshot = emu.dashboard_snapshot().await;
        let shown = snapshot["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["away"] == json!(true));
        if shown == Some(away) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dashboard never showed {id} with away = {away}: {snapshot}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn rest(emu: &Emu, method: Method, path: &str, body: Option<Value>) -> u16 {
    let path = format!("/api/hubs/{HUB}/{path}?{API}");
    emu.rest(method, &path, body).await.status().as_u16()
}

async fn send(emu: &Emu, to: &str, n: i64) -> u16 {
    let message = json!({ "target": "m", "arguments": [n] });
    rest(emu, Method::POST, &format!("{to}/:send"), Some(message)).await
}

fn calls(rec: &Recorder, event: &str) -> Vec<String> {
    rec.calls()
        .into_iter()
        .filter(|c| c.path.ends_with(&format!("/{event}")))
        .map(|c| c.body)
        .collect()
}

/// A client invocation of `note(n)` without an invocation id.
fn note(n: i64) -> String {
    format!("{{\"type\":1,\"target\":\"note\",\"arguments\":[{n}]}}\u{1e}")
}

#[tokio::test]
async fn negotiate_offers_stateful_reconnect_only_when_asked() {
    let (emu, _rec) = emulator(|_| {}).await;
    let (plain, _) = negotiate(&emu, None, "&negotiateVersion=1").await;
    assert!(plain.get("useStatefulReconnect").is_none(), "{plain}");
    let (v0, _) = negotiate(&emu, None, "&useStatefulReconnect=true").await;
    assert!(v0.get("useStatefulReconnect").is_none(), "{v0}");
    let (no, _) = negotiate(&emu, None, "&negotiateVersion=1&useStatefulReconnect=false").await;
    assert!(no.get("useStatefulReconnect").is_none(), "{no}");
    negotiate_stateful(&emu, None).await;
}

#[tokio::test]
async fn version_2_needs_stateful_reconnect_negotiated_and_is_its_only_way_in() {
    let (emu, _rec) = emulator(|_| {}).await;
    let mut plain = WsClient::open(&emu, HUB, None).await;
    plain.send_raw(V2).await;
    let refused = plain.next().await.unwrap();
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("useStatefulReconnect=true"), "{error}");

    // Negotiated, but the client shook hands with version 1: no stateful reconnect, and a
    // second socket is refused as before.
    let connection = negotiate_stateful(&emu, None).await;
    let mut v1 = socket(&emu, &connection).await.unwrap();
    v1.send_raw("{\"protocol\":\"json\",\"version\":1}\u{1e}")
        .await;
    assert_eq!(v1.next().await, Some(json!({})));
    assert_eq!(socket(&emu, &connection).await.err(), Some(409));
    drop(v1);
    let path = format!("/api/hubs/{HUB}/connections/{}?{API}", connection.id);
    emu.wait_for_status(&path, 404, "a version 1 connection ends with its socket")
        .await;
}

#[tokio::test]
async fn a_dropped_socket_reattaches_and_nothing_is_lost_or_repeated() {
    let (emu, rec) = emulator(|_| {}).await;
    let (connection, mut client) = connect(&emu, Some("ann")).await;
    let id = connection.id.clone();
    assert_eq!(
        rest(
            &emu,
            Method::PUT,
            &format!("groups/g/connections/{id}"),
            None
        )
        .await,
        200
    );
    for n in 1..=3 {
        assert_eq!(send(&emu, "groups/g", n).await, 202);
        assert_eq!(client.next().await, invocation("m", json!([n])));
    }
    // The client acknowledges two of the three; its first message goes upstream and is acked.
    client.send_raw("{\"type\":8,\"sequenceId\":2}\u{1e}").await;
    client.send_raw(&note(1)).await;
    assert_eq!(
        client.next().await,
        Some(json!({"type": 8, "sequenceId": 1}))
    );
    drop(client);
    wait_away(&emu, &id, true).await;

    // Away: it still exists, and its group and its user still reach it.
    let exists = format!("/api/hubs/{HUB}/connections/{id}?{API}");
    assert_eq!(emu.exists(&exists).await, 200);
    assert_eq!(send(&emu, "groups/g", 4).await, 202);
    assert_eq!(send(&emu, &format!("connections/{id}"), 5).await, 202);
    assert_eq!(send(&emu, "users/ann", 6).await, 202);

    // The same id again: no handshake; Sequence first (1 and 2 were acknowledged), then every
    // message the client may have missed, in order.
    let mut client = socket(&emu, &connection).await.unwrap();
    assert_eq!(
        client.next().await,
        Some(json!({"type": 9, "sequenceId": 3}))
    );
    for n in 3..=6 {
        assert_eq!(client.next().await, invocation("m", json!([n])));
    }
    wait_away(&emu, &id, false).await;
    // The client replays its first message (it missed the Ack), then sends a new one.
    let replay = format!(
        "{{\"type\":9,\"sequenceId\":1}}\u{1e}{}{}",
        note(1),
        note(2)
    );
    client.send_raw(&replay).await;
    assert_eq!(
        client.next().await,
        Some(json!({"type": 8, "sequenceId": 2}))
    );
    assert_eq!(send(&emu, "groups/g", 7).await, 202);
    assert_eq!(client.next().await, invocation("m", json!([7])));

    let notes = calls(&rec, "note");
    assert_eq!(
        notes.len(),
        2,
        "each client message went upstream once: {notes:?}"
    );
    assert!(
        notes[0].contains("[1]") && notes[1].contains("[2]"),
        "{notes:?}"
    );
    assert_eq!(calls(&rec, "connected").len(), 1);
    assert!(calls(&rec, "disconnected").is_empty());

    // A Close frame ends the connection at once: no waiting for the client.
    client.ws.close(None).await.unwrap();
    rec.wait_for(&format!("/up/{HUB}/connections/disconnected"))
        .await;
    assert_eq!(emu.exists(&exists).await, 404);
    assert_eq!(socket(&emu, &connection).await.err(), Some(404));
}

#[tokio::test]
async fn a_client_that_does_not_come_back_in_the_window_is_forgotten() {
    let (emu, rec) = emulator(|c| c.reconnect_window = Duration::from_millis(700)).await;
    let (connection, client) = connect(&emu, None).await;
    let id = connection.id.clone();
    drop(client);
    wait_away(&emu, &id, true).await;
    let exists = format!("/api/hubs/{HUB}/connections/{id}?{API}");
    assert_eq!(emu.exists(&exists).await, 200, "within the window it waits");
    assert_eq!(send(&emu, &format!("connections/{id}"), 1).await, 202);
    let gone = rec
        .wait_for(&format!("/up/{HUB}/connections/disconnected"))
        .await;
    assert_eq!(gone.header("x-asrs-connection-id"), id);
    assert_eq!(emu.exists(&exists).await, 404);
    // Its buffer went with it: the id is unknown, a socket is refused, the dashboard lists
    // nothing.
    assert_eq!(socket(&emu, &connection).await.err(), Some(404));
    let snapshot = emu.dashboard_snapshot().await;
    assert_eq!(snapshot["connections"], json!([]), "{snapshot}");
    assert_eq!(calls(&rec, "connected").len(), 1);
    assert_eq!(calls(&rec, "disconnected").len(), 1);
}

#[tokio::test]
async fn more_than_the_buffer_holds_while_away_ends_the_connection() {
    let (emu, rec) = emulator(|c| c.max_queued_bytes = 4096).await;
    let (connection, client) = connect(&emu, None).await;
    let id = connection.id.clone();
    drop(client);
    wait_away(&emu, &id, true).await;
    let big = "x".repeat(1000);
    for _ in 0..6 {
        let message = json!({ "target": "m", "arguments": [big] });
        let path = format!("connections/{id}/:send");
        rest(&emu, Method::POST, &path, Some(message)).await;
    }
    let gone = rec
        .wait_for(&format!("/up/{HUB}/connections/disconnected"))
        .await;
    assert!(gone.body.contains("while it was away"), "{}", gone.body);
    let exists = format!("/api/hubs/{HUB}/connections/{id}?{API}");
    assert_eq!(emu.exists(&exists).await, 404);
    assert_eq!(socket(&emu, &connection).await.err(), Some(404));
}

#[tokio::test]
async fn a_sequence_past_what_was_received_closes_the_connection() {
    let (emu, rec) = emulator(|_| {}).await;
    let (connection, mut client) = connect(&emu, None).await;
    client.send_raw(&note(1)).await;
    assert_eq!(
        client.next().await,
        Some(json!({"type": 8, "sequenceId": 1}))
    );
    drop(client);
    wait_away(&emu, &connection.id, true).await;
    let mut client = socket(&emu, &connection).await.unwrap();
    assert_eq!(
        client.next().await,
        Some(json!({"type": 9, "sequenceId": 1}))
    );
    // The emulator received one message, so the client's next one is at most 2.
    client.send_raw("{\"type\":9,\"sequenceId\":3}\u{1e}").await;
    let close = client.next().await.unwrap();
    assert_eq!(close["type"], 7);
    assert_eq!(
        close["error"],
        "Connection closed with an error. Sequence ID greater than amount of messages we've received."
    );
    let gone = rec
        .wait_for(&format!("/up/{HUB}/connections/disconnected"))
        .await;
    assert!(gone.body.contains("Sequence ID greater"), "{}", gone.body);
    assert_eq!(socket(&emu, &connection).await.err(), Some(404));
}

#[tokio::test]
async fn a_bad_sequence_id_closes_the_connection() {
    let (emu, _rec) = emulator(|_| {}).await;
    let (_, mut client) = connect(&emu, None).await;
    client
        .send_raw("{\"type\":8,\"sequenceId\":\"7\"}\u{1e}")
        .await;
    let close = client.next().await.unwrap();
    assert_eq!(close["type"], 7);
    assert!(
        close["error"].as_str().unwrap().contains("`sequenceId`"),
        "{close}"
    );
}

#[tokio::test]
async fn a_second_socket_takes_over_a_live_one() {
    let (emu, rec) = emulator(|_| {}).await;
    let (connection, mut first) = connect(&emu, None).await;
    assert_eq!(
        send(&emu, &format!("connections/{}", connection.id), 1).await,
        202
    );
    assert_eq!(first.next().await, invocation("m", json!([1])));
    // Half-open sockets happen: the client may come back before the emulator saw it go.
    let mut second = socket(&emu, &connection).await.unwrap();
    assert_eq!(
        second.next().await,
        Some(json!({"type": 9, "sequenceId": 1}))
    );
    assert_eq!(second.next().await, invocation("m", json!([1])));
    assert_eq!(first.next().await, None, "the replaced socket is closed");
    second.send_raw("{\"type\":9,\"sequenceId\":1}\u{1e}").await;
    second.send_raw("{\"type\":8,\"sequenceId\":1}\u{1e}").await;
    assert_eq!(
        send(&emu, &format!("connections/{}", connection.id), 2).await,
        202
    );
    assert_eq!(second.next().await, invocation("m", json!([2])));
    second
        .ws
        .send(tokio_tungstenite::tungstenite::Message::Close(None))
        .await
        .unwrap();
    rec.wait_for(&format!("/up/{HUB}/connections/disconnected"))
        .await;
    assert_eq!(calls(&rec, "connected").len(), 1);
}

#[tokio::test]
async fn a_reconnect_needs_a_valid_token_of_the_same_user() {
    let (emu, rec) = emulator(|_| {}).await;
    let (connection, client) = connect(&emu, Some("ann")).await;
    drop(client);
    wait_away(&emu, &connection.id, true).await;
    let audience = format!("http://127.0.0.1/client/?hub={HUB}");
    let expired = json!({ "aud": audience, "asrs.s.uid": "ann", "exp": now() - 60 });
    let with = |access_token: String| Negotiated {
        id: connection.id.clone(),
        token: connection.token.clone(),
        access_token,
    };
    let refused = socket(&emu, &with(sign(DEV_ACCESS_KEY, expired))).await;
    assert_eq!(refused.err(), Some(401), "an expired token does not resume");
    let bob = socket(&emu, &with(client_token(HUB, Some("bob")))).await;
    assert_eq!(bob.err(), Some(403), "another user's token does not resume");
    // A fresh token of the same user does (the app's negotiate would give the same one).
    let mut client = socket(&emu, &with(client_token(HUB, Some("ann"))))
        .await
        .unwrap();
    assert_eq!(
        client.next().await,
        Some(json!({"type": 9, "sequenceId": 1}))
    );
    assert!(calls(&rec, "disconnected").is_empty());
}
