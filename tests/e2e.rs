//! Runs the Node end-to-end suite (`tests/e2e`, the unmodified `@microsoft/signalr` client against
//! `handler emulator`). Installs the pinned client with `npm ci` when `node_modules` is missing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `command`, killing it if it outlives `limit`; returns (success, combined output).
fn run(mut command: Command, limit: Duration) -> (bool, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e} (are node and npm installed?)"));
    let stdout = child.stdout.take().map(|mut out| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut out, &mut text);
            text
        })
    });
    let stderr = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut text);
            text
        })
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child failed") {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut output = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    output.push_str(&stderr.and_then(|h| h.join().ok()).unwrap_or_default());
    if status.is_none() {
        output.push_str(&format!("\n(killed after {limit:?})\n"));
    }
    (status.is_some_and(|s| s.success()), output)
}

#[test]
fn signalr_js_client_against_the_emulator() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    if !dir.join("node_modules").exists() {
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
