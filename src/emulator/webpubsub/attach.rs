//! A Web PubSub connection's life in one place, as the SignalR emulator's `attach.rs` is for its
//! transports: registered before the 101 goes out (its `connected` frame queued, the event
//! handler told), so whoever has the 101 reaches it at once; its socket served ([`socket`]);
//! when the socket ends, a reliable connection whose client may come back is kept, detached, for
//! [`RECOVERY_WINDOW`](super::connections::RECOVERY_WINDOW) and any other one is forgotten with
//! a `disconnected` event; a client that comes back with its reconnection token gets the same
//! connection, a `connected` frame with a new reconnection token (each token recovers once) and
//! its unacknowledged messages, and the janitor forgets the ones that do not.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;

use super::closing::{Closing, POLICY_VIOLATION};
use super::connected::Connected;
use super::connections::{ClientKind, Connection, SocketEnd, MAX_UNACKED_BYTES};
use super::events::{Event, EventContext};
use super::frames::{self, raw::Mode};
use super::invocations::Invocations;
use super::socket;
use super::subprotocol::RELIABLE;
use super::WebPubSubState;
use crate::emulator::outbox::{outbox, OutboxReader};
use crate::emulator::random_id::random_id;

/// A client that passed its token check and the `connect` event, about to be upgraded.
#[derive(Debug)]
pub struct Admitted {
    /// The connection as the event handler hears of it.
    pub context: EventContext,
    /// Its protocol.
    pub kind: ClientKind,
    /// What a simple client's frames do.
    pub mode: Mode,
    /// Groups it joins at once.
    pub groups: Vec<String>,
    /// Its roles.
    pub roles: Vec<String>,
}

/// Registers `admitted` and answers its upgrade; the socket is served once the client has the
/// 101.
pub fn start(state: Arc<WebPubSubState>, admitted: Admitted, ws: WebSocketUpgrade) -> Response {
    let ws = socket::configure(ws, state.config.max_message_bytes);
    let ws = match &admitted.context.subprotocol {
        Some(p) => ws.protocols([p.clone()]),
        None => ws,
    };
    // Registered before the 101 goes out, so whoever got it can be reached at once.
    let registered = Registered::new(&state, admitted);
    ws.on_upgrade(move |socket| registered.run(socket))
}

/// A new connection, registered before its WebSocket upgrade is answered: once the client has
/// the 101, REST calls and other clients already reach it (frames wait in its outbox). If the
/// upgrade fails, dropping it ends the connection as a client that left.
struct Registered {
    client: Connected,
    kind: ClientKind,
    mode: Mode,
    reader: Option<OutboxReader<Closing>>,
}

impl Registered {
    /// Registers the connection, queues its `connected` frame and tells the event handler.
    fn new(state: &Arc<WebPubSubState>, admitted: Admitted) -> Self {
        let Admitted {
            context,
            kind,
            mode,
            groups,
            roles,
        } = admitted;
        let (out, reader) = outbox(state.config.max_queued_bytes);
        let limits = state.connections.group_limits();
        let mut conn = Connection::new(
            &context.connection_id,
            &context.hub,
            context.user.clone(),
            kind,
            out.clone(),
            limits,
        );
        for group in &groups {
            if let Err(limit) = conn.groups.join(group) {
                tracing::warn!(connection = %context.connection_id, "Web PubSub: the connection does not join the rest of its token's and connect answer's groups: {limit}");
                break;
            }
        }
        conn.roles = roles;
        conn.subprotocol.clone_from(&context.subprotocol);
        conn.connection_state.clone_from(&context.state);
        let token = (kind == ClientKind::Reliable).then(new_reconnection_token);
        conn.reconnection_token.clone_from(&token);
        let id = context.connection_id.clone();
        state.connections.insert(id.clone(), conn);
        if kind != ClientKind::Simple {
            let user = context.user.as_deref();
            out.push(frames::connected(&id, user, token.as_deref()));
        }
        fire(state, &context, Event::System("connected"), b"{}".to_vec());
        let client = Connected {
            state: Arc::clone(state),
            context,
            outbox: out,
            invocations: Invocations::default(),
        };
        Self {
            client,
            kind,
            mode,
            reader: Some(reader),
        }
    }

