//! Contract tests of the REST client's api-version 2024-12-01 operations on one connection
//! (`invoke`, `stream_item`, `complete_stream`) against the vendored 2024-12-01 swagger and a
//! recording fake service: operation, method, path, query, exact body, a verified token for the
//! exact audience, never retried; the answers (`{"result"}`, the service's errors, a timeout
//! longer than the client's own) and names refused before anything is sent.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serverless_signalr::service::rest::{RestError, RestOptions, NEWER_API_VERSION};

use crate::rest_support::{client, fast_options, verify_token};
use crate::support::{swagger, FakeService, Recorded, Reply};

const SPEC: &str = "signalr-2024-12-01.json";

/// Checks `request` is `operation` of the 2024-12-01 swagger at `path` with `query` after
/// `api-version`, carrying `body` (exact JSON) and a token for its audience.
fn assert_2024(
    request: &Recorded,
    operation: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) {
    let operations = swagger::operations_of(SPEC);
    let op =
        swagger::find(&operations, request.method.as_str(), &request.path).unwrap_or_else(|| {
            panic!(
                "{} {} is not in the 2024-12-01 swagger",
                request.method, request.path
            )
        });
    assert_eq!((op.id.as_str(), request.path.as_str()), (operation, path));
    let mut expected = vec![("api-version".to_string(), NEWER_API_VERSION.to_string())];
    expected.extend(
        query
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
    );
    assert_eq!(request.query, expected, "{operation}: query");
    match body {
        Some(json) => {
            assert_eq!(request.content_type(), Some("application/json"));
            let sent: Value = serde_json::from_slice(&request.body).expect("a JSON body");
            assert_eq!(sent, json, "{operation}: body");
        }
        None => assert!(request.body.is_empty(), "{operation}: unexpected body"),
    }
    let claims = verify_token(request.token());
    assert_eq!(
        claims["aud"],
        format!("http://127.0.0.1{path}?api-version=2024-12-01")
    );
}

/// The vendored file's pin is checked with the others (`rest_contract::operations`).
#[test]
fn the_2024_swagger_names_the_stream_error_reason() {
    let operations = swagger::operations_of(SPEC);
    let complete = operations
        .iter()
        .find(|o| o.id == "HubProxyV20241201_CompleteConnectionStream")
        .expect("the operation");
    // The swagger names the error `reason`; the Management SDK sends `error=` (docs/protocol.md §9.3).
    assert!(complete.allowed_query.contains(&"reason".to_string()));
}

#[tokio::test]
async fn invoke_matches_the_swagger_and_reads_the_result() {
    let service = FakeService::start().await;
    let client = client(&service, fast_options());
    service.reply([Reply::status(200).body(r#"{"result":{"z":1,"a":[true]}}"#)]);
    let result = client
        .invoke(
            "Chat",
            "c 1",
            "ask",
            vec![json!("q"), json!({"n": 1})],
            Duration::from_secs(5),
        )
        .await
        .expect("the result");
    assert_eq!(result, json!({"z": 1, "a": [true]}));
    let keys: Vec<&String> = result.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["z", "a"]);
    assert_2024(
        &service.single(),
        "HubProxyV20241201_InvokeClientConnection",
        "/api/hubs/chat/connections/c%201/:invoke",
        &[],
        Some(json!({"target": "ask", "arguments": ["q", {"n": 1}]})),
    );

    // No result is `null`; the client's error is the service's error, sent once (no retry).
    service.reply([Reply::status(200).body("{}")]);
    assert_eq!(
        client
            .invoke("chat", "c", "t", vec![], Duration::from_secs(5))
            .await
            .unwrap(),
        Value::Null
    );
    service.take();
    for status in [400, 500, 503] {
        service.reply([Reply::status(status)
            .header("x-ms-error-code", "Error.Invocation.ClientError")
            .body(r#"{"code":"Error.Invocation.ClientError","message":"Error: boom"}"#)]);
        let error = client
            .invoke("chat", "c", "t", vec![], Duration::from_secs(5))
            .await
            .unwrap_err();
        match error {
            RestError::Service {
                status: got,
                code,
                message,
                ..
            } => {
                assert_eq!(
                    (got, code.as_deref(), message.as_str()),
                    (status, Some("Error.Invocation.ClientError"), "Error: boom")
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(service.take().len(), 1, "an invocation is never retried");
    }
}

#[tokio::test]
async fn invoke_waits_longer_than_the_clients_timeout_but_not_forever() {
    let service = FakeService::start().await;
    let options = RestOptions {
        timeout: Duration::from_millis(200),
        ..fast_options()
    };
    let client = client(&service, options);
    service.reply([Reply::status(200)
        .body(r#"{"result":1}"#)
        .delay(Duration::from_millis(500))]);
    let result = client
        .invoke("chat", "c", "t", vec![], Duration::from_secs(5))
        .await;
    assert_eq!(result.unwrap(), json!(1), "the invoke's own timeout holds");
    service.reply([Reply::status(200)
        .body(r#"{"result":1}"#)
        .delay(Duration::from_secs(5))]);
    let started = Instant::now();
    let error = client
        .invoke("chat", "c", "t", vec![], Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            RestError::Timeout {
                operation: "invoke"
            }
        ),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn stream_operations_match_the_swagger() {
    let service = FakeService::start().await;
    let client = client(&service, fast_options());
    client
        .stream_item("Chat", "c1", "7", &json!({"b": 1, "a": 2}), false)
        .await
        .expect("an item");
    let path = "/api/hubs/chat/connections/c1/streams/7/:send";
    assert_2024(
        &service.single(),
        "HubProxyV20241201_SendToConnectionStream",
        path,
        &[],
        Some(json!({"b": 1, "a": 2})),
    );
    let raw = service.requests();
    assert!(raw.is_empty());
    client
        .stream_item("chat", "c1", "7", &json!(null), true)
        .await
        .expect("the last item");
    let request = service.single();
    assert_eq!(request.body, b"null");
    assert_2024(
        &request,
        "HubProxyV20241201_SendToConnectionStream",
        path,
        &[("completed", "true")],
        Some(Value::Null),
    );

    let path = "/api/hubs/chat/connections/c1/streams/s%2F1/:complete";
    client
        .complete_stream("chat", "c1", "s/1", None)
        .await
        .expect("completed");
    assert_2024(
        &service.single(),
        "HubProxyV20241201_CompleteConnectionStream",
        path,
        &[],
        None,
    );
    client
        .complete_stream("chat", "c1", "s/1", Some("out of items"))
        .await
        .expect("failed");
    assert_2024(
        &service.single(),
        "HubProxyV20241201_CompleteConnectionStream",
        path,
        &[("error", "out of items")],
        None,
    );

    // Bad names and items are refused before anything is sent.
    for stream in ["", " ", &"s".repeat(101)] {
        let error = client
            .complete_stream("chat", "c1", stream, None)
            .await
            .unwrap_err();
        assert!(matches!(error, RestError::InvalidArgument(_)), "{error:?}");
    }
    let huge = json!("x".repeat(1 << 20));
    assert!(matches!(
        client.stream_item("chat", "c1", "7", &huge, false).await,
        Err(RestError::InvalidArgument(_))
    ));
    assert!(matches!(
        client
            .invoke("chat", "c1", " ", vec![], Duration::from_secs(1))
            .await,
        Err(RestError::InvalidArgument(_))
    ));
    assert!(matches!(
        client
            .invoke("", "c1", "t", vec![], Duration::from_secs(1))
            .await,
        Err(RestError::InvalidName(_))
    ));
    assert!(service.requests().is_empty());
}
