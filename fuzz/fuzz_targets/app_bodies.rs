//! The JSON request bodies of the app's routes, parsed by the functions the handlers call. The
//! first byte picks the route (`m` `/api/messages`: `SignalRMessage`; `g` `/api/groups`:
//! `SignalRGroupAction`; `c` the close routes' `{reason, excluded}`; `w`
//! `/api/webpubsub/actions`: `WebPubSubAction`; other bytes pick one by their value), the rest
//! is the body. Every body is a typed value or a 4xx error, never a panic, and never more items
//! than the batch limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverless_signalr::app::{groups, manage, messages, webpubsub};

/// A small batch limit (the default is 1000), so the limit is reached too.
const MAX: usize = 8;

fn check<T, E>(result: Result<Vec<T>, E>) {
    if let Ok(items) = result {
        assert!(
            (1..=MAX).contains(&items.len()),
            "{} items accepted with a limit of {MAX}",
            items.len()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&route, body)) = data.split_first() else {
        return;
    };
    match route {
        b'm' => check(messages::parse_body(body, MAX)),
        b'g' => check(groups::parse_body(body, MAX)),
        b'w' => check(webpubsub::actions::parse_body(body, MAX)),
        b'c' => {
            let _ = manage::close_body(body);
        }
        other => match other % 4 {
            0 => check(messages::parse_body(body, MAX)),
            1 => check(groups::parse_body(body, MAX)),
            2 => check(webpubsub::actions::parse_body(body, MAX)),
            _ => {
                let _ = manage::close_body(body);
            }
        },
    }
});
