//! `/api/health` is anonymous, and each answer probes every endpoint, so the answer is reused
//! for `SIGNALR_HEALTH_CACHE_SECONDS` (default 5; issue 27, informational): any number of
//! calls within the window, one after another or at once, make one probe per endpoint; after
//! the window the next call probes again; 0 probes on every call.

use crate::support;

use std::time::Duration;

use serverless_signalr::app::settings::{EndpointArgs, ServeArgs, Settings};
use support::{spawn_app, spawn_app_with, AppOptions, FakeService, Reply, TestApp};

/// A service whose health API takes 200 ms, so that calls made at once overlap its probe.
async fn slow_service() -> FakeService {
    let service = FakeService::start().await;
    service.answer(|_| Reply::status(200).delay(Duration::from_millis(200)));
    service
}

/// How many health probes `recorder` received.
fn probes(recorder: &FakeService) -> usize {
    recorder
        .take()
        .iter()
        .filter(|r| r.path.ends_with("/health"))
        .count()
}

/// `count` anonymous health calls: half one after another, half at once; all 200.
async fn call_health(app: &TestApp, count: usize) {
    let url = format!("{}/api/health", app.url);
    for _ in 0..count / 2 {
        let r = app.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let at_once = (0..count - count / 2).map(|_| app.http.get(&url).send());
    for r in futures_util::future::join_all(at_once).await {
        assert_eq!(r.unwrap().status(), 200);
    }
}

fn with_cache(seconds: &str) -> ServeArgs {
    ServeArgs {
        health_cache_seconds: Some(seconds.into()),
        ..support::keyed()
    }
}

#[tokio::test]
async fn calls_within_the_window_make_one_probe() {
    let recorder = slow_service().await;
    // The default window.
    let app = spawn_app(support::keyed(), &recorder.connection_string()).await;
    call_health(&app, 20).await;
    assert_eq!(probes(&recorder), 1);
}

#[tokio::test]
async fn each_endpoint_is_probed_once_per_window() {
    let (east, west) = (slow_service().await, slow_service().await);
    let mut args = with_cache("60");
    args.endpoints = EndpointArgs::from_pairs([
        (
            "Azure:SignalR:Endpoints:east".to_string(),
            east.connection_string(),
        ),
        (
            "Azure:SignalR:Endpoints:west:secondary".to_string(),
            west.connection_string(),
        ),
    ]);
    // The background probe waits an hour: every probe here is one of /api/health.
    args.endpoint_probe_seconds = Some("3600".into());
    let app = spawn_app_with(args, AppOptions::default()).await;
    call_health(&app, 30).await;
    assert_eq!((probes(&east), probes(&west)), (1, 1));
}

#[tokio::test]
async fn after_the_window_the_next_call_probes_again_and_zero_turns_it_off() {
    let recorder = FakeService::start().await;
    let app = spawn_app(with_cache("1"), &recorder.connection_string()).await;
    call_health(&app, 6).await;
    assert_eq!(probes(&recorder), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    call_health(&app, 6).await;
    assert_eq!(probes(&recorder), 1);

    let uncached = spawn_app(with_cache("0"), &recorder.connection_string()).await;
    call_health(&uncached, 6).await;
    assert_eq!(probes(&recorder), 6);
}

#[test]
fn the_window_is_a_number_of_seconds_up_to_300() {
    for bad in ["-1", "301", "five"] {
        let error = Settings::from_args(with_cache(bad)).unwrap_err();
        assert_eq!(error.setting, "SIGNALR_HEALTH_CACHE_SECONDS", "{bad}");
    }
}