    /// Serves the socket, then ends the connection's socket.
    async fn run(mut self, socket: WebSocket) {
        if let Some(reader) = self.reader.take() {
            serve(&self.client, self.kind, &self.mode, 0, reader, socket).await;
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        // Still holding the reader: the socket never ran.
        if self.reader.is_some() {
            end(&self.client.state, &self.client.context, 0, true, false);
        }
    }
}

/// Serves socket `generation` of `client`'s connection, then ends it.
async fn serve(
    client: &Connected,
    kind: ClientKind,
    mode: &Mode,
    generation: u64,
    reader: OutboxReader<Closing>,
    socket: WebSocket,
) {
    let client_left = socket::serve(client, kind, mode, reader, socket).await;
    // The client rejects what it still waits for when its socket drops.
    client.invocations.cancel_all();
    let recoverable = client_left && !client.outbox.is_closed();
    end(
        &client.state,
        &client.context,
        generation,
        client_left,
        recoverable,
    );
}

/// Upgrades a reliable client's reconnection: its buffered messages are sent again, or the
/// socket is closed with 1008 when the connection cannot be recovered.
pub fn recover(
    state: Arc<WebPubSubState>,
    hub: String,
    id: String,
    token: String,
    ws: WebSocketUpgrade,
) -> Response {
    let ws = socket::configure(ws, state.config.max_message_bytes).protocols([RELIABLE]);
    ws.on_upgrade(move |mut socket| async move {
        // Room for everything the connection kept (up to MAX_UNACKED_BYTES) on top of the usual
        // queue: the whole buffer is queued again at once.
        let (out, reader) = outbox(state.config.max_queued_bytes + MAX_UNACKED_BYTES);
        let found = state.connections.with(&hub, &id, |conn| {
            let owner = conn.reconnection_token.as_deref() == Some(token.as_str());
            if conn.kind != ClientKind::Reliable || !owner {
                return None;
            }
            // A new token for each recovery, in a `connected` frame ahead of the resent
            // messages: the one just used cannot take the connection over again.
            let rotated = new_reconnection_token();
            out.push(frames::connected(&id, conn.user.as_deref(), Some(&rotated)));
            conn.reconnection_token = Some(rotated);
            conn.reattach(out.clone());
            Some((conn.generation, conn.event_context(&id)))
        });
        state.connections.changed(&id);
        let Some(Some((generation, context))) = found else {
            let refusal = CloseFrame {
                code: POLICY_VIOLATION,
                reason: "the connection cannot be recovered (unknown connection id, wrong reconnection token, or expired); connect again".into(),
            };
            let _ = socket.send(Message::Close(Some(refusal))).await;
            return;
        };
        let client = Connected {
            state,
            context,
            outbox: out,
            invocations: Invocations::default(),
        };
        let kind = ClientKind::Reliable;
        serve(&client, kind, &Mode::SendEvent, generation, reader, socket).await;
    })
}

/// An unguessable reconnection token.
fn new_reconnection_token() -> String {
    format!("{}{}", random_id(), random_id())
}

/// A socket ended: the connection waits for recovery, or is gone and the handler is told.
fn end(
    state: &Arc<WebPubSubState>,
    context: &EventContext,
    generation: u64,
    client_left: bool,
    recoverable: bool,
) {
    let ended = state
        .connections
        .end_socket(&context.connection_id, generation, recoverable);
    if ended == SocketEnd::Ended {
        let reason = if client_left {
            "the client closed the connection"
        } else {
            "the service closed the connection"
        };
        let body = serde_json::json!({ "reason": reason }).to_string();
        fire(
            state,
            context,
            Event::System("disconnected"),
            body.into_bytes(),
        );
    }
}

/// Forgets the reliable connections whose client did not come back in time, telling the event
/// handler they are gone (the janitor's round).
pub fn forget_unrecovered(state: &Arc<WebPubSubState>) {
    for (id, conn) in state.connections.purge_detached() {
        let body = br#"{"reason":"the client did not reconnect in time"}"#.to_vec();
        let context = conn.event_context(&id);
        fire(state, &context, Event::System("disconnected"), body);
    }
}

/// Sends a non-blocking event in the background.
fn fire(state: &Arc<WebPubSubState>, context: &EventContext, event: Event<'static>, body: Vec<u8>) {
    if state.events.url(&context.hub, event).is_none() {
        return;
    }
    let (state, context) = (Arc::clone(state), context.clone());
    tokio::spawn(async move {
        if let Err(e) = state
            .events
            .call(&context, event, "application/json", body)
            .await
        {
            tracing::warn!(connection = %context.connection_id, "Web PubSub event handler: {e}");
        }
    });
}
