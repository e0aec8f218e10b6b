//! The demo page and the local stack's CORS, on the real binary: the page and its files with
//! their content types, caching and CSP; its Web PubSub tab on with the local stack's Web PubSub
//! emulator (whose tokens may chat in any group) and off without Web PubSub;
//! `SIGNALR_DEMO=false` turns it off; the banner points at it; loopback origins on any port pass
//! a credentialed preflight in the local stack only.

use crate::support;

use reqwest::{Method, StatusCode};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use support::binary;

#[tokio::test]
async fn the_local_stack_serves_the_demo_page_and_says_so() {
    let handler = binary::spawn(false, &[]).await;
    handler.stdout.wait_for("function app listening").await;
    let banner = handler.stdout.text();
    assert!(
        banner.contains(&format!("http://127.0.0.1:{}/api/demo", handler.port)),
        "{banner}"
    );
    assert!(banner.contains("loopback origins"), "{banner}");
    let http = reqwest::Client::new();
    let page = http
        .get(format!("{}/api/demo", handler.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let h = page.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    let csp = h["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self';"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(
        csp.contains(" ws://127.0.0.1:"),
        "the emulator's socket: {csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script src="demo/signalr.min.js"></script>"#));
    assert!(html.contains(r#"name="viewport""#));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from outside the app"
    );
    for (file, content_type, cache) in [
        ("demo.js", "text/javascript; charset=utf-8", "no-cache"),
        ("demo.css", "text/css; charset=utf-8", "no-cache"),
        (
            "signalr.min.js",
            "text/javascript; charset=utf-8",
            "public, max-age=3600",
        ),
        (
            "signalr.LICENSE.txt",
            "text/plain; charset=utf-8",
            "public, max-age=3600",
        ),
        ("tabs.js", "text/javascript; charset=utf-8", "no-cache"),
        ("webpubsub.js", "text/javascript; charset=utf-8", "no-cache"),
        (
            "webpubsub-stream.js",
            "text/javascript; charset=utf-8",
            "no-cache",
        ),
        (
            "webpubsub-client.min.js",
            "text/javascript; charset=utf-8",
            "public, max-age=3600",
        ),
        (
            "webpubsub-client.LICENSE.txt",
            "text/plain; charset=utf-8",
            "public, max-age=3600",
        ),
    ] {
        let r = http
            .get(format!("{}/api/demo/{file}", handler.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        assert_eq!(r.headers()["content-type"], content_type, "{file}");
        assert_eq!(r.headers()["cache-control"], cache, "{file}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{file}");
    }
    let missing = http
        .get(format!("{}/api/demo/secret.txt", handler.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NotFound");
}

#[tokio::test]
async fn signalr_demo_false_turns_the_page_off() {
    let handler = binary::spawn(false, &[("SIGNALR_DEMO", "false")]).await;
    handler.stdout.wait_for("function app listening").await;
    assert!(!handler.stdout.text().contains("/api/demo"));
    let http = reqwest::Client::new();
    for path in ["/api/demo", "/api/demo/signalr.min.js"] {
        let r = http
            .get(format!("{}{path}", handler.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "DemoOff", "{path}");
    }
    let bad = binary::start(false, &[("SIGNALR_DEMO", "maybe")]);
    bad.stderr.wait_for("SIGNALR_DEMO").await;
}

/// The claims of a JWT, unverified.
fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn the_web_pubsub_tab_is_on_in_the_local_stack_and_may_chat_in_any_group() {
    let handler = binary::spawn(false, &[]).await;
    handler.stdout.wait_for("Web PubSub try:").await;
    let banner = handler.stdout.text();
    let line = banner
        .lines()
        .find(|l| l.contains("WebPubSubConnectionString=Endpoint="))
        .unwrap_or_else(|| panic!("{banner}"));
    let endpoint = line
        .split("Endpoint=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let socket = endpoint.replace("http://", "ws://");
    assert!(
        banner.contains("Web PubSub roles:  webpubsub.joinLeaveGroup,webpubsub.sendToGroup"),
        "{banner}"
    );
    let page = reqwest::get(format!("{}/api/demo", handler.base))
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains(&format!(" {socket};")), "{socket} in {csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<body data-webpubsub="on">"#));
    assert!(html.contains(r#"<script src="demo/webpubsub-client.min.js"></script>"#));
    let negotiated: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/webpubsub/negotiate", handler.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(negotiated["url"].as_str().unwrap().starts_with(&socket));
    let roles = claims(negotiated["accessToken"].as_str().unwrap())["role"].clone();
    assert_eq!(
        roles,
        serde_json::json!(["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"])
    );

    // Roles that are set are kept as they are.
    let narrow = binary::spawn(
        false,
        &[("WEBPUBSUB_TOKEN_ROLES", "webpubsub.joinLeaveGroup.room")],
    )
    .await;
    narrow.stdout.wait_for("Web PubSub try:").await;
    assert!(!narrow.stdout.text().contains("Web PubSub roles:"));
    let negotiated: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/webpubsub/negotiate", narrow.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let roles = claims(negotiated["accessToken"].as_str().unwrap())["role"].clone();
    assert_eq!(roles, serde_json::json!(["webpubsub.joinLeaveGroup.room"]));
}

#[tokio::test]
async fn without_web_pubsub_the_tab_is_off() {
    // A SignalR service that is not the local stack and no WebPubSubConnectionString; the
    // development key, never a real one.
    let cs = format!("Endpoint=http://127.0.0.1:9;AccessKey={DEV_ACCESS_KEY};Version=1.0;");
    let handler = binary::spawn(false, &[("AzureSignalRConnectionString", &cs)]).await;
    let page = reqwest::get(format!("{}/api/demo", handler.base))
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("connect-src 'self' http://127.0.0.1:9 ws://127.0.0.1:9;"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<body data-webpubsub="off">"#));
    assert!(html.contains("Web PubSub is not configured on this app"));
}

async fn preflight(base: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(
            Method::OPTIONS,
            format!("{base}/api/negotiate?negotiateVersion=1"),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "x-requested-with, x-signalr-user-agent",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_local_stack_allows_loopback_origins_with_credentials() {
    let handler = binary::spawn(false, &[]).await;
    let other_port = binary::free_port();
    for origin in [
        format!("http://127.0.0.1:{other_port}"),
        "http://localhost:5173".to_string(),
        "http://[::1]:3000".to_string(),
    ] {
        let r = preflight(&handler.base, &origin).await;
        assert!(r.status().is_success(), "{origin}: {}", r.status());
        assert_eq!(r.headers()["access-control-allow-origin"], origin.as_str());
        assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    }
    for origin in ["http://example.com", "http://localhost.example.com:5173"] {
        let r = preflight(&handler.base, origin).await;
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{origin} must be refused"
        );
    }
}

#[tokio::test]
async fn loopback_origins_are_not_allowed_with_a_real_service() {
    // A service that is not the local stack; the development key, never a real one.
    let cs = format!("Endpoint=http://127.0.0.1:9;AccessKey={DEV_ACCESS_KEY};Version=1.0;");
    let handler = binary::spawn(false, &[("AzureSignalRConnectionString", &cs)]).await;
    let r = preflight(&handler.base, "http://127.0.0.1:5173").await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
