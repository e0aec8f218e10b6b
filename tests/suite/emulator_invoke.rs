//! Client results and server-to-client streams (REST 2024-12-01) against the real emulator with
//! raw WebSocket clients: `:invoke` sends an Invocation with a service id and answers with the
//! client's Completion (result or error), a timeout, or the connection's end; the pending table
//! stays bounded and empty afterwards (timeouts, callers that go away, 1 000 concurrent invokes
//! to one connection); hostile bodies and names get ErrorDetails; `streams/{id}/:send` and
//! `:complete` feed a stream the client opened, until it completes or is cancelled.

use crate::emulator_support;

use std::time::{Duration, Instant};

use emulator_support::{error_of, spawn_with, Emu, WsClient};
use reqwest::Method;
use serde_json::{json, Value};

const V: &str = "api-version=2024-12-01";

fn invoke_path(connection: &str) -> String {
    format!("/api/hubs/chat/connections/{connection}/:invoke?{V}")
}

/// Starts an `:invoke` of `target(args)` on `connection`; the answer comes from the task.
fn invoke(emu: &Emu, connection: &str, body: Value) -> tokio::task::JoinHandle<(u16, Value)> {
    let (http, base) = (emu.http.clone(), emu.base.clone());
    let path = invoke_path(connection);
    tokio::spawn(async move {
        let token = emulator_support::rest_token(path.split('?').next().unwrap());
        let response = http
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

/// The next invocation the client receives: its id, after checking target and arguments.
async fn next_invocation(client: &mut WsClient, target: &str, arguments: Value) -> String {
    let message = client.next().await.expect("an invocation");
    assert_eq!(message["type"], 1, "{message}");
    assert_eq!(
        (&message["target"], &message["arguments"]),
        (&json!(target), &arguments)
    );
    let id = message["invocationId"]
        .as_str()
        .expect("an invocation id")
        .to_string();
    assert!(id.starts_with('s'), "a service id: {id}");
    id
}

async fn answer(client: &mut WsClient, completion: Value) {
    client.send_raw(&format!("{completion}\u{1e}")).await;
}

#[tokio::test]
async fn invoke_answers_with_the_clients_result_or_error() {
    // Long enough that a loaded machine (the whole suite runs in parallel) answers in time; only
    // the one silent invocation below waits it out.
    let emu = spawn_with(|c| c.invoke_timeout = Duration::from_secs(2)).await;
    let mut client = WsClient::connect(&emu, "chat", None).await;
    let id = client.connection_id.clone();

    let call = invoke(
        &emu,
        &id,
        json!({"Target": "ask", "Arguments": [{"z": 1, "a": [true]}]}),
    );
    let sent = next_invocation(&mut client, "ask", json!([{"z": 1, "a": [true]}])).await;
    // An unknown id and another connection's id are ignored; the real answer wins.
    answer(
        &mut client,
        json!({"type": 3, "invocationId": "s999999", "result": 0}),
    )
    .await;
    answer(
        &mut client,
        json!({"type": 3, "invocationId": sent, "result": {"ok": [1, "é"]}}),
    )
    .await;
    assert_eq!(
        call.await.unwrap(),
        (200, json!({"result": {"ok": [1, "é"]}}))
    );

    let call = invoke(&emu, &id, json!({"target": "fail"}));
    let sent = next_invocation(&mut client, "fail", json!([])).await;
    answer(
        &mut client,
        json!({"type": 3, "invocationId": sent, "error": "Error: boom"}),
    )
    .await;
    let (status, body) = call.await.unwrap();
    assert_eq!(
        (status, &body["code"], &body["message"]),
        (
            400,
            &json!("Error.Invocation.ClientError"),
            &json!("Error: boom")
        )
    );

    // A void answer, then silence: a timeout, and the late answer goes nowhere.
    let call = invoke(&emu, &id, json!({"target": "void"}));
    let sent = next_invocation(&mut client, "void", json!([])).await;
    answer(&mut client, json!({"type": 3, "invocationId": sent})).await;
    assert_eq!(call.await.unwrap(), (200, json!({})));
    let call = invoke(&emu, &id, json!({"target": "silent"}));
    let sent = next_invocation(&mut client, "silent", json!([])).await;
    let (status, body) = call.await.unwrap();
    assert_eq!(
        (status, &body["code"]),
        (504, &json!("Error.Invocation.Timeout"))
    );
    answer(
        &mut client,
        json!({"type": 3, "invocationId": sent, "result": 1}),
    )
    .await;
    assert_eq!(emu.handle.pending_invocations(), 0);
    // The connection is still open and answers.
    let call = invoke(&emu, &id, json!({"target": "again"}));
    let sent = next_invocation(&mut client, "again", json!([])).await;
    answer(
        &mut client,
        json!({"type": 3, "invocationId": sent, "result": null}),
    )
    .await;
    assert_eq!(call.await.unwrap(), (200, json!({"result": null})));
}

#[tokio::test]
async fn pending_invocations_stay_bounded_and_are_freed() {
    let emu = spawn_with(|c| {
        c.max_pending_invocations = (100, 10_000);
        c.invoke_timeout = Duration::from_secs(60);
    })
    .await;
    let mut client = WsClient::connect(&emu, "chat", None).await;
    let id = client.connection_id.clone();
    let calls: Vec<_> = (0..1000)
        .map(|i| invoke(&emu, &id, json!({"target": "n", "arguments": [i]})))
        .collect();
    let mut ids = Vec::new();
    for _ in 0..100 {
        let message = client.next().await.expect("an invocation");
        ids.push(message["invocationId"].as_str().unwrap().to_string());
    }
    // Every other call is refused at once, while the first 100 wait.
    let deadline = Instant::now() + Duration::from_secs(30);
    while calls.iter().filter(|c| c.is_finished()).count() < 900 {
        assert!(
            Instant::now() < deadline,
            "the calls over the bound were not refused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(emu.handle.pending_invocations(), 100);
    for sent in &ids {
        answer(
            &mut client,
            json!({"type": 3, "invocationId": sent, "result": sent}),
        )
        .await;
    }
    let mut statuses = std::collections::BTreeMap::new();
    for call in calls {
        let (status, body) = call.await.unwrap();
        if status == 429 {
            assert_eq!(body["code"], "Error.Invocation.TooMany");
        }
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert_eq!(statuses, [(200, 100), (429, 900)].into_iter().collect());
    assert_eq!(emu.handle.pending_invocations(), 0);

    // A caller that goes away frees its entry.
    let path = invoke_path(&id);
    let token = emulator_support::rest_token(path.split('?').next().unwrap());
    let gone = emu
        .http
        .post(format!("{}{path}", emu.base))
        .bearer_auth(token)
        .json(&json!({"target": "slow"}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(gone.is_err(), "the caller gave up");
    client.next().await.expect("the invocation");
    let deadline = Instant::now() + Duration::from_secs(5);
    while emu.handle.pending_invocations() != 0 {
        assert!(
            Instant::now() < deadline,
            "the entry of a caller that left stays"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The connection ending fails its invocations at once.
    let call = invoke(&emu, &id, json!({"target": "never"}));
    client.next().await.expect("the invocation");
    let started = Instant::now();
    drop(client);
    let (status, body) = call.await.unwrap();
    assert_eq!(
        (status, &body["code"]),
        (404, &json!("Error.Connection.Closed"))
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(emu.handle.pending_invocations(), 0);
}

#[tokio::test]
async fn hostile_invokes_get_error_details() {
    let emu = spawn_with(|_| {}).await;
    let client = WsClient::connect(&emu, "chat", None).await;
    let id = client.connection_id.clone();
    let post = |path: String, body: Vec<u8>| {
        let token = emulator_support::rest_token(path.split('?').next().unwrap());
        emu.http
            .post(format!("{}{path}", emu.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let huge = format!(
        r#"{{"target":"t","arguments":["{}"]}}"#,
        "x".repeat(2 << 20)
    );
    for (path, body, status, code) in [
        (
            invoke_path("nobody"),
            r#"{"target":"t"}"#.to_string(),
            404,
            "Error.Connection.NotExisted",
        ),
        (
            invoke_path(&id),
            r#"{"target":""}"#.into(),
            400,
            "Error.Request.Invalid",
        ),
        (
            invoke_path(&id),
            r#"{"target":"t","arguments":{}}"#.into(),
            400,
            "Error.Request.Invalid",
        ),
        (invoke_path(&id), "[1]".into(), 400, "Error.Request.Invalid"),
        (invoke_path(&id), huge, 413, "Error.Request.TooLarge"),
        (
            invoke_path(&"c".repeat(2000)),
            r#"{"target":"t"}"#.into(),
            400,
            "Error.Argument.Invalid",
        ),
    ] {
        let (got, got_code, _) =
            error_of(post(path.clone(), body.into_bytes()).await.unwrap()).await;
        assert_eq!((got, got_code.as_str()), (status, code), "{path}");
    }
    let response = emu.rest(Method::GET, &invoke_path(&id), None).await;
    assert_eq!(response.status(), 405);
    assert_eq!(emu.handle.pending_invocations(), 0);
}

#[tokio::test]
async fn streams_the_client_opened_get_items_and_completions() {
    let emu = spawn_with(|c| c.max_open_streams = 2).await;
    let mut client = WsClient::connect(&emu, "chat", None).await;
    let id = client.connection_id.clone();
    let stream =
        |s: &str, op: &str| format!("/api/hubs/chat/connections/{id}/streams/{s}/{op}?{V}");
    let emu = &emu;
    let send = |s: &str, query: &str, item: Value| {
        let path = format!("{}{query}", stream(s, ":send"));
        async move { emu.rest(Method::POST, &path, Some(item)).await }
    };
    assert_eq!(
        error_of(send("7", "", json!(1)).await).await.1,
        "Error.Stream.NotExisted"
    );

    let open = |s: &str| {
        format!(
            "{{\"type\":4,\"invocationId\":\"{s}\",\"target\":\"count\",\"arguments\":[]}}\u{1e}"
        )
    };
    client
        .send_raw(&format!("{}{}{}", open("7"), open("8"), open("9")))
        .await;
    // The third is over the limit of two: completed with an error at once.
    let refused = client.next().await.unwrap();
    assert_eq!(
        (&refused["type"], &refused["invocationId"]),
        (&json!(3), &json!("9"))
    );
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .contains("Too many open streams"));

    assert_eq!(send("7", "", json!({"b": 1, "a": 2})).await.status(), 202);
    assert_eq!(
        client.next().await,
        Some(json!({"type": 2, "invocationId": "7", "item": {"b": 1, "a": 2}}))
    );
    assert_eq!(
        send("7", "&completed=true", json!("last")).await.status(),
        202
    );
    assert_eq!(
        client.next().await,
        Some(json!({"type": 2, "invocationId": "7", "item": "last"}))
    );
    assert_eq!(
        client.next().await,
        Some(json!({"type": 3, "invocationId": "7"}))
    );
    assert_eq!(send("7", "", json!(1)).await.status(), 404);

    let complete = emu
        .rest(
            Method::POST,
            &format!("{}&error=out%20of%20items", stream("8", ":complete")),
            None,
        )
        .await;
    assert_eq!(complete.status(), 202);
    assert_eq!(
        client.next().await,
        Some(json!({"type": 3, "invocationId": "8", "error": "out of items"}))
    );

    // A cancelled stream is closed.
    client.send_raw(&open("10")).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while send("10", "", json!(0)).await.status() != 202 {
        assert!(Instant::now() < deadline, "the stream never opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        client.next().await,
        Some(json!({"type": 2, "invocationId": "10", "item": 0}))
    );
    client
        .send_raw("{\"type\":5,\"invocationId\":\"10\"}\u{1e}")
        .await;
    while send("10", "", json!(0)).await.status() != 404 {
        assert!(Instant::now() < deadline, "the cancelled stream stays open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (path, status) in [
        (stream(&"s".repeat(101), ":send"), 400),
        (stream("%20", ":complete"), 400),
        (format!("{}&completed=maybe", stream("10", ":send")), 400),
    ] {
        assert_eq!(
            emu.rest(Method::POST, &path, Some(json!(1))).await.status(),
            status,
            "{path}"
        );
    }
}
