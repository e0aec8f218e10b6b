//! Web PubSub emulator clients over raw WebSockets: group chat with per-group roles, noEcho,
//! Forbidden and Duplicate acks, documented errors for bad frames, oversized frames and hostile
//! tokens, simple clients, the reliable protocol's recovery (rotating its token), and a slow
//! client being closed.

use crate::webpubsub_emulator_support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use tokio_tungstenite::tungstenite::Message;
use webpubsub_emulator_support::*;

const HUB: &str = "chat";

#[tokio::test]
async fn two_users_talk_in_group1_with_its_roles_and_a_user_without_them_is_refused() {
    let wps = spawn().await;
    let roles = [
        "webpubsub.sendToGroup.group1",
        "webpubsub.joinLeaveGroup.group1",
    ];
    let mut ann = Client::open(&wps, HUB, JSON, Some("ann"), &roles, &[]).await;
    let mut bob = Client::open(&wps, HUB, JSON, Some("bob"), &roles, &[]).await;
    let mut eve = Client::open(&wps, HUB, JSON, Some("eve"), &[], &[]).await;
    for (client, id) in [(&mut ann, 1), (&mut bob, 1)] {
        let ack = client
            .request(json!({"type":"joinGroup","group":"group1"}), id)
            .await;
        assert_eq!(ack, json!({"type":"ack","ackId":id,"success":true}));
    }
    let send = json!({"type":"sendToGroup","group":"group1","dataType":"text","data":"hi bob"});
    assert_eq!(ann.request(send.clone(), 2).await["success"], true);
    let expected = json!({"type":"message","from":"group","group":"group1","fromUserId":"ann","dataType":"text","data":"hi bob"});
    assert_eq!(
        ann.next().await,
        expected,
        "echoed to the sender by default"
    );
    assert_eq!(bob.next().await, expected);

    let duplicate = ann.request(send, 2).await;
    assert_eq!(duplicate["error"]["name"], "Duplicate");
    let no_echo = json!({"type":"sendToGroup","group":"group1","data":{"n":1},"noEcho":true});
    assert_eq!(bob.request(no_echo, 3).await["success"], true);
    assert_eq!(ann.next().await["data"], json!({"n":1}));
    bob.quiet(200).await;

    for request in [
        json!({"type":"joinGroup","group":"group1"}),
        json!({"type":"sendToGroup","group":"group1","data":1}),
    ] {
        let ack = eve.request(request, 7).await;
        assert_eq!(ack["success"], false);
        assert_eq!(ack["error"]["name"], "Forbidden");
        assert!(
            ack["error"]["message"]
                .as_str()
                .unwrap()
                .contains("webpubsub."),
            "{ack}"
        );
    }
    let other = ann
        .request(json!({"type":"joinGroup","group":"group2"}), 4)
        .await;
    assert_eq!(
        other["error"]["name"], "Forbidden",
        "group1 roles do not cover group2"
    );
    ann.send(json!({"type":"ping"})).await;
    assert_eq!(ann.next().await, json!({"type":"pong"}));
    assert_eq!(
        bob.request(json!({"type":"leaveGroup","group":"group1"}), 4)
            .await["success"],
        true
    );
    assert_eq!(
        ann.request(
            json!({"type":"sendToGroup","group":"group1","data":2,"noEcho":true}),
            5
        )
        .await["success"],
        true
    );
    bob.quiet(200).await;
}

#[tokio::test]
async fn wildcard_roles_and_event_without_a_handler() {
    let wps = spawn().await;
    let mut ann = Client::open(
        &wps,
        HUB,
        JSON,
        Some("ann"),
        &["webpubsub.joinLeaveGroups.room.*"],
        &[],
    )
    .await;
    assert_eq!(
        ann.request(json!({"type":"joinGroup","group":"room.a"}), 1)
            .await["success"],
        true
    );
    assert_eq!(
        ann.request(json!({"type":"joinGroup","group":"room.a.b"}), 2)
            .await["error"]["name"],
        "Forbidden"
    );
    let event = ann
        .request(
            json!({"type":"event","event":"hello","dataType":"text","data":"x"}),
            3,
        )
        .await;
    assert_eq!(
        event["success"], true,
        "no handler takes it: acknowledged and dropped"
    );
}

