//! MessagePack hub protocol decoding: length-prefixed frames split from a stream, each decoded,
//! its type read, invocations read, and values converted to JSON and back; the whole stream is
//! also decoded as one value (as an upstream MessagePack body is). The first byte holds options
//! (bit 0: a 64-byte message limit instead of 32 KB; the rest: where the stream is cut in two
//! chunks); the rest is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverless_signalr::service::hub_protocol::msgpack::{self, Frames};

fn message(bytes: &[u8]) {
    let Ok(value) = msgpack::decode(bytes) else {
        return;
    };
    let json = msgpack::to_json(&value);
    let _ = msgpack::from_json(&json);
    if msgpack::message_type(&value) == Ok(1) {
        if let Ok(invocation) = msgpack::invocation(&value) {
            let arguments = serde_json::Value::Array(invocation.arguments);
            let _ = msgpack::invocation_frame(&invocation.target, &arguments);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, stream)) = data.split_first() else {
        return;
    };
    message(stream);
    let max = if options & 1 == 0 { 32 * 1024 } else { 64 };
    let cut = usize::from(options >> 1) * stream.len() / 128;
    let mut frames = Frames::new(max);
    for chunk in [&stream[..cut], &stream[cut..]] {
        frames.feed(chunk);
        while let Some(next) = frames.next_message() {
            match next {
                Ok(bytes) => message(&bytes),
                Err(_) => return,
            }
        }
    }
    let _ = frames.check_complete();
});
