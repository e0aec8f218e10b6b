//! Group streams on the emulator's json subprotocols (`docs/webpubsub.md` §9), frame by frame
//! over real WebSockets: a stream opens with `streamAck 1`, fragments reach the group's members
//! in order with their `stream` object (a reliable member keeps its own `sequenceId`), duplicates
//! are acknowledged but not republished, gaps are nacked, and the end (with a user's error)
//! reaches the members; and the hostile cases: no permission, unknown streams, floods of starts,
//! bad timeouts, oversized fragments, streams left idle and publishers that vanish; and a reliable
//! publisher that recovers its connection mid-stream and replays (duplicates acked, not resent).

use crate::webpubsub_emulator_support;

use std::time::Duration;

use serde_json::{json, Value};
use serverless_signalr::emulator::webpubsub::streams::MAX_STREAMS_PER_CONNECTION;
use webpubsub_emulator_support::*;

const HUB: &str = "streams";
const SEND: &[&str] = &["webpubsub.sendToGroup"];

fn start(id: &str, idle_ms: Option<u64>, no_echo: bool) -> Value {
    let mut stream = json!({ "streamId": id });
    if let Some(ms) = idle_ms {
        stream["idleTimeoutMs"] = ms.into();
    }
    json!({"type":"sendToGroup","group":"g","noEcho":no_echo,"stream":stream})
}

fn data(id: &str, sequence: u64, text: &str) -> Value {
    json!({"type":"streamData","streamId":id,"streamSequenceId":sequence,"dataType":"text","data":text})
}

/// A member's stream frame without its connection-level `sequenceId`.
async fn member_frame(c: &mut Client) -> Value {
    let mut frame = c.next().await;
    if let Some(map) = frame.as_object_mut() {
        map.remove("sequenceId");
    }
    frame
}

fn fragment(id: &str, sequence: u64, text: &str) -> Value {
    json!({"type":"message","from":"group","group":"g","fromUserId":"pub","dataType":"text","data":text,
        "stream":{"streamId":id,"streamSequenceId":sequence}})
}

fn terminal(id: &str, sequence: u64, error: Option<Value>) -> Value {
    let mut stream = json!({"streamId":id,"streamSequenceId":sequence,"endOfStream":true});
    if let Some(error) = error {
        stream["error"] = error;
    }
    json!({"type":"message","from":"group","group":"g","fromUserId":"pub","dataType":"json","stream":stream})
}

fn closed(id: &str, name: Option<&str>) -> Value {
    let mut frame = json!({"type":"streamClosed","streamId":id});
    if let Some(name) = name {
        frame["error"] = json!({ "name": name });
    }
    frame
}

/// The publisher's next frame, with only the error's name kept.
async fn answer(c: &mut Client) -> Value {
    let mut frame = c.next().await;
    if let Some(error) = frame.get_mut("error").and_then(Value::as_object_mut) {
        assert!(
            error.get("message").is_some_and(Value::is_string),
            "{error:?}"
        );
        error.remove("message");
    }
    if frame["type"] == "streamNack" {
        frame.as_object_mut().unwrap().remove("message");
    }
    frame
}

fn ack(id: &str, expected: u64) -> Value {
    json!({"type":"streamAck","streamId":id,"expectedSequenceId":expected})
}

