//! The Web PubSub CloudEvents request parser behind `POST /api/webpubsub/events`: the
//! signature and origin checks, the `ce-*` headers, and the body of a `connect` event (with
//! group and role templates over its claims) or of a user event. The input is a request
//! written as header lines, an empty line and the body (see `request` in `fuzz/src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverless_signalr::app::webpubsub::events::{connect, user_content};
use serverless_signalr::app::webpubsub::events_request::{
    check_origin, check_signature, EventKind, EventRequest,
};
use serverless_signalr::app::webpubsub::settings::ConnectPolicy;
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::webpubsub::WebPubSubConnectionString;
use serverless_signalr::service::Secret;
use serverless_signalr_fuzz::request;

fuzz_target!(|data: &[u8]| {
    let (headers, body) = request(data);
    let service = WebPubSubConnectionString::parse(&format!(
        "Endpoint=http://127.0.0.1;Port=8080;AccessKey={DEV_ACCESS_KEY};Version=1.0;"
    ))
    .expect("the emulator's connection string parses");
    let key = Secret::new(DEV_ACCESS_KEY);
    let _ = check_signature(&headers, [&key]);
    let _ = check_origin(&headers, &service);
    let Ok(request) = EventRequest::from_headers(&headers) else {
        return;
    };
    let policy = ConnectPolicy {
        roles: vec!["webpubsub.joinLeaveGroup.{userId}".into(), "{role}".into()],
        groups: vec![
            "{userId}".into(),
            "team-{team}".into(),
            "{connectionId}".into(),
        ],
        subprotocols: vec!["json.webpubsub.azure.v1".into()],
        // A header of the input says whether a user is required, so both paths are reached.
        require_user: headers.contains_key("x-fuzz-require-user"),
    };
    match request.kind {
        EventKind::Connect => {
            let _ = connect(&policy, &request, body);
        }
        EventKind::User(_) => {
            let _ = user_content(&headers, body);
        }
        EventKind::Connected | EventKind::Disconnected => {}
    }
});
