//! The emulator dashboard's live records: group membership changes (REST connection and user
//! operations, and a user membership's `ttl` running out), REST sends with their recipients and
//! how many connections took them, upstream calls with their URL (never its query or user info),
//! status and duration; each list bounded.

use crate::emulator_support;

use emulator_support::dashboard_events::Events;
use emulator_support::recorder::Recorder;
use emulator_support::{spawn, spawn_with, Emu, WsClient};
use reqwest::Method;
use serde_json::{json, Value};
use serverless_signalr::emulator::UpstreamTemplate;

/// A REST call that must succeed (2xx).
async fn rest_ok(emu: &Emu, method: Method, path: &str, body: Option<Value>) {
    let r = emu.rest(method.clone(), path, body).await;
    assert!(r.status().is_success(), "{method} {path}: {}", r.status());
}

/// Opens the event stream and reads its first snapshot.
async fn events(emu: &Emu) -> Events {
    let mut events = Events::open(&emu.base).await;
    assert_eq!(events.next().await.0, "snapshot");
    events
}

async fn expect_groups(events: &mut Events, id: &str, groups: Value) {
    let change = events.next_change("groups").await;
    assert_eq!(change["id"], id, "{change}");
    assert_eq!(change["groups"], groups, "{change}");
}

#[tokio::test]
async fn group_membership_changes_reach_the_dashboard_live() {
    let emu = spawn().await;
    let mut events = events(&emu).await;
    let alice = WsClient::connect(&emu, "chat", Some("alice")).await;
    let bob = WsClient::connect(&emu, "chat", Some("bob")).await;
    let (a, b) = (alice.connection_id.clone(), bob.connection_id.clone());

    // A connection joins and leaves groups (both path shapes, both API versions).
    rest_ok(
        &emu,
        Method::PUT,
        &format!("/api/v1/hubs/chat/groups/room/connections/{a}"),
        None,
    )
    .await;
    expect_groups(&mut events, &a, json!(["room"])).await;
    rest_ok(
        &emu,
        Method::PUT,
        &format!("/api/hubs/chat/connections/{a}/groups/lobby?api-version=2022-06-01"),
        None,
    )
    .await;
    expect_groups(&mut events, &a, json!(["lobby", "room"])).await;
    rest_ok(
        &emu,
        Method::DELETE,
        &format!("/api/v1/hubs/chat/groups/lobby/connections/{a}"),
        None,
    )
    .await;
    expect_groups(&mut events, &a, json!(["room"])).await;
    rest_ok(
        &emu,
        Method::DELETE,
        &format!("/api/v1/hubs/chat/connections/{a}/groups"),
        None,
    )
    .await;
    expect_groups(&mut events, &a, json!([])).await;

    // A user joins: every connection of the user shows it; then leaves one, then all.
    rest_ok(
        &emu,
        Method::PUT,
        "/api/v1/hubs/chat/users/bob/groups/team",
        None,
    )
    .await;
    expect_groups(&mut events, &b, json!(["team"])).await;
    rest_ok(
        &emu,
        Method::PUT,
        "/api/v1/hubs/chat/groups/ops/users/bob",
        None,
    )
    .await;
    expect_groups(&mut events, &b, json!(["ops", "team"])).await;
    rest_ok(
        &emu,
        Method::DELETE,
        "/api/v1/hubs/chat/users/bob/groups/team",
        None,
    )
    .await;
    expect_groups(&mut events, &b, json!(["ops"])).await;
    rest_ok(
        &emu,
        Method::DELETE,
        "/api/v1/hubs/chat/users/bob/groups",
        None,
    )
    .await;
    expect_groups(&mut events, &b, json!([])).await;

    // A user's membership covers its next connection: listed with the group when it connects.
    rest_ok(
        &emu,
        Method::PUT,
        "/api/v1/hubs/chat/users/bob/groups/team",
        None,
    )
    .await;
    expect_groups(&mut events, &b, json!(["team"])).await;
    let bob2 = WsClient::connect(&emu, "chat", Some("bob")).await;
    let connected = events.next_change("connected").await;
    assert_eq!(connected["id"], bob2.connection_id.as_str());
    assert_eq!(connected["groups"], json!(["team"]));

    // A membership with a ttl: the dashboard learns when it runs out, without a REST call.
    rest_ok(
        &emu,
        Method::PUT,
        "/api/v1/hubs/chat/users/alice/groups/short?ttl=1",
        None,
    )
    .await;
    expect_groups(&mut events, &a, json!(["short"])).await;
    expect_groups(&mut events, &a, json!([])).await;

    // A refused operation changes nothing and says nothing.
    let r = emu
        .rest(
            Method::DELETE,
            &format!("/api/v1/hubs/chat/groups/none/connections/{a}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    let snapshot = emu.dashboard_snapshot().await;
    let groups: Vec<(String, Value)> = snapshot["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c["groups"].clone()))
        .collect();
    assert!(groups.contains(&(a.clone(), json!([]))), "{groups:?}");
    assert!(groups.contains(&(b.clone(), json!(["team"]))), "{groups:?}");
    let next = events.next().await.1;
    assert_eq!(
        next["type"], "call",
        "only the refused call follows: {next}"
    );
    assert_eq!(next["status"], 404);
}

#[tokio::test]
async fn sends_are_listed_with_their_recipients_and_how_many_took_them() {
    let emu = spawn().await;
    let alice1 = WsClient::connect(&emu, "chat", Some("alice")).await;
    let _alice2 = WsClient::connect(&emu, "chat", Some("alice")).await;
    let bob = WsClient::connect(&emu, "chat", Some("bob")).await;
    let (a1, b) = (alice1.connection_id.clone(), bob.connection_id.clone());
    rest_ok(
        &emu,
        Method::PUT,
        &format!("/api/v1/hubs/chat/groups/g/connections/{b}"),
        None,
    )
    .await;
    let mut events = events(&emu).await;
    let body = |target: &str| Some(json!({ "target": target, "arguments": ["x"] }));

    let cases = [
        (
            format!("/api/v1/hubs/chat?excluded={b}"),
            "toAll",
            json!("all"),
            Value::Null,
            2,
            1,
        ),
        (
            "/api/v1/hubs/chat/users/alice".to_string(),
            "toUser",
            json!("user"),
            json!("alice"),
            2,
            0,
        ),
        (
            "/api/v1/hubs/chat/groups/g".to_string(),
            "toGroup",
            json!("group"),
            json!("g"),
            1,
            0,
        ),
        (
            format!("/api/v1/hubs/chat/connections/{a1}"),
            "toConn",
            json!("connection"),
            json!(a1),
            1,
            0,
        ),
        (
            "/api/v1/hubs/chat/users/nobody".to_string(),
            "toNobody",
            json!("user"),
            json!("nobody"),
            0,
            0,
        ),
    ];
    for (path, target, recipients, name, received, excluded) in cases {
        rest_ok(&emu, Method::POST, &path, body(target)).await;
        let send = events.next_change("send").await;
        assert_eq!(send["hub"], "chat", "{send}");
        assert_eq!(send["target"], target, "{send}");
        assert_eq!(send["recipients"], recipients, "{send}");
        assert_eq!(send["name"], name, "{send}");
        assert_eq!(send["received"], received, "{send}");
        assert_eq!(send["excluded"], excluded, "{send}");
        assert!(send["at"].as_u64().unwrap() > 0);
    }

    // Bounded: the snapshot keeps the newest 100 sends (and 100 REST calls), oldest first.
    for i in 0..105 {
        rest_ok(
            &emu,
            Method::POST,
            "/api/v1/hubs/chat",
            body(&format!("t{i}")),
        )
        .await;
    }
    let snapshot = emu.dashboard_snapshot().await;
    let sends = snapshot["sends"].as_array().unwrap();
    assert_eq!(sends.len(), 100);
    assert_eq!(sends[0]["target"], "t5");
    assert_eq!(sends[99]["target"], "t104");
    assert_eq!(sends[99]["received"], 3);
    assert_eq!(snapshot["calls"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn upstream_calls_are_listed_without_query_or_credentials() {
    let rec = Recorder::start().await;
    let port = rec.base.rsplit(':').next().unwrap().to_string();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let emu = spawn_with(|c| {
        c.upstream = vec![
            UpstreamTemplate {
                url_template: format!("http://127.0.0.1:{closed_port}/gone?code=gone-secret"),
                hub_pattern: "*".into(),
                category_pattern: "messages".into(),
                event_pattern: "gone".into(),
            },
            UpstreamTemplate::all(format!(
                "http://fn:pw-secret@127.0.0.1:{port}/up/{{hub}}/{{category}}/{{event}}?code=key-secret"
            )),
        ]
    })
    .await;
    let mut events = events(&emu).await;
    let mut alice = WsClient::connect(&emu, "chat", Some("alice")).await;
    let id = alice.connection_id.clone();

    let connected = events.next_change("upstream").await;
    assert_eq!(connected["kind"], "event", "{connected}");
    assert_eq!(connected["event"], "connected");
    assert_eq!(connected["hub"], "chat");
    assert_eq!(connected["connection"], id.as_str());
    assert_eq!(
        connected["url"],
        format!("http://127.0.0.1:{port}/up/chat/connections/connected")
    );
    assert_eq!(connected["status"], 200);
    assert_eq!(connected["error"], Value::Null);
    assert!(connected["durationMs"].is_u64(), "{connected}");

    for (target, status, error) in [
        ("fail", json!(403), Value::Null),
        ("echo", json!(200), Value::Null),
        (
            "gone",
            Value::Null,
            json!("the upstream could not be reached"),
        ),
    ] {
        alice
            .send_raw(&format!(
                "{{\"type\":1,\"invocationId\":\"{target}\",\"target\":\"{target}\",\"arguments\":[]}}\u{1e}"
            ))
            .await;
        let call = events.next_change("upstream").await;
        assert_eq!(call["kind"], "invocation", "{call}");
        assert_eq!(call["event"], target, "{call}");
        assert_eq!(call["status"], status, "{call}");
        assert_eq!(call["error"], error, "{call}");
        let completion = alice.next().await.unwrap();
        assert_eq!(completion["type"], 3, "{completion}");
    }
    let gone = &emu.dashboard_snapshot().await["upstream"][3];
    assert_eq!(gone["url"], format!("http://127.0.0.1:{closed_port}/gone"));

    drop(alice);
    let disconnected = events.next_change("upstream").await;
    assert_eq!(disconnected["event"], "disconnected");
    assert_eq!(disconnected["kind"], "event");

    let snapshot = emu.dashboard_snapshot().await;
    assert_eq!(snapshot["upstream"].as_array().unwrap().len(), 5);
    let text = snapshot.to_string();
    assert!(
        !text.contains("secret") && !text.contains("code="),
        "{text}"
    );
}
