//! The long-polling transport: the first GET starts the connection and answers at once; later
//! GETs wait up to the poll timeout for messages (200 with data, 200 empty on timeout, 204 once
//! the connection is over); POSTs carry the client's messages and DELETE stops it.

use std::sync::Arc;

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::client::caller;
use super::connections::Active;
use super::error::ApiError;
use super::outbox::outbox;
use super::session::{self, TransportKind};
use super::Shared;

/// Starts a long-polling connection; the answer is an immediate empty 200.
pub fn start(shared: Arc<Shared>, token: &str, hub: &str, uri: &Uri) -> Result<Response, ApiError> {
    let (inbound, inbound_rx) = mpsc::channel::<Vec<u8>>(32);
    let (outbox, reader) = outbox(shared.config.max_queued_bytes);
    let reader = Arc::new(tokio::sync::Mutex::new(reader));
    let negotiated = shared.connections.start(
        token,
        hub,
        Active::new(TransportKind::LongPolling, Some(inbound), Some(reader)),
    )?;
    shared.connections.end_poll(token);
    tokio::spawn(session::run(
        Arc::clone(&shared),
        caller(negotiated, hub, uri),
        TransportKind::LongPolling,
        inbound_rx,
        outbox,
    ));
    Ok(StatusCode::OK.into_response())
}

/// One poll.
pub async fn poll(shared: Arc<Shared>, token: &str) -> Result<Response, ApiError> {
    let queue = shared.connections.begin_poll(token)?;
    let Ok(mut reader) = queue.try_lock() else {
        shared.connections.end_poll(token);
        return Err(ApiError::Conflict(
            "another poll is already waiting on this connection".into(),
        ));
    };
    let first = tokio::time::timeout(shared.config.long_poll_timeout, reader.next()).await;
    let response = match first {
        Err(_) => StatusCode::OK.into_response(),
        Ok(None) => {
            shared.connections.remove(token);
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        Ok(Some(frame)) => {
            let mut body = String::from(&*frame.text);
            while body.len() < shared.config.max_message_bytes {
                let Some(frame) = reader.try_next() else {
                    break;
                };
                body.push_str(&frame.text);
            }
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
        }
    };
    shared.connections.end_poll(token);
    Ok(response)
}
