//! negotiate over HTTP: the `SignalRConnectionInfo` JSON, the token's exact claims, Easy Auth
//! identity, claim copying, groups joined at negotiate, CORS preflight as the browser client
//! sends it, and the host protocol (readiness on `/`, the host's port variable) on the binary.

use crate::support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use serverless_signalr::app::settings::ServeArgs;
use support::{spawn_app, verify, FakeService};

#[tokio::test]
async fn negotiate_answers_like_the_binding() {
    let rec = FakeService::start().await;
    let app = spawn_app(
        ServeArgs {
            hub: Some("Chat".into()),
            ..Default::default()
        },
        &rec.connection_string(),
    )
    .await;
    for request in [
        app.http
            .post(format!("{}/api/negotiate?negotiateVersion=1", app.url)),
        app.http.get(format!("{}/api/negotiate", app.url)),
    ] {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body.as_object().unwrap().len(),
            2,
            "exactly url and accessToken: {body}"
        );
        assert_eq!(
            body["url"],
            format!("http://127.0.0.1:{}/client/?hub=chat", rec.port)
        );
        let claims = verify(body["accessToken"].as_str().unwrap());
        assert_eq!(claims["aud"], "http://127.0.0.1/client/?hub=chat");
        assert!(claims.get("asrs.s.uid").is_none(), "anonymous: no user id");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            3600
        );
    }
    let r = app
        .http
        .post(format!("{}/api/hubs/Other/negotiate", app.url))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert!(body["url"]
        .as_str()
        .unwrap()
        .ends_with("/client/?hub=other"));
    let r = app
        .http
        .post(format!("{}/api/hubs/no%20spaces/negotiate", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "InvalidName"
    );
    assert!(
        rec.take().is_empty(),
        "negotiate makes no REST call without group templates"
    );
}

#[tokio::test]
async fn easy_auth_user_claims_lifetime_and_groups() {
    let rec = FakeService::start().await;
    let principal = json!({"auth_typ": "aad", "name_typ": "name", "role_typ": "roles",
        "claims": [{"typ": "tid", "val": "t1"}, {"typ": "roles", "val": "admin"}, {"typ": "name", "val": "Alice"}]});
    let args = ServeArgs {
        easy_auth: Some("true".into()),
        token_claims: Some("tid".into()),
        token_roles: Some("true".into()),
        token_lifetime: Some("120".into()),
        negotiate_groups: Some("tenant-{tid},user-{userId},missing-{nope}".into()),
        ..Default::default()
    };
    let app = spawn_app(args, &rec.connection_string()).await;
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(principal.to_string());
    let r = app
        .http
        .post(format!("{}/api/negotiate", app.url))
        .header("x-ms-client-principal-id", "alice-id")
        .header("x-ms-client-principal-name", "alice@example.com")
        .header("x-ms-client-principal", encoded)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let claims = verify(
        r.json::<Value>().await.unwrap()["accessToken"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(claims["asrs.s.uid"], "alice-id");
    assert_eq!(claims["nameid"], "alice-id");
    assert_eq!(claims["tid"], "t1");
    assert_eq!(claims["role"], "admin");
    assert!(
        claims.get("name").is_none(),
        "only listed claims are copied"
    );
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        120
    );
    let joined: Vec<(String, String)> = rec
        .take()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    assert_eq!(
        joined,
        [
            (
                "PUT".to_string(),
                "/api/hubs/default/users/alice-id/groups/tenant-t1".to_string()
            ),
            (
                "PUT".to_string(),
                "/api/hubs/default/users/alice-id/groups/user-alice-id".to_string()
            ),
        ]
    );
    // Anonymous callers join no groups.
    let r = app
        .http
        .post(format!("{}/api/negotiate", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(rec.take().is_empty());
}

#[tokio::test]
async fn cors_preflight_for_the_browser_client() {
    let rec = FakeService::start().await;
    let args = ServeArgs {
        cors_origins: Some("https://app.example.com,http://localhost:8080".into()),
        ..Default::default()
    };
    let app = spawn_app(args, &rec.connection_string()).await;
    let r = app
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/negotiate?negotiateVersion=1", app.url),
        )
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, x-requested-with, x-signalr-user-agent",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-allow-credentials"], "true");
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for needed in ["authorization", "x-requested-with", "x-signalr-user-agent"] {
        assert!(allowed.contains(needed), "{allowed}");
    }
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let r = app
        .http
        .post(format!("{}/api/negotiate", app.url))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let r = app
        .http
        .post(format!("{}/api/negotiate", app.url))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // A preflight from an origin that is not listed gets no CORS headers: the browser refuses.
    let r = app
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/negotiate?negotiateVersion=1", app.url),
        )
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // Off when not configured, so the platform's CORS is not doubled.
    let plain = spawn_app(ServeArgs::default(), &rec.connection_string()).await;
    let r = plain
        .http
        .post(format!("{}/api/negotiate", plain.url))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// With `ClientEndpoint` in the connection string, clients are sent there (e.g. behind a proxy
