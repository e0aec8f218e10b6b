//! The app's Web PubSub routes with Microsoft's Python SDKs, both pinned in
//! `tests/python/requirements.txt`: on the local stack (the real binary, as `cargo run` starts
//! it), `tests/python/webpubsub_app_clients.py` connects an `azure-messaging-webpubsubclient`
//! client through the app's negotiate, joins a group, sends an event the app's events route
//! broadcasts, and receives what `azure-messaging-webpubsubservice` sends through the emulator.

use crate::child_process;
use crate::python_env;
use crate::support::binary;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[tokio::test]
async fn microsofts_python_client_and_service_sdks_use_the_apps_routes() {
    let handler = binary::spawn(
        false,
        &[
            ("SIGNALR_EASY_AUTH", "true"),
            (
                "WEBPUBSUB_TOKEN_ROLES",
                "webpubsub.joinLeaveGroup.room,webpubsub.sendToGroup.room",
            ),
            ("WEBPUBSUB_BROADCAST_EVENTS", "message"),
        ],
    )
    .await;
    let prefix = "WebPubSubConnectionString=";
    handler.stdout.wait_for(prefix).await;
    let banner = handler.stdout.text();
    let connection_string = banner
        .lines()
        .find_map(|l| l.split_once(prefix).map(|(_, cs)| cs.trim().to_string()))
        .unwrap_or_else(|| panic!("no Web PubSub connection string in the banner:\n{banner}"));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let environment = python_env::environment(&dir.join("requirements.txt"));
    let mut script = Command::new(&environment.python);
    script
        .arg(dir.join("webpubsub_app_clients.py"))
        .env("APP_BASE", &handler.base)
        .env("WPS_CONNECTION_STRING", connection_string)
        .env("WPS_HUB", "pychat")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(path) = &environment.python_path {
        script.env("PYTHONPATH", path);
    }
    let (ok, text) =
        tokio::task::spawn_blocking(move || child_process::run(script, Duration::from_secs(120)))
            .await
            .unwrap();
    assert!(
        ok,
        "the Python SDK script failed:\n{text}\nthe app's log:\n{}",
        handler.stderr.text()
    );
    assert!(text.contains("hello from python"), "{text}");
}
