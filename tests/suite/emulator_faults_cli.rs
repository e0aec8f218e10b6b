//! Fault injection as users start it: `handler emulator --faults` / `EMULATOR_FAULTS`, and the
//! local stack's `EMULATOR_FAULTS`; bad specs are refused with the field named.

use serde_json::Value;

use crate::emulator_support::rest_token;

const SEND: &str = "/api/hubs/chat/:send?api-version=2022-06-01";
const BODY: &str = r#"{"target":"news","arguments":["x"]}"#;

#[tokio::test]
async fn the_cli_flag_sets_faults_from_the_start_and_refuses_bad_specs() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let bad = Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["emulator", "--port", "0", "--webpubsub-port", "0"])
        .args(["--faults", "rest=2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--faults") && stderr.contains("rest.rate"),
        "{stderr}"
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["emulator", "--port", "0", "--webpubsub-port", "0"])
        .env("EMULATOR_FAULTS", "seed=5,rest=1,rest.kinds=429")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .split("Port=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("http://127.0.0.1:{port}{SEND}"))
        .bearer_auth(rest_token("/api/hubs/chat/:send"))
        .body(BODY)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let report: Value = http
        .get(format!("http://127.0.0.1:{port}/admin/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let _ = child.kill();
    let mut rest = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut rest);
    let _ = child.wait();
    assert_eq!(status, 429);
    assert_eq!(report["config"]["seed"], 5);
    assert_eq!(report["counts"]["rest"]["injected"]["429"], 1);
}

#[tokio::test]
async fn the_local_stack_takes_emulator_faults_and_names_a_bad_one() {
    let emu_port = crate::support::binary::free_port().to_string();
    let stack = crate::support::binary::spawn(
        false,
        &[
            ("EMULATOR_PORT", &emu_port),
            ("EMULATOR_FAULTS", "seed=3,connect=1,connect.kinds=503"),
        ],
    )
    .await;
    // The app's own negotiate is not a service call; the client's negotiate with the emulator is.
    let http = reqwest::Client::new();
    let info: Value = http
        .post(format!("{}/api/negotiate", stack.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let negotiate = http
        .post(format!(
            "http://127.0.0.1:{emu_port}/client/negotiate?hub=default&negotiateVersion=1"
        ))
        .bearer_auth(info["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(negotiate.status(), 503);
    let report: Value = http
        .get(format!("http://127.0.0.1:{emu_port}/admin/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["config"]["seed"], 3);
    assert_eq!(report["counts"]["connect"]["injected"]["503"], 1);

    // A bad spec stops the local stack with the error, as a port it cannot listen on does.
    let mut bad =
        crate::support::binary::start(false, &[("EMULATOR_FAULTS", "connect.kinds=boom")]);
    assert!(!bad.exit_status().await.success());
    bad.stderr
        .wait_for("EMULATOR_FAULTS: connect.kinds: unknown kind \"boom\"")
        .await;
}
