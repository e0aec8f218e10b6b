//! The Web PubSub emulator's dashboard over HTTP: the page at `/` with its CSP, loopback only;
//! the live event stream (a snapshot, then changes) as a real reliable client connects, joins a
//! group, a REST send reaches it, it invokes a user event and opens a group stream; the
//! snapshot's connections (user, subprotocol, groups, roles as granted), sends, event handler
//! calls (URL without query or user info) and invocations; the streams in flight; and no token,
//! reconnection token or access key anywhere in the page, the snapshot or the events.

use crate::emulator_support::dashboard_events::Events;
use crate::webpubsub_emulator_support;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};
use serverless_signalr::emulator::activity::RECENT_CALLS;
use serverless_signalr::emulator::webpubsub::EventHandler;
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use webpubsub_emulator_support::*;

const HUB: &str = "board";
const HANDLER_KEY: &str = "handler-function-key-1234";

/// An event handler answering every event with 204 (and `ping` with JSON).
async fn handler() -> String {
    let app = Router::new().route(
        "/{*path}",
        any(|method: Method, headers: HeaderMap| async move {
            if method == Method::OPTIONS {
                return (StatusCode::OK, [("WebHook-Allowed-Origin", "*")]).into_response();
            }
            match headers.get("ce-eventName").and_then(|v| v.to_str().ok()) {
                Some("ping") => axum::Json(json!({ "pong": true })).into_response(),
                _ => StatusCode::NO_CONTENT.into_response(),
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://fn:pw@127.0.0.1:{port}/events/{{hub}}/{{event}}?code={HANDLER_KEY}")
}

async fn emulator() -> Wps {
    let spec = format!("{};user=*;system=connected,disconnected", handler().await);
    let handler = EventHandler::parse(&spec).unwrap();
    spawn_with(|c| c.event_handlers = vec![handler]).await
}

async fn get(wps: &Wps, path: &str) -> reqwest::Response {
    wps.http
        .get(format!("{}{path}", wps.base))
        .send()
        .await
        .unwrap()
}

/// The next change of `kind` about connection `id` (others skipped).
async fn change_of(events: &mut Events, kind: &str, id: &str) -> Value {
    loop {
        let change = events.next_change(kind).await;
        let about = change.get("id").or_else(|| change.get("connection"));
        if about == Some(&json!(id)) {
            return change;
        }
    }
}

#[tokio::test]
async fn the_page_is_served_with_its_csp_and_only_to_loopback() {
    let wps = spawn().await;
    let page = get(&wps, "/").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("Web PubSub emulator"));
    for file in ["live.js", "webpubsub.js", "dashboard.css"] {
        assert!(html.contains(&format!("dashboard/{file}")), "{file}");
        let r = get(&wps, &format!("/dashboard/{file}")).await;
        assert_eq!(r.status(), 200, "{file}");
    }
    let unknown = get(&wps, "/dashboard/nope").await;
    assert_eq!(unknown.status(), 404);
    // A page on a name that resolves to 127.0.0.1 (DNS rebinding) does not reach it.
    let rebound = wps
        .http
        .get(format!("{}/dashboard/snapshot", wps.base))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
}

#[tokio::test]
async fn a_clients_session_shows_live_and_in_the_snapshot_without_secrets() {
    let wps = emulator().await;
    let mut events = Events::open(&wps.base).await;
    let (first, data) = events.next().await;
    assert_eq!(first, "snapshot");
    assert_eq!(data["connections"], json!([]));
    // On its own, it links to no other dashboard.
    assert_eq!(data["sibling"], Value::Null);
    let mut stream_text = data.to_string();

    let roles = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup.room"];
    let token = client_token(&wps, HUB, Some("ann"), &roles, &["lobby"]);
    let mut c = Client::open(&wps, HUB, RELIABLE, Some("ann"), &roles, &["lobby"]).await;
    let id = c.connection_id.clone();
    let connected = change_of(&mut events, "connection", &id).await;
    assert_eq!(connected["user"], "ann");
    assert_eq!(connected["subprotocol"], RELIABLE);
    assert_eq!(connected["groups"], json!(["lobby"]));
    assert_eq!(connected["roles"], json!(roles));
    stream_text.push_str(&connected.to_string());

    // It joins a group; a REST send reaches it.
    let joined = c
        .request(json!({"type":"joinGroup","group":"room"}), 1)
        .await;
    assert_eq!(joined["success"], true, "{joined}");
    let change = change_of(&mut events, "connection", &id).await;
    assert_eq!(change["groups"], json!(["lobby", "room"]));
    let status = wps
        .send_json(
            &format!("/api/hubs/{HUB}/groups/room/:send"),
            json!({"hi": 1}),
        )
        .await;
    assert_eq!(status, 202);
    let send = events.next_change("send").await;
    assert_eq!(
        (
            &send["hub"],
            &send["recipients"],
            &send["name"],
            &send["received"],
            &send["dataType"]
        ),
        (
            &json!(HUB),
            &json!("group"),
            &json!("room"),
            &json!(1),
            &json!("json")
        )
    );
    stream_text.push_str(&send.to_string());

    // It invokes a user event; the handler call and the invocation are listed.
    c.send(json!({"type":"invoke","invocationId":"7","target":"event","event":"ping"}))
        .await;
    let call = loop {
        let call = change_of(&mut events, "event", &id).await;
        if call["event"] == "azure.webpubsub.user.ping" {
            break call;
        }
    };
    assert_eq!(call["status"], 200, "{call}");
    let url = call["url"].as_str().unwrap();
    assert!(url.ends_with(&format!("/events/{HUB}/ping")), "{url}");
    assert!(!url.contains("fn:pw") && !url.contains('?'), "{url}");
    let invocation = change_of(&mut events, "invocation", &id).await;
    assert_eq!(
        (
            &invocation["invocationId"],
            &invocation["event"],
            &invocation["outcome"]
        ),
        (&json!("7"), &json!("ping"), &json!("success"))
    );
    stream_text.push_str(&call.to_string());
    stream_text.push_str(&invocation.to_string());

    // It opens a group stream and sends two fragments: the stream is in flight.
    c.send(json!({"type":"sendToGroup","group":"room","noEcho":true,"stream":{"streamId":"s1"}}))
        .await;
    for sequence in 1..=2 {
        c.send(json!({"type":"streamData","streamId":"s1","streamSequenceId":sequence,"dataType":"text","data":"x"}))
            .await;
    }
    let mut in_flight = Value::Null;
    for _ in 0..50 {
        in_flight = get(&wps, "/dashboard/streams").await.json().await.unwrap();
        if in_flight["streams"][0]["nextSequenceId"] == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stream = &in_flight["streams"][0];
    assert_eq!(
        (
            &stream["group"],
            &stream["connection"],
            &stream["streamId"],
            &stream["nextSequenceId"]
        ),
        (&json!("room"), &json!(id), &json!("s1"), &json!(3)),
        "{in_flight}"
    );

    // The snapshot holds it all.
    let snapshot: Value = get(&wps, "/dashboard/snapshot").await.json().await.unwrap();
    assert_eq!(snapshot["hubs"], json!([{"name": HUB, "connections": 1}]));
    let row = &snapshot["connections"][0];
    assert_eq!(
        (&row["id"], &row["groups"]),
        (&json!(id), &json!(["lobby", "room"]))
    );
    assert_eq!(snapshot["sends"].as_array().unwrap().len(), 1);
    assert!(snapshot["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["invocationId"] == "7"));
    assert!(snapshot["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == "azure.webpubsub.sys.connected"));

    // No secret anywhere: not the client's token, its reconnection token, the access key or
    // the handler's key.
    let page = get(&wps, "/").await.text().await.unwrap();
    let script = get(&wps, "/dashboard/webpubsub.js")
        .await
        .text()
        .await
        .unwrap();
    let reconnection = c.reconnection_token.clone().unwrap();
    for (name, text) in [
        ("snapshot", snapshot.to_string()),
        ("streams", in_flight.to_string()),
        ("events", stream_text),
        ("page", page + &script),
    ] {
        for secret in [
            token.as_str(),
            reconnection.as_str(),
            DEV_ACCESS_KEY,
            HANDLER_KEY,
            "fn:pw",
        ] {
            assert!(!text.contains(secret), "the {name} shows a secret");
        }
    }

    // The reliable client's socket drops: it is away (it may recover); closed, it is gone.
    c.ws.close(None).await.unwrap();
    let away = change_of(&mut events, "connection", &id).await;
    assert_eq!(away["away"], true, "{away}");
    let closed = wps
        .rest("DELETE", &format!("/api/hubs/{HUB}/connections/{id}"), None)
        .await;
    assert_eq!(closed.status, 204);
    let gone = change_of(&mut events, "disconnected", &id).await;
    assert_eq!(gone["id"], json!(id));
}

#[tokio::test]
async fn recent_sends_are_bounded() {
    let wps = spawn().await;
    for _ in 0..RECENT_CALLS + 5 {
        let status = wps
            .send_json(&format!("/api/hubs/{HUB}/:send"), json!("x"))
            .await;
        assert_eq!(status, 202);
    }
    let snapshot: Value = get(&wps, "/dashboard/snapshot").await.json().await.unwrap();
    let sends = snapshot["sends"].as_array().unwrap();
    assert_eq!(sends.len(), RECENT_CALLS);
    assert!(sends
        .iter()
        .all(|s| s["recipients"] == "all" && s["received"] == 0));
}
