//! The OData filter parser of Web PubSub's REST API (`?filter=`), and evaluating a parsed
//! filter against connections. The first line is the filter; the next lines are the
//! connection's user id, connection id and groups.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverless_signalr::service::filter::{Filter, Subject};

fuzz_target!(|text: &str| {
    let mut lines = text.split('\n');
    let Ok(filter) = Filter::parse(lines.next().unwrap_or("")) else {
        return;
    };
    let user_id = lines.next().filter(|u| !u.is_empty());
    let connection_id = lines.next().unwrap_or("c");
    let groups: Vec<&str> = lines.collect();
    let _ = filter.matches(&Subject {
        user_id,
        connection_id,
        groups: &groups,
    });
    let _ = filter.matches(&Subject {
        user_id: None,
        connection_id: "",
        groups: &[],
    });
});
