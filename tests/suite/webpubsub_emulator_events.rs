//! The Web PubSub emulator's event handler against a real local HTTP handler: abuse protection
//! first, CloudEvents headers and `ce-signature`, a blocking `connect` that sets user, groups and
//! roles or refuses the upgrade with its status, user events answered back to the client,
//! `ce-connectionState`, the time limit, and a handler that fails the handshake.

use crate::webpubsub_emulator_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};
use serverless_signalr::emulator::webpubsub::EventHandler;
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::{signature, Secret};
use webpubsub_emulator_support::*;

const HUB: &str = "chat";

/// One request the handler saw.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Starts a handler that answers like an app: OPTIONS allowed (unless `allow` is false),
/// `connect` per the query's user (`deny` → 401), user event `echo` answered with its body.
async fn handler(allow: bool) -> (String, Log) {
    let log: Log = Arc::default();
    let state = Arc::clone(&log);
    let app = Router::new().route(
        "/{*path}",
        any(
            move |method: Method, uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let log = Arc::clone(&state);
                async move {
                    log.lock().unwrap().push(Seen {
                        method: method.clone(),
                        path: uri.path().to_string(),
                        headers: headers.clone(),
                        body: body.clone(),
                    });
                    respond(allow, &method, &headers, &body).await
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

async fn respond(allow: bool, method: &Method, headers: &HeaderMap, body: &Bytes) -> Response {
    if method == Method::OPTIONS {
        return if allow {
            (StatusCode::OK, [("WebHook-Allowed-Origin", "*")]).into_response()
        } else {
            StatusCode::OK.into_response()
        };
    }
    let header = |n: &str| {
        headers
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    match header("ce-type").as_str() {
        "azure.webpubsub.sys.connect" => {
            let connect: Value = serde_json::from_slice(body).unwrap();
            if connect["query"]["who"][0] == "deny" {
                return (StatusCode::UNAUTHORIZED, "not you").into_response();
            }
            let answer = json!({"userId": "from-handler", "groups": ["g-handler"], "roles": ["webpubsub.sendToGroup"]});
            (
                StatusCode::OK,
                [("ce-connectionState", "c3RhdGU=")],
                axum::Json(answer),
            )
                .into_response()
        }
        "azure.webpubsub.user.echo" => (
            StatusCode::OK,
            [("content-type", "text/plain")],
            format!("echo: {}", String::from_utf8_lossy(body)),
        )
            .into_response(),
        "azure.webpubsub.user.slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            StatusCode::NO_CONTENT.into_response()
        }
        "azure.webpubsub.user.fail" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn wps_with(url: &str) -> Wps {
    let handler = EventHandler::parse(&format!("{url}/events/{{hub}}/{{event}}")).unwrap();
    spawn_with(|c| {
        c.event_handlers = vec![handler];
        c.event_timeout = Duration::from_millis(1500);
    })
    .await
}

fn connect_url(wps: &Wps, query: &str) -> String {
    let token = client_token(wps, HUB, Some("token-user"), &[], &[]);
    format!(
        "{}/client/hubs/{HUB}?access_token={token}&{query}",
        wps.base.replace("http", "ws")
    )
}

#[tokio::test]
async fn connect_sets_user_groups_roles_and_later_events_carry_headers_and_state() {
    let (url, log) = handler(true).await;
    let wps = wps_with(&url).await;
    let (ws, chosen) = open_url(&connect_url(&wps, "who=ann"), Some(JSON))
        .await
        .unwrap();
    assert_eq!(chosen.as_deref(), Some(JSON));
    let mut c = Client {
        ws,
        protocol: chosen,
        connection_id: String::new(),
        reconnection_token: None,
    };
    let connected = c.next().await;
    assert_eq!(connected["userId"], "from-handler");
    let id = connected["connectionId"].as_str().unwrap().to_string();
    assert_eq!(
        wps.rest("HEAD", &format!("/api/hubs/{HUB}/groups/g-handler"), None)
            .await
            .status,
        200
    );
    let send = c
        .request(json!({"type":"sendToGroup","group":"any","data":1}), 1)
        .await;
    assert_eq!(
        send["success"], true,
        "the role came from the connect answer"
    );

    c.send(json!({"type":"event","event":"echo","dataType":"text","data":"hi","ackId":2}))
        .await;
    assert_eq!(
        c.next().await,
        json!({"type":"message","from":"server","dataType":"text","data":"echo: hi"})
    );
    assert_eq!(
        c.next().await,
        json!({"type":"ack","ackId":2,"success":true})
    );

    let seen = log.lock().unwrap().clone();
    assert_eq!(seen[0].method, Method::OPTIONS, "abuse protection first");
    // The endpoint's host and port, as a handler set up with the endpoint expects.
    let endpoint_host = wps.base.trim_start_matches("http://");
    assert_eq!(seen[0].headers["webhook-request-origin"], endpoint_host);
    assert_eq!(seen[1].headers["webhook-request-origin"], endpoint_host);
    let connect = &seen[1];
    assert_eq!(connect.path, format!("/events/{HUB}/connect"));
    let body: Value = serde_json::from_slice(&connect.body).unwrap();
    assert_eq!(body["claims"]["sub"], json!(["token-user"]));
    assert_eq!(body["subprotocols"], json!([JSON]));
    assert!(
        body["query"].get("access_token").is_none(),
        "the token is not passed on"
    );
    let echo = seen.iter().find(|s| s.path.ends_with("/echo")).unwrap();
    for (name, value) in [
        ("ce-specversion", "1.0"),
        ("ce-type", "azure.webpubsub.user.echo"),
        ("ce-hub", HUB),
        ("ce-eventname", "echo"),
        ("ce-userid", "from-handler"),
        ("ce-subprotocol", JSON),
        ("ce-connectionstate", "c3RhdGU="),
        ("ce-awpsversion", "1.0"),
        ("content-type", "text/plain"),
    ] {
        assert_eq!(echo.headers[name], value, "{name}");
    }
    assert_eq!(echo.headers["ce-connectionid"], id.as_str());
    assert_eq!(
        echo.headers["ce-source"],
        format!("/hubs/{HUB}/client/{id}").as_str()
    );
    let sig = echo.headers["ce-signature"].as_bytes();
    assert!(signature::is_valid(
        Some(sig),
        id.as_bytes(),
        [&Secret::new(DEV_ACCESS_KEY)]
    ));
    assert!(seen.iter().any(|s| s
        .headers
        .get("ce-type")
        .is_some_and(|t| t == "azure.webpubsub.sys.connected")));

    drop(c);
    let mut disconnected = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        disconnected = log.lock().unwrap().iter().any(|s| {
            s.headers
                .get("ce-type")
                .is_some_and(|t| t == "azure.webpubsub.sys.disconnected")
        });
        if disconnected {
            break;
        }
    }
    assert!(disconnected, "the disconnected event");
}

#[tokio::test]
async fn a_refusing_connect_handler_refuses_the_upgrade_with_its_status() {
    let (url, _) = handler(true).await;
    let wps = wps_with(&url).await;
    assert_eq!(
        open_url(&connect_url(&wps, "who=deny"), Some(JSON))
            .await
            .err(),
        Some(401)
    );
}

#[tokio::test]
async fn failing_slow_and_unvalidated_handlers() {
    let (url, _) = handler(true).await;
    let wps = wps_with(&url).await;
    let (ws, _) = open_url(&connect_url(&wps, "who=ann"), Some(JSON))
        .await
        .unwrap();
    let mut c = Client {
        ws,
        protocol: None,
        connection_id: String::new(),
        reconnection_token: None,
    };
    c.next().await;
    let slow = c
        .request(json!({"type":"event","event":"slow","data":1}), 1)
        .await;
    assert_eq!(slow["error"]["name"], "InternalServerError", "{slow}");
    let fail = c
        .request(json!({"type":"event","event":"fail","data":1}), 2)
        .await;
    assert_eq!(fail["error"]["name"], "InternalServerError");
    assert_eq!(
        c.closed().await.0,
        1011,
        "a failing user event drops the connection"
    );

    let (url, _) = handler(false).await;
    let wps = wps_with(&url).await;
    assert_eq!(
        open_url(&connect_url(&wps, ""), Some(JSON)).await.err(),
        Some(500),
        "abuse protection failed"
    );
}
