//! The WebSockets transport: text (or binary) frames in, each queued hub message out as a text
//! frame (JSON) or a binary one (MessagePack); a client that stops reading is abandoned as soon as its queue overflows.
//! With stateful reconnect a socket that reattaches first writes the `Sequence` message and the
//! unacknowledged messages, every numbered message it writes is kept until the client's Ack, and
//! it stops when a newer socket takes over ([`super::reattach`]).

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use super::attach::{Socket, Start};
use super::error::EmulatorError;
use super::reattach::{Attachment, ToSession};
use crate::service::hub_protocol::ProtocolError;

/// Initial read buffer of each WebSocket, SignalR's and Web PubSub's: tungstenite zero-fills its
/// whole read buffer before each read, so its 128 KiB default costs 128 KiB of RSS per
/// connection; messages are small, and larger frames still grow the buffer on demand.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Upgrades a negotiated connection to a WebSocket (409 if it already has a transport).
pub fn start(start: Start<'_>, upgrade: WebSocketUpgrade) -> Result<Response, EmulatorError> {
    let limit = start.shared.config.max_message_bytes;
    let socket = start.socket()?;
    // Larger messages fail the read; the client is told why in a Close message (see `run`).
    // A failed upgrade drops `socket`, which forgets the connection and ends its session.
    Ok(upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |websocket| run(socket, websocket, limit)))
}

/// What the client is told when its message was over the size limit (tungstenite says "Space
/// limit exceeded: Message too long: N > M"); `None` for other read errors.
fn read_failure(error: &axum::Error, limit: usize) -> Option<String> {
    let text = error.to_string();
    (text.contains("Space limit exceeded") || text.contains("too long"))
        .then(|| ProtocolError::TooLarge(limit).to_string())
}

async fn run(socket: Socket, websocket: WebSocket, limit: usize) {
    let Socket {
        to_session,
        attachment,
        generation,
        registration: _registration,
    } = socket;
    let (sink, stream) = websocket.split();
    let replaced = attachment.replaced(generation);
    let write = write(sink, &attachment, generation);
    let read = read(stream, &to_session, &attachment, limit);
    tokio::pin!(write, read, replaced);
    tokio::select! {
        _ = &mut write => {
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut read).await;
        }
        failed = &mut read => {
            if failed {
                let _ = tokio::time::timeout(Duration::from_secs(2), &mut write).await;
            }
        }
        // A newer socket took over: this one lets go of the queue.
        _ = &mut replaced => {}
    }
}

/// Writes the connection's frames (after the replay, on a socket that reattached) until the
/// session is over, then a Close frame; stops at once when the client overflowed.
async fn write(mut sink: SplitSink<WebSocket, Message>, attachment: &Attachment, generation: u64) {
    // Waits while a replaced socket still holds the queue.
    let mut reader = attachment.frames().await;
    if generation > 0 {
        for frame in attachment.replay() {
            if sink.send(frame.message()).await.is_err() {
                return;
            }
        }
    }
    let aborted = reader.overflowed();
    tokio::pin!(aborted);
    loop {
        let frame = tokio::select! {
            frame = reader.next() => frame,
            _ = &mut aborted => None,
        };
        let Some(queued) = frame else { break };
        let frame = attachment.write(queued);
        tokio::select! {
            sent = sink.send(frame.message()) => if sent.is_err() { return },
            _ = &mut aborted => break,
        }
    }
    let close = Message::Close(Some(CloseFrame {
        code: 1000,
        reason: "".into(),
    }));
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(close)).await;
}

/// Hands the client's frames to the session. After the session ends, keeps reading until the
/// client's Close frame (bounded in time by the caller): dropping a socket with unread input
/// makes the kernel reset it, and the client would lose the last messages, the Close message
/// among them. Resolves to true when reading failed (an oversized message, or any error on a
/// connection that cannot be resumed): the session is then told, and its Close message still
/// goes out. A socket that breaks only drops, so a resumable connection waits for its client.
async fn read(
    mut stream: SplitStream<WebSocket>,
    to_session: &ToSession,
    attachment: &Attachment,
    limit: usize,
) -> bool {
    let mut forwarding = true;
    loop {
        let bytes = match stream.next().await {
            None => return false,
            Some(Ok(Message::Close(_))) => {
                to_session.client_left();
                return false;
            }
            Some(Err(e)) => {
                let failure = read_failure(&e, limit);
                if failure.is_none() && attachment.resumable() {
                    return false;
                }
                let error =
                    failure.unwrap_or_else(|| format!("the WebSocket could not be read: {e}"));
                attachment.outbox().fail(error);
                return true;
            }
            Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
            Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
        };
        if forwarding && to_session.bytes.send(bytes).await.is_err() {
            forwarding = false;
        }
    }
}
