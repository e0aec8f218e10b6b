//! `cargo run` with `SIGNALR_EMULATOR_ENTRA=disable-local-auth`, on the real binary: the embedded
//! emulator runs in Entra ID mode and the app authenticates with the emulator's managed-identity
//! endpoint (`AuthType=azure.msi`, no access key). Negotiate answers a client token signed with
//! the temporary key, a client connects and receives what the app sends (REST authorised by the
//! Entra token), its hub method invocations reach the app's upstream (which checks only the
//! emulator's managed-identity bearer token: a request signed with the access key alone is
//! refused), and the emulator refuses tokens signed with the access key. The Web PubSub side runs
//! keyless the same way, its `connect` event let in by the same kind of bearer token.

use crate::emulator_support;
use crate::support;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::binary;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const RS: char = '\u{1e}';

/// The next hub messages (pings skipped) from a WebSocket.
async fn next_message<S>(ws: &mut S) -> Value
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .unwrap();
        let Message::Text(text) = frame else { continue };
        for record in text.split(RS).filter(|r| !r.is_empty()) {
            let value: Value = serde_json::from_str(record).unwrap();
            if value["type"] != 6 {
                return value;
            }
        }
    }
}

#[tokio::test]
async fn local_stack_in_entra_mode_runs_with_no_key() {
    let handler = binary::spawn(
        false,
        &[
            ("SIGNALR_EMULATOR_ENTRA", "disable-local-auth"),
            ("SIGNALR_FUNCTION_KEYS", "k"),
        ],
    )
    .await;
    handler.stdout.wait_for("function app listening").await;
    let stdout = handler.stdout.text();
    assert!(stdout.contains("Entra ID mode"), "{stdout}");
    assert!(stdout.contains("local auth:        disabled"), "{stdout}");
    assert!(stdout.contains("AuthType=azure.msi"), "{stdout}");
    assert!(
        stdout.contains("the app checks only those: no key anywhere"),
        "{stdout}"
    );
    let http = reqwest::Client::new();

    let r = http
        .post(format!("{}/api/negotiate", handler.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let token = body["accessToken"].as_str().unwrap().to_string();
    let url = body["url"].as_str().unwrap();
    let emulator = url.split("/client/").next().unwrap().to_string();
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid;
    assert!(
        kid.as_deref().is_some_and(|k| k.starts_with("t-")),
        "signed with the temporary key: {kid:?}"
    );

    let r = http
        .get(format!("{}/api/health", handler.base))
        .header("x-functions-key", "k")
        .send()
        .await
        .unwrap();
    let health = r.json::<Value>().await.unwrap();
    assert_eq!(
        (
            &health["service"],
            &health["identity"],
            &health["webpubsub"]
        ),
        (
            &json!("healthy"),
            &json!("ok"),
            &json!({"service": "healthy", "identity": "ok"})
        ),
        "{health}"
    );
    assert_eq!(health["endpoints"][0]["identity"], "ok", "{health}");

    // A client connects to the emulator with the app's token.
    let r = http
        .post(format!(
            "{emulator}/client/negotiate?hub=default&negotiateVersion=1"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let negotiated: Value = r.json().await.unwrap();
    let ws_url = format!(
        "{}/client/?hub=default&id={}&access_token={token}",
        emulator.replace("http://", "ws://"),
        negotiated["connectionToken"].as_str().unwrap()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    ws.send(Message::text(format!(
        "{{\"protocol\":\"json\",\"version\":1}}{RS}"
    )))
    .await
    .unwrap();
    assert_eq!(next_message(&mut ws).await, json!({}));

    // Its invocation reaches the app's upstream with the emulator's bearer token.
    ws.send(Message::text(format!(
        "{{\"type\":1,\"invocationId\":\"1\",\"target\":\"subscribe\",\"arguments\":[\"news\"]}}{RS}"
    )))
    .await
    .unwrap();
    let completion = next_message(&mut ws).await;
    assert_eq!(completion["invocationId"], "1", "{completion}");
    assert_eq!(completion["result"], "news", "{completion}");

    // What the app sends (REST with the Entra token) arrives.
    let r = http
        .post(format!("{}/api/messages", handler.base))
        .header("x-functions-key", "k")
        .json(&json!({"target": "news", "arguments": ["hello"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let message = next_message(&mut ws).await;
    assert_eq!(message["target"], "news", "{message}");
    assert_eq!(message["arguments"], json!(["hello"]));

    // Web PubSub runs keyless too: the client token comes from the emulator's :generateToken
    // (signed with the temporary key), the client's `connect` event reaches the app (with the
    // emulators' bearer token), and a send authorised by the Entra token arrives.
    assert!(stdout.contains("Web PubSub Entra"), "{stdout}");
    let r = http
        .post(format!(
            "{}/api/webpubsub/hubs/chat/negotiate",
            handler.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let negotiated: Value = r.json().await.unwrap();
    let token = negotiated["accessToken"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid;
    assert!(kid.is_some_and(|k| k.starts_with("t-")), "{negotiated}");
    let mut request = negotiated["url"]
        .as_str()
        .unwrap()
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "json.webpubsub.azure.v1".parse().unwrap(),
    );
    let (mut wps, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the Web PubSub emulator accepts the generated token");
    let next_json =
        |frame: Message| serde_json::from_str::<Value>(frame.to_text().unwrap()).unwrap();
    let connected = next_json(wps.next().await.unwrap().unwrap());
    assert_eq!(connected["event"], "connected", "{connected}");
    let r = http
        .post(format!("{}/api/webpubsub/hubs/chat/actions", handler.base))
        .header("x-functions-key", "k")
        .json(&json!({"actionName": "sendToAll", "data": "keyless", "dataType": "text"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "{}",
        r.text().await.unwrap()
    );
    let frame = tokio::time::timeout(std::time::Duration::from_secs(10), wps.next())
        .await
        .expect("a message within 10 s")
        .unwrap()
        .unwrap();
    assert_eq!(next_json(frame)["data"], "keyless");

    // No key anywhere: the access-key signature alone does not open the app's webhooks.
    signature_alone_is_refused(&http, &handler.base).await;

    // Local auth is disabled: access-key tokens are refused, on REST and for clients.
    let r = http
        .post(format!("{emulator}/api/hubs/default/:send"))
        .bearer_auth(emulator_support::rest_token("/api/hubs/default/:send"))
        .json(&json!({"target": "t", "arguments": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .post(format!("{emulator}/client/negotiate?hub=default"))
        .bearer_auth(emulator_support::client_token("default", None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("local authentication is disabled"));
}

/// A `connected` upstream call signed with the emulator's access key but without the emulator's
/// bearer token gets a 401 asking for the token.
async fn signature_alone_is_refused(http: &reqwest::Client, base: &str) {
    use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
    use serverless_signalr::service::{signature, Secret};
    let signed = signature::sign(&Secret::new(DEV_ACCESS_KEY), b"conn-1");
    let r = http
        .post(format!("{base}/api/upstream"))
        .header("x-functions-key", "k")
        .header("content-type", "application/json")
        .header("X-ASRS-Hub", "default")
        .header("X-ASRS-Category", "connections")
        .header("X-ASRS-Event", "connected")
        .header("X-ASRS-Connection-Id", "conn-1")
        .header("X-ASRS-Signature", signed)
        .body(r#"{"type":10}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let refusal: Value = r.json().await.unwrap();
    assert_eq!(
        refusal["error"]["code"], "AuthenticationRequired",
        "{refusal}"
    );
}

/// With local auth on (`SIGNALR_EMULATOR_ENTRA=true`) the emulator still has keys, so the app
/// requires both its signature and its bearer token, as with a real service that has keys.
#[tokio::test]
async fn local_stack_in_entra_mode_with_local_auth_requires_signature_and_bearer() {
    let handler = binary::spawn(
        false,
        &[
            ("SIGNALR_EMULATOR_ENTRA", "true"),
            ("SIGNALR_FUNCTION_KEYS", "k"),
        ],
    )
    .await;
    handler.stdout.wait_for("function app listening").await;
    let stdout = handler.stdout.text();
    assert!(stdout.contains("and the access-key signature"), "{stdout}");
    signature_alone_is_refused(&reqwest::Client::new(), &handler.base).await;
}
