//! A developer signed in with the Azure CLI runs the real binary with `AuthType=azure` against
//! the emulator in Entra ID mode: off Azure (the instance metadata service does not answer) the
//! default chain asks `az account get-access-token`, whose token the service accepts. The `az`
//! here is a script that gets its token from the emulator's identity endpoint for the resource
//! it is asked for, and prints it in the Azure CLI's JSON. The token never reaches the logs.

use crate::support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use serverless_signalr::emulator::entra::EntraMode;
use serverless_signalr::emulator::{self, EmulatorConfig};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::Secret;
use support::binary;

/// `az account get-access-token --output json --resource <resource>`: the token of the
/// emulator's identity endpoint for `<resource>`, printed as the Azure CLI prints it.
const AZ: &str = r#"#!/bin/sh
printf '%s\n' "$*" >> "$FAKE_CLI_DIR/az.args"
[ "$1 $2" = "account get-access-token" ] || { echo "ERROR: unexpected arguments" >&2; exit 2; }
resource=$6
answer=$(curl -s -H "X-IDENTITY-HEADER: $FAKE_IDENTITY_HEADER" \
  "$FAKE_IDENTITY_ENDPOINT?api-version=2019-08-01&resource=$resource")
token=$(printf '%s' "$answer" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "ERROR: Please run 'az login' to setup account." >&2; exit 1; }
expires=$(($(date +%s) + 3600))
cat <<EOF
{
  "accessToken": "$token",
  "expiresOn": "$(date -d @$expires '+%Y-%m-%d %H:%M:%S.000000')",
  "expires_on": $expires,
  "subscription": "00000000-0000-0000-0000-000000000000",
  "tenant": "00000000-0000-0000-0000-000000000001",
  "tokenType": "Bearer"
}
EOF
"#;

#[tokio::test]
async fn azure_cli_sign_in_is_enough_for_auth_type_azure() {
    use std::os::unix::fs::PermissionsExt;
    let mut mode = EntraMode::generate(true);
    mode.identity_header = Secret::new("made-up-identity-header");
    let mut config = EmulatorConfig::new(Secret::new(DEV_ACCESS_KEY));
    config.entra = Some(mode);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let emulator = format!("http://{}", listener.local_addr().unwrap());
    let _emulator = emulator::start(config, listener).await.unwrap();

    let dir = std::env::temp_dir().join(format!("entra-az-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let az = dir.join("az");
    std::fs::write(&az, AZ).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", dir.display());
    let closed = format!("http://127.0.0.1:{}/imds", binary::free_port());
    let identity_endpoint = format!("{emulator}/msi/token");
    let dir_text = dir.display().to_string();

    let handler = binary::spawn(
        false,
        &[
            (
                "AzureSignalRConnectionString",
                &format!("Endpoint={emulator};AuthType=azure;Version=1.0;"),
            ),
            ("PATH", &path),
            ("SIGNALR_IMDS_ENDPOINT", &closed),
            ("FAKE_CLI_DIR", &dir_text),
            ("FAKE_IDENTITY_ENDPOINT", &identity_endpoint),
            ("FAKE_IDENTITY_HEADER", "made-up-identity-header"),
            ("SIGNALR_FUNCTION_KEYS", "k"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/negotiate", handler.base))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["accessToken"].as_str().unwrap();
    assert!(jsonwebtoken::decode_header(token)
        .unwrap()
        .kid
        .is_some_and(|k| k.starts_with("t-")));
    let r = http
        .post(format!("{}/api/messages", handler.base))
        .header("x-functions-key", "k")
        .json(&json!({"target": "t", "arguments": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // The chain kept the Azure CLI: one run for the token the app still holds.
    let runs = std::fs::read_to_string(dir.join("az.args")).unwrap();
    assert_eq!(
        runs.lines().collect::<Vec<_>>(),
        ["account get-access-token --output json --resource https://signalr.azure.com"]
    );
    // No Entra token in the logs (each starts with the JWT header's base64 `eyJ`).
    for log in [handler.stdout.text(), handler.stderr.text()] {
        assert!(!log.contains("eyJ"), "{log}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
