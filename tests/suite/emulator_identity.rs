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
