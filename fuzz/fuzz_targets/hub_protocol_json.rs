//! JSON hub protocol decoding as a connection reads it: the byte stream split into records, the
//! first record as the handshake, the rest as messages. The first byte holds options (bit 0:
//! binary transport; bit 1: a 64-byte record limit instead of 32 KB; the rest: where the stream
//! is cut in two chunks, as bytes arrive in pieces); the rest is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverless_signalr::service::hub_protocol::json::{self, Records};

fuzz_target!(|data: &[u8]| {
    let Some((&options, stream)) = data.split_first() else {
        return;
    };
    let max = if options & 2 == 0 { 32 * 1024 } else { 64 };
    let cut = usize::from(options >> 2) * stream.len() / 64;
    let mut records = Records::new(max);
    let mut handshake_done = false;
    for chunk in [&stream[..cut], &stream[cut..]] {
        records.feed(chunk);
        while let Some(record) = records.next_record() {
            let Ok(record) = record else { return };
            if handshake_done {
                let _ = json::parse(&record);
            } else {
                handshake_done = true;
                if json::check_handshake(&record, options & 1 == 1).is_err() {
                    return;
                }
            }
        }
    }
});