/// or Application Gateway); the token's audience stays the service's endpoint, which is what the
/// service checks (as the official SDK does).
#[tokio::test]
async fn negotiate_sends_clients_to_the_client_endpoint() {
    let rec = FakeService::start().await;
    let cs = format!(
        "{}ClientEndpoint=https://signalr.example.com:8443/;",
        rec.connection_string()
    );
    let app = spawn_app(ServeArgs::default(), &cs).await;
    let r = app
        .http
        .post(format!("{}/api/hubs/Chat/negotiate", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["url"],
        "https://signalr.example.com:8443/client/?hub=chat"
    );
    let claims = verify(body["accessToken"].as_str().unwrap());
    assert_eq!(claims["aud"], "http://127.0.0.1/client/?hub=chat");
}

/// Emulates the host: start the binary with FUNCTIONS_CUSTOMHANDLER_PORT, poll `/` until it
/// answers, forward requests with the `/api` prefix, then SIGTERM and expect a clean exit.
#[tokio::test]
async fn host_protocol_on_the_real_binary() {
    let rec = FakeService::start().await;
    let cs = rec.connection_string();
    let (mut child, base) =
        support::spawn_under_host(&[("AzureSignalRConnectionString", &cs)]).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/negotiate?negotiateVersion=1"))
        .header(
            "x-azure-functions-invocationid",
            "00000000-0000-0000-0000-000000000001",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Under the host, the host checks keys: function routes need none here.
    let r = http
        .post(format!("{base}/api/messages"))
        .json(&json!({"target": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // The host may join a repeated query key with commas.
    let r = http
        .post(format!("{base}/api/hubs/chat/close?excluded=a,b"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let close = rec.take().pop().unwrap();
    let excluded: Vec<&str> = close
        .query
        .iter()
        .filter(|(k, _)| k == "excluded")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(excluded, ["a", "b"]);
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "SIGTERM must drain and exit 0, got {status}"
    );
}

/// A missing connection string under the host: the binary still answers `/` and explains itself
/// on every route instead of crash-looping.
#[tokio::test]
async fn misconfiguration_is_reported_on_every_request() {
    let (mut child, base) = support::spawn_under_host(&[]).await;
    let http = reqwest::Client::new();
    for path in ["/api/negotiate", "/api/messages", "/api/anything"] {
        let r = http.post(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: Value = r.json().await.unwrap();
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AzureSignalRConnectionString"));
    }
    child.kill().await.unwrap();
}

/// `SIGNALR_CLOSE_ON_TOKEN_EXPIRY` and `SIGNALR_ALLOWED_TRANSPORTS` become the system claims the
/// service honours, as the SDK writes them: `asrs.s.coae` = "true", `asrs.s.aeo` = `exp` (Unix
/// seconds, a string) and `asrs.s.htt` = the transport flags (a string); anonymous and
/// identified tokens alike. Without the settings, none of them.
#[tokio::test]
async fn negotiate_adds_close_on_expiry_and_transport_claims_when_set() {
    let rec = FakeService::start().await;
    let args = ServeArgs {
        easy_auth: Some("true".into()),
        close_on_token_expiry: Some("true".into()),
        allowed_transports: Some("WebSockets, LongPolling".into()),
        ..Default::default()
    };
    let app = spawn_app(args, &rec.connection_string()).await;
    for user in [None, Some("ann")] {
        let mut request = app.http.post(format!("{}/api/negotiate", app.url));
        if let Some(user) = user {
            request = request.header("x-ms-client-principal-id", user);
        }
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        let claims = verify(body["accessToken"].as_str().unwrap());
        assert_eq!(claims["asrs.s.coae"], "true", "{user:?}");
        assert_eq!(claims["asrs.s.aeo"], claims["exp"].to_string(), "{user:?}");
        assert_eq!(claims["asrs.s.htt"], "5", "{user:?}");
    }
    let plain = spawn_app(ServeArgs::default(), &rec.connection_string()).await;
    let body: Value = plain
        .http
        .post(format!("{}/api/negotiate", plain.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = verify(body["accessToken"].as_str().unwrap());
    for name in ["asrs.s.coae", "asrs.s.aeo", "asrs.s.htt"] {
        assert!(claims.get(name).is_none(), "{name} without the setting");
    }
}
