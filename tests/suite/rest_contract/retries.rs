//! Which failures are retried and which never are: 429 with Retry-After, 503, 500 on sends vs.
//! idempotent calls, connect failures, connections lost mid-request, and timeouts.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serverless_signalr::service::rest::{RestError, RestOptions};

use super::{closed_port, payload};
use crate::rest_support::{self, client, client_for_port, fast_options, verify_token};
use crate::support::fake_service::signalr_swagger;
use crate::support::{FakeService, Reply, KEY};

#[tokio::test]
async fn throttling_honours_retry_after_then_succeeds() {
    let service = FakeService::signalr().await;
    let client = client(
        &service,
        RestOptions {
            max_backoff: Duration::from_secs(3),
            ..fast_options()
        },
    );
    service.reply([Reply::status(429).header("retry-after", "1")]);
    let started = Instant::now();
    client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect("sent after the throttle");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );
    let requests = service.take();
    assert_eq!(requests.len(), 2, "one retry");
    assert_eq!(requests[0].body, requests[1].body, "the same message");
    for request in &requests {
        verify_token(request.token());
    }
}

#[tokio::test]
async fn a_retry_after_beyond_max_backoff_is_reported_not_cut_short() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
    for status in [429, 503] {
        service.reply([Reply::status(status).header("retry-after", "120")]);
        let error = client
            .send_to_group("chat", "room", &payload(), &[])
            .await
            .expect_err("the service asked for two minutes");
        assert!(
            matches!(&error, RestError::Service { status: s, .. } if *s == status),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .ends_with("(the service asks to retry after 120 s)"),
            "{error}"
        );
        assert_eq!(service.take().len(), 1, "no early retry after {status}");
    }
}

#[tokio::test]
async fn unavailable_with_a_retry_after_date_is_retried() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
    service.reply([Reply::status(503).header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
    client
        .user_exists("chat", "alice")
        .await
        .expect("retried at once: the date has passed");
    assert_eq!(service.take().len(), 2);
}

#[tokio::test]
async fn unavailable_is_retried_then_reported() {
    let service = FakeService::signalr().await;
    let client = client(
        &service,
        RestOptions {
            max_retries: 2,
            ..fast_options()
        },
    );
    let unavailable = Reply::status(503)
        .header("x-ms-error-code", "Error.Service.Busy")
        .body(r#"{"code":"Error.Service.Busy","message":"try later"}"#);
    service.reply(vec![unavailable; 3]);
    let error = client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect_err("gave up");
    assert_eq!(service.take().len(), 3, "first attempt + max_retries");
    match &error {
        RestError::Service {
            operation,
            status,
            code,
            message,
        } => {
            assert_eq!(*operation, "send_to_all");
            assert_eq!(*status, 503);
            assert_eq!(code.as_deref(), Some("Error.Service.Busy"));
            assert_eq!(message, "try later");
        }
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("try later"), "{error}");
    assert_eq!(error.status_hint(), Some(502));

    service.reply([Reply::status(503)]);
    client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect("a 503 then success");
    assert_eq!(service.take().len(), 2);
}

#[tokio::test]
async fn server_error_on_a_send_is_not_retried() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
    for status in [500, 502, 504] {
        service.reply([Reply::status(status).body("internal trouble")]);
        let error = client
            .send_to_connection("chat", "c", &payload())
            .await
            .expect_err("a server error");
        assert!(
            matches!(&error, RestError::Service { status: s, message, .. } if *s == status && message == "internal trouble"),
            "{error:?}"
        );
        assert_eq!(service.take().len(), 1, "{status}: exactly one attempt");
    }
    service.reply([Reply::status(500)]);
    client
        .close_all("chat", &[], None)
        .await
        .expect_err("closing is a POST too");
    assert_eq!(service.take().len(), 1, "close: exactly one attempt");
}

#[tokio::test]
async fn server_error_on_an_idempotent_call_is_retried() {
    let service = FakeService::signalr().await;
    let client = client(&service, fast_options());
    service.reply([Reply::status(500), Reply::status(502)]);
    assert!(client
        .group_exists("chat", "room")
        .await
        .expect("answered on the third attempt"));
    assert_eq!(service.take().len(), 3);

    service.reply([Reply::status(504)]);
    client
        .add_user_to_group("chat", "room", "alice", None)
        .await
        .expect("PUT retried");
    assert_eq!(service.take().len(), 2);

    service.reply([Reply::status(400).body("bad ttl")]);
    client
        .add_user_to_group("chat", "room", "alice", None)
        .await
        .expect_err("a 400 is final");
    assert_eq!(service.take().len(), 1, "4xx is never retried");
}

#[tokio::test]
async fn connect_failure_is_retried_then_unreachable() {
    let port = closed_port().await;
    let client = client_for_port(
        port,
        RestOptions {
            max_retries: 3,
            base_backoff: Duration::from_millis(40),
            max_backoff: Duration::from_millis(200),
            ..fast_options()
        },
    );
    let started = Instant::now();
    let error = client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect_err("nothing listens");
    // Equal jitter waits at least half of 40 + 80 + 160 ms across the three retries.
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "retried: {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            &error,
            RestError::Unreachable {
                operation: "send_to_all",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.status_hint(), Some(502));
    assert!(!error.to_string().contains(KEY));
}

#[tokio::test]
async fn connect_failure_is_retried_until_the_service_is_up() {
    let port = closed_port().await;
    let client = client_for_port(
        port,
        RestOptions {
            max_retries: 6,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(200),
            ..fast_options()
        },
    );
    let send = tokio::spawn(async move { client.send_to_all("chat", &payload(), &[]).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is still free");
    let service = FakeService::serve(listener, signalr_swagger());
    send.await
        .expect("task")
        .expect("delivered once the service is up");
    assert_eq!(service.take().len(), 1, "delivered exactly once");
}

#[tokio::test]
async fn connection_lost_mid_request_is_retried_only_when_idempotent() {
    let (port, seen) = rest_support::start_dropping_service().await;
    let client = client_for_port(port, fast_options());

    let error = client
        .send_to_group("chat", "room", &payload(), &[])
        .await
        .expect_err("no answer");
    assert!(
        matches!(&error, RestError::Unreachable { detail, .. } if detail.contains("may or may not have been delivered")),
        "{error:?}"
    );
    assert_eq!(
        seen.swap(0, Ordering::SeqCst),
        1,
        "a send is never repeated"
    );

    let error = client
        .remove_user_from_group("chat", "room", "alice")
        .await
        .expect_err("no answer");
    assert!(matches!(error, RestError::Unreachable { .. }), "{error:?}");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        4,
        "a DELETE is retried max_retries times"
    );
}

#[tokio::test]
async fn timeout_is_reported_and_never_retried() {
    let service = FakeService::signalr().await;
    let client = client(
        &service,
        RestOptions {
            timeout: Duration::from_millis(200),
            ..fast_options()
        },
    );
    let slow = || Reply::status(202).delay(Duration::from_secs(2));

    service.reply([slow(), slow()]);
    let started = Instant::now();
    let error = client
        .send_to_all("chat", &payload(), &[])
        .await
        .expect_err("too slow");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(
            error,
            RestError::Timeout {
                operation: "send_to_all"
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.status_hint(), Some(504));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        service.take().len(),
        1,
        "a send that timed out is not retried"
    );

    service.reply([slow(), slow()]);
    let error = client
        .user_exists("chat", "alice")
        .await
        .expect_err("too slow");
    assert!(matches!(error, RestError::Timeout { .. }), "{error:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(service.take().len(), 1, "timeouts are never retried");
}
