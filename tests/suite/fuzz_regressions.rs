//! Inputs that fuzzing (`fuzz/`) found crashing the binary, replayed against the real servers
//! over HTTP: each must now get a clear 4xx answer, and the server must keep serving.

use crate::webpubsub_emulator_support;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;
use webpubsub_emulator_support::*;

/// `webpubsub_filter`: a `?filter=` nesting a thousand parentheses overflowed the stack of
/// the Web PubSub emulator's worker thread in the recursive filter parser, aborting the whole
/// process. It is now a 400 `InvalidFilter` naming the nesting limit. (A thousand, encoded, is
/// about 6 KB: within the emulator's 8 KiB URL limit, so the parser still sees it.)
#[tokio::test]
async fn a_deeply_nested_webpubsub_filter_is_a_400_not_a_crash() {
    let wps = spawn().await;
    let n = 1000;
    let filter = format!("{}userId eq 'a'{}", "(".repeat(n), ")".repeat(n));
    let deep = wps
        .rest(
            "POST",
            &format!(
                "/api/hubs/chat/:send?filter={}",
                utf8_percent_encode(&filter, NON_ALPHANUMERIC)
            ),
            Some(("application/json", b"1".to_vec())),
        )
        .await;
    assert_eq!(deep.status, 400, "{}", deep.body);
    assert_eq!(deep.error_code.as_deref(), Some("InvalidFilter"));
    assert!(deep.body.contains("more than 32 deep"), "{}", deep.body);
    // The emulator still serves.
    assert_eq!(wps.send_json("/api/hubs/chat/:send", json!(1)).await, 202);
}