#[tokio::test]
async fn bad_frames_get_documented_errors() {
    let wps = spawn().await;
    let mut c = Client::open(&wps, HUB, JSON, Some("ann"), &[], &[]).await;
    let unknown = c.request(json!({"type":"fly"}), 1).await;
    assert_eq!(unknown["error"]["name"], "BadRequest");
    assert!(unknown["error"]["message"]
        .as_str()
        .unwrap()
        .contains("fly"));
    let no_group = c.request(json!({"type":"joinGroup"}), 2).await;
    assert_eq!(no_group["error"]["name"], "BadRequest");
    let bad_data = c
        .request(
            json!({"type":"sendToGroup","group":"g","dataType":"binary","data":"!!"}),
            3,
        )
        .await;
    assert!(bad_data["error"]["message"]
        .as_str()
        .unwrap()
        .contains("base64"));

    c.ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(c.next().await["event"], "disconnected");
    let (code, reason) = c.closed().await;
    assert_eq!(code, 1008);
    assert!(reason.contains("not valid JSON"), "{reason}");

    let mut c = Client::open(&wps, HUB, JSON, Some("ann"), &[], &[]).await;
    c.send(json!({"type":"joinGroup","group":"g","ackId":"one"}))
        .await;
    assert!(c.next().await["message"]
        .as_str()
        .unwrap()
        .contains("ackId"));
    assert_eq!(c.closed().await.0, 1008);

    let mut c = Client::open(&wps, HUB, JSON, Some("ann"), &[], &[]).await;
    c.ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    c.next().await;
    assert_eq!(c.closed().await.0, 1003);

    let mut c = Client::open(&wps, HUB, JSON, Some("ann"), &[], &[]).await;
    let big = json!({"type":"sendToGroup","group":"g","data":"x".repeat(2 * 1024 * 1024)});
    let _ = c.ws.send(Message::text(big.to_string())).await;
    assert!(c.next().await["message"]
        .as_str()
        .unwrap()
        .contains("larger than the limit"));
    assert_eq!(c.closed().await.0, 1009);
    // The emulator is still fine.
    Client::open(&wps, HUB, JSON, Some("ann"), &[], &[]).await;
}

#[tokio::test]
async fn hostile_tokens_are_refused_at_the_upgrade() {
    let wps = spawn().await;
    let ws = wps.base.replace("http", "ws");
    let aud = format!("{}/client/hubs/{HUB}", wps.base);
    let cases = [
        sign("wrong key", &json!({"aud": aud, "exp": now() + 60})),
        sign(DEV_ACCESS_KEY, &json!({"aud": aud})),
        sign(DEV_ACCESS_KEY, &json!({"aud": aud, "exp": now() - 600})),
        sign(
            DEV_ACCESS_KEY,
            &json!({"aud": format!("{}/client/hubs/other", wps.base), "exp": now() + 60}),
        ),
        sign(
            DEV_ACCESS_KEY,
            &json!({"aud": format!("{}/api/hubs/{HUB}", wps.base), "exp": now() + 60}),
        ),
        format!(
            "eyJhbGciOiJub25lIn0.{}.",
            base64_url(&json!({"aud": aud, "exp": now() + 60}).to_string())
        ),
        "garbage".into(),
    ];
    for token in cases {
        let status = open_url(
            &format!("{ws}/client/hubs/{HUB}?access_token={token}"),
            Some(JSON),
        )
        .await
        .err();
        assert_eq!(status, Some(401), "token {token}");
    }
    assert_eq!(
        open_url(&format!("{ws}/client/hubs/{HUB}"), Some(JSON))
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        open_url(&format!("{ws}/client/hubs/1bad?access_token=x"), Some(JSON))
            .await
            .err(),
        Some(400)
    );
    // The /client/?hub= form and the Authorization header work too.
    let token = client_token(&wps, HUB, Some("ann"), &[], &[]);
    assert!(open_url(
        &format!("{ws}/client/?hub={HUB}&access_token={token}"),
        Some(JSON)
    )
    .await
    .is_ok());
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "{ws}/client/hubs/{HUB}"
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    // A plain GET is told to open a WebSocket.
    let plain = reqwest::get(format!(
        "{}/client/hubs/{HUB}?access_token={token}",
        wps.base
    ))
    .await
    .unwrap();
    assert_eq!(plain.status(), 400);
}

