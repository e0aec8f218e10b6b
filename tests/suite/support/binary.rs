//! The real `handler` binary as a child process: started the way the Functions host starts it
//! (`FUNCTIONS_CUSTOMHANDLER_PORT`) or standalone (`PORT`), with its stdout and stderr captured
//! line by line so tests can wait for a log line and check what was (never) logged.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::Notify;

/// Everything a stream of the child wrote so far, and a signal for each new line.
#[derive(Clone, Default)]
pub struct Captured {
    text: Arc<Mutex<String>>,
    changed: Arc<Notify>,
}

impl Captured {
    fn collect(&self, stream: impl AsyncRead + Unpin + Send + 'static) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = this.text.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
                drop(text);
                this.changed.notify_waiters();
            }
            this.changed.notify_waiters();
        });
    }

    /// What was written so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Waits until the output contains `needle`. The deadline only keeps a broken binary from
    /// hanging the test run; nothing here depends on how fast the line comes.
    pub async fn wait_for(&self, needle: &str) {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                if self.text().contains(needle) {
                    return;
                }
                changed.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .is_err()
        {
            panic!("never logged {needle:?}; got:\n{}", self.text());
        }
    }
}

/// A running `handler`.
pub struct Handler {
    /// The process (killed on drop).
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The port it listens on.
    pub port: u16,
    /// Its stdout.
    pub stdout: Captured,
    /// Its stderr.
    pub stderr: Captured,
}

impl Handler {
    /// Sends SIGTERM (what the host sends to stop it).
    pub fn terminate(&self) {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (see [`Captured::wait_for`] on the deadline).
    pub async fn exit_status(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the handler never exited")
            .unwrap()
    }
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `handler` with `env` (on top of a clean slate for the settings that matter) without
/// waiting for it. `under_host` sets `FUNCTIONS_CUSTOMHANDLER_PORT`, else `PORT`.
pub fn start(under_host: bool, env: &[(&str, &str)]) -> Handler {
    let port = free_port();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_handler"));
    for name in [
        "AzureSignalRConnectionString",
        "FUNCTIONS_CUSTOMHANDLER_PORT",
        "PORT",
        "BIND_ADDRESS",
        "EMULATOR_PORT",
        "SIGNALR_FUNCTION_KEYS",
        "RUST_LOG",
        "WebPubSubConnectionString",
    ] {
        command.env_remove(name);
    }
    let port_variable = if under_host {
        "FUNCTIONS_CUSTOMHANDLER_PORT"
    } else {
        "PORT"
    };
    command
        .env(port_variable, port.to_string())
        .env("EMULATOR_PORT", "0")
        .env("WEBPUBSUB_EMULATOR_PORT", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let stdout = Captured::default();
    let stderr = Captured::default();
    stdout.collect(child.stdout.take().unwrap());
    stderr.collect(child.stderr.take().unwrap());
    Handler {
        child,
        base: format!("http://127.0.0.1:{port}"),
        port,
        stdout,
        stderr,
    }
}

/// Starts `handler` and polls `/` every 25 ms until it answers 200.
pub async fn spawn(under_host: bool, env: &[(&str, &str)]) -> Handler {
    let mut handler = start(under_host, env);
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(&handler.base).send().await {
            assert_eq!(r.status(), reqwest::StatusCode::OK, "readiness ping");
            return handler;
        }
        if let Ok(Some(status)) = handler.child.try_wait() {
            panic!(
                "handler exited with {status} before it was ready:\n{}",
                handler.stderr.text()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "handler never became ready"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
