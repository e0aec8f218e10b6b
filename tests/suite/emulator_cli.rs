//! `handler emulator` as a user runs it: the connection string is the first stdout line, the
//! server answers on it, SIGTERM stops it cleanly, and bad options fail with a clear message.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills the child if a test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[tokio::test]
async fn prints_the_connection_string_first_and_stops_on_sigterm() {
    let child = Command::new(env!("CARGO_BIN_EXE_handler"))
        .args([
            "emulator",
            "--port",
            "0",
            "--key",
            "cli-test-key-0123456789",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let stdout = running.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no first line within 20 s");
    let line = line.trim_end();
    let port = line
        .strip_prefix("Endpoint=http://127.0.0.1;Port=")
        .and_then(|rest| rest.strip_suffix(";AccessKey=cli-test-key-0123456789;Version=1.0;"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let health = reqwest::get(format!("http://127.0.0.1:{port}/api/health"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let pid = running.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status =
        wait_exit(&mut running.0, Duration::from_secs(15)).expect("did not stop on SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_bad_upstream_url_is_refused_clearly() {
    let child = Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["emulator", "--port", "0", "--upstream", "not a url"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let status = wait_exit(&mut running.0, Duration::from_secs(15)).expect("did not exit");
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(running.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("not a url") && stderr.contains("absolute"),
        "{stderr}"
    );
}
