//! The binary as the Functions host runs it, and standalone: where it listens, what it does with
//! listen settings that are bad or do not apply, and draining a request that is in flight when
//! SIGTERM arrives.

use crate::support;

use std::sync::Arc;

use support::{binary, FakeService, Reply};
use tokio::sync::Semaphore;

/// Under the host the handler checks no function keys (the host does), so it must only be
/// reachable on loopback: BIND_ADDRESS=0.0.0.0 would open keyed routes to everyone. 127.0.0.2
/// is loopback too, but only a socket bound to every address answers there.
#[tokio::test]
async fn under_the_host_bind_address_is_ignored() {
    let rec = FakeService::start().await;
    let cs = rec.connection_string();
    let handler = binary::spawn(
        true,
        &[
            ("AzureSignalRConnectionString", &cs),
            ("BIND_ADDRESS", "0.0.0.0"),
        ],
    )
    .await;
    let other_loopback = tokio::net::TcpStream::connect(("127.0.0.2", handler.port)).await;
    assert!(
        other_loopback.is_err(),
        "under the host the handler must listen on 127.0.0.1 only"
    );
    handler
        .stdout
        .wait_for("BIND_ADDRESS is ignored under the Functions host")
        .await;

    // Standalone, BIND_ADDRESS is honoured (that is what it is for).
    let standalone = binary::spawn(
        false,
        &[
            ("AzureSignalRConnectionString", &cs),
            ("BIND_ADDRESS", "0.0.0.0"),
        ],
    )
    .await;
    tokio::net::TcpStream::connect(("127.0.0.2", standalone.port))
        .await
        .expect("standalone with BIND_ADDRESS=0.0.0.0 listens on every address");
}

/// Under the host, PORT, BIND_ADDRESS and EMULATOR_PORT do not apply: even invalid values must
/// not stop the handler (the host would restart it forever).
#[tokio::test]
async fn under_the_host_unused_listen_settings_are_ignored_even_when_invalid() {
    let rec = FakeService::start().await;
    let cs = rec.connection_string();
    let handler = binary::spawn(
        true,
        &[
            ("AzureSignalRConnectionString", &cs),
            ("PORT", "not-a-port"),
            ("BIND_ADDRESS", "everywhere"),
            ("EMULATOR_PORT", "99999"),
        ],
    )
    .await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/negotiate", handler.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    for setting in ["PORT", "BIND_ADDRESS", "EMULATOR_PORT"] {
        handler
            .stdout
            .wait_for(&format!("{setting} is ignored under the Functions host"))
            .await;
    }
}

/// Standalone, a listen setting that cannot be used stops the handler with an error that names
/// it (there is no address to answer on), instead of clap's generic message.
#[tokio::test]
async fn standalone_bad_listen_settings_are_an_error_naming_the_setting() {
    for (setting, value, says) in [
        ("PORT", "http", "PORT: \"http\" is not a port number"),
        ("PORT", "70000", "PORT: \"70000\" is not a port number"),
        (
            "BIND_ADDRESS",
            "localhost",
            "BIND_ADDRESS: \"localhost\" is not an IP address",
        ),
        (
            "EMULATOR_PORT",
            "-1",
            "EMULATOR_PORT: \"-1\" is not a port number",
        ),
    ] {
        let mut handler = binary::start(false, &[(setting, value)]);
        let status = handler.exit_status().await;
        assert!(!status.success(), "{setting}={value}: {status}");
        handler.stderr.wait_for(says).await;
        assert!(
            !handler.stdout.text().contains(says),
            "errors go to stderr only"
        );
    }
}

/// SIGTERM while a send is waiting on the service: the handler stops taking new work, lets the
/// request finish (202, the message was sent) and exits 0. The order is enforced with signals,
/// not sleeps: the service holds the request until the handler has logged that it is draining.
#[tokio::test]
async fn sigterm_drains_a_request_in_flight() {
    let service = FakeService::start().await;
    let gate = Arc::new(Semaphore::new(0));
    let held = gate.clone();
    service.answer(move |_| Reply::status(202).held_by(&held));
    let cs = service.connection_string();
    let mut handler = binary::spawn(true, &[("AzureSignalRConnectionString", &cs)]).await;
    let url = format!("{}/api/hubs/chat/messages", handler.base);
    let in_flight = tokio::spawn(async move {
        let r = reqwest::Client::new()
            .post(url)
            .json(&serde_json::json!({"target": "t", "arguments": ["last words"]}))
            .send()
            .await
            .expect("the in-flight request is answered, not dropped");
        (r.status(), r.text().await.unwrap_or_default())
    });
    let arrived = service.wait_for_requests(1).await;
    assert_eq!(arrived[0].path, "/api/hubs/chat/:send");

    handler.terminate();
    handler
        .stdout
        .wait_for("shutting down: draining in-flight requests")
        .await;
    gate.add_permits(1);

    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body}");
    let exit = handler.exit_status().await;
    assert!(exit.success(), "SIGTERM must drain and exit 0, got {exit}");
}
