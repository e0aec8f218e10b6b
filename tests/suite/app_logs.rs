//! What the binary logs, as the Functions host sees it: info on stdout, errors (only) on stderr,
//! and never a secret — not the access key, not a function key (right or wrong), not a minted
//! token — whatever the traffic: negotiate, sends, upstream calls, bad requests, a failing service.

use crate::support;
use crate::upstream_support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{binary, FakeService, Reply, KEY};

const FUNCTION_KEY: &str = "fk-Zq81xPvLm02";
const WRONG_KEY: &str = "fk-wrong-Hb77Tq";

#[tokio::test]
async fn logs_split_by_level_and_never_show_a_secret() {
    let rec = FakeService::start().await;
    let cs = rec.connection_string();
    let mut handler = binary::spawn(
        false,
        &[
            ("AzureSignalRConnectionString", &cs),
            ("SIGNALR_FUNCTION_KEYS", FUNCTION_KEY),
            ("RUST_LOG", "debug"),
        ],
    )
    .await;
    let base = handler.base.clone();
    let http = reqwest::Client::new();
    let mut tokens = Vec::new();

    // negotiate, twice (one token per caller).
    for path in [
        "/api/negotiate",
        "/api/hubs/chat/negotiate?negotiateVersion=1",
    ] {
        let r = http.post(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        tokens.push(body["accessToken"].as_str().unwrap().to_string());
    }
    // Sends with the key in the header and in the query.
    let send = |query: &str, key: Option<&str>, body: Value| {
        let mut request = http.post(format!("{base}/api/messages{query}")).json(&body);
        if let Some(key) = key {
            request = request.header("x-functions-key", key);
        }
        async move { request.send().await.unwrap().status() }
    };
    let message = json!({"target": "t", "arguments": ["hi"]});
    assert_eq!(
        send("", Some(FUNCTION_KEY), message.clone()).await,
        StatusCode::ACCEPTED
    );
    let query = format!("?code={FUNCTION_KEY}");
    assert_eq!(
        send(&query, None, message.clone()).await,
        StatusCode::ACCEPTED
    );
    // Bad requests: a wrong key (in the header and the query), bad JSON, a bad name.
    assert_eq!(
        send("", Some(WRONG_KEY), message.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    let query = format!("?code={WRONG_KEY}");
    assert_eq!(
        send(&query, None, message.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    let r = http
        .post(format!("{base}/api/messages"))
        .header("x-functions-key", FUNCTION_KEY)
        .header("content-type", "application/json")
        .body("{\"target\":")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // An upstream call carrying a client query with the client's token in it.
    let r = http
        .post(format!("{base}/api/upstream?code={FUNCTION_KEY}"))
        .header("content-type", "application/json")
        .header("x-asrs-hub", "chat")
        .header("x-asrs-category", "connections")
        .header("x-asrs-event", "connected")
        .header("x-asrs-connection-id", "conn-1")
        .header("x-asrs-user-id", "alice")
        .header(
            "x-asrs-client-query",
            format!("?hub=chat&access_token={}", tokens[1]),
        )
        .header("x-asrs-signature", upstream_support::sign(KEY, "conn-1"))
        .body(r#"{"type":10}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A forged upstream call.
    let r = http
        .post(format!("{base}/api/upstream?code={FUNCTION_KEY}"))
        .header("x-asrs-connection-id", "conn-1")
        .header(
            "x-asrs-signature",
            upstream_support::sign("not-the-key", "conn-1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The service fails: the 502 is an error, logged on stderr.
    rec.answer(|_| Reply::status(500).body(&format!("{{\"message\":\"boom {KEY}\"}}")));
    assert_eq!(
        send("", Some(FUNCTION_KEY), message.clone()).await,
        StatusCode::BAD_GATEWAY
    );
    handler.stderr.wait_for("ServiceError").await;

    handler.terminate();
    assert!(handler.exit_status().await.success());
    handler.stdout.wait_for("shutting down").await;
    let (stdout, stderr) = (handler.stdout.text(), handler.stderr.text());

    let mut secrets = vec![KEY.to_string(), FUNCTION_KEY.into(), WRONG_KEY.into()];
    for token in &tokens {
        secrets.push(token.clone());
        // Not even the signature part on its own.
        secrets.push(token.rsplit('.').next().unwrap().to_string());
    }
    for secret in &secrets {
        assert!(
            !stdout.contains(secret.as_str()),
            "stdout shows {secret}:\n{stdout}"
        );
        assert!(
            !stderr.contains(secret.as_str()),
            "stderr shows {secret}:\n{stderr}"
        );
    }

    assert!(stdout.contains("function app listening"), "{stdout}");
    assert!(stdout.contains("client connected"), "{stdout}");
    assert!(
        stdout.contains("InvalidJson"),
        "4xx answers are info: {stdout}"
    );
    assert!(stdout.contains("InvalidSignature"), "{stdout}");
    for line in stdout.lines() {
        assert!(!line.contains(" ERROR "), "an error on stdout: {line}");
    }
    assert!(stderr.contains("ServiceError"), "{stderr}");
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        assert!(line.contains(" ERROR "), "only errors on stderr: {line}");
    }
}
