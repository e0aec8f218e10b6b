//! The test harness itself: the recording fake service refuses what the real service refuses
//! (a bearer token not signed with its key), keeps every request as sent, and answers scripted
//! replies before its answer function, so the tests built on it can fail; and the system
//! packages the tests install themselves only where they may (root with `apt-get`).

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::support::{FakeService, Reply, KEY};

fn token(key: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

fn in_an_hour() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600
}

async fn post(service: &FakeService, path: &str, token: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}{path}", service.port))
        .bearer_auth(token)
        .json(&json!({"target": "t"}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn the_fake_service_records_requests_and_verifies_their_tokens() {
    let service = FakeService::start().await;
    let good = token(KEY, json!({"aud": "a", "exp": in_an_hour(), "nameid": "n"}));
    assert_eq!(
        post(&service, "/api/x?y=%20z", &good).await,
        (202, String::new())
    );
    let request = service.single();
    assert_eq!(request.method, "POST");
    assert_eq!(
        (request.path.as_str(), request.raw_query.as_str()),
        ("/api/x", "y=%20z")
    );
    assert_eq!(request.query, [("y".to_string(), " z".to_string())]);
    assert_eq!(request.json, json!({"target": "t"}));
    assert_eq!(request.body, br#"{"target":"t"}"#);
    assert_eq!(request.claims["nameid"], "n");
    assert_eq!(request.token(), good);

    // Like the service: another key, or no `exp`, is a 401 and no scripted reply is used up.
    service.reply([Reply::status(500)]);
    let other_key = token("another-key", json!({"aud": "a", "exp": in_an_hour()}));
    let (status, body) = post(&service, "/api/x", &other_key).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("does not verify with the test key"), "{body}");
    let no_exp = token(KEY, json!({"aud": "a"}));
    assert_eq!(post(&service, "/api/x", &no_exp).await.0, 401);
    let refused = service.take();
    assert_eq!(refused.len(), 2, "refused requests are recorded too");
    assert!(refused.iter().all(|r| r.claims.is_null()));

    // Scripted replies first, in order; then the answer function.
    service.reply([Reply::status(429).header("retry-after", "1")]);
    service.answer(|r| Reply::status(if r.path == "/gone" { 404 } else { 204 }));
    assert_eq!(post(&service, "/api/x", &good).await.0, 500);
    assert_eq!(post(&service, "/api/x", &good).await.0, 429);
    assert_eq!(post(&service, "/gone", &good).await.0, 404);
    assert_eq!(post(&service, "/api/x", &good).await.0, 204);
}

#[tokio::test]
async fn the_swagger_answers_know_each_operation() {
    let signalr = FakeService::signalr().await;
    let good = token(KEY, json!({"aud": "a", "exp": in_an_hour()}));
    assert_eq!(post(&signalr, "/api/hubs/chat/:send", &good).await.0, 202);
    assert_eq!(
        post(&signalr, "/api/hubs/chat/:nonsense", &good).await.0,
        400
    );
    let webpubsub = FakeService::webpubsub().await;
    assert_eq!(post(&webpubsub, "/api/hubs/chat/:send", &good).await.0, 202);
    assert_eq!(
        post(&webpubsub, "/api/hubs/chat/:nonsense", &good).await.0,
        404
    );
}

/// Where the tests install their system packages themselves, and where they only explain.
#[test]
fn system_packages_are_installed_only_as_root_with_apt_get() {
    use crate::system_packages::{plan, Machine, Package, Plan};

    let root_with_apt = Machine {
        root: true,
        apt_get: true,
    };
    assert_eq!(
        plan(&[], root_with_apt),
        Plan::Nothing,
        "found: nothing to do"
    );
    assert_eq!(
        plan(
            &[],
            Machine {
                root: false,
                apt_get: false
            }
        ),
        Plan::Nothing
    );
    let apt = |args: &str| -> Vec<String> {
        format!("apt-get -o DPkg::Lock::Timeout=600 {args}")
            .split(' ')
            .map(String::from)
            .collect()
    };
    assert_eq!(
        plan(&[Package::Chromium, Package::PythonVenv], root_with_apt),
        Plan::Run(vec![
            apt("update -qq"),
            apt("install -y -qq chromium python3-venv")
        ])
    );
    assert_eq!(
        plan(&[Package::Openssl], root_with_apt),
        Plan::Run(vec![apt("update -qq"), apt("install -y -qq openssl")])
    );
    let Plan::Cannot(why) = plan(
        &[Package::Chromium],
        Machine {
            root: false,
            apt_get: true,
        },
    ) else {
        panic!("not root: nothing runs");
    };
    assert!(why.contains("only when they run as root"), "{why}");
    let Plan::Cannot(why) = plan(
        &[Package::Openssl],
        Machine {
            root: true,
            apt_get: false,
        },
    ) else {
        panic!("no apt-get: nothing runs");
    };
    assert!(why.contains("no `apt-get`"), "{why}");
}
