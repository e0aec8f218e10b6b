//! The app's invoke route against real emulators: the client's result comes back as
//! `{"result": …}`, its error as `502 ClientError`, silence as `504` after
//! `SIGNALR_INVOKE_TIMEOUT_SECONDS`, an unknown connection as `404`; bad bodies are refused before
//! any call; with two endpoints the one that has the connection answers. The Node e2e
//! (`tests/e2e/invoke.test.mjs`) drives the same route with the official clients.

use serde_json::{json, Value};
use serverless_signalr::app::settings::{EndpointArgs, ServeArgs, Settings};

use crate::emulator_support::{self as emu, Emu, WsClient};
use crate::support::{keyed, spawn_app_with, AppOptions, TestApp};

async fn app_over(endpoints: &[&Emu]) -> TestApp {
    let strings: Vec<String> = endpoints
        .iter()
        .map(|e| e.handle.connection_string())
        .collect();
    app_over_strings(&strings).await
}

async fn app_over_strings(connection_strings: &[String]) -> TestApp {
    let mut args = keyed();
    args.endpoints = EndpointArgs::from_pairs(
        connection_strings
            .iter()
            .enumerate()
            .map(|(i, cs)| (format!("Azure:SignalR:Endpoints:e{i}"), cs.clone())),
    );
    args.invoke_timeout_seconds = Some("1".into());
    spawn_app_with(args, AppOptions::default()).await
}

/// Starts an invoke through the app; the answer comes from the task.
fn invoke(app: &TestApp, connection: &str, body: Value) -> tokio::task::JoinHandle<(u16, Value)> {
    let request = app
        .http
        .post(format!(
            "{}/api/hubs/chat/connections/{connection}/invoke",
            app.url
        ))
        .header("x-functions-key", "test-key")
        .json(&body);
    tokio::spawn(async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

async fn answer_next(client: &mut WsClient, completion: impl FnOnce(&str) -> Value) {
    let message = client.next().await.expect("an invocation");
    let id = message["invocationId"].as_str().expect("an id");
    client.send_raw(&format!("{}\u{1e}", completion(id))).await;
}

#[tokio::test]
async fn the_endpoint_with_the_connection_answers() {
    let (east, west) = (emu::spawn().await, emu::spawn().await);
    let app = app_over(&[&east, &west]).await;
    let mut client = WsClient::connect(&west, "chat", None).await;
    let id = client.connection_id.clone();

    let call = invoke(&app, &id, json!({"Target": "ask", "arguments": [1]}));
    answer_next(
        &mut client,
        |s| json!({"type": 3, "invocationId": s, "result": {"z": 1, "a": 2}}),
    )
    .await;
    let (status, body) = call.await.unwrap();
    assert_eq!((status, &body), (200, &json!({"result": {"z": 1, "a": 2}})));
    let keys: Vec<&String> = body["result"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["z", "a"], "the client's key order is kept");

    let call = invoke(&app, &id, json!({"target": "fail"}));
    answer_next(
        &mut client,
        |s| json!({"type": 3, "invocationId": s, "error": "Error: boom"}),
    )
    .await;
    let (status, body) = call.await.unwrap();
    assert_eq!(
        (status, &body["error"]["code"], &body["error"]["message"]),
        (502, &json!("ClientError"), &json!("Error: boom"))
    );

    let call = invoke(&app, &id, json!({"target": "silent"}));
    client.next().await.expect("the invocation");
    let (status, body) = call.await.unwrap();
    assert_eq!(
        (status, &body["error"]["code"]),
        (504, &json!("InvocationTimeout"))
    );

    let (status, body) = invoke(&app, "nobody", json!({"target": "t"}))
        .await
        .unwrap();
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("ConnectionNotFound"))
    );
    for bad in [
        json!({"target": "t", "userId": "u"}),
        json!({"arguments": []}),
        json!({"target": "t", "arguments": 1}),
        json!([]),
    ] {
        let (status, body) = invoke(&app, &id, bad.clone()).await.unwrap();
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &json!("InvalidBody")),
            "{bad}"
        );
    }
    let (status, _) = invoke(&app, &"c".repeat(2000), json!({"target": "t"}))
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert_eq!(
        east.handle.pending_invocations() + west.handle.pending_invocations(),
        0
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_does_not_hide_the_one_with_the_connection() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!(
        "Endpoint=http://127.0.0.1;Port={};AccessKey=made-up-test-key;Version=1.0;",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let live = emu::spawn().await;
    let app = app_over_strings(&[dead.clone(), live.handle.connection_string()]).await;
    let mut client = WsClient::connect(&live, "chat", None).await;
    let call = invoke(&app, &client.connection_id, json!({"target": "ask"}));
    answer_next(
        &mut client,
        |s| json!({"type": 3, "invocationId": s, "result": 7}),
    )
    .await;
    assert_eq!(call.await.unwrap(), (200, json!({"result": 7})));
    // Nobody has it: the unreachable endpoint's error is the answer, not a 404.
    let (status, body) = invoke(&app, "nobody", json!({"target": "t"}))
        .await
        .unwrap();
    assert_eq!(
        (status, &body["error"]["code"]),
        (502, &json!("ServiceUnreachable"))
    );
}

#[test]
fn the_timeout_setting_is_bounded() {
    let parse = |v: &str| {
        Settings::from_args(ServeArgs {
            invoke_timeout_seconds: Some(v.into()),
            ..keyed()
        })
    };
    assert_eq!(parse("45").unwrap().invoke_timeout.as_secs(), 45);
    for bad in ["0", "121", "soon"] {
        let error = parse(bad).unwrap_err().to_string();
        assert!(error.contains("SIGNALR_INVOKE_TIMEOUT_SECONDS"), "{error}");
    }
}
