//! Every REST operation of api-version 2022-06-01 and v1 against a real emulator, with raw
//! WebSocket clients checking who receives what, and the documented status and error codes.

use crate::emulator_support;

use std::time::Duration;

use emulator_support::{error_of, invocation, spawn, Emu, WsClient};
use reqwest::Method;
use serde_json::json;

const V: &str = "api-version=2022-06-01";

#[tokio::test]
async fn health_needs_no_token() {
    let emu = spawn().await;
    for path in [
        "/api/health",
        "/api/v1/health",
        "/api/health?api-version=2022-06-01",
    ] {
        for method in [Method::HEAD, Method::GET] {
            let r = emu
                .http
                .request(method, format!("{}{path}", emu.base))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
        }
    }
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn broadcast_reaches_everyone_but_the_excluded() {
    let emu = spawn().await;
    let mut a = WsClient::connect(&emu, "chat", None).await;
    let mut b = WsClient::connect(&emu, "Chat", None).await;
    let mut c = WsClient::connect(&emu, "chat", None).await;
    let mut other_hub = WsClient::connect(&emu, "other", None).await;
    assert_eq!(
        emu.send_all("CHAT", "hello", json!(["x", 1, {"k": true}]))
            .await,
        202
    );
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(
            client.next().await,
            invocation("hello", json!(["x", 1, {"k": true}]))
        );
    }
    let path = format!(
        "/api/hubs/chat/:send?{V}&excluded={}&excluded={}",
        a.connection_id, b.connection_id
    );
    let r = emu
        .rest(
            Method::POST,
            &path,
            Some(json!({"Target": "only", "Arguments": []})),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(c.next().await, invocation("only", json!([])));
    let path = format!(
        "/api/v1/hubs/chat?excluded={},{}",
        a.connection_id, c.connection_id
    );
    let r = emu
        .rest(Method::POST, &path, Some(json!({"target": "v1"})))
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(b.next().await, invocation("v1", json!([])));
    a.expect_silence(Duration::from_millis(200)).await;
    other_hub.expect_silence(Duration::from_millis(100)).await;
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn a_capital_v1_and_empty_segments_are_routed_as_the_normal_path() {
    let emu = spawn().await;
    let mut a = WsClient::connect(&emu, "chat", None).await;
    // The token's audience is the URL as called, not its normal form.
    for (n, path) in ["/api/V1/hubs/chat/:send", "/api//hubs/chat/:send/"]
        .into_iter()
        .enumerate()
    {
        let target = format!("lenient{n}");
        let r = emu
            .rest(Method::POST, path, Some(json!({"target": target})))
            .await;
        assert_eq!(r.status(), 202, "{path}");
        assert_eq!(a.next().await, invocation(&target, json!([])));
    }
    let (status, code, _) = error_of(
        emu.rest(Method::POST, "/api/V1/hubs/chat/nothing", None)
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "Error.Route.NotFound"));
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn users_and_connections() {
    let emu = spawn().await;
    let mut ann1 = WsClient::connect(&emu, "chat", Some("ann")).await;
    let mut ann2 = WsClient::connect(&emu, "chat", Some("ann")).await;
    let mut bob = WsClient::connect(&emu, "chat", Some("bob")).await;
    let body = Some(json!({"target": "dm", "arguments": ["hi"]}));
    assert_eq!(
        emu.rest(
            Method::POST,
            &format!("/api/hubs/chat/users/ann/:send?{V}"),
            body.clone()
        )
        .await
        .status(),
        202
    );
    assert_eq!(ann1.next().await, invocation("dm", json!(["hi"])));
    assert_eq!(ann2.next().await, invocation("dm", json!(["hi"])));
    assert_eq!(
        emu.rest(Method::POST, "/api/v1/hubs/chat/users/bob", body.clone())
            .await
            .status(),
        202
    );
    assert_eq!(bob.next().await, invocation("dm", json!(["hi"])));
    ann1.expect_silence(Duration::from_millis(100)).await;

    let id = bob.connection_id.clone();
    let r = emu
        .rest(
            Method::POST,
            &format!("/api/hubs/chat/connections/{id}/:send?{V}"),
            body.clone(),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(bob.next().await, invocation("dm", json!(["hi"])));
    let r = emu
        .rest(
            Method::POST,
            &format!("/api/v1/hubs/chat/connections/{id}"),
            body.clone(),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(bob.next().await, invocation("dm", json!(["hi"])));
    ann2.expect_silence(Duration::from_millis(100)).await;

    assert_eq!(
        emu.exists(&format!("/api/hubs/chat/connections/{id}?{V}"))
            .await,
        200
    );
    assert_eq!(
        emu.exists(&format!("/api/v1/hubs/chat/connections/{id}"))
            .await,
        200
    );
    assert_eq!(
        emu.exists(&format!("/api/hubs/chat/users/ann?{V}")).await,
        200
    );
    let (status, code, _) = error_of(
        emu.rest(
            Method::HEAD,
            &format!("/api/hubs/chat/connections/nope?{V}"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "Warning.Connection.NotExisted")
    );
    let (status, code, body) = error_of(
        emu.rest(Method::GET, "/api/v1/hubs/chat/users/carol", None)
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "Warning.User.NotExisted"));
    assert_eq!(body["code"], "Warning.User.NotExisted");
    assert!(body["message"].as_str().unwrap().contains("carol"));
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let emu: Emu = spawn().await;
    let post = |path: &str, body: &str, kind: &str| {
        let p = path.split('?').next().unwrap().to_string();
        emu.http
            .post(format!("{}{path}", emu.base))
            .bearer_auth(emulator_support::rest_token(&p))
            .header("Content-Type", kind.to_string())
            .body(body.to_string())
            .send()
    };
    let path = format!("/api/hubs/chat/:send?{V}");
    let big = format!(
        "{{\"target\":\"t\",\"arguments\":[\"{}\"]}}",
        "x".repeat(1024 * 1024 + 10)
    );
    let (status, code, body) = error_of(post(&path, &big, "application/json").await.unwrap()).await;
    assert_eq!((status, code.as_str()), (413, "Error.Request.TooLarge"));
    assert!(body["message"].as_str().unwrap().contains("1048576"));
    for (bad, needle) in [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        ("{\"arguments\":[]}", "no target"),
        ("{\"target\":\"\"}", "must not be empty"),
        ("{\"target\":\"t\",\"arguments\":5}", "array"),
        ("", "empty"),
    ] {
        let (status, code, body) =
            error_of(post(&path, bad, "application/json").await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "Error.Request.Invalid"),
            "{bad}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{bad}: {body}"
        );
    }
    // MessagePack bodies are read (see emulator_msgpack.rs); broken ones say what to send.
    for (kind, needle) in [
        (
            "application/x-msgpack",
            "{\"target\": \"…\", \"arguments\": […]} as a MessagePack map",
        ),
        (
            "application/octet-stream",
            "{\"json\": <bin: JSON invocation frame>",
        ),
    ] {
        let (status, code, body) =
            error_of(post(&path, "{\"target\":\"t\"}", kind).await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "Error.Request.Invalid"),
            "{kind}"
        );
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(needle), "{kind}: {message}");
    }
    let (status, _, body) = error_of(post(&path, "t", "text/plain").await.unwrap()).await;
    assert_eq!(status, 415);
    assert!(body["message"].as_str().unwrap().contains("text/plain"));
    let (status, code, body) = error_of(
        post(
            &format!("/api/hubs/1chat/:send?{V}"),
            "{\"target\":\"t\"}",
            "application/json",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "Error.Argument.Invalid"));
    assert!(body["message"].as_str().unwrap().contains("hub"));
    let (status, ..) = error_of(
        post(
            &format!("/api/hubs/chat/groups/%20%20/:send?{V}"),
            "{\"target\":\"t\"}",
            "application/json",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, code, _) = error_of(
        emu.rest(Method::GET, "/api/hubs/chat/nothing/here", None)
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "Error.Route.NotFound"));
    let r = emu
        .rest(Method::PATCH, &format!("/api/hubs/chat/:send?{V}"), None)
        .await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let r = emu
        .http
        .get(format!("{}/somewhere", emu.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The emulator still works.
    assert_eq!(emu.send_all("chat", "t", json!([])).await, 202);
    emu.handle.shutdown().await;
}
