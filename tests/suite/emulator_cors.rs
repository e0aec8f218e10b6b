//! What the emulators let web pages do (issue 27, finding 1): CORS, with credentials and
//! private-network access, only on the client routes and only for loopback or configured
//! origins; none on REST, dashboard, fault admin, identity or key routes, whose preflights are
//! refused; a browser WebSocket from another origin refused on both emulators. Also the local
//! stack, where the emulators take the app's `SIGNALR_CORS_ORIGINS`, and the CLI option.

use crate::emulator_support::{self, client_token, rest_token, Emu};
use crate::support::binary;
use crate::webpubsub_emulator_support as wps_support;

use reqwest::{Method, Response};
use serverless_signalr::emulator::browser_policy::BrowserPolicy;
use serverless_signalr::emulator::entra::EntraMode;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const EVIL: &str = "https://evil.example";
const LOCAL_PAGE: &str = "http://localhost:5173";
const PRIVATE_NETWORK: &str = "access-control-allow-private-network";

/// Every route of the SignalR emulator that is not for browser clients.
const NOT_FOR_BROWSERS: [&str; 7] = [
    "/msi/token?api-version=2019-08-01&resource=https://signalr.azure.com",
    "/api/v1/auth/accessKey",
    "/dashboard/snapshot",
    "/dashboard/events",
    "/admin/faults",
    "/api/hubs/chat/:send?api-version=2022-06-01",
    "/",
];

async fn preflight(base: &str, path: &str, origin: &str) -> Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, format!("{base}{path}"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, x-identity-header, content-type",
        )
        .header("access-control-request-private-network", "true")
        .send()
        .await
        .unwrap()
}

/// No header of the response grants the page anything.
fn grants_nothing(r: &Response) -> bool {
    let h = r.headers();
    [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        PRIVATE_NETWORK,
    ]
    .iter()
    .all(|name| h.get(*name).is_none())
}

async fn entra_emulator() -> Emu {
    emulator_support::spawn_with(|c| c.entra = Some(EntraMode::generate(false))).await
}