#[tokio::test]
async fn fragments_reach_members_in_order_and_the_end_carries_the_users_error() {
    let wps = spawn().await;
    let mut publisher = Client::open(&wps, HUB, JSON, Some("pub"), SEND, &["g"]).await;
    let mut plain = Client::open(&wps, HUB, JSON, Some("a"), &[], &["g"]).await;
    let mut reliable = Client::open(&wps, HUB, RELIABLE, Some("b"), &[], &["g"]).await;
    publisher.send(start("s", None, true)).await;
    assert_eq!(answer(&mut publisher).await, ack("s", 1));
    for (sequence, text) in [(1, "hel"), (2, "lo")] {
        publisher.send(data("s", sequence, text)).await;
        assert_eq!(answer(&mut publisher).await, ack("s", sequence + 1));
        assert_eq!(
            member_frame(&mut plain).await,
            fragment("s", sequence, text)
        );
    }
    // The reliable member numbers its messages itself, independently of the stream's ids.
    for (sequence, text) in [(1, "hel"), (2, "lo")] {
        let frame = reliable.next().await;
        assert_eq!(frame["sequenceId"], json!(sequence));
        let mut frame = frame;
        frame.as_object_mut().unwrap().remove("sequenceId");
        assert_eq!(frame, fragment("s", sequence, text));
    }
    // A duplicate is acknowledged, not republished; a gap is nacked; a keepalive is silent.
    publisher.send(data("s", 1, "hel")).await;
    assert_eq!(answer(&mut publisher).await, ack("s", 3));
    publisher.send(data("s", 5, "later")).await;
    assert_eq!(
        answer(&mut publisher).await,
        json!({"type":"streamNack","streamId":"s","name":"InvalidSequenceId","expectedSequenceId":3})
    );
    publisher
        .send(json!({"type":"streamData","streamId":"s"}))
        .await;
    plain.quiet(200).await;
    publisher.quiet(0).await;
    publisher
        .send(json!({"type":"streamEnd","streamId":"s","error":{"message":"disk full","userErrorCode":"E42"}}))
        .await;
    assert_eq!(answer(&mut publisher).await, closed("s", None));
    let user_error = json!({"name":"UserError","message":"disk full","userErrorCode":"E42"});
    assert_eq!(
        member_frame(&mut plain).await,
        terminal("s", 3, Some(user_error.clone()))
    );
    assert_eq!(
        member_frame(&mut reliable).await,
        terminal("s", 3, Some(user_error))
    );
    // noEcho kept the publisher (a member too) out of it all.
    publisher.quiet(200).await;
    // The stream is gone; its id may be used again.
    publisher.send(data("s", 3, "x")).await;
    assert_eq!(
        answer(&mut publisher).await,
        closed("s", Some("StreamNotFound"))
    );
    publisher.send(start("s", None, false)).await;
    assert_eq!(answer(&mut publisher).await, ack("s", 1));
    publisher
        .send(json!({"type":"streamEnd","streamId":"s"}))
        .await;
    // Without noEcho the publisher, a member, gets the terminal message before its streamClosed.
    assert_eq!(member_frame(&mut publisher).await, terminal("s", 1, None));
    assert_eq!(answer(&mut publisher).await, closed("s", None));
    assert_eq!(member_frame(&mut plain).await, terminal("s", 1, None));
}

#[tokio::test]
async fn hostile_stream_frames_are_refused_and_bounded() {
    let wps = spawn_with(|c| c.max_message_bytes = 4096).await;
    let mut nobody = Client::open(&wps, HUB, JSON, Some("x"), &[], &[]).await;
    nobody.send(start("s", None, false)).await;
    assert_eq!(answer(&mut nobody).await, closed("s", Some("Forbidden")));
    let mut c = Client::open(&wps, HUB, JSON, Some("pub"), SEND, &[]).await;
    c.send(data("nope", 1, "x")).await;
    assert_eq!(answer(&mut c).await, closed("nope", Some("StreamNotFound")));
    c.send(json!({"type":"streamEnd","streamId":"nope"})).await;
    assert_eq!(answer(&mut c).await, closed("nope", Some("StreamNotFound")));
    for idle in [0, 3_600_001] {
        c.send(start("t", Some(idle), false)).await;
        assert_eq!(answer(&mut c).await, closed("t", Some("BadRequest")));
    }
    c.send(json!({"type":"sendToGroup","group":"g","stream":{"streamId":"t"},"dataType":"text","data":"x"}))
        .await;
    assert_eq!(answer(&mut c).await, closed("t", Some("BadRequest")));
    // A flood of starts: the connection's bound holds, and a start twice is refused.
    for i in 0..MAX_STREAMS_PER_CONNECTION {
        c.send(start(&i.to_string(), None, false)).await;
        assert_eq!(answer(&mut c).await, ack(&i.to_string(), 1));
    }
    c.send(start("0", None, false)).await;
    assert_eq!(answer(&mut c).await, closed("0", Some("BadRequest")));
    c.send(start("one too many", None, false)).await;
    assert_eq!(
        answer(&mut c).await,
        closed("one too many", Some("BadRequest"))
    );
    // A fragment missing its data fails the stream (it is gone after).
    c.send(json!({"type":"streamData","streamId":"1","streamSequenceId":1}))
        .await;
    assert_eq!(answer(&mut c).await, closed("1", Some("BadRequest")));
    c.send(data("1", 1, "x")).await;
    assert_eq!(answer(&mut c).await, closed("1", Some("StreamNotFound")));
    // A frame without a usable streamId cannot be answered: the client is closed.
    let mut d = Client::open(&wps, HUB, JSON, Some("pub"), SEND, &[]).await;
    d.send(json!({"type":"streamData","streamId":7})).await;
    assert_eq!(d.closed().await.0, 1008);
    // A fragment over the frame limit closes the socket.
    c.send(data("2", 1, &"x".repeat(8192))).await;
    assert_eq!(c.closed().await.0, 1009);
}

