//! The SignalR connection string parser: any text either parses or is refused, and a parsed
//! string yields its URLs without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serverless_signalr::service::connection_string::ConnectionString;

fuzz_target!(|text: &str| {
    if let Ok(parsed) = ConnectionString::parse(text) {
        let _ = (
            parsed.endpoint(),
            parsed.client_base(),
            parsed.server_base(),
            parsed.audience_base(),
        );
        let _ = (parsed.access_key(), parsed.version(), parsed.auth());
    }
});
