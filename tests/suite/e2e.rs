//! Runs the Node end-to-end suite (`tests/e2e`, the unmodified `@microsoft/signalr` client, and the
//! official Web PubSub SDKs, against `handler emulator`). Installs the pinned client with `npm ci` when `node_modules` is missing.

use crate::child_process;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use child_process::run;

#[test]
fn signalr_js_client_against_the_emulator() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    // Also when a checkout's node_modules predates a package added since.
    let installed = [
        "@microsoft/signalr-protocol-msgpack",
        "@azure/web-pubsub-client",
        "@azure/web-pubsub",
        "@azure/web-pubsub-express",
        "express",
    ]
    .iter()
    .all(|package| dir.join("node_modules").join(package).exists());
    if !installed {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir);
        let (ok, output) = run(npm, Duration::from_secs(300));
        assert!(ok, "`npm ci` in tests/e2e failed; install Node.js 20+ and npm, and check registry access:\n{output}");
    }
    // The test files by name, sorted: Node 21+ takes a directory argument as a module to run
    // (nodejs/node#50219), so `node --test tests/e2e/` only works on Node 20.
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("tests/e2e/{name}"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.test.mjs files in {}",
        dir.display()
    );
    let mut node = Command::new("node");
    node.arg("--test")
        .args(&files)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HANDLER_BIN", env!("CARGO_BIN_EXE_handler"));
    let (ok, output) = run(node, Duration::from_secs(240));
    println!("{output}");
    assert!(ok, "the Node e2e suite failed:\n{output}");
}