#[tokio::test]
async fn no_cors_on_rest_dashboard_admin_identity_or_key_routes() {
    let emu = entra_emulator().await;
    for path in NOT_FOR_BROWSERS {
        for origin in [EVIL, LOCAL_PAGE] {
            let r = preflight(&emu.base, path, origin).await;
            assert!(
                grants_nothing(&r),
                "{path} from {origin}: {:?}",
                r.headers()
            );
            assert_eq!(r.status(), 403, "{path} from {origin}");
            let (_, code, body) = emulator_support::error_of(r).await;
            assert_eq!(code, "Error.Request.CrossOriginNotAllowed", "{body}");
            // A request a page can send without a preflight still gets nothing it may read.
            let r = emu
                .http
                .get(format!("{}{path}", emu.base))
                .header("origin", origin)
                .send()
                .await
                .unwrap();
            assert!(
                grants_nothing(&r),
                "GET {path} from {origin}: {:?}",
                r.headers()
            );
        }
    }
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn client_routes_grant_cors_and_private_network_access_to_loopback_origins_only() {
    let emu = emulator_support::spawn().await;
    let negotiate = "/client/negotiate?hub=chat&negotiateVersion=1";
    for path in [negotiate, "/client/?hub=chat&id=x", "/client?hub=chat&id=x"] {
        let r = preflight(&emu.base, path, LOCAL_PAGE).await;
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], LOCAL_PAGE, "{path}");
        assert_eq!(h["access-control-allow-credentials"], "true", "{path}");
        assert_eq!(h[PRIVATE_NETWORK], "true", "{path}");

        let r = preflight(&emu.base, path, EVIL).await;
        assert!(grants_nothing(&r), "{path}: {:?}", r.headers());
        assert_eq!(r.status(), 403, "{path}");
    }
    // The request itself: a page of another origin is refused before negotiate runs.
    let negotiate_from = |origin: &'static str| {
        emu.http
            .post(format!("{}{negotiate}", emu.base))
            .header("origin", origin)
            .bearer_auth(client_token("chat", None))
            .send()
    };
    let r = negotiate_from(EVIL).await.unwrap();
    assert!(grants_nothing(&r));
    let (status, code, body) = emulator_support::error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "Error.Request.OriginNotAllowed"),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("loopback"),
        "{body}"
    );
    let r = negotiate_from(LOCAL_PAGE).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], LOCAL_PAGE);
    // Servers and other non-browser clients send no Origin.
    let r = emu
        .http
        .post(format!("{}{negotiate}", emu.base))
        .bearer_auth(client_token("chat", None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn configured_origins_are_allowed_besides_loopback() {
    let policy = BrowserPolicy::parse("https://app.example.com, http://app.test:3000").unwrap();
    let emu = emulator_support::spawn_with(|c| c.browser = policy).await;
    let path = "/client/negotiate?hub=chat&negotiateVersion=1";
    for origin in [
        "https://app.example.com",
        "http://app.test:3000",
        LOCAL_PAGE,
    ] {
        let r = preflight(&emu.base, path, origin).await;
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
    }
    assert_eq!(preflight(&emu.base, path, EVIL).await.status(), 403);
    // Configuring origins never opens the other routes.
    let r = preflight(&emu.base, "/dashboard/snapshot", "https://app.example.com").await;
    assert!(grants_nothing(&r));
    for bad in ["*", "https://app.example.com/path", "app.example.com"] {
        assert!(BrowserPolicy::parse(bad).is_err(), "{bad}");
    }
    emu.handle.shutdown().await;
}

/// Opens a WebSocket to `url` with `origin`; the upgrade's status.
async fn upgrade_status(url: &str, origin: Option<&str>) -> u16 {
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("cannot connect to {url}: {e}"),
    }
}

#[tokio::test]
async fn browser_websockets_from_other_origins_are_refused_by_both_emulators() {
    // SignalR: a WebSocket without negotiate (as the service allows) and a token signed with
    // the public development key is all a page of another origin would need.
    let emu = emulator_support::spawn().await;
    let url = format!(
        "{}/client/?hub=chat&access_token={}",
        emu.base.replace("http", "ws"),
        client_token("chat", None)
    );
    assert_eq!(upgrade_status(&url, Some(EVIL)).await, 403);
    assert_eq!(upgrade_status(&url, Some("null")).await, 403);
    assert_eq!(
        upgrade_status(&url, Some("http://127.0.0.1:8080")).await,
        101
    );
    assert_eq!(upgrade_status(&url, None).await, 101);
    emu.handle.shutdown().await;

    let wps = wps_support::spawn().await;
    let token = wps_support::client_token(&wps, "chat", None, &[], &[]);
    let ws = wps.base.replace("http", "ws");
    for url in [
        format!("{ws}/client/hubs/chat?access_token={token}"),
        format!("{ws}/client/?hub=chat&access_token={token}"),
    ] {
        assert_eq!(upgrade_status(&url, Some(EVIL)).await, 403, "{url}");
        assert_eq!(upgrade_status(&url, Some(LOCAL_PAGE)).await, 101, "{url}");
        assert_eq!(upgrade_status(&url, None).await, 101, "{url}");
    }
    // Its REST API grants no CORS either.
    let r = preflight(
        &wps.base,
        "/api/hubs/chat/:send?api-version=2024-01-01",
        LOCAL_PAGE,
    )
    .await;
    assert!(grants_nothing(&r));
    assert_eq!(r.status(), 403);
    wps.handle.shutdown().await;
}

/// A REST call with a valid token still works without an Origin, as servers call it.
#[tokio::test]
async fn servers_still_call_rest() {
    let emu = emulator_support::spawn().await;
    let path = "/api/hubs/chat/:send?api-version=2022-06-01";
    let r = emu
        .http
        .post(format!("{}{path}", emu.base))
        .bearer_auth(rest_token("/api/hubs/chat/:send?api-version=2022-06-01"))
        .json(&serde_json::json!({"target": "t", "arguments": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    emu.handle.shutdown().await;
}

/// The local stack gives the emulators the app's allowed origins: loopback plus
/// `SIGNALR_CORS_ORIGINS`.
#[tokio::test]
async fn the_local_stack_applies_the_apps_origins_to_the_emulator() {
    let handler = binary::spawn(
        false,
        &[("SIGNALR_CORS_ORIGINS", "https://app.example.com")],
    )
    .await;
    handler.stdout.wait_for("dashboard:").await;
    let text = handler.stdout.text();
    let dashboard = text
        .lines()
        .find(|l| l.contains("dashboard:"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let path = "/client/negotiate?hub=chat&negotiateVersion=1";
    for origin in ["https://app.example.com", LOCAL_PAGE] {
        let r = preflight(&dashboard, path, origin).await;
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
    }
    assert_eq!(preflight(&dashboard, path, EVIL).await.status(), 403);
}

#[test]
fn the_emulator_refuses_a_wildcard_origin_at_start_up() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args([
            "emulator",
            "--port",
            "0",
            "--webpubsub-port",
            "0",
            "--cors-origins",
            "*",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--cors-origins") && stderr.contains("exact origins"),
        "{stderr}"
    );
}
