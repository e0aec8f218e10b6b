//! The WebSockets transport: text (or binary) frames in, each queued hub message out as a text
//! frame (JSON) or a binary one (MessagePack); a client that stops reading is abandoned as soon as its queue overflows.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};

use super::attach::{Socket, Start};
use super::error::EmulatorError;
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

/// What the client is told when reading its WebSocket failed: the size limit when that is why
/// (tungstenite says "Space limit exceeded: Message too long: N > M"), else the error itself.
fn read_failure(error: &axum::Error, limit: usize) -> String {
    let text = error.to_string();
    if text.contains("Space limit exceeded") || text.contains("too long") {
        ProtocolError::TooLarge(limit).to_string()
    } else {
        format!("the WebSocket could not be read: {text}")
    }
}

async fn run(socket: Socket, websocket: WebSocket, limit: usize) {
    let Socket {
        inbound,
        frames: mut reader,
        outbox: transport,
        registration: _registration,
    } = socket;
    let (mut sink, mut stream) = websocket.split();
    let aborted = reader.overflowed();
    tokio::pin!(aborted);
    let write = async {
        loop {
            let frame = tokio::select! {
                frame = reader.next() => frame,
                _ = &mut aborted => None,
            };
            let Some(queued) = frame else { break };
            tokio::select! {
                sent = sink.send(queued.frame.message()) => if sent.is_err() { break },
                _ = &mut aborted => break,
            }
        }
        let close = Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "".into(),
        }));
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(close)).await;
    };
    // After the session ends, keep reading until the client's Close frame (bounded in time):
    // dropping a socket with unread input makes the kernel reset it, and the client would lose
    // the last messages, the Close message among them. Resolves to true when reading failed
    // (an oversized message): the session is then told, and its Close message still goes out.
    let read = async {
        let mut forwarding = true;
        loop {
            let bytes = match stream.next().await {
                None | Some(Ok(Message::Close(_))) => return false,
                Some(Err(e)) => {
                    transport.fail(read_failure(&e, limit));
                    return true;
                }
                Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
                Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            };
            if forwarding && inbound.send(bytes).await.is_err() {
                forwarding = false;
            }
        }
    };
    tokio::pin!(write, read);
    tokio::select! {
        _ = &mut write => {
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut read).await;
        }
        failed = &mut read => {
            if failed {
                let _ = tokio::time::timeout(Duration::from_secs(2), &mut write).await;
            }
        }
    }
}
