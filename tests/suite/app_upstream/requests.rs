//! Signature vectors and hostile requests: only a correct `X-ASRS-Signature` gets past the door
//! (before any other check), and every malformed request is a clear 4xx with nothing sent.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::KEY;
use crate::upstream_support::{code, connected, invoke, message, result, setup, sign, CONN};

/// Python: hmac.new(KEY, b"conn-1", hashlib.sha256).hexdigest()
const KNOWN_VECTOR: &str = "90f82c48040578a75d51200f5c6ef698dc54b5f8dfa7904a1e20b96037770af1";
/// Python: hmac.new(b"second-key", b"conn-1", hashlib.sha256).hexdigest()
const SECONDARY_VECTOR: &str = "b47e61bc471c3f236f6fb4c4ae461e1c4a8dbf6f24d993734b8a23e95dc176f2";

#[tokio::test]
async fn valid_signatures_are_accepted_in_any_case_and_position() {
    let (app, rec) = setup(|a| a.upstream_secondary_keys = Some("other, second-key".into())).await;
    assert_eq!(sign(KEY, CONN), format!("sha256={KNOWN_VECTOR}"));
    assert_eq!(
        sign("second-key", CONN),
        format!("sha256={SECONDARY_VECTOR}")
    );
    let forged = sign("not-a-key", CONN);
    for header in [
        format!("sha256={KNOWN_VECTOR}"),
        format!("sha256={}", KNOWN_VECTOR.to_uppercase()),
        format!("SHA256={}", KNOWN_VECTOR.to_uppercase()),
        format!("{forged},sha256={KNOWN_VECTOR}"),
        format!("{forged}, sha256={SECONDARY_VECTOR}"),
        format!("sha256={SECONDARY_VECTOR}"),
    ] {
        let (status, body) = connected()
            .header("X-ASRS-Signature", &header)
            .send(&app)
            .await;
        assert_eq!(status, StatusCode::OK, "{header}: {body}");
        assert_eq!(body, "");
    }
    assert!(rec.take().is_empty());
}

#[tokio::test]
async fn bad_signatures_are_refused_before_anything_else() {
    let (app, rec) = setup(|a| a.upstream_groups = Some("all".into())).await;
    let good = sign(KEY, CONN);
    let other_connection = sign(KEY, "conn-2");
    let truncated = &good[..good.len() - 2];
    let bad: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some(sign("not-a-key", CONN)),
        Some(other_connection),
        Some(good.replacen("sha256", "sha1", 1)),
        Some(good.replacen('=', "", 1)),
        Some(good["sha256=".len()..].to_string()),
        Some(truncated.to_string()),
        Some(format!("{good}00")),
        Some(",,,".into()),
        Some(format!("sha256={}", "z".repeat(64))),
    ];
    let calls = [
        connected(),
        invoke("subscribe", json!(["orders"])),
        // Signature first: a wrong content type and a missing hub do not change the answer.
        connected()
            .header("Content-Type", "text/plain")
            .without("X-ASRS-Hub"),
    ];
    for call in &calls {
        for signature in &bad {
            let call = match signature {
                Some(s) => call.clone().header("X-ASRS-Signature", s),
                None => call.clone().without("X-ASRS-Signature"),
            };
            let (status, body) = call.send(&app).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{signature:?}: {body}");
            assert_eq!(code(&body), "InvalidSignature");
            assert!(!body.contains(KEY));
        }
    }
    // The signature covers the connection id: a missing id cannot be signed.
    let (status, _) = connected().without("X-ASRS-Connection-Id").send(&app).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(rec.take().is_empty(), "nothing reaches the service");
}

#[tokio::test]
async fn the_function_key_is_required_outside_the_host() {
    let (app, rec) = setup(|_| {}).await;
    let r = app
        .http
        .post(format!("{}/api/upstream", app.url))
        .header("X-ASRS-Signature", sign(KEY, CONN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(rec.take().is_empty());
}

#[tokio::test]
async fn content_type_headers_and_body_are_checked_in_order() {
    let (app, rec) = setup(|_| {}).await;
    for (content_type, says) in [
        (
            "text/plain",
            "must be application/json or application/x-msgpack",
        ),
        ("", "must be application/json"),
    ] {
        let (status, body) = connected()
            .header("Content-Type", content_type)
            .send(&app)
            .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
        assert!(message(&body).contains(says), "{body}");
    }
    // MessagePack bodies are read as MessagePack invocations: JSON text is not one.
    let (status, body) = connected()
        .header("Content-Type", "application/x-msgpack")
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        message(&body).contains("not a MessagePack invocation"),
        "{body}"
    );
    let (status, _) = connected()
        .header("Content-Type", "Application/JSON; charset=utf-8")
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::OK);

    for header in ["X-ASRS-Hub", "X-ASRS-Category", "X-ASRS-Event"] {
        for call in [connected().without(header), connected().header(header, "")] {
            let (status, body) = call.send(&app).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(code(&body), "MissingHeader");
            assert!(message(&body).starts_with(header), "{body}");
        }
    }
    let (status, body) = connected().header("X-ASRS-Hub", "1bad").send(&app).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, body) = invoke("subscribe", json!(["orders"]))
        .header("X-ASRS-Event", "publish")
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message(&body).contains("differs from X-ASRS-Event"),
        "{body}"
    );

    let (status, body) = connected()
        .raw_body(vec![b' '; 1024 * 1024 + 1])
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    for raw in [
        "",
        "{",
        "[]",
        "null",
        "\"x\"",
        "{}",
        r#"{"type":"10"}"#,
        r#"{"type":3,"invocationId":"1"}"#,
        r#"{"type":1,"invocationId":"1","arguments":[]}"#,
        r#"{"type":1,"target":"subscribe","arguments":{}}"#,
        r#"{"type":1,"target":7}"#,
    ] {
        let (status, body) = invoke("subscribe", json!([]))
            .raw_body(raw)
            .send(&app)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}: {body}");
    }
    // The body must fit the category and event.
    for call in [
        connected().header("X-ASRS-Event", "disconnected"),
        connected().header("X-ASRS-Category", "messages"),
        connected().header("X-ASRS-Category", "other"),
        invoke("x", json!([])).header("X-ASRS-Category", "connections"),
    ] {
        let (status, body) = call.send(&app).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(code(&body), "EventMismatch");
    }
    assert!(rec.take().is_empty(), "nothing reaches the service");

    // Case-insensitive event and body property names still work.
    let call = invoke("subscribe", json!(["orders"]))
        .header("X-ASRS-Event", "SUBSCRIBE")
        .raw_body(r#"{"Type":1,"InvocationId":"1","Target":"Subscribe","Arguments":["orders"]}"#);
    assert_eq!(
        call.send(&app).await,
        (StatusCode::OK, result(json!("orders")))
    );
}
