//! The emulator's managed-identity endpoint (`/msi/token`, Entra ID mode) issues tokens only for
//! the resources the emulators accept — `https://signalr.azure.com` and
//! `https://webpubsub.azure.com` — and refuses any other with a 400 naming both (issue 27,
//! informational): a token for another audience could only be misused.

use crate::emulator_support;

use serde_json::Value;
use serverless_signalr::emulator::entra::{EntraMode, IDENTITY_PATH};

#[tokio::test]
async fn identity_tokens_only_for_the_emulators_resources() {
    let mode = EntraMode::generate(false);
    let emu = emulator_support::spawn_with(|c| c.entra = Some(mode.clone())).await;
    let token_for = |resource: &str| {
        emu.http
            .get(format!("{}{IDENTITY_PATH}", emu.base))
            .query(&[("api-version", "2019-08-01"), ("resource", resource)])
            .header("x-identity-header", mode.identity_header.expose())
            .send()
    };
    for resource in ["https://signalr.azure.com", "https://webpubsub.azure.com"] {
        let r = token_for(resource).await.unwrap();
        assert_eq!(r.status(), 200, "{resource}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["resource"], resource);
    }
    for resource in [
        "https://management.azure.com",
        "https://vault.azure.net",
        "https://signalr.azure.com/",
        "https://signalr.azure.com/.default",
        "",
    ] {
        let r = token_for(resource).await.unwrap();
        assert_eq!(r.status(), 400, "{resource:?}");
        let body: Value = r.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("https://signalr.azure.com")
                && message.contains("https://webpubsub.azure.com"),
            "{message}"
        );
        assert!(body.get("access_token").is_none());
    }
    emu.handle.shutdown().await;
}

/// The emulators' own managed identity (Entra ID mode): the SignalR emulator publishes its issuer
/// (OIDC metadata, JWKS) at its own address, and the bearer token its calls to the app carry
/// verifies with the app's check for the service's identity; an emulator not in Entra mode has
/// no issuer.
#[tokio::test]
async fn the_emulators_upstream_token_verifies_with_the_apps_check() {
    use serverless_signalr::app::identity::{OidcSettings, ServiceBearer, ServiceIdentitySettings};
    use serverless_signalr::emulator::upstream_identity::{UpstreamIdentity, RESOURCE};

    let mode = EntraMode::generate(true);
    let emu = emulator_support::spawn_with(|c| c.entra = Some(mode.clone())).await;
    let identity = &mode.upstream_identity;
    let issuer = identity.issuer().expect("named when the emulator started");
    assert_eq!(issuer, format!("{}/oidc", emu.base));
    let metadata: Value = emu
        .http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], issuer);
    let bearer = |allowed: &str| {
        ServiceBearer::new(&ServiceIdentitySettings {
            issuers: vec![OidcSettings::new(issuer, vec![RESOURCE.into()])],
            allowed_callers: vec![allowed.into()],
            setting: "SIGNALR_UPSTREAM_IDENTITY",
        })
    };
    let headers = UpstreamIdentity::bearer(Some(identity));
    assert!(headers.contains_key("authorization"));
    bearer(identity.object_id())
        .verify(&headers)
        .await
        .expect("the emulator's token verifies");
    let refused = bearer("someone-else").verify(&headers).await.unwrap_err();
    assert!(refused.to_string().contains("not allowed"), "{refused}");

    let plain = emulator_support::spawn().await;
    let r = plain
        .http
        .get(format!("{}/oidc/discovery/keys", plain.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
