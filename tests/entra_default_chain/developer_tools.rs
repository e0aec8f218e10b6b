//! The developer tools of the default chain, after managed identity: fake `az` and `azd` scripts
//! on `PATH` print exactly what the real tools print (az's `accessToken` with `expiresOn` in
//! local time and, since az 2.54, `expires_on` in Unix seconds; azd's `token` with `expiresOn` in
//! RFC 3339) or fail as they fail (not signed in, not installed, hanging). The instance metadata
//! service is skipped when it does not answer (closed port, slow) or has no identity (400), and
//! used alone when it answers; `AZURE_TOKEN_CREDENTIALS` narrows the chain as in the SDK.

use std::path::PathBuf;
use std::time::{Duration, Instant, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use serverless_signalr::service::connection_string::AuthType;
use serverless_signalr::service::entra::{EntraCredential, EntraError, TokenSource};

use crate::ENV;

/// 2100-01-01T00:00:00Z, the expiry the fake tools print.
const EXPIRES: u64 = 4_102_444_800;

const AZ: &str = r#"#!/bin/sh
printf '%s\n' "$*" > "$FAKE_CLI_DIR/az.args"
case "$FAKE_AZ" in
new) cat <<EOF
{
  "accessToken": "made-up-az-token",
  "expiresOn": "$(date -d @4102444800 '+%Y-%m-%d %H:%M:%S.000000')",
  "expires_on": 4102444800,
  "subscription": "00000000-0000-0000-0000-000000000000",
  "tenant": "00000000-0000-0000-0000-000000000001",
  "tokenType": "Bearer"
}
EOF
;;
old) cat <<EOF
{
  "accessToken": "made-up-az-token",
  "expiresOn": "$(date -d @4102444800 '+%Y-%m-%d %H:%M:%S.000000')",
  "subscription": "00000000-0000-0000-0000-000000000000",
  "tenant": "00000000-0000-0000-0000-000000000001",
  "tokenType": "Bearer"
}
EOF
;;
login) echo "ERROR: Please run 'az login' to setup account." >&2; exit 1 ;;
slow) exec sleep 30 ;;
esac
"#;

const AZD: &str = r#"#!/bin/sh
printf '%s\n' "$*" > "$FAKE_CLI_DIR/azd.args"
case "$FAKE_AZD" in
ok) cat <<EOF
{
  "token": "made-up-azd-token",
  "expiresOn": "2100-01-01T00:00:00Z"
}
EOF
;;
login) echo 'ERROR: fetching token: not logged in, run `azd auth login` to login' >&2; exit 1 ;;
esac
"#;

/// A directory with the fake tools, put first on `PATH` (then only the system directories the
/// scripts need).
struct FakeTools {
    dir: PathBuf,
}

impl FakeTools {
    fn install() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("fake-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, script) in [("az", AZ), ("azd", AZD)] {
            let path = dir.join(name);
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::env::set_var("PATH", format!("{}:/usr/bin:/bin", dir.display()));
        std::env::set_var("FAKE_CLI_DIR", &dir);
        Self { dir }
    }

    /// The arguments the tool was last run with (and forgets them), `None` if it was not run.
    fn args(&self, tool: &str) -> Option<String> {
        let path = self.dir.join(format!("{tool}.args"));
        let args = std::fs::read_to_string(&path).ok();
        let _ = std::fs::remove_file(path);
        args.map(|a| a.trim().to_string())
    }

    fn uninstall(&self, tool: &str) {
        std::fs::remove_file(self.dir.join(tool)).unwrap();
    }
}

impl Drop for FakeTools {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const CHAIN: AuthType = AuthType::DefaultAzure {
    client_id: None,
    tenant_id: None,
};

/// The chain for the current environment, its developer tools allowed `tool_timeout` each.
fn chain(tool_timeout: Duration) -> TokenSource {
    let mut source = TokenSource::from_auth(&CHAIN).unwrap();
    if let TokenSource::DefaultChain(chain) = &mut source {
        for tool in &mut chain.tools {
            tool.timeout = tool_timeout;
        }
    }
    source
}

/// A token (its text, expiry in Unix seconds and the source that gave it), or the error.
async fn fetch(source: TokenSource) -> Result<(String, u64, &'static str), EntraError> {
    let credential = EntraCredential::new(source.clone()).unwrap();
    let token = credential.token().await?;
    let expires = token
        .expires_at
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Ok((token.token.expose().to_string(), expires, source.kind()))
}

/// An address where nothing listens.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/imds")
}

