//! The group and close operations of the REST API (2022-06-01 and v1): connection groups, user
//! groups with `ttl`, and closes with reasons and `excluded`, checked with raw WebSocket clients.

use crate::emulator_support;

use std::time::Duration;

use emulator_support::{error_of, invocation, spawn, WsClient};
use reqwest::Method;
use serde_json::json;

const V: &str = "api-version=2022-06-01";

#[tokio::test]
async fn connection_groups() {
    let emu = spawn().await;
    let mut a = WsClient::connect(&emu, "chat", None).await;
    let mut b = WsClient::connect(&emu, "chat", None).await;
    let (ia, ib) = (a.connection_id.clone(), b.connection_id.clone());
    let (_, code, _) = error_of(
        emu.rest(
            Method::HEAD,
            &format!("/api/hubs/chat/groups/room%201?{V}"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(code, "Warning.Group.NotExisted");
    assert_eq!(
        emu.rest(
            Method::PUT,
            &format!("/api/hubs/chat/groups/room%201/connections/{ia}?{V}"),
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        emu.rest(
            Method::PUT,
            &format!("/api/v1/hubs/chat/groups/room%201/connections/{ib}"),
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        emu.exists(&format!("/api/hubs/chat/groups/room%201?{V}"))
            .await,
        200
    );
    let r = emu
        .rest(
            Method::POST,
            &format!("/api/hubs/chat/groups/room%201/:send?{V}&excluded={ib}"),
            Some(json!({"target": "g", "arguments": [1]})),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(a.next().await, invocation("g", json!([1])));
    b.expect_silence(Duration::from_millis(100)).await;
    assert_eq!(
        emu.rest(
            Method::DELETE,
            &format!("/api/hubs/chat/groups/room%201/connections/{ia}?{V}"),
            None
        )
        .await
        .status(),
        200
    );
    let (status, code, _) = error_of(
        emu.rest(
            Method::DELETE,
            &format!("/api/hubs/chat/groups/room%201/connections/{ia}?{V}"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 404, "{code}");
    let r = emu
        .rest(
            Method::POST,
            "/api/v1/hubs/chat/groups/room%201",
            Some(json!({"target": "g", "arguments": [2]})),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(b.next().await, invocation("g", json!([2])));
    a.expect_silence(Duration::from_millis(100)).await;
    assert_eq!(
        emu.rest(
            Method::DELETE,
            &format!("/api/hubs/chat/connections/{ib}/groups?{V}"),
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(emu.exists("/api/v1/hubs/chat/groups/room%201").await, 404);
    let (status, code, _) = error_of(
        emu.rest(
            Method::PUT,
            &format!("/api/hubs/chat/groups/g/connections/ghost?{V}"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "Error.Connection.NotExisted")
    );
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn user_groups_cover_future_connections_and_ttl_expires() {
    let emu = spawn().await;
    assert_eq!(
        emu.rest(
            Method::PUT,
            &format!("/api/hubs/chat/users/ann/groups/fans?{V}"),
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        emu.rest(
            Method::PUT,
            &format!("/api/hubs/chat/users/bob/groups/fans?{V}&ttl=1"),
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        emu.rest(Method::PUT, "/api/v1/hubs/chat/groups/v1/users/bob", None)
            .await
            .status(),
        202
    );
    let mut ann = WsClient::connect(&emu, "chat", Some("ann")).await;
    let mut bob = WsClient::connect(&emu, "chat", Some("bob")).await;
    let send = |group: &'static str| {
        let emu = &emu;
        async move {
            let path = format!("/api/hubs/chat/groups/{group}/:send?{V}");
            emu.rest(
                Method::POST,
                &path,
                Some(json!({"target": "t", "arguments": [group]})),
            )
            .await
        }
    };
    assert_eq!(send("fans").await.status(), 202);
    assert_eq!(ann.next().await, invocation("t", json!(["fans"])));
    assert_eq!(bob.next().await, invocation("t", json!(["fans"])));
    assert_eq!(
        emu.exists(&format!("/api/hubs/chat/users/bob/groups/fans?{V}"))
            .await,
        200
    );
    assert_eq!(
        emu.exists("/api/v1/hubs/chat/groups/v1/users/bob").await,
        200
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (status, code, _) = error_of(
        emu.rest(
            Method::GET,
            &format!("/api/hubs/chat/users/bob/groups/fans?{V}"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "Info.User.NotInGroup"));
    assert_eq!(send("fans").await.status(), 202);
    assert_eq!(ann.next().await, invocation("t", json!(["fans"])));
    bob.expect_silence(Duration::from_millis(100)).await;

    assert_eq!(
        emu.rest(
            Method::DELETE,
            &format!("/api/hubs/chat/users/ann/groups/fans?{V}"),
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        emu.rest(
            Method::DELETE,
            "/api/v1/hubs/chat/groups/v1/users/bob",
            None
        )
        .await
        .status(),
        202
    );
    assert_eq!(send("fans").await.status(), 202);
    assert_eq!(send("v1").await.status(), 202);
    ann.expect_silence(Duration::from_millis(100)).await;
    bob.expect_silence(Duration::from_millis(100)).await;

    assert_eq!(
        emu.rest(
            Method::PUT,
            &format!("/api/hubs/chat/users/ann/groups/a?{V}"),
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        emu.rest(
            Method::PUT,
            &format!("/api/hubs/chat/users/ann/groups/b?{V}&ttl=0"),
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        emu.rest(
            Method::DELETE,
            &format!("/api/hubs/chat/users/ann/groups?{V}"),
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        emu.rest(Method::DELETE, "/api/v1/hubs/chat/users/ann/groups", None)
            .await
            .status(),
        200
    );
    assert_eq!(
        emu.exists(&format!("/api/hubs/chat/groups/a?{V}")).await,
        404
    );
    assert_eq!(
        emu.exists(&format!("/api/hubs/chat/groups/b?{V}")).await,
        404
    );
    let (status, _, body) = error_of(
        emu.rest(
            Method::PUT,
            &format!("/api/hubs/chat/users/ann/groups/a?{V}&ttl=-5"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("ttl"));
    emu.handle.shutdown().await;
}

async fn expect_close(client: &mut WsClient, reason: Option<&str>) {
    let mut expected = json!({"type": 7, "allowReconnect": true});
    if let Some(reason) = reason {
        expected["error"] = json!(reason);
    }
    assert_eq!(client.next().await, Some(expected));
    assert_eq!(
        client.next().await,
        None,
        "the socket should close after the Close message"
    );
}

#[tokio::test]
async fn closing_connections() {
    let emu = spawn().await;
    let mut a = WsClient::connect(&emu, "chat", Some("ann")).await;
    let mut b = WsClient::connect(&emu, "chat", Some("bob")).await;
    let mut c = WsClient::connect(&emu, "chat", Some("bob")).await;
    let mut d = WsClient::connect(&emu, "chat", None).await;
    let ia = a.connection_id.clone();
    assert_eq!(
        emu.rest(
            Method::DELETE,
            &format!("/api/hubs/chat/connections/{ia}?{V}&reason=bye%20now"),
            None
        )
        .await
        .status(),
        200
    );
    expect_close(&mut a, Some("bye now")).await;
    assert_eq!(
        emu.exists(&format!("/api/hubs/chat/connections/{ia}?{V}"))
            .await,
        404
    );
    let r = emu
        .rest(
            Method::POST,
            &format!(
                "/api/hubs/chat/users/bob/:closeConnections?{V}&excluded={}",
                c.connection_id
            ),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    expect_close(&mut b, None).await;
    emu.rest(
        Method::PUT,
        &format!(
            "/api/hubs/chat/groups/g/connections/{}?{V}",
            c.connection_id
        ),
        None,
    )
    .await;
    let r = emu
        .rest(
            Method::POST,
            &format!("/api/hubs/chat/groups/g/:closeConnections?{V}&reason=group"),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    expect_close(&mut c, Some("group")).await;
    assert_eq!(
        emu.rest(
            Method::POST,
            &format!("/api/hubs/chat/:closeConnections?{V}&reason=all"),
            None
        )
        .await
        .status(),
        204
    );
    expect_close(&mut d, Some("all")).await;
    let mut e = WsClient::connect(&emu, "chat", None).await;
    assert_eq!(
        emu.rest(
            Method::DELETE,
            &format!("/api/v1/hubs/chat/connections/{}", e.connection_id),
            None
        )
        .await
        .status(),
        202
    );
    expect_close(&mut e, None).await;
    emu.handle.shutdown().await;
}
