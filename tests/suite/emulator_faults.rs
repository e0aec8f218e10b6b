//! Fault injection on a real emulator on a random port: each kind does what it says (503/429 with
//! `Retry-After`, resets before and after the body, latency, down), per class (REST, client
//! connect, upstream), counted, reproducible with a seed, and the admin route refuses bad
//! configurations and other peers. Starting with faults: `emulator_faults_cli`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serverless_signalr::emulator::{self, EmulatorConfig, UpstreamTemplate};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use crate::emulator_support::recorder::Recorder;
use crate::emulator_support::{rest_token, spawn, spawn_with, Emu, WsClient};

async fn put_faults(emu: &Emu, config: Value) -> reqwest::Response {
    emu.http
        .put(format!("{}/admin/faults", emu.base))
        .json(&config)
        .send()
        .await
        .unwrap()
}

async fn set_faults(emu: &Emu, config: Value) {
    let response = put_faults(emu, config).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

const SEND: &str = "/api/hubs/chat/:send?api-version=2022-06-01";
const BODY: &str = r#"{"target":"news","arguments":["x"]}"#;

/// A raw POST to `:send` on a new TCP connection: the head, and the body unless `head_only`.
async fn raw_send(emu: &Emu, head_only: bool) -> TcpStream {
    let mut stream = TcpStream::connect(emu.handle.local_addr()).await.unwrap();
    let head = format!(
        "POST {SEND} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        rest_token("/api/hubs/chat/:send"),
        BODY.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    if !head_only {
        stream.write_all(BODY.as_bytes()).await.unwrap();
    }
    stream
}

/// What the server did with the connection within `wait`: `Ok(bytes)` read until it closed
/// cleanly, `Err(kind)` when the read failed (a reset), or `Ok(None)` still open.
async fn outcome(
    stream: &mut TcpStream,
    wait: Duration,
) -> Result<Option<Vec<u8>>, std::io::ErrorKind> {
    let mut bytes = Vec::new();
    match tokio::time::timeout(wait, stream.read_to_end(&mut bytes)).await {
        Err(_) => Ok(None),
        Ok(Ok(_)) => Ok(Some(bytes)),
        Ok(Err(e)) => Err(e.kind()),
    }
}

#[tokio::test]
async fn status_faults_answer_with_retry_after_and_do_nothing() {
    let emu = spawn().await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    for (kind, status, code) in [
        ("503", 503, "Error.Service.Unavailable"),
        ("429", 429, "Error.Request.Throttled"),
    ] {
        set_faults(
            &emu,
            json!({"seed": 1, "rest": {"rate": 1, "kinds": [kind], "retryAfterSeconds": 2}}),
        )
        .await;
        let response = emu
            .rest(
                reqwest::Method::POST,
                SEND,
                Some(json!({"target": "news", "arguments": [1]})),
            )
            .await;
        assert_eq!(response.status(), status);
        assert_eq!(response.headers()["retry-after"], "2");
        assert_eq!(response.headers()["x-ms-error-code"], code);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code);
        assert!(body["message"].as_str().unwrap().contains("Injected fault"));
        let counts = &emu.faults_report().await["counts"]["rest"];
        assert_eq!(counts["injected"][kind], 1, "{counts}");
        assert_eq!(counts["seen"], 1);
    }
    ws.expect_silence(Duration::from_millis(300)).await;
    // Cleared: the send goes through again.
    emu.http
        .delete(format!("{}/admin/faults", emu.base))
        .send()
        .await
        .unwrap();
    assert_eq!(emu.send_all("chat", "news", json!([2])).await, 202);
    assert_eq!(ws.next().await.unwrap()["arguments"], json!([2]));
}

#[tokio::test]
async fn reset_before_drops_the_connection_without_reading_the_body() {
    let emu = spawn().await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    set_faults(
        &emu,
        json!({"rest": {"rate": 1, "kinds": ["reset-before"]}}),
    )
    .await;
    // Only the head is sent: the connection is reset at once, the body never asked for.
    let mut stream = raw_send(&emu, true).await;
    assert_eq!(
        outcome(&mut stream, Duration::from_secs(5)).await,
        Err(std::io::ErrorKind::ConnectionReset)
    );
    ws.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(
        emu.faults_report().await["counts"]["rest"]["injected"]["reset-before"],
        1
    );
}

#[tokio::test]
async fn reset_after_reads_the_whole_body_then_drops_without_applying() {
    let emu = spawn().await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    set_faults(&emu, json!({"rest": {"rate": 1, "kinds": ["reset-after"]}})).await;
    let mut stream = raw_send(&emu, true).await;
    // Waiting for the body: the connection stays open.
    assert_eq!(
        outcome(&mut stream, Duration::from_millis(400)).await,
        Ok(None)
    );
    stream.write_all(BODY.as_bytes()).await.unwrap();
    assert_eq!(
        outcome(&mut stream, Duration::from_secs(5)).await,
        Err(std::io::ErrorKind::ConnectionReset)
    );
    // Not applied.
    ws.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(
        emu.faults_report().await["counts"]["rest"]["injected"]["reset-after"],
        1
    );
}

#[tokio::test]
async fn latency_delays_then_serves() {
    let emu = spawn().await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    set_faults(
        &emu,
        json!({"rest": {"rate": 1, "kinds": ["latency"], "latencyMs": 400}}),
    )
    .await;
    let started = Instant::now();
    assert_eq!(emu.send_all("chat", "news", json!([1])).await, 202);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ws.next().await.unwrap()["arguments"], json!([1]));
    set_faults(
        &emu,
        json!({"rest": {"rate": 1, "kinds": ["latency"], "latencyMs": [10, 30]}}),
    )
    .await;
    let started = Instant::now();
    assert_eq!(emu.send_all("chat", "news", json!([2])).await, 202);
    assert!(started.elapsed() < Duration::from_millis(400));
    assert_eq!(
        emu.faults_report().await["counts"]["rest"]["injected"]["latency"],
        1
    );
}