/// A stand-in metadata service answering `status` after `delay`.
async fn imds(status: StatusCode, delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/imds", listener.local_addr().unwrap());
    let router = Router::new().route(
        "/imds",
        get(move || async move {
            tokio::time::sleep(delay).await;
            if status == StatusCode::OK {
                Json(json!({"access_token": "mi-token", "expires_on": "9999999999"}))
                    .into_response()
            } else {
                (status, Json(json!({"error": "invalid_request"}))).into_response()
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

fn clean_environment() {
    for name in [
        "AZURE_TOKEN_CREDENTIALS",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "FAKE_AZ",
        "FAKE_AZD",
    ] {
        std::env::remove_var(name);
    }
}

fn assert_no_token(error: &str) {
    assert!(!error.contains("made-up"), "a token leaked: {error}");
}

#[tokio::test]
async fn developer_tools_follow_managed_identity_off_azure() {
    let _env = ENV.lock().await;
    clean_environment();
    let tools = FakeTools::install();
    std::env::set_var("SIGNALR_IMDS_ENDPOINT", closed_port().await);

    // Azure CLI, with the tenant the environment names; expires_on wins.
    std::env::set_var("FAKE_AZ", "new");
    std::env::set_var("AZURE_TENANT_ID", "tenant-1");
    assert_eq!(
        fetch(chain(Duration::from_secs(13))).await.unwrap(),
        ("made-up-az-token".into(), EXPIRES, "Azure CLI")
    );
    assert_eq!(
        tools.args("az").unwrap(),
        "account get-access-token --output json --resource https://signalr.azure.com --tenant tenant-1"
    );
    assert_eq!(
        tools.args("azd"),
        None,
        "the first tool that answers is used"
    );
    std::env::remove_var("AZURE_TENANT_ID");

    // An az older than 2.54 prints only expiresOn, in local time: the tool runs with TZ=UTC0,
    // so a machine in another zone (here EST5) reads the same expiry.
    std::env::set_var("FAKE_AZ", "old");
    std::env::set_var("TZ", "EST5");
    assert_eq!(
        fetch(chain(Duration::from_secs(13))).await.unwrap(),
        ("made-up-az-token".into(), EXPIRES, "Azure CLI")
    );
    std::env::remove_var("TZ");
    assert_eq!(
        tools.args("az").unwrap(),
        "account get-access-token --output json --resource https://signalr.azure.com"
    );

    // Not signed in to az: the Azure Developer CLI is next.
    std::env::set_var("FAKE_AZ", "login");
    std::env::set_var("FAKE_AZD", "ok");
    assert_eq!(
        fetch(chain(Duration::from_secs(13))).await.unwrap(),
        ("made-up-azd-token".into(), EXPIRES, "Azure Developer CLI")
    );
    assert_eq!(
        tools.args("azd").unwrap(),
        "auth token --output json --no-prompt --scope https://signalr.azure.com/.default"
    );

    // Nothing works: one clear error naming each source; az hanging is stopped in time.
    std::env::set_var("FAKE_AZ", "slow");
    std::env::set_var("FAKE_AZD", "login");
    let started = Instant::now();
    let error = fetch(chain(Duration::from_millis(500)))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    for expected in [
        "AuthType=azure: no credential of the default chain gave a token",
        "managed identity: no instance metadata service answered",
        "Azure CLI: `az` did not answer within 0.5 s",
        "Azure Developer CLI: not signed in: run `azd auth login`",
    ] {
        assert!(error.contains(expected), "{error}\nexpected: {expected}");
    }
    assert_no_token(&error);

    std::env::set_var("FAKE_AZ", "login");
    tools.uninstall("azd");
    let source = chain(Duration::from_secs(13));
    let error = fetch(source.clone()).await.unwrap_err().to_string();
    for expected in [
        "Azure CLI: not signed in: run `az login`",
        "Azure Developer CLI: not installed (no `azd` on PATH)",
    ] {
        assert!(error.contains(expected), "{error}\nexpected: {expected}");
    }
    // After `az login` the next request gets a token: nothing to restart.
    std::env::set_var("FAKE_AZ", "new");
    assert_eq!(fetch(source).await.unwrap().0, "made-up-az-token");
    std::env::remove_var("SIGNALR_IMDS_ENDPOINT");
}

#[tokio::test]
async fn managed_identity_is_probed_as_the_sdk_does() {
    let _env = ENV.lock().await;
    clean_environment();
    let tools = FakeTools::install();
    std::env::set_var("FAKE_AZ", "new");

    // The metadata service answers: it is the chain's source, the tools are never run.
    std::env::set_var(
        "SIGNALR_IMDS_ENDPOINT",
        imds(StatusCode::OK, Duration::ZERO).await,
    );
    let source = chain(Duration::from_secs(13));
    let credential = EntraCredential::new(source.clone()).unwrap();
    assert_eq!(credential.token().await.unwrap().token.expose(), "mi-token");
    assert_eq!(source.kind(), "managed identity");
    credential.invalidate().await;
    assert_eq!(credential.token().await.unwrap().token.expose(), "mi-token");
    assert_eq!(tools.args("az"), None);

    // No identity assigned (400), or no answer within the probe's second: the tools are tried.
    for (status, delay) in [
        (StatusCode::BAD_REQUEST, Duration::ZERO),
        (StatusCode::OK, Duration::from_secs(3)),
    ] {
        std::env::set_var("SIGNALR_IMDS_ENDPOINT", imds(status, delay).await);
        let started = Instant::now();
        assert_eq!(
            fetch(chain(Duration::from_secs(13))).await.unwrap().2,
            "Azure CLI"
        );
        assert!(started.elapsed() < Duration::from_secs(3), "{status}");
        assert!(tools.args("az").is_some());
    }
    // Any other failure of the metadata service is the answer (deployed apps see it as before).
    std::env::set_var(
        "SIGNALR_IMDS_ENDPOINT",
        imds(StatusCode::FORBIDDEN, Duration::ZERO).await,
    );
    let error = fetch(chain(Duration::from_secs(13)))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("HTTP 403"), "{error}");
    assert_eq!(
        tools.args("az"),
        None,
        "a failing metadata service stops the chain"
    );

    // On App Service (IDENTITY_ENDPOINT) the managed identity alone, never a tool.
    std::env::set_var("IDENTITY_ENDPOINT", closed_port().await);
    std::env::set_var("IDENTITY_HEADER", "made-up-header");
    let source = chain(Duration::from_secs(13));
    assert_eq!(source.kind(), "managed identity");
    let error = fetch(source).await.unwrap_err().to_string();
    assert!(error.contains("cannot be reached"), "{error}");
    assert_eq!(tools.args("az"), None);
    std::env::remove_var("IDENTITY_ENDPOINT");
    std::env::remove_var("IDENTITY_HEADER");
    std::env::remove_var("SIGNALR_IMDS_ENDPOINT");
}

#[tokio::test]
async fn azure_token_credentials_narrows_the_chain() {
    let _env = ENV.lock().await;
    clean_environment();
    let tools = FakeTools::install();
    std::env::set_var(
        "SIGNALR_IMDS_ENDPOINT",
        imds(StatusCode::OK, Duration::ZERO).await,
    );
    std::env::set_var("FAKE_AZ", "new");
    std::env::set_var("FAKE_AZD", "ok");

    let selected = |value: &str| {
        std::env::set_var("AZURE_TOKEN_CREDENTIALS", value);
        chain(Duration::from_secs(13))
    };
    // dev: the tools only, even with a metadata service that answers.
    assert_eq!(fetch(selected("dev")).await.unwrap().2, "Azure CLI");
    // prod: no tools; the managed identity without a probe, as before.
    assert_eq!(selected("prod").kind(), "managed identity");
    // One credential by its SDK name, in any case.
    assert_eq!(
        fetch(selected(" AzureDeveloperCliCredential "))
            .await
            .unwrap()
            .2,
        "Azure Developer CLI"
    );
    assert!(tools.args("azd").is_some());
    assert_eq!(
        selected("managedidentitycredential").kind(),
        "managed identity"
    );
    std::env::set_var("FAKE_AZ", "login");
    let error = fetch(selected("AzureCliCredential"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("Azure CLI: not signed in") && !error.contains("Developer"),
        "{error}"
    );
    assert_eq!(tools.args("azd"), None);

    for (value, expected) in [
        (
            "EnvironmentCredential",
            "selects environmentcredential, which needs AZURE_CLIENT_ID and AZURE_TENANT_ID",
        ),
        (
            "VisualStudioCredential",
            "selects a credential this handler does not have",
        ),
        (
            "made-up",
            "AZURE_TOKEN_CREDENTIALS must be dev, prod or one credential name",
        ),
    ] {
        std::env::set_var("AZURE_TOKEN_CREDENTIALS", value);
        let error = TokenSource::from_auth(&CHAIN).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}\nexpected: {expected}");
    }
    std::env::remove_var("AZURE_TOKEN_CREDENTIALS");
    std::env::remove_var("SIGNALR_IMDS_ENDPOINT");
}
