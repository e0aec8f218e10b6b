//! The emulator's local routes — dashboard, fault admin, the managed-identity endpoint and the
//! temporary access key — answer only requests addressed to this machine by name (issue 27,
//! finding 6): a page on a name that resolves to 127.0.0.1 (DNS rebinding) sends its own name as
//! `Host` and is refused with 403, so it cannot change the faults or read the dashboard. REST and
//! the client endpoint take any `Host` (a container's name, a LAN address).

use crate::emulator_support::{self, raw_http, Emu};

use serverless_signalr::emulator::entra::EntraMode;

/// `method path` with `Host: host` and an `Origin` of the same name, as a rebound page sends.
async fn send(emu: &Emu, method: &str, path: &str, host: &str, body: &str) -> (u16, String) {
    let origin = format!("Origin: http://{host}\r\n");
    send_raw(emu, method, path, host, &origin, body).await
}

/// `method path` with `Host: host` and the `extra` header lines.
async fn send_raw(
    emu: &Emu,
    method: &str,
    path: &str,
    host: &str,
    extra: &str,
    body: &str,
) -> (u16, String) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw_http(emu, &request).await
}

fn local_routes() -> [(&'static str, &'static str, &'static str); 7] {
    [
        ("GET", "/", ""),
        ("GET", "/dashboard/snapshot", ""),
        ("GET", "/dashboard/faults", ""),
        ("GET", "/admin/faults", ""),
        ("PUT", "/admin/faults", r#"{"rest":{"rate":1}}"#),
        (
            "GET",
            "/msi/token?api-version=2019-08-01&resource=https://signalr.azure.com",
            "",
        ),
        ("GET", "/api/v1/auth/accessKey", ""),
    ]
}

#[tokio::test]
async fn local_routes_refuse_a_host_that_is_not_loopback() {
    let emu = emulator_support::spawn_with(|c| c.entra = Some(EntraMode::generate(false))).await;
    let port = emu.handle.local_addr().port();
    for host in [
        format!("rebind.test:{port}"),
        "rebind.test".to_string(),
        format!("localhost.rebind.test:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("0.0.0.0:{port}"),
    ] {
        for (method, path, body) in local_routes() {
            let (status, text) = send(&emu, method, path, &host, body).await;
            assert_eq!(status, 403, "{method} {path} with Host {host}: {text}");
            assert!(
                text.contains("Error.Request.HostNotAllowed") && text.contains("127.0.0.1"),
                "{text}"
            );
        }
    }
    // The refused PUT changed nothing.
    assert_eq!(emu.faults_report().await["config"]["rest"]["rate"], 0.0);
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn local_routes_answer_loopback_names_with_or_without_the_port() {
    let emu = emulator_support::spawn().await;
    let port = emu.handle.local_addr().port();
    for host in [
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_string(),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (status, text) = send(&emu, "GET", "/dashboard/snapshot", &host, "").await;
        assert_eq!(status, 200, "Host {host}: {text}");
    }
    // The fault admin still takes a PUT from the machine itself (its Origin check needs the
    // same Host as the Origin, which `send` gives).
    let (status, text) = send(
        &emu,
        "PUT",
        "/admin/faults",
        &format!("localhost:{port}"),
        r#"{"rest":{"rate":0.5}}"#,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    emu.handle.shutdown().await;
}

/// Servers and non-browser clients send no `Origin`.
#[tokio::test]
async fn rest_and_client_routes_take_any_host() {
    let emu = emulator_support::spawn().await;
    let host = "signalr-emulator:8888";
    for path in ["/api/health", "/api/v1/health"] {
        let (status, text) = send_raw(&emu, "GET", path, host, "", "").await;
        assert_eq!(status, 200, "{path}: {text}");
    }
    // The client endpoint: refused for the missing token, not for the Host.
    let (status, text) = send_raw(&emu, "POST", "/client/negotiate?hub=chat", host, "", "").await;
    assert_eq!(status, 401, "{text}");
    emu.handle.shutdown().await;
}