#[tokio::test]
async fn connect_faults_hit_negotiate_and_transports_only() {
    let emu = spawn().await;
    set_faults(&emu, json!({"connect": {"rate": 1, "kinds": ["503"]}})).await;
    let negotiate = emu
        .http
        .post(format!(
            "{}/client/negotiate?hub=chat&negotiateVersion=1",
            emu.base
        ))
        .bearer_auth(crate::emulator_support::client_token("chat", None))
        .send()
        .await
        .unwrap();
    assert_eq!(negotiate.status(), 503);
    assert_eq!(negotiate.headers()["retry-after"], "1");
    // REST is another class: untouched.
    assert_eq!(emu.send_all("chat", "news", json!([1])).await, 202);
    set_faults(
        &emu,
        json!({"connect": {"rate": 1, "kinds": ["reset-before"]}}),
    )
    .await;
    let url = format!(
        "ws://127.0.0.1:{}/client/?hub=chat&access_token={}",
        emu.handle.local_addr().port(),
        crate::emulator_support::client_token("chat", None)
    );
    let error = tokio_tungstenite::connect_async(url).await.unwrap_err();
    assert!(
        matches!(error, tokio_tungstenite::tungstenite::Error::Io(ref e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{error:?}"
    );
    let counts = &emu.faults_report().await["counts"];
    assert_eq!(
        counts["connect"]["injected"]["503"], 0,
        "PUT restarts the counts"
    );
    assert_eq!(counts["connect"]["injected"]["reset-before"], 1);
    assert_eq!(counts["rest"]["seen"], 0);
}

#[tokio::test]
async fn down_closes_clients_and_resets_everything_until_cleared() {
    let emu = spawn().await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    set_faults(&emu, json!({"down": true})).await;
    let close = ws.next().await.expect("a Close message");
    assert_eq!(close["type"], 7, "{close}");
    assert!(close["error"].as_str().unwrap().contains("down"), "{close}");
    let mut stream = raw_send(&emu, false).await;
    assert_eq!(
        outcome(&mut stream, Duration::from_secs(5)).await,
        Err(std::io::ErrorKind::ConnectionReset)
    );
    let negotiate = emu
        .http
        .post(format!("{}/client/negotiate?hub=chat", emu.base))
        .send()
        .await;
    assert!(negotiate.is_err(), "{negotiate:?}");
    // The admin route and the dashboard stay up.
    let counts = emu.faults_report().await;
    assert_eq!(counts["config"]["down"], true);
    assert_eq!(counts["counts"]["rest"]["injected"]["down"], 1);
    assert_eq!(counts["counts"]["connect"]["injected"]["down"], 1);
    let dashboard = emu
        .http
        .get(format!("{}/dashboard/faults", emu.base))
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), 200);
    assert_eq!(
        dashboard.json::<Value>().await.unwrap()["config"]["down"],
        true
    );
    emu.http
        .delete(format!("{}/admin/faults", emu.base))
        .send()
        .await
        .unwrap();
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    assert_eq!(emu.send_all("chat", "news", json!([1])).await, 202);
    assert_eq!(ws.next().await.unwrap()["arguments"], json!([1]));
}

