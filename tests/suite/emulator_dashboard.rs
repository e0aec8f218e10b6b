//! The emulator's dashboard over HTTP: the page at `/` with a strict CSP, the snapshot with hubs,
//! connections (transport, user, groups) and REST calls without their query, the live event
//! stream (connect, groups, call, disconnect); with 1000 connections, a complete snapshot and a
//! stream that still answers live.

use crate::emulator_support;

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

    let snapshot = emu.dashboard_snapshot().await;
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

/// Reads the snapshot, with how long it took (measured, not asserted: the machine is shared).
async fn timed_snapshot(emu: &emulator_support::Emu) -> (Value, Duration) {
    let started = Instant::now();
    let snapshot = emu.dashboard_snapshot().await;
    (snapshot, started.elapsed())
}

#[tokio::test]
async fn the_dashboard_with_a_thousand_connections() {
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
    // Every tenth user in a group, through the REST API.
    for client in clients.iter().step_by(10) {
        let path = format!(
            "/api/v1/hubs/load/groups/tenth/connections/{}",
            client.connection_id
        );
        let r = emu.rest(reqwest::Method::PUT, &path, None).await;
        assert_eq!(r.status(), 200);
    }

    // The snapshot is complete: every connection with its user, transport and groups.
    let (snapshot, took) = timed_snapshot(&emu).await;
    println!("snapshot of 1000 connections: {took:?}");
    assert_eq!(
        snapshot["hubs"],
        json!([{ "name": "load", "connections": 1000 }])
    );
    let listed = snapshot["connections"].as_array().unwrap();
    assert_eq!(listed.len(), 1000);
    let by_id: std::collections::HashMap<&str, &Value> = listed
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c))
        .collect();
    for (i, client) in clients.iter().enumerate() {
        let c = by_id[client.connection_id.as_str()];
        assert_eq!(c["user"], format!("user-{i}"));
        assert_eq!(c["transport"], "WebSockets");
        let groups = if i % 10 == 0 {
            json!(["tenth"])
        } else {
            json!([])
        };
        assert_eq!(c["groups"], groups, "{c}");
    }

    // The event stream starts with the same snapshot, then keeps answering live.
    let started = Instant::now();
    let mut events = Events::open(&emu.base).await;
    let (name, first) = events.next().await;
    println!("event stream's first snapshot: {:?}", started.elapsed());
    assert_eq!(name, "snapshot");
    assert_eq!(first["connections"].as_array().unwrap().len(), 1000);

    let started = Instant::now();
    assert_eq!(emu.send_all("load", "tick", json!([1])).await, 202);
    let send = events.next_change("send").await;
    println!(
        "a broadcast to 1000, seen on the stream: {:?}",
        started.elapsed()
    );
    assert_eq!(send["received"], 1000);
    assert_eq!(send["recipients"], "all");

    let gone = clients.pop().unwrap();
    let gone_id = gone.connection_id.clone();
    drop(gone);
    let change = events.next_change("disconnected").await;
    assert_eq!(change["id"], gone_id.as_str());
    let late = WsClient::connect(&emu, "load", Some("late")).await;
    let change = events.next_change("connected").await;
    assert_eq!(change["id"], late.connection_id.as_str());

    let (snapshot, took) = timed_snapshot(&emu).await;
    println!("snapshot after the changes: {took:?}");
    let ids: Vec<&str> = snapshot["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1000);
    assert!(!ids.contains(&gone_id.as_str()));
    assert!(ids.contains(&late.connection_id.as_str()));
}
