//! The upstream request parser behind `POST /api/upstream`, after the signature check: the
//! content type, the `X-ASRS-*` headers (user claims included), the JSON or MessagePack body,
//! whether they agree, and the built-in hub method an invocation names. The input is a request
//! written as header lines, an empty line and the body (see `request` in `fuzz/src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverless_signalr::app::topics::HubMethod;
use serverless_signalr::app::upstream::connection_event::ConnectionEvent;
use serverless_signalr::app::upstream::request::{check_content_type, BodyFormat, Request};
use serverless_signalr_fuzz::request;

fuzz_target!(|data: &[u8]| {
    let (headers, body) = request(data);
    // A refused content type still gets its body parsed as JSON, so that the body parser is
    // not hidden behind the header.
    let format = check_content_type(&headers).unwrap_or(BodyFormat::Json);
    let request = Request::from_headers(&headers);
    let raw = match format {
        BodyFormat::Json => ConnectionEvent::json(body),
        BodyFormat::MessagePack => ConnectionEvent::from_msgpack(body),
    };
    let Ok(raw) = raw else { return };
    let Ok(message) = ConnectionEvent::read(&raw) else {
        return;
    };
    if let Ok(request) = &request {
        let _ = request.check_matches(&message);
    }
    if let ConnectionEvent::Invocation {
        target, arguments, ..
    } = message
    {
        let _ = HubMethod::parse(target, arguments);
    }
});
