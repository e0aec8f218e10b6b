//! The Web PubSub tests' side of the harness: the app with Easy Auth over the fake service, and
//! the independent checks every call recorded by the fake service
//! (`support::FakeService::webpubsub`, answering as the vendored 2024-01-01 swagger says) must
//! pass.

use crate::support::TestApp;
use crate::support::{keyed, spawn_app_with, swagger, verify, AppOptions, FakeService, Recorded};
use serverless_signalr::app::settings::ServeArgs;
use serverless_signalr::app::webpubsub::settings::WebPubSubArgs;

/// The app with Easy Auth on (callers name themselves with `x-ms-client-principal*`), Web PubSub
/// at `service` and the rest of `webpubsub`.
pub async fn easy_auth_app(service: &FakeService, webpubsub: WebPubSubArgs) -> TestApp {
    let args = ServeArgs {
        easy_auth: Some("true".into()),
        webpubsub: WebPubSubArgs {
            connection_string: Some(service.connection_string()),
            ..webpubsub
        },
        ..keyed()
    };
    spawn_app_with(args, AppOptions::default()).await
}

/// Checks a recorded call against the swagger and the token rules, and returns the operation id:
/// the operation exists; every required query parameter is there and every one sent is
/// declared, `api-version` is 2024-01-01 (once); a body has a media type the operation consumes (and
/// one is there when required); the token verifies with the key (HS256) and its `aud` is the
/// whole request URL, as the SDKs sign.
pub fn check(request: &Recorded, port: u16) -> String {
    let operations = swagger::operations_of(swagger::WEBPUBSUB);
    let op = swagger::find(&operations, request.method.as_str(), &request.path)
        .unwrap_or_else(|| panic!("{} {} is not in the swagger", request.method, request.path));
    for required in &op.required_query {
        assert!(
            request.query.iter().any(|(k, _)| k == required),
            "{}: {required} missing",
            op.id
        );
    }
    for (name, _) in &request.query {
        assert!(
            op.allowed_query.contains(name),
            "{}: query {name} is not declared",
            op.id
        );
    }
    let versions: Vec<&str> = request
        .query
        .iter()
        .filter(|(k, _)| k == "api-version")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(versions, ["2024-01-01"], "{}: api-version", op.id);
    if op.body_required {
        let media = request
            .content_type()
            .expect("a Content-Type with the body");
        assert!(
            op.consumes.iter().any(|c| c == media),
            "{}: {media} is not consumed",
            op.id
        );
    } else {
        assert!(request.body.is_empty(), "{}: unexpected body", op.id);
    }
    let claims = verify(request.token());
    assert_eq!(
        claims["aud"],
        format!(
            "http://127.0.0.1:{port}{}?{}",
            request.path, request.raw_query
        ),
        "{}: aud",
        op.id
    );
    op.id.clone()
}
