//! The Server-Sent Events transport: one long `text/event-stream` response carries every hub
//! message as a `data:` event; the client's messages arrive as POSTs (see `client.rs`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::client_connection::ClientConnection;
use super::connections::Active;
use super::error::EmulatorError;
use super::outbox::{outbox, OutboxReader};
use super::session;
use super::Shared;
use crate::service::transports::Transport;

/// The stream's state; dropping it (client gone) forgets the connection, which ends the session.
struct Stream {
    reader: OutboxReader,
    shared: Arc<Shared>,
    token: String,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.shared.connections.remove(&self.token);
    }
}

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
pub fn start(
    shared: Arc<Shared>,
    token: &str,
    hub: &str,
    uri: &Uri,
) -> Result<Response, EmulatorError> {
    let (inbound, inbound_rx) = mpsc::channel::<Vec<u8>>(32);
    let negotiated = shared.connections.start(
        token,
        hub,
        Active::new(Transport::ServerSentEvents, Some(inbound), None),
    )?;
    let (outbox, reader) = outbox(shared.config.max_queued_bytes);
    tokio::spawn(session::run(
        Arc::clone(&shared),
        ClientConnection::new(negotiated, hub, uri),
        Transport::ServerSentEvents,
        inbound_rx,
        outbox,
    ));
    let state = Stream {
        reader,
        shared,
        token: token.to_string(),
    };
    let stream = futures_util::stream::unfold(state, |mut state| async move {
        let frame = state.reader.next().await?;
        Some((
            Ok::<_, Infallible>(event(&String::from_utf8_lossy(&frame.data))),
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