#[tokio::test]
async fn idle_streams_time_out_and_a_vanished_publisher_cancels_its_streams() {
    let wps = spawn().await;
    let mut publisher = Client::open(&wps, HUB, JSON, Some("pub"), SEND, &[]).await;
    let mut member = Client::open(&wps, HUB, JSON, Some("m"), &[], &["g"]).await;
    publisher.send(start("idle", Some(300), false)).await;
    assert_eq!(answer(&mut publisher).await, ack("idle", 1));
    publisher.send(data("idle", 1, "a")).await;
    assert_eq!(answer(&mut publisher).await, ack("idle", 2));
    assert_eq!(member_frame(&mut member).await, fragment("idle", 1, "a"));
    // Nothing more is sent: within the janitor's round after 300 ms both sides hear of it.
    let closed_at = tokio::time::Instant::now();
    assert_eq!(
        answer(&mut publisher).await,
        closed("idle", Some("IdleTimeout"))
    );
    assert!(closed_at.elapsed() < Duration::from_secs(3));
    let mut end = member_frame(&mut member).await;
    assert!(end["stream"]["error"]["message"].is_string());
    end["stream"]["error"]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert_eq!(
        end,
        terminal("idle", 2, Some(json!({"name":"IdleTimeout"})))
    );
    publisher.send(data("idle", 2, "b")).await;
    assert_eq!(
        answer(&mut publisher).await,
        closed("idle", Some("StreamNotFound"))
    );
    // The publisher's socket goes away (not a reliable client): its open stream is cancelled.
    publisher.send(start("left", None, false)).await;
    assert_eq!(answer(&mut publisher).await, ack("left", 1));
    drop(publisher);
    let mut end = member_frame(&mut member).await;
    end["stream"]["error"]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert_eq!(end, terminal("left", 1, Some(json!({"name":"Cancelled"}))));
}

#[tokio::test]
async fn a_recovered_reliable_publisher_replays_without_loss_or_duplicates() {
    let wps = spawn().await;
    let mut member = Client::open(&wps, HUB, JSON, Some("m"), &[], &["g"]).await;
    let mut publisher = Client::open(&wps, HUB, RELIABLE, Some("pub"), SEND, &[]).await;
    let token = publisher.reconnection_token.clone().unwrap();
    let connection_id = publisher.connection_id.clone();
    publisher.send(start("s", None, false)).await;
    assert_eq!(answer(&mut publisher).await, ack("s", 1));
    for sequence in [1, 2] {
        publisher
            .send(data("s", sequence, &sequence.to_string()))
            .await;
    }
    for sequence in [1, 2] {
        assert_eq!(
            member_frame(&mut member).await,
            fragment("s", sequence, &sequence.to_string())
        );
    }
    // The socket drops; the stream waits with the connection, and members hear nothing.
    drop(publisher);
    member.quiet(300).await;
    let ws = wps.base.replace("http", "ws");
    let url = format!(
        "{ws}/client/hubs/{HUB}?awps_connection_id={connection_id}&awps_reconnection_token={token}"
    );
    let (socket, protocol) = open_url(&url, Some(RELIABLE)).await.unwrap();
    let mut back = Client {
        ws: socket,
        protocol,
        connection_id,
        reconnection_token: None,
    };
    assert_eq!(back.next().await["event"], "connected");
    // The client replays from its oldest unacknowledged fragment (say 2): 2 is a duplicate.
    for sequence in [2, 3] {
        back.send(data("s", sequence, &sequence.to_string())).await;
    }
    let mut acks = Vec::new();
    while acks.len() < 2 {
        let frame = back.next().await;
        if frame["type"] == "streamAck" {
            acks.push(frame["expectedSequenceId"].clone());
        }
    }
    assert_eq!(acks, [json!(3), json!(4)]);
    assert_eq!(member_frame(&mut member).await, fragment("s", 3, "3"));
    back.send(json!({"type":"streamEnd","streamId":"s"})).await;
    assert_eq!(member_frame(&mut member).await, terminal("s", 4, None));
}
