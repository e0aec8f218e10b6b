//! The long-polling transport: the first GET starts the connection and answers at once; later
//! GETs wait up to the poll timeout for messages (200 with data, 200 empty on timeout, 204 once
//! the connection is over); POSTs carry the client's messages and DELETE stops it.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::attach::Start;
use super::error::EmulatorError;
use super::Shared;

/// Starts a long-polling connection; the answer is an immediate empty 200.
pub fn start(start: Start<'_>) -> Result<Response, EmulatorError> {
    start.polled()?;
    Ok(StatusCode::OK.into_response())
}

/// Marks a connection as polled while it lives. Dropping it ends the poll, whether the poll
/// answered or hyper dropped the request because the client went away mid-poll; otherwise the
/// connection would count as "being polled" forever and the janitor would never expire it.
struct Polling {
    shared: Arc<Shared>,
    token: String,
}

impl Polling {
    fn begin(shared: &Arc<Shared>, token: &str) -> Self {
        shared.tokens.begin_poll(token);
        Self {
            shared: Arc::clone(shared),
            token: token.to_string(),
        }
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        self.shared.tokens.end_poll(&self.token);
    }
}

/// One poll.
pub async fn poll(shared: Arc<Shared>, token: &str) -> Result<Response, EmulatorError> {
    let queue = shared.tokens.poll_queue(token)?;
    let Ok(mut reader) = queue.try_lock() else {
        return Err(EmulatorError::Conflict(
            "another poll is already waiting on this connection".into(),
        ));
    };
    let _polling = Polling::begin(&shared, token);
    let first = tokio::time::timeout(shared.config.long_poll_timeout, reader.next()).await;
    Ok(match first {
        Err(_) => StatusCode::OK.into_response(),
        Ok(None) => {
            shared.tokens.remove(token);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Some(queued)) => {
            let binary = queued.frame.binary;
            let mut body = queued.frame.data.to_vec();
            while body.len() < shared.config.max_message_bytes {
                let Some(queued) = reader.try_next() else {
                    break;
                };
                body.extend_from_slice(&queued.frame.data);
            }
            let content_type = if binary {
                "application/octet-stream"
            } else {
                "text/plain; charset=utf-8"
            };
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
    })
}