#[tokio::test]
async fn upstream_faults_fail_or_lose_calls_as_a_network_would() {
    let rec = Recorder::start().await;
    let base = rec.base.clone();
    let emu =
        spawn_with(|c| c.upstream = vec![UpstreamTemplate::all(format!("{base}/{{event}}"))]).await;
    let mut ws = WsClient::connect(&emu, "chat", None).await;
    rec.wait_for("/connected").await;
    let invoke = |id: &str, target: &str| {
        format!("{{\"type\":1,\"invocationId\":\"{id}\",\"target\":\"{target}\",\"arguments\":[]}}\u{1e}")
    };
    // 503: the app is not called; the caller gets the status.
    set_faults(&emu, json!({"upstream": {"rate": 1, "kinds": ["503"]}})).await;
    ws.send_raw(&invoke("1", "first")).await;
    let completion = ws.next().await.unwrap();
    assert_eq!(completion["error"], "Invocation failed, status code 503");
    assert!(!rec.called("/first"));
    // reset-before: not called, fails.
    set_faults(
        &emu,
        json!({"upstream": {"rate": 1, "kinds": ["reset-before"]}}),
    )
    .await;
    ws.send_raw(&invoke("2", "second")).await;
    let completion = ws.next().await.unwrap();
    assert_eq!(completion["invocationId"], "2");
    assert_eq!(completion["error"], "Invocation failed, status code 500");
    assert!(!rec.called("/second"));
    // reset-after: the app runs it, its answer is lost.
    set_faults(
        &emu,
        json!({"upstream": {"rate": 1, "kinds": ["reset-after"]}}),
    )
    .await;
    ws.send_raw(&invoke("3", "echo")).await;
    let completion = ws.next().await.unwrap();
    assert_eq!(completion["invocationId"], "3");
    assert_eq!(completion["error"], "Invocation failed, status code 500");
    assert!(rec.called("/echo"));
    // latency: a wait, then the call.
    set_faults(
        &emu,
        json!({"upstream": {"rate": 1, "kinds": ["latency"], "latencyMs": 300}}),
    )
    .await;
    let started = Instant::now();
    ws.send_raw(&invoke("4", "fourth")).await;
    let completion = ws.next().await.unwrap();
    assert_eq!(completion["invocationId"], "4");
    assert!(completion.get("error").is_none(), "{completion}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(rec.called("/fourth"));
    assert_eq!(
        emu.faults_report().await["counts"]["upstream"]["injected"]["latency"],
        1
    );
}

#[tokio::test]
async fn a_seed_reproduces_the_sequence() {
    let emu = spawn().await;
    let config = json!({"seed": 99, "rest": {"rate": 0.5, "kinds": ["503", "429"]}});
    let mut runs = Vec::new();
    for _ in 0..2 {
        set_faults(&emu, config.clone()).await;
        let mut statuses = Vec::new();
        for i in 0..30 {
            statuses.push(emu.send_all("chat", "news", json!([i])).await);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&202) && runs[0].contains(&503) && runs[0].contains(&429),
        "{:?}",
        runs[0]
    );
    assert_eq!(emu.faults_report().await["config"]["seed"], 99);
}

#[tokio::test]
async fn bad_configurations_get_a_400_naming_the_field() {
    let emu = spawn().await;
    for (body, says) in [
        (json!({"rest": {"rate": 1.5}}), "rest.rate"),
        (
            json!({"connect": {"kinds": ["503", "teapot"]}}),
            "connect.kinds[1]",
        ),
        (
            json!({"upstream": {"latencyMs": [500, 100]}}),
            "upstream.latencyMs",
        ),
        (
            json!({"rest": {"retryAfterSeconds": -1}}),
            "rest.retryAfterSeconds",
        ),
        (json!({"sead": 1}), "sead"),
    ] {
        let response = put_faults(&emu, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "InvalidFaults");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let response = emu
        .http
        .post(format!("{}/admin/faults", emu.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    // Nothing was changed by the refused configurations.
    assert_eq!(emu.faults_report().await["config"]["rest"]["rate"], 0.0);
}

#[tokio::test]
async fn the_admin_route_refuses_other_peers_and_other_origins() {
    let emu = spawn().await;
    let response = emu
        .http
        .put(format!("{}/admin/faults", emu.base))
        .header("origin", "https://example.com")
        .json(&json!({"down": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(emu.faults_report().await["config"]["down"], false);
    // A request from another machine (the router with that peer address, as the server gives it).
    let router = emulator::router(EmulatorConfig::new(Secret::new(DEV_ACCESS_KEY)));
    let mut request = axum::http::Request::builder()
        .uri("/admin/faults")
        .body(axum::body::Body::empty())
        .unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(
        "10.1.2.3:4000".parse::<std::net::SocketAddr>().unwrap(),
    ));
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 403);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("loopback"));
}
