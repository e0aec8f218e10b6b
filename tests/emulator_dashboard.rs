//! The emulator's dashboard over HTTP: the page at `/` with a strict CSP, the snapshot with hubs,
//! connections (transport, user, groups) and REST calls without their query, the live event
//! stream (connect, call, disconnect) and a snapshot of 1000 connections.

mod emulator_support;

use std::time::{Duration, Instant};

use emulator_support::dashboard_events::Events;
use emulator_support::{spawn, WsClient};
use serde_json::{json, Value};

#[tokio::test]
async fn the_dashboard_page_and_its_live_stream() {
    let emu = spawn().await;
    let page = emu.http.get(format!("{}/", emu.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("dashboard/dashboard.js"));

    let mut events = Events::open(&emu.base).await;
    let (name, first) = events.next().await;
    assert_eq!(name, "snapshot");
    assert_eq!(first["connections"], json!([]));

    let alice = WsClient::connect(&emu, "chat", Some("alice")).await;
    let (name, change) = events.next().await;
    assert_eq!(name, "change");
    assert_eq!(change["type"], "connected");
    assert_eq!(change["id"], alice.connection_id.as_str());
    assert_eq!(change["user"], "alice");
    assert_eq!(change["transport"], "WebSockets");
    assert_eq!(change["protocol"], "json");

    // A REST call: recorded with its status, never its query.
    let status = emu
        .rest(
            reqwest::Method::PUT,
            &format!(
                "/api/v1/hubs/chat/groups/room-1/connections/{}?secret=x",
                alice.connection_id
            ),
            None,
        )
        .await;
    assert_eq!(status.status(), 200);
    // The membership change first, then the call that made it.
    let (_, change) = events.next().await;
    assert_eq!(change["type"], "groups");
    assert_eq!(change["groups"], json!(["room-1"]));
    let (_, change) = events.next().await;
    assert_eq!(change["type"], "call");
    assert_eq!(change["method"], "PUT");
    assert_eq!(change["status"], 200);
    assert!(!change["path"].as_str().unwrap().contains('?'));

    let snapshot: Value = emu
        .http
        .get(format!("{}/dashboard/snapshot", emu.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        snapshot["hubs"],
        json!([{ "name": "chat", "connections": 1 }])
    );
    assert_eq!(snapshot["connections"][0]["groups"], json!(["room-1"]));
    assert_eq!(snapshot["calls"].as_array().unwrap().len(), 1);
    assert!(!snapshot.to_string().contains("secret"));

    drop(alice);
    let (_, change) = events.next().await;
    assert_eq!(change["type"], "disconnected");
}

#[tokio::test]
async fn a_snapshot_of_a_thousand_connections() {
    let emu = spawn().await;
    let users: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
    let mut clients = Vec::new();
    for batch in users.chunks(100) {
        let opened = futures_util::future::join_all(
            batch
                .iter()
                .map(|user| WsClient::connect(&emu, "load", Some(user))),
        )
        .await;
        clients.extend(opened);
    }
    let started = Instant::now();
    let snapshot: Value = emu
        .http
        .get(format!("{}/dashboard/snapshot", emu.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snapshot["connections"].as_array().unwrap().len(), 1000);
    assert_eq!(
        snapshot["hubs"],
        json!([{ "name": "load", "connections": 1000 }])
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    // The event stream starts with the same snapshot.
    let mut events = Events::open(&emu.base).await;
    let (name, first) = events.next().await;
    assert_eq!(name, "snapshot");
    assert_eq!(first["connections"].as_array().unwrap().len(), 1000);
}
