//! The binary's helper commands: `handler token` prints negotiate's answer with a verifiable
//! token, and bad options are a clear error with a non-zero exit.

use std::process::Command;

use serde_json::Value;

const KEY: &str = serverless_signalr::service::connection_string::DEV_ACCESS_KEY;

fn handler(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(args)
        .env_remove("AzureSignalRConnectionString")
        .output()
        .unwrap()
}

#[test]
fn token_prints_url_and_a_token_for_the_emulator() {
    let out = handler(&[
        "token",
        "--hub",
        "Chat",
        "--user",
        "alice",
        "--claim",
        "tid=t1",
        "--lifetime",
        "60",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["url"], "http://127.0.0.1:8888/client/?hub=chat");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["http://127.0.0.1/client/?hub=chat"]);
    let claims = jsonwebtoken::decode::<Value>(
        answer["accessToken"].as_str().unwrap(),
        &jsonwebtoken::DecodingKey::from_secret(KEY.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["asrs.s.uid"], "alice");
    assert_eq!(claims["tid"], "t1");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        60
    );
}

#[test]
fn token_errors_name_the_option() {
    for (args, needle) in [
        (vec!["token", "--hub", "1x"], "--hub: "),
        (vec!["token", "--claim", "novalue"], "--claim \"novalue\""),
        (
            vec!["token", "--connection-string", "Endpoint=x"],
            "--connection-string: ",
        ),
        (vec!["token", "--lifetime", "0"], "lifetime"),
    ] {
        let out = handler(&args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
