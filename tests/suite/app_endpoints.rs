//! Multiple service endpoints against real emulators on 127.0.0.1: the settings (both key forms,
//! bad values), where negotiate sends clients (random primary, secondary only when no primary is
//! online, 503 when none is), sends reaching clients of every endpoint, a partial failure naming
//! the endpoint that failed, existence across endpoints, the `endpoints` field, `/api/health`,
//! and failover when an emulator stops mid-run. The app and its calls are in `app_endpoints/`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use serverless_signalr::app::settings::{EndpointArgs, EndpointType, ServeArgs, Settings};

use crate::emulator_support::{self as emu, WsClient};
use crate::support::{self, keyed, FakeService, Reply};

pub mod endpoint_app;

use endpoint_app::*;

#[test]
fn settings_in_both_forms_and_bad_values() {
    let emulator = "Endpoint=http://127.0.0.1;Port=8888;AccessKey=made-up-test-key;Version=1.0;";
    let parse = |pairs: &[(&str, &str)]| {
        Settings::from_args(ServeArgs {
            endpoints: EndpointArgs::from_pairs(
                pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            ),
            ..keyed()
        })
    };
    let settings = parse(&[
        ("Azure:SignalR:Endpoints:east", emulator),
        ("Azure__SignalR__Endpoints__west__secondary", emulator),
    ])
    .unwrap();
    let got: Vec<_> = settings
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.kind))
        .collect();
    assert_eq!(
        got,
        [
            ("east", EndpointType::Primary),
            ("west", EndpointType::Secondary)
        ]
    );
    assert_eq!(settings.endpoint_probe, Duration::from_secs(10));

    for (key, value, expect) in [
        (
            "Azure__SignalR__Endpoints__east",
            "AccessKey=made-up-test-key;Version=1.0;",
            "Endpoint is missing",
        ),
        (
            "Azure:SignalR:Endpoints:east:backup",
            emulator,
            "primary or secondary",
        ),
        ("Azure__SignalR__Endpoints__east", " ", "is empty"),
        (
            "Azure__SignalR__Endpoints__east__serviceUri",
            "https://x.service.signalr.net",
            "identity-based",
        ),
    ] {
        let e = parse(&[(key, value)]).unwrap_err().to_string();
        assert!(e.contains(key), "{key}: {e}");
        assert!(e.contains(expect), "{key}: {e}");
        assert!(!e.contains("made-up-test-key"), "a secret was echoed: {e}");
    }
    let e = Settings::from_args(ServeArgs {
        endpoint_probe_seconds: Some("0".into()),
        ..keyed()
    })
    .unwrap_err();
    assert!(
        e.to_string().contains("SIGNALR_ENDPOINT_PROBE_SECONDS"),
        "{e}"
    );
}

#[tokio::test]
async fn negotiate_spreads_over_primaries_and_prefers_them_to_secondaries() {
    let (a, b, c) = (emu::spawn().await, emu::spawn().await, emu::spawn().await);
    let app = spawn(
        &[
            ("Azure:SignalR:Endpoints:a", cs(&a)),
            ("Azure:SignalR:Endpoints:b:primary", cs(&b)),
            ("Azure__SignalR__Endpoints__c__secondary", cs(&c)),
        ],
        None,
        "1",
    )
    .await;
    let mut seen = BTreeMap::new();
    for _ in 0..60 {
        *seen.entry(negotiate(&app).await.0.unwrap()).or_insert(0) += 1;
    }
    assert!(seen.get(&port(&a)).is_some_and(|n| *n >= 10), "{seen:?}");
    assert!(seen.get(&port(&b)).is_some_and(|n| *n >= 10), "{seen:?}");
    assert!(
        !seen.contains_key(&port(&c)),
        "a secondary got clients while primaries were online: {seen:?}"
    );

    // Both primaries stop: clients go to the secondary once the probe has seen it.
    a.handle.shutdown().await;
    b.handle.shutdown().await;
    wait_until(Duration::from_secs(10), || async {
        negotiate(&app).await.0 == Ok(port(&c))
    })
    .await;
    for _ in 0..10 {
        assert_eq!(negotiate(&app).await.0, Ok(port(&c)));
    }
    // And none at all: a clear 503.
    c.handle.shutdown().await;
    wait_until(Duration::from_secs(10), || async {
        negotiate(&app).await.0.is_err()
    })
    .await;
    let (status, body) = negotiate(&app).await;
    assert_eq!(status, Err(StatusCode::SERVICE_UNAVAILABLE), "{body}");
    assert_eq!(body["error"]["code"], "NoEndpointOnline", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("\"c\" (secondary"), "{message}");
}

