//! Runs a child process of a test (npm, node, python) with a time limit and its output captured.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `command`, killing it if it outlives `limit`; returns (success, combined output).
pub fn run(mut command: Command, limit: Duration) -> (bool, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e} (is it installed and on PATH?)"));
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
