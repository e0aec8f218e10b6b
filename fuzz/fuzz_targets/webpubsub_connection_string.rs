//! The Web PubSub connection string parser, and what a parsed string derives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverless_signalr::service::webpubsub::WebPubSubConnectionString;

fuzz_target!(|text: &str| {
    if let Ok(parsed) = WebPubSubConnectionString::parse(text) {
        let _ = (
            parsed.endpoint(),
            parsed.host(),
            parsed.authority(),
            parsed.websocket_scheme(),
            parsed.access_key(),
        );
    }
});
