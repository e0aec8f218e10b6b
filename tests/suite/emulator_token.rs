//! `:generateToken` and `auth/accessKey` (api-version 2023-07-01 and later) in the emulator: a
//! generated token connects a client as its user and lives `minutesToExpire`; in Entra ID mode it
//! is signed with the temporary key (its `kid` named), which the 2023-07-01 `accessKey` path
//! hands out to an Entra bearer only.

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use serverless_signalr::emulator::entra::{EntraMode, IDENTITY_PATH};

use crate::emulator_support::{error_of, invocation, now, spawn, spawn_with, Emu, WsClient};

async fn generate(emu: &Emu, query: &str) -> reqwest::Response {
    let path = format!("/api/hubs/chat/:generateToken?{query}");
    emu.rest(Method::POST, &path, None).await
}

fn part(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segment)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_generated_token_connects_a_client_as_its_user() {
    let emu = spawn().await;
    let response = generate(
        &emu,
        "api-version=2024-12-01&userId=alice&minutesToExpire=5",
    )
    .await;
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let exp = part(&token, 1)["exp"].as_i64().unwrap();
    assert!((exp - now() - 300).abs() <= 5, "exp {exp}");
    let mut alice = WsClient::connect_with_token(&emu, "chat", &token).await;
    let sent = emu
        .rest(
            Method::POST,
            "/api/hubs/chat/users/alice/:send?api-version=2022-06-01",
            Some(json!({"target": "t", "arguments": [1]})),
        )
        .await;
    assert_eq!(sent.status(), 202);
    assert_eq!(alice.next().await, invocation("t", json!([1])));

    for query in [
        "api-version=2024-12-01&minutesToExpire=0",
        "api-version=2024-12-01&minutesToExpire=x",
        "api-version=2022-06-01",
    ] {
        let (status, code, _) = error_of(generate(&emu, query).await).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "Error.Request.Invalid"),
            "{query}"
        );
    }
    // Without Entra ID mode there is no temporary key.
    let (status, ..) = error_of(
        emu.rest(
            Method::GET,
            "/api/auth/accessKey?api-version=2024-12-01",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn entra_mode_signs_with_the_temporary_key_that_access_key_hands_out() {
    let mode = EntraMode::generate(false);
    let emu = spawn_with(|c| c.entra = Some(mode.clone())).await;
    let token = generate(&emu, "api-version=2023-07-01")
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(part(&token, 0)["kid"], json!(mode.key_id));
    WsClient::connect_with_token(&emu, "chat", &token).await;

    let url = format!("{}/api/auth/accessKey?api-version=2024-12-01", emu.base);
    assert_eq!(emu.http.get(&url).send().await.unwrap().status(), 401);
    let bearer: Value = emu
        .http
        .get(format!("{}{IDENTITY_PATH}", emu.base))
        .query(&[
            ("api-version", "2019-08-01"),
            ("resource", "https://signalr.azure.com"),
        ])
        .header("x-identity-header", mode.identity_header.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key: Value = emu
        .http
        .get(&url)
        .bearer_auth(bearer["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(key["KeyId"], json!(mode.key_id));
    assert_eq!(key["AccessKey"], json!(mode.temporary_key.expose()));
}
