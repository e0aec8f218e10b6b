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

/// Starts `handler <args>`, waits for its first stdout line, sends SIGTERM at once and returns
/// how it ended: the stop handlers must be in place before the ready line, or the signal's
/// default action kills the process (it did, when SIGTERM came right after the line).
fn sigterm_right_after_the_first_line(
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::ExitStatus {
    let child = Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("AzureSignalRConnectionString")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let mut stdout = BufReader::new(running.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "no first line");
    // Keep reading so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let pid = running.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    wait_exit(&mut running.0, Duration::from_secs(15)).expect("did not stop on SIGTERM")
}

#[test]
fn sigterm_right_after_the_ready_line_stops_the_emulator_cleanly() {
    for _ in 0..5 {
        let status = sigterm_right_after_the_first_line(
            &["emulator", "--port", "0", "--webpubsub-port", "0"],
            &[],
        );
        assert!(status.success(), "{status:?}");
    }
}

#[test]
fn sigterm_right_after_the_banner_stops_the_local_stack_cleanly() {
    for _ in 0..3 {
        let status = sigterm_right_after_the_first_line(
            &["serve"],
            &[
                ("PORT", "0"),
                ("EMULATOR_PORT", "0"),
                ("WEBPUBSUB_EMULATOR_PORT", "0"),
                ("FUNCTIONS_CUSTOMHANDLER_PORT", ""),
            ],
        );
        assert!(status.success(), "{status:?}");
    }
}
