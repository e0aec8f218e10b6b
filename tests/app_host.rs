//! The binary as the Functions host runs it, and standalone: where it listens, what it does with
//! listen settings that are bad or do not apply, and draining a request that is in flight when
//! SIGTERM arrives.

mod support;

use support::binary;

/// Under the host the handler checks no function keys (the host does), so it must only be
/// reachable on loopback: BIND_ADDRESS=0.0.0.0 would open keyed routes to everyone. 127.0.0.2
/// is loopback too, but only a socket bound to every address answers there.
#[tokio::test]
async fn under_the_host_bind_address_is_ignored() {
    let rec = support::Recorder::start().await;
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