fn base64_url(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn simple_clients_send_to_a_group_with_the_role() {
    let wps = spawn().await;
    let mut ann = Client::open(&wps, HUB, JSON, Some("ann"), &[], &["g"]).await;
    let ws = wps.base.replace("http", "ws");
    let without = client_token(&wps, HUB, Some("raw"), &[], &[]);
    let url = |token: &str| {
        format!("{ws}/client/hubs/{HUB}?webpubsub_mode=sendToGroup&group=g&access_token={token}")
    };
    assert_eq!(open_url(&url(&without), None).await.err(), Some(403));
    let with = client_token(&wps, HUB, Some("raw"), &["webpubsub.sendToGroup.g"], &[]);
    let (mut raw, _) = open_url(&url(&with), None).await.unwrap();
    raw.send(Message::text("plain text")).await.unwrap();
    assert_eq!(
        ann.next().await,
        json!({"type":"message","from":"group","group":"g","fromUserId":"raw","dataType":"text","data":"plain text"})
    );
    // sendEvent mode without an event handler: the frame cannot go anywhere, the client is closed.
    let (ws_event, _) = open_url(
        &format!("{ws}/client/hubs/{HUB}?access_token={without}"),
        None,
    )
    .await
    .unwrap();
    let mut event = Client {
        ws: ws_event,
        protocol: None,
        connection_id: String::new(),
        reconnection_token: None,
    };
    event.ws.send(Message::text("hello")).await.unwrap();
    let (code, reason) = event.closed().await;
    assert_eq!(code, 1008);
    assert!(reason.contains("no event handler"), "{reason}");
}

#[tokio::test]
async fn a_simple_client_is_reachable_as_soon_as_it_has_its_101() {
    let wps = spawn().await;
    let ws = wps.base.replace("http", "ws");
    // Without a `connected` frame a simple client cannot wait for anything: the send right after
    // the upgrade must reach it (repeated, since losing the race was not certain each time).
    for n in 0..30 {
        let user = format!("u{n}");
        let token = client_token(&wps, HUB, Some(&user), &[], &[]);
        let (mut raw, _) = open_url(
            &format!("{ws}/client/hubs/{HUB}?access_token={token}"),
            None,
        )
        .await
        .unwrap();
        let path = format!("/api/hubs/{HUB}/users/{user}/:send");
        assert_eq!(wps.send_json(&path, json!(n)).await, 202);
        let frame = tokio::time::timeout(Duration::from_secs(5), raw.next())
            .await
            .unwrap_or_else(|_| panic!("send {n} never arrived"));
        match frame {
            Some(Ok(Message::Text(text))) => assert_eq!(text.as_str(), n.to_string()),
            other => panic!("send {n}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn reliable_clients_recover_without_losing_messages() {
    let wps = spawn().await;
    let mut c = Client::open(&wps, HUB, RELIABLE, Some("ann"), &[], &[]).await;
    let token = c.reconnection_token.clone().expect("a reconnectionToken");
    assert_eq!(
        wps.send_json(&format!("/api/hubs/{HUB}/:send"), json!(1))
            .await,
        202
    );
    let first = c.next().await;
    assert_eq!(
        (first["sequenceId"].clone(), first["data"].clone()),
        (json!(1), json!(1))
    );
    c.send(json!({"type":"sequenceAck","sequenceId":1})).await;
    // The socket drops (no Close frame); messages sent meanwhile wait for the client.
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let head = wps
        .rest("HEAD", "/api/hubs/chat/users/ann", None)
        .await
        .status;
    assert_eq!(
        head, 200,
        "a dropped reliable connection is kept for recovery"
    );
    assert_eq!(
        wps.send_json(&format!("/api/hubs/{HUB}/users/ann/:send"), json!(2))
            .await,
        202
    );
    assert_eq!(
        wps.send_json(&format!("/api/hubs/{HUB}/users/ann/:send"), json!(3))
            .await,
        202
    );
    let ws = wps.base.replace("http", "ws");
    let connection_id = first_connection(&wps).await;
    let wrong = format!(
        "{ws}/client/hubs/{HUB}?awps_connection_id={connection_id}&awps_reconnection_token=nope"
    );
    let (bad, _) = open_url(&wrong, Some(RELIABLE)).await.unwrap();
    let mut bad = Client {
        ws: bad,
        protocol: None,
        connection_id: String::new(),
        reconnection_token: None,
    };
    assert_eq!(
        bad.closed().await.0,
        1008,
        "a failed recovery closes with 1008"
    );
    let right = format!(
        "{ws}/client/hubs/{HUB}?awps_connection_id={connection_id}&awps_reconnection_token={token}"
    );
    let (back, chosen) = open_url(&right, Some(RELIABLE)).await.unwrap();
    assert_eq!(chosen.as_deref(), Some(RELIABLE));
    let mut back = Client {
        ws: back,
        protocol: chosen,
        connection_id: connection_id.clone(),
        reconnection_token: None,
    };
    // Each recovery rotates the reconnection token, in a `connected` frame first.
    let connected = back.next().await;
    assert_eq!(
        (&connected["event"], &connected["connectionId"]),
        (&json!("connected"), &json!(connection_id)),
        "{connected}"
    );
    let rotated = connected["reconnectionToken"].as_str().unwrap().to_string();
    assert_ne!(rotated, token);
    for (seq, data) in [(2, 2), (3, 3)] {
        let m = back.next().await;
        assert_eq!(
            (m["sequenceId"].clone(), m["data"].clone()),
            (json!(seq), json!(data)),
            "{m}"
        );
    }
    // The token just used cannot take the connection over again.
    let (again, _) = open_url(&right, Some(RELIABLE)).await.unwrap();
    let mut again = Client {
        ws: again,
        protocol: None,
        connection_id: String::new(),
        reconnection_token: None,
    };
    assert_eq!(again.closed().await.0, 1008);
    back.quiet(200).await;
}

/// The id of the only connection, found through a group it is added to.
async fn first_connection(wps: &Wps) -> String {
    assert_eq!(
        wps.rest("PUT", "/api/hubs/chat/users/ann/groups/probe", None)
            .await
            .status,
        200
    );
    let list = wps
        .rest("GET", "/api/hubs/chat/groups/probe/connections", None)
        .await
        .json();
    list["value"][0]["connectionId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_client_that_does_not_read_is_closed_not_buffered() {
    let wps = spawn_with(|c| c.max_queued_bytes = 256 * 1024).await;
    let slow = Client::open(&wps, HUB, JSON, Some("slow"), &[], &[]).await;
    let chunk = "x".repeat(512 * 1024);
    let mut gone = false;
    for _ in 0..200 {
        wps.rest(
            "POST",
            "/api/hubs/chat/users/slow/:send",
            Some(("text/plain", chunk.clone().into_bytes())),
        )
        .await;
        if wps
            .rest("HEAD", "/api/hubs/chat/users/slow", None)
            .await
            .status
            == 404
        {
            gone = true;
            break;
        }
    }
    assert!(
        gone,
        "the slow client must be dropped once its queue is full"
    );
    drop(slow);
}
