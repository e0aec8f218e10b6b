//! The Server-Sent Events transport: one long `text/event-stream` response carries every hub
//! message as a `data:` event; the client's messages arrive as POSTs (see `client.rs`).

use std::convert::Infallible;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::attach::Start;
use super::error::EmulatorError;

/// Formats one hub message as an SSE event (one `data:` line per line of text).
fn event(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split('\n') {
        out.push_str("data: ");
        out.push_str(line.trim_end_matches('\r'));
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out
}

/// Starts the event stream of a negotiated connection (409 if it already has a transport).
/// Dropping the stream (the client went away) forgets the connection, which ends its session.
pub fn start(start: Start<'_>) -> Result<Response, EmulatorError> {
    let stream = futures_util::stream::unfold(start.stream()?, |mut state| async move {
        let queued = state.frames.next().await?;
        Some((
            Ok::<_, Infallible>(event(&String::from_utf8_lossy(&queued.frame.data))),
            state,
        ))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn multi_line_text_becomes_several_data_lines() {
        assert_eq!(super::event("a\r\nb"), "data: a\r\ndata: b\r\n\r\n");
    }
}