#[tokio::test]
async fn sends_and_groups_reach_clients_of_every_endpoint_unless_narrowed() {
    let (east, west) = (emu::spawn().await, emu::spawn().await);
    let app = spawn(
        &[
            ("Azure:SignalR:Endpoints:east", cs(&east)),
            ("Azure:SignalR:Endpoints:west", cs(&west)),
        ],
        None,
        "60",
    )
    .await;
    let mut on_east = WsClient::connect(&east, HUB, Some("ann")).await;
    let mut on_west = WsClient::connect(&west, HUB, Some("bob")).await;

    let (status, body) = broadcast(&app, "to all", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    for client in [&mut on_east, &mut on_west] {
        let m = client.next().await.unwrap();
        assert_eq!(m["arguments"], json!(["to all"]), "{m}");
    }

    // The binding's endpoint objects narrow the send.
    let only_west = json!({ "endpoints": [{ "endpointType": "Primary", "name": "west", "endpoint": "http://127.0.0.1", "online": true }] });
    let (status, body) = broadcast(&app, "west only", only_west).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        on_west.next().await.unwrap()["arguments"],
        json!(["west only"])
    );
    on_east.expect_silence(Duration::from_millis(300)).await;

    let (status, body) =
        broadcast(&app, "nowhere", json!({ "endpoints": ["west", "north"] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "UnknownEndpoint", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"north\""),
        "{body}"
    );
    on_west.expect_silence(Duration::from_millis(300)).await;

    // A connection lives on one endpoint: adding it to a group works, and so does the group send.
    let add = json!({ "action": "add", "connectionId": on_west.connection_id, "groupName": "g" });
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/hubs/{HUB}/groups"),
        Some(add),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = broadcast(&app, "group", json!({ "groupName": "g" })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(on_west.next().await.unwrap()["arguments"], json!(["group"]));
    on_east.expect_silence(Duration::from_millis(300)).await;
    let gone = json!({ "action": "add", "connectionId": "no-such-connection", "groupName": "g" });
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/hubs/{HUB}/groups"),
        Some(gone),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "ConnectionNotFound", "{body}");
}

#[tokio::test]
async fn existence_asks_every_endpoint() {
    let (east, west) = (emu::spawn().await, emu::spawn().await);
    let app = spawn(
        &[("Azure:SignalR:Endpoints:west", cs(&west))],
        Some(cs(&east)),
        "60",
    )
    .await;
    let on_west = WsClient::connect(&west, HUB, Some("bob")).await;
    let exists = |path: String| {
        let app = &app;
        async move {
            let (status, body) = call(app, reqwest::Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["exists"].as_bool().unwrap()
        }
    };
    assert!(exists(format!("/api/hubs/{HUB}/users/bob")).await);
    assert!(
        exists(format!(
            "/api/hubs/{HUB}/connections/{}",
            on_west.connection_id
        ))
        .await
    );
    assert!(!exists(format!("/api/hubs/{HUB}/users/carol")).await);
}

#[tokio::test]
async fn a_partial_failure_names_the_failed_endpoint_and_the_ones_that_succeeded() {
    let east = emu::spawn().await;
    let broken = FakeService::start().await;
    broken.answer(|_| Reply::status(503));
    let app = spawn(
        &[
            ("Azure:SignalR:Endpoints:east", cs(&east)),
            (
                "Azure__SignalR__Endpoints__broken__secondary",
                broken.connection_string(),
            ),
        ],
        None,
        "60",
    )
    .await;
    let mut on_east = WsClient::connect(&east, HUB, None).await;
    let (status, body) = broadcast(&app, "partly", json!({})).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], "EndpointsFailed", "{body}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("failed on 1 of 2 endpoints"), "{message}");
    assert!(message.contains("\"broken\""), "{message}");
    assert!(message.contains("503"), "{message}");
    assert!(message.contains("succeeded on \"east\""), "{message}");
    assert_eq!(error["endpoints"]["succeeded"], json!(["east"]), "{body}");
    assert_eq!(error["endpoints"]["failed"][0]["name"], "broken", "{body}");
    assert_eq!(
        error["endpoints"]["failed"][0]["type"], "secondary",
        "{body}"
    );
    assert_eq!(
        error["endpoints"]["failed"][0]["serviceStatus"], 503,
        "{body}"
    );
    assert!(!body.to_string().contains(support::KEY), "a key was echoed");
    // The healthy endpoint delivered it.
    assert_eq!(
        on_east.next().await.unwrap()["arguments"],
        json!(["partly"])
    );
}

#[tokio::test]
async fn health_lists_every_endpoint_without_secrets() {
    let (east, west) = (emu::spawn().await, emu::spawn().await);
    let app = spawn(
        &[("Azure__SignalR__Endpoints__west__secondary", cs(&west))],
        Some(cs(&east)),
        "60",
    )
    .await;
    let (status, body) = call(&app, reqwest::Method::GET, "/api/health", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["service"], "healthy", "{body}");
    let listed: Vec<(String, String, String)> = body["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().into(),
                e["type"].as_str().unwrap().into(),
                e["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("".into(), "primary".into(), "healthy".into()),
            ("west".into(), "secondary".into(), "healthy".into())
        ]
    );
    assert!(!body.to_string().contains(support::KEY), "{body}");

    west.handle.shutdown().await;
    let (status, body) = call(&app, reqwest::Method::GET, "/api/health", None).await;
    assert_eq!(status, StatusCode::OK, "one endpoint still serves: {body}");
    assert_eq!(body["service"], "degraded", "{body}");
    assert_eq!(body["endpoints"][1]["state"], "unreachable", "{body}");
    assert_eq!(body["endpoints"][1]["online"], false, "{body}");
}

#[tokio::test]
async fn one_endpoint_keeps_the_old_health_answer_and_adds_the_list() {
    let east = emu::spawn().await;
    let app = support::spawn_app(keyed(), &cs(&east)).await;
    let (status, body) = call(&app, reqwest::Method::GET, "/api/health", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["service"], "healthy");
    assert_eq!(body["endpoints"][0]["name"], "");
    assert_eq!(body["endpoints"][0]["type"], "primary");
}

/// The failover figure: two emulators, one stopped mid-run. Negotiate stops handing out the
/// dead one within the probe interval (1 s, jittered ±20 %, plus the probe itself), and a client
/// of the live one keeps receiving.
#[tokio::test]
async fn failover_when_an_endpoint_stops() {
    let (live, dying) = (emu::spawn().await, emu::spawn().await);
    let app = spawn(
        &[
            ("Azure:SignalR:Endpoints:live", cs(&live)),
            ("Azure:SignalR:Endpoints:dying", cs(&dying)),
        ],
        None,
        "1",
    )
    .await;
    // A client of the live endpoint, connected the way a browser does: through negotiate.
    let mut client = loop {
        let (client, chosen) = client_via_app(&app, &[&live, &dying]).await;
        if chosen == port(&live) {
            break client;
        }
    };
    let (status, _) = broadcast(&app, "before", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(client.next().await.unwrap()["arguments"], json!(["before"]));

    let stopped = Instant::now();
    dying.handle.shutdown().await;
    // Within the probe interval and its jitter (1.2 s) plus slack for two busy cores.
    wait_until(Duration::from_secs(5), || async {
        let mut ports = Vec::new();
        for _ in 0..10 {
            ports.push(negotiate(&app).await.0.unwrap());
        }
        ports.iter().all(|p| *p == port(&live))
    })
    .await;
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    for _ in 0..20 {
        assert_eq!(negotiate(&app).await.0, Ok(port(&live)));
    }
    // Sends still reach the live endpoint's client; the answer names the dead endpoint, and
    // comes at once: an endpoint known to be offline is tried once, without the retries' backoff.
    let sent = Instant::now();
    let (status, body) = broadcast(&app, "after", json!({})).await;
    assert!(
        sent.elapsed() < Duration::from_millis(600),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(
        body["error"]["endpoints"]["failed"][0]["name"], "dying",
        "{body}"
    );
    assert_eq!(client.next().await.unwrap()["arguments"], json!(["after"]));
    // Narrowed to the live endpoint, a send succeeds outright.
    let (status, body) = broadcast(&app, "narrowed", json!({ "endpoints": ["live"] })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        client.next().await.unwrap()["arguments"],
        json!(["narrowed"])
    );
}

/// The real binary reads both key forms from its environment (as the Functions host passes app
/// settings) and lists the endpoints in /api/health.
#[tokio::test]
async fn the_binary_reads_endpoints_from_the_environment() {
    let (east, west) = (emu::spawn().await, emu::spawn().await);
    let (east_cs, west_cs) = (cs(&east), cs(&west));
    let (_child, base) = support::spawn_under_host(&[
        ("Azure:SignalR:Endpoints:east", east_cs.as_str()),
        (
            "Azure__SignalR__Endpoints__west__Secondary",
            west_cs.as_str(),
        ),
    ])
    .await;
    let body: Value = reqwest::get(format!("{base}/api/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = body["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [("east", "primary"), ("west", "secondary")],
        "{body}"
    );
}

/// The upstream accepts a signature made with any endpoint's access key, and a built-in hub
/// method acts on the endpoint whose key signed the call (where the connection lives).
#[tokio::test]
async fn upstream_signatures_accept_every_endpoint_key_and_act_on_the_caller() {
    use crate::upstream_support::{self as up, CONN};
    const WEST_KEY: &str = "made-up-west-endpoint-key";
    let east = FakeService::start().await;
    let west =
        emu::spawn_with(|c| c.access_key = serverless_signalr::service::Secret::new(WEST_KEY))
            .await;
    let app = spawn(
        &[("Azure:SignalR:Endpoints:west", cs(&west))],
        Some(east.connection_string()),
        "60",
    )
    .await;
    let signed = |key: &str| up::connected().header("X-ASRS-Signature", &up::sign(key, CONN));
    assert_eq!(signed(support::KEY).send(&app).await.0, StatusCode::OK);
    assert_eq!(signed(WEST_KEY).send(&app).await.0, StatusCode::OK);
    let (status, body) = signed("made-up-unknown-key").send(&app).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // A client of the west endpoint subscribes: the group join goes to west, which knows it.
    let token = emu::sign(
        WEST_KEY,
        json!({ "aud": format!("http://127.0.0.1/client/?hub={HUB}") }),
    );
    let client = WsClient::connect_with_token(&west, HUB, &token).await;
    let id = client.connection_id.as_str();
    let subscribe = up::invoke("subscribe", json!(["news"]))
        .header("X-ASRS-Hub", HUB)
        .header("X-ASRS-Connection-Id", id)
        .header("X-ASRS-Signature", &up::sign(WEST_KEY, id));
    east.take();
    let (status, body) = subscribe.send(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, up::result(json!("news")));
    assert!(east.take().is_empty(), "the other endpoint was asked");
}
