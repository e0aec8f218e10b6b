//! `invoke` / `invokeResponse` / `cancelInvocation` on the emulator's json subprotocols against a
//! real local event handler: the invocation reaches the handler as a user event, its answer comes
//! back correlated (data and dataType from the answer's content type), a refusal or the time
//! limit becomes `success: false` with an error name and the client stays connected, a
//! cancelled invocation is never answered, and pending invocations are bounded.

use crate::webpubsub_emulator_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};
use serverless_signalr::emulator::webpubsub::invocations::MAX_PENDING;
use serverless_signalr::emulator::webpubsub::EventHandler;
use webpubsub_emulator_support::*;

const HUB: &str = "calls";

/// The `ce-type` and body of each event the handler got.
type Log = Arc<Mutex<Vec<(String, Bytes)>>>;

/// A handler answering per event name: `add` sums a JSON array, `text` answers text, `bad` 400s,
/// `gone` 404s, `broken` 503s, `slow` sleeps past the time limit, `empty` answers 204.
async fn handler() -> (String, Log) {
    let log: Log = Arc::default();
    let seen = Arc::clone(&log);
    let app = Router::new().route(
        "/{*path}",
        any(move |method: Method, headers: HeaderMap, body: Bytes| {
            let seen = Arc::clone(&seen);
            async move {
                if method == Method::OPTIONS {
                    return (StatusCode::OK, [("WebHook-Allowed-Origin", "*")]).into_response();
                }
                let ce_type = headers
                    .get("ce-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                seen.lock().unwrap().push((ce_type.clone(), body.clone()));
                answer(&ce_type, &body).await
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

async fn answer(ce_type: &str, body: &Bytes) -> Response {
    match ce_type.strip_prefix("azure.webpubsub.user.").unwrap_or("") {
        "add" => {
            let numbers: Vec<i64> = serde_json::from_slice(body).unwrap_or_default();
            axum::Json(json!({ "sum": numbers.iter().sum::<i64>() })).into_response()
        }
        "text" => (
            [("content-type", "text/plain; charset=utf-8")],
            format!("got {}", String::from_utf8_lossy(body)),
        )
            .into_response(),
        "bad" => (StatusCode::BAD_REQUEST, "numbers only").into_response(),
        "gone" => StatusCode::NOT_FOUND.into_response(),
        "broken" => (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn emulator(url: &str, user_events: &str) -> Wps {
    let spec = format!("{url}/events/{{hub}}/{{event}};user={user_events}");
    let handler = EventHandler::parse(&spec).unwrap();
    spawn_with(|c| {
        c.event_handlers = vec![handler];
        c.event_timeout = Duration::from_millis(800);
    })
    .await
}

fn invoke(id: &str, event: &str, data: Option<(&str, Value)>) -> Value {
    let mut frame = json!({"type":"invoke","invocationId":id,"target":"event","event":event});
    if let Some((data_type, data)) = data {
        frame["dataType"] = data_type.into();
        frame["data"] = data;
    }
    frame
}

/// Reads frames until the `invokeResponse` of `id`.
async fn response_of(c: &mut Client, id: &str) -> Value {
    loop {
        let frame = c.next().await;
        if frame["type"] == "invokeResponse" && frame["invocationId"] == id {
            return frame;
        }
    }
}

#[tokio::test]
async fn invocations_are_answered_by_the_handler_and_failures_keep_the_client() {
    let (url, log) = handler().await;
    let wps = emulator(&url, "*").await;
    for protocol in [JSON, RELIABLE] {
        let roles = ["webpubsub.joinLeaveGroup"];
        let mut c = Client::open(&wps, HUB, protocol, Some("ann"), &roles, &[]).await;
        c.send(invoke("1", "add", Some(("json", json!([1, 2, 3])))))
            .await;
        assert_eq!(
            response_of(&mut c, "1").await,
            json!({"type":"invokeResponse","invocationId":"1","success":true,"dataType":"json","data":{"sum":6}})
        );
        c.send(invoke("2", "text", Some(("text", json!("hi")))))
            .await;
        let text = response_of(&mut c, "2").await;
        assert_eq!(
            (&text["dataType"], &text["data"]),
            (&json!("text"), &json!("got hi"))
        );
        c.send(invoke("3", "empty", None)).await;
        assert_eq!(
            response_of(&mut c, "3").await,
            json!({"type":"invokeResponse","invocationId":"3","success":true})
        );
        c.send(invoke("4", "bad", Some(("json", json!(1))))).await;
        assert_eq!(
            response_of(&mut c, "4").await["error"],
            json!({"name":"BadRequest","message":"numbers only"})
        );
        for (id, event, name) in [
            ("5", "gone", "NotFound"),
            ("6", "broken", "InternalServerError"),
            ("7", "slow", "Timeout"),
        ] {
            c.send(invoke(id, event, Some(("text", json!("x"))))).await;
            let failed = response_of(&mut c, id).await;
            assert_eq!(failed["success"], false, "{failed}");
            assert_eq!(failed["error"]["name"], name, "{failed}");
        }
        // Unlike a refused `event`, a failed invocation leaves the client connected.
        let ack = c.request(json!({"type":"joinGroup","group":"g"}), 9).await;
        assert_eq!(ack["success"], true, "{ack}");
    }
    let seen = log.lock().unwrap().clone();
    let add = seen
        .iter()
        .find(|(t, _)| t == "azure.webpubsub.user.add")
        .expect("the invocation reached the handler as a user event");
    assert_eq!(add.1.as_ref(), b"[1,2,3]");
}

#[tokio::test]
async fn bad_invocations_are_refused_with_their_id_and_unknown_events_are_not_found() {
    let (url, _) = handler().await;
    let wps = emulator(&url, "add,slow").await;
    let mut c = Client::open(&wps, HUB, JSON, Some("bo"), &[], &[]).await;
    let refusals = [
        (
            invoke("p", "add", Some(("protobuf", json!("AQI=")))),
            "BadRequest",
            "protobuf",
        ),
        (
            json!({"type":"invoke","invocationId":"t","target":"server","event":"add"}),
            "BadRequest",
            "target",
        ),
        (invoke("n", "1x", None), "BadRequest", "event name"),
        (
            invoke("d", "add", Some(("binary", json!("!!")))),
            "BadRequest",
            "base64",
        ),
        (
            invoke("u", "unrouted", None),
            "NotFound",
            "no event handler",
        ),
    ];
    for (frame, name, says) in refusals {
        let id = frame["invocationId"].as_str().unwrap().to_string();
        c.send(frame).await;
        let refused = response_of(&mut c, &id).await;
        assert_eq!(refused["error"]["name"], name, "{refused}");
        assert!(
            refused["error"]["message"].as_str().unwrap().contains(says),
            "{refused}"
        );
    }
    // Without an invocationId nothing can be answered: the frame is malformed.
    c.send(json!({"type":"invoke","event":"add"})).await;
    assert_eq!(c.closed().await.0, 1008);
}

#[tokio::test]
async fn cancelled_invocations_are_never_answered_and_pending_ones_are_bounded() {
    let (url, log) = handler().await;
    let wps = spawn_with(|c| {
        let spec = format!("{url}/events/{{hub}}/{{event}}");
        c.event_handlers = vec![EventHandler::parse(&spec).unwrap()];
        c.event_timeout = Duration::from_secs(3);
    })
    .await;
    let mut c = Client::open(&wps, HUB, JSON, Some("cy"), &[], &[]).await;
    c.send(invoke("cancelled", "slow", None)).await;
    c.send(json!({"type":"cancelInvocation","invocationId":"cancelled"}))
        .await;
    // A cancel of an unknown invocation is ignored.
    c.send(json!({"type":"cancelInvocation","invocationId":"never"}))
        .await;
    for i in 0..MAX_PENDING {
        c.send(invoke(&format!("f{i}"), "slow", None)).await;
    }
    c.send(invoke("f0", "slow", None)).await;
    assert_eq!(
        response_of(&mut c, "f0").await["error"]["name"],
        "Duplicate"
    );
    c.send(invoke("over", "slow", None)).await;
    assert_eq!(
        response_of(&mut c, "over").await["error"]["name"],
        "TooManyRequests"
    );
    // Each pending one times out with its own answer; the cancelled one never answers.
    let mut timed_out = 0;
    while timed_out < MAX_PENDING {
        let frame = c.next().await;
        assert_ne!(frame["invocationId"], "cancelled", "{frame}");
        if frame["type"] == "invokeResponse" && frame["error"]["name"] == "Timeout" {
            timed_out += 1;
        }
    }
    c.quiet(500).await;
    let calls = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| t.starts_with("azure.webpubsub.user."))
        .count();
    assert!(calls <= MAX_PENDING + 1, "{calls} handler calls");
}
