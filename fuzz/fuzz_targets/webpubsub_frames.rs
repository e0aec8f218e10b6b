//! The Web PubSub client frames (`json.webpubsub.azure.v1` and the reliable subprotocol) the
//! emulator parses from each text message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverless_signalr::emulator::webpubsub::frames::ClientFrame;

fuzz_target!(|text: &str| {
    let _ = ClientFrame::parse(text);
});
