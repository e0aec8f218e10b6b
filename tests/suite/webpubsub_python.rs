//! Cross-check with the official Python SDK (`azure-messaging-webpubsubservice`, pinned in
//! `tests/python/requirements.txt` and installed by the shared `python_env`): the SDK mints a
//! client token and makes one call of each REST operation against the recording stand-in
//! (`tests/python/webpubsub_sdk_check.py`); this crate does the same, and the two must agree:
//! token claims and URLs, and for every call the method, path, query, media type, body and the
//! token audience (the whole request URL).

use crate::child_process;
use crate::python_env;
use crate::webpubsub_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{verify, FakeService, Recorded};
use serde_json::Value;
use serverless_signalr::service::rest::RestOptions;
use serverless_signalr::service::webpubsub::client_token::ClientTokenMinter;
use serverless_signalr::service::webpubsub::rest::SendOptions;
use serverless_signalr::service::webpubsub::{
    ClientTokenOptions, Content, Permission, WebPubSubClient, WebPubSubConnectionString,
};

const HUB: &str = "Chat";

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Our side of the script: the same calls, in the same order.
async fn our_calls(c: &WebPubSubClient) {
    let none = SendOptions::default();
    let all = SendOptions {
        excluded: ids(&["c1", "c 2"]),
        filter: Some("userId ne 'x'".into()),
        ..Default::default()
    };
    c.send_to_all(HUB, &Content::Json(r#"{"a":1}"#.into()), &all)
        .await
        .unwrap();
    c.send_to_user(HUB, "alice/b", &Content::Text("hi".into()), &none)
        .await
        .unwrap();
    let group = SendOptions {
        excluded: ids(&["c3"]),
        ..Default::default()
    };
    c.send_to_group(HUB, "room 1", &Content::Binary(vec![0, 255]), &group)
        .await
        .unwrap();
    c.send_to_connection(HUB, "conn", &Content::Text("t".into()), &none)
        .await
        .unwrap();
    assert!(c.connection_exists(HUB, "conn").await.unwrap());
    assert!(c.user_exists(HUB, "alice").await.unwrap());
    assert!(c.group_exists(HUB, "room").await.unwrap());
    c.close_connection(HUB, "conn", Some("bye now"))
        .await
        .unwrap();
    c.close_all(HUB, &ids(&["keep"]), Some("r")).await.unwrap();
    c.close_user(HUB, "alice", &[], Some("r")).await.unwrap();
    c.close_group(HUB, "room", &ids(&["a", "b"]), None)
        .await
        .unwrap();
    c.add_connection_to_group(HUB, "room", "conn")
        .await
        .unwrap();
    c.remove_connection_from_group(HUB, "room", "conn")
        .await
        .unwrap();
    c.remove_connection_from_all_groups(HUB, "conn")
        .await
        .unwrap();
    c.add_user_to_group(HUB, "room", "alice").await.unwrap();
    c.remove_user_from_group(HUB, "room", "alice")
        .await
        .unwrap();
    c.remove_user_from_all_groups(HUB, "alice").await.unwrap();
    c.grant_permission(HUB, Permission::SendToGroup, "conn", Some("room"))
        .await
        .unwrap();
    c.revoke_permission(HUB, Permission::JoinLeaveGroup, "conn", None)
        .await
        .unwrap();
    assert!(c
        .check_permission(HUB, Permission::JoinLeaveGroup, "conn", Some("room"))
        .await
        .unwrap());
}

/// A URL as the service compares it: scheme, host, port and path, then the decoded query pairs
/// in order of name (values of one name keep their order).
fn normalised(url: &str) -> (String, Vec<(String, String)>) {
    let parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let base = format!(
        "{}://{}:{}{}",
        parsed.scheme(),
        parsed.host_str().unwrap(),
        parsed.port_or_known_default().unwrap(),
        parsed.path()
    );
    (base, pairs)
}

fn media(request: &Recorded) -> Option<String> {
    request
        .content_type()
        .map(|c| c.split(';').next().unwrap().trim().to_ascii_lowercase())
}

fn body(request: &Recorded) -> Value {
    match media(request).as_deref() {
        Some("application/json") => serde_json::from_slice(&request.body).unwrap(),
        _ => Value::from(request.body.clone()),
    }
}

#[tokio::test]
async fn tokens_and_rest_calls_match_the_official_python_sdk() {
    let service = FakeService::webpubsub().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let environment = python_env::environment(&dir.join("requirements.txt"));
    let mut script = Command::new(&environment.python);
    script
        .arg(dir.join("webpubsub_sdk_check.py"))
        .env("WPS_CONNECTION_STRING", service.connection_string())
        .env("WPS_HUB", HUB)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(path) = &environment.python_path {
        script.env("PYTHONPATH", path);
    }
    let output =
        tokio::task::spawn_blocking(move || child_process::run(script, Duration::from_secs(120)))
            .await
            .unwrap();
    let (ok, text) = output;
    assert!(ok, "the SDK script failed:\n{text}");
    let theirs = service.take();
    let sdk_token: Value =
        serde_json::from_str(text.lines().rev().find(|l| l.starts_with('{')).unwrap()).unwrap();

    // Client tokens and URLs.
    let cs = WebPubSubConnectionString::parse(&service.connection_string()).unwrap();
    let ours = ClientTokenMinter::new(&cs)
        .unwrap()
        .access(
            HUB,
            &ClientTokenOptions {
                user_id: Some("alice".into()),
                roles: ids(&["webpubsub.sendToGroup.room"]),
                groups: ids(&["room", "all"]),
                lifetime: Some(Duration::from_secs(600)),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ours.base_url, sdk_token["baseUrl"].as_str().unwrap());
    assert_eq!(
        sdk_token["url"].as_str().unwrap(),
        format!(
            "{}?access_token={}",
            sdk_token["baseUrl"].as_str().unwrap(),
            sdk_token["token"].as_str().unwrap()
        )
    );
    let (a, b) = (
        verify(&ours.access_token),
        verify(sdk_token["token"].as_str().unwrap()),
    );
    for claim in ["aud", "sub", "role", "webpubsub.group"] {
        assert_eq!(a[claim], b[claim], "{claim}");
    }
    let lifetime = |c: &Value| c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap();
    assert_eq!(lifetime(&a), lifetime(&b));

    // REST calls.
    let client = WebPubSubClient::new(&cs, RestOptions::default()).unwrap();
    our_calls(&client).await;
    let ours = service.take();
    assert_eq!(theirs.len(), 20, "the SDK made every call");
    assert_eq!(ours.len(), theirs.len());
    let port = service.port;
    for (mine, sdk) in ours.iter().zip(&theirs) {
        let what = format!("{} {}", sdk.method, sdk.path);
        assert_eq!(
            webpubsub_support::check(mine, port),
            webpubsub_support::check(sdk, port),
            "{what}"
        );
        assert_eq!(mine.method, sdk.method, "{what}");
        assert_eq!(mine.path, sdk.path, "{what}");
        let url = |r: &Recorded| {
            normalised(&format!(
                "http://127.0.0.1:{port}{}?{}",
                r.path, r.raw_query
            ))
        };
        assert_eq!(url(mine), url(sdk), "{what}: URL");
        assert_eq!(media(mine), media(sdk), "{what}: media type");
        assert_eq!(body(mine), body(sdk), "{what}: body");
        let aud = |r: &Recorded| normalised(verify(r.token())["aud"].as_str().unwrap());
        assert_eq!(aud(mine), aud(sdk), "{what}: token audience");
    }
}
