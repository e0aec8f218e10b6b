//! One Web PubSub client's WebSocket, while it lasts: a writer task drains the connection's
//! outbox (and, when the service ends the connection, sends what is still queued, the
//! `disconnected` message and a Close frame), while the reader hands each of the client's frames
//! to [`frames`] (json clients) or [`frames::raw`] (simple clients). How a socket starts and what
//! happens to its connection when it ends is [`super::attach`]'s.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};

use super::closing::Closing;
use super::connected::Connected;
use super::connections::ClientKind;
use super::frames::{self, raw::Mode, raw::RawFrame};
use super::message::MessageData;
use crate::emulator::outbox::OutboxReader;
use crate::emulator::websocket::READ_BUFFER_BYTES;

/// The close code of a frame larger than the limit.
const TOO_BIG: u16 = 1009;
/// The close code of a binary frame from a json client.
const UNSUPPORTED: u16 = 1003;

/// The largest frame read in full (and then refused when over the limit with a clean 1009);
/// larger ones fail the read at once.
pub fn read_limit(limit: usize) -> usize {
    limit.saturating_mul(4)
}

/// `ws` with the read buffer and the size limits every client socket has.
pub fn configure(ws: WebSocketUpgrade, limit: usize) -> WebSocketUpgrade {
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(read_limit(limit))
        .max_frame_size(read_limit(limit))
}

fn too_large(limit: usize) -> String {
    format!("the frame is larger than the limit of {limit} bytes")
}

/// Serves `socket` for `client` until it ends; returns whether the client left (rather than the
/// service ending it).
pub async fn serve(
    client: &Connected,
    kind: ClientKind,
    mode: &Mode,
    reader: OutboxReader<Closing>,
    socket: WebSocket,
) -> bool {
    let (sink, mut stream) = socket.split();
    let mut writer = tokio::spawn(write(sink, reader, kind));
    let out = &client.outbox;
    let limit = client.state.config.max_message_bytes;
    let mut client_left = false;
    let mut writer_done = false;
    loop {
        let message = tokio::select! {
            _ = &mut writer => {
                writer_done = true;
                break;
            }
            message = stream.next() => message,
        };
        let size = match &message {
            Some(Ok(Message::Text(text))) => text.len(),
            Some(Ok(Message::Binary(bytes))) => bytes.len(),
            _ => 0,
        };
        if size > limit {
            out.close(TOO_BIG, &too_large(limit));
            break;
        }
        match message {
            None | Some(Ok(Message::Close(_))) => {
                client_left = true;
                break;
            }
            Some(Err(e)) => {
                let text = e.to_string();
                if text.contains("Space limit exceeded") || text.contains("too long") {
                    out.close(TOO_BIG, &too_large(limit));
                } else {
                    client_left = true;
                }
                break;
            }
            Some(Ok(message)) => receive(client, kind, mode, message).await,
        }
    }
    if !writer_done && (!client_left || out.is_closed()) {
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut writer).await;
    }
    writer.abort();
    client_left
}

/// One text or binary frame of the client.
async fn receive(client: &Connected, kind: ClientKind, mode: &Mode, message: Message) {
    match (message, kind) {
        (Message::Text(text), ClientKind::Simple) => {
            RawFrame(MessageData::text(text.as_str()))
                .apply(mode, client)
                .await
        }
        (Message::Text(text), _) => frames::receive(client, text.as_str()).await,
        (Message::Binary(bytes), ClientKind::Simple) => {
            RawFrame(MessageData::binary(&bytes))
                .apply(mode, client)
                .await
        }
        (Message::Binary(_), _) => client
            .outbox
            .close(UNSUPPORTED, "the json subprotocols take text frames only"),
        _ => {}
    }
}

async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut reader: OutboxReader<Closing>,
    kind: ClientKind,
) {
    let ended = reader.ended(|_| true);
    tokio::pin!(ended);
    loop {
        tokio::select! {
            biased;
            _ = &mut ended => break,
            queued = reader.recv() => {
                let Some(queued) = queued else { return };
                tokio::select! {
                    sent = sink.send(queued.frame.message()) => if sent.is_err() { return },
                    // A client that does not read is dropped, not waited for.
                    _ = &mut ended => return,
                }
            }
        }
    }
    let Some(Closing { code, reason }) = reader.ending() else {
        return;
    };
    let finish = async {
        // Nothing more after a policy violation (`Closing::drain`).
        while let Some(queued) = reader.try_next() {
            if sink.send(queued.frame.message()).await.is_err() {
                return;
            }
        }
        if kind != ClientKind::Simple {
            let _ = sink
                .send(Message::Text(frames::disconnected(&reason).into()))
                .await;
        }
        let reason: String = reason.chars().take(100).collect();
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), finish).await;
}
