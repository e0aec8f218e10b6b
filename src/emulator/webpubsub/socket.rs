//! One Web PubSub client socket: a writer task drains the connection's outbox (dropping frames
//! whose TTL passed, sending `disconnected` and a Close frame when the service ends it), while
//! the reader serves the client's frames — `joinGroup`, `leaveGroup`, `sendToGroup`, `event`,
//! `sequenceAck`, `ping` for json clients (acks with `Forbidden`/`BadRequest`/`Duplicate`/
//! `InternalServerError` errors), raw frames for simple ones. When the socket ends, a reliable
//! connection waits for recovery, any other one is gone and the `disconnected` event is sent.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};

use super::closing::{Closing, POLICY_VIOLATION};
use super::connections::{ClientKind, Connection, Delivery, SocketEnd};
use super::events::{Event, EventContext};
use super::frames::{self, FrameError, Request};
use super::message::{DataType, MessageData, Origin};
use super::roles;
use super::subprotocol::RELIABLE;
use super::WebPubSubState;
use crate::emulator::outbox::{outbox, Frame, Outbox, OutboxReader};
use crate::emulator::random_id::random_id;
use crate::emulator::websocket::READ_BUFFER_BYTES;
use crate::service::recipients::Recipients;
use crate::service::webpubsub::Permission;

/// What a simple client's frames do.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Go to the event handler as the `message` user event (default).
    SendEvent,
    /// Go to this group.
    SendToGroup(String),
}

/// A client that passed the checks, about to be upgraded.
#[derive(Debug)]
pub struct Session {
    /// The connection as the event handler sees it.
    pub ctx: EventContext,
    /// Its protocol.
    pub kind: ClientKind,
    /// For simple clients.
    pub mode: Mode,
    /// Groups to join at once.
    pub groups: Vec<String>,
    /// Its roles.
    pub roles: Vec<String>,
}

/// A new connection, registered before its WebSocket upgrade is answered: once the client has
/// the 101, REST calls and other clients already reach it (frames wait in its outbox). If the
/// upgrade fails, dropping it ends the connection as a client that left.
pub struct Registered {
    shared: Arc<WebPubSubState>,
    ctx: EventContext,
    kind: ClientKind,
    mode: Mode,
    out: Outbox<Closing>,
    reader: Option<OutboxReader<Closing>>,
}

/// Registers a new connection, queues its `connected` frame and tells the event handler.
pub fn register_new(shared: &Arc<WebPubSubState>, session: Session) -> Registered {
    let (out, reader) = outbox(shared.config.max_queued_bytes);
    let id = session.ctx.connection_id.clone();
    let mut conn = Connection::new(
        &session.ctx.hub,
        session.ctx.user.clone(),
        session.kind,
        out.clone(),
    );
    conn.groups.extend(session.groups);
    conn.roles = session.roles;
    conn.subprotocol.clone_from(&session.ctx.subprotocol);
    conn.connection_state.clone_from(&session.ctx.state);
    let token =
        (session.kind == ClientKind::Reliable).then(|| format!("{}{}", random_id(), random_id()));
    conn.reconnection_token.clone_from(&token);
    shared.connections.insert(id.clone(), conn);
    if session.kind != ClientKind::Simple {
        out.push(Frame::text(frames::connected(
            &id,
            session.ctx.user.as_deref(),
            token.as_deref(),
        )));
    }
    fire(
        shared,
        &session.ctx,
        Event::System("connected"),
        b"{}".to_vec(),
    );
    Registered {
        shared: Arc::clone(shared),
        ctx: session.ctx,
        kind: session.kind,
        mode: session.mode,
        out,
        reader: Some(reader),
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        // Still holding the reader: the socket never ran.
        if self.reader.is_some() {
            end(&self.shared, &self.ctx, 0, true, false);
        }
    }
}

/// Runs a registered connection's socket.
pub async fn run_new(mut registered: Registered, socket: WebSocket) {
    let Some(reader) = registered.reader.take() else {
        return;
    };
    serve(
        Arc::clone(&registered.shared),
        registered.ctx.clone(),
        registered.kind,
        registered.mode.clone(),
        0,
        registered.out.clone(),
        reader,
        socket,
    )
    .await;
}

/// Upgrades a reliable client's reconnection: its buffered messages are sent again, or the
/// socket is closed with 1008 when the connection cannot be recovered.
pub fn recover(
    shared: Arc<WebPubSubState>,
    hub: String,
    id: String,
    token: String,
    ws: WebSocketUpgrade,
) -> Response {
    let limit = shared.config.max_message_bytes;
    ws.protocols([RELIABLE])
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(read_limit(limit))
        .max_frame_size(read_limit(limit))
        .on_upgrade(move |mut socket| async move {
            let (out, reader) = outbox(shared.config.max_queued_bytes);
            let found = shared.connections.with(&hub, &id, |conn| {
                if conn.kind != ClientKind::Reliable || conn.reconnection_token.as_deref() != Some(token.as_str()) {
                    return None;
                }
                conn.reattach(out.clone());
                Some((
                    conn.generation,
                    EventContext {
                        hub: conn.hub_name.clone(),
                        connection_id: id.clone(),
                        user: conn.user.clone(),
                        subprotocol: conn.subprotocol.clone(),
                        state: conn.connection_state.clone(),
                    },
                ))
            });
            let Some(Some((generation, ctx))) = found else {
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: POLICY_VIOLATION,
                        reason: "the connection cannot be recovered (unknown connection id, wrong reconnection token, or expired); connect again".into(),
                    })))
                    .await;
                return;
            };
            serve(shared, ctx, ClientKind::Reliable, Mode::SendEvent, generation, out, reader, socket).await;
        })
}

/// Sends a non-blocking event in the background.
fn fire(shared: &Arc<WebPubSubState>, ctx: &EventContext, event: Event<'static>, body: Vec<u8>) {
    if shared.events.url(&ctx.hub, event).is_none() {
        return;
    }
    let (shared, ctx) = (Arc::clone(shared), ctx.clone());
    tokio::spawn(async move {
        if let Err(e) = shared
            .events
            .call(&ctx, event, "application/json", body)
            .await
        {
            tracing::warn!(connection = %ctx.connection_id, "Web PubSub event handler: {e}");
        }
    });
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    shared: Arc<WebPubSubState>,
    ctx: EventContext,
    kind: ClientKind,
    mode: Mode,
    generation: u64,
    out: Outbox<Closing>,
    reader: OutboxReader<Closing>,
    socket: WebSocket,
) {
    let (sink, mut stream) = socket.split();
    let mut writer = tokio::spawn(write(sink, reader, kind));
    let limit = shared.config.max_message_bytes;
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
            out.close(1009, &too_large(limit));
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
                    out.close(1009, &too_large(limit));
                } else {
                    client_left = true;
                }
                break;
            }
            Some(Ok(Message::Text(text))) => match kind {
                ClientKind::Simple => {
                    simple(&shared, &ctx, &mode, &out, MessageData::text(text.as_str())).await
                }
                _ => json(&shared, &ctx, &out, text.as_str()).await,
            },
            Some(Ok(Message::Binary(bytes))) => match kind {
                ClientKind::Simple => {
                    simple(&shared, &ctx, &mode, &out, MessageData::binary(&bytes)).await
                }
                _ => out.close(1003, "the json subprotocols take text frames only"),
            },
            Some(Ok(_)) => {}
        }
    }
    if !writer_done && (!client_left || out.is_closed()) {
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut writer).await;
    }
    writer.abort();
    let recoverable = client_left && !out.is_closed();
    end(&shared, &ctx, generation, client_left, recoverable);
}

/// A socket ended: the connection waits for recovery, or is gone and the handler is told.
fn end(
    shared: &Arc<WebPubSubState>,
    ctx: &EventContext,
    generation: u64,
    client_left: bool,
    recoverable: bool,
) {
    match shared
        .connections
        .end_socket(&ctx.connection_id, generation, recoverable)
    {
        SocketEnd::Ended => {
            let reason = if client_left {
                "the client closed the connection"
            } else {
                "the service closed the connection"
            };
            fire(
                shared,
                ctx,
                Event::System("disconnected"),
                serde_json::json!({ "reason": reason })
                    .to_string()
                    .into_bytes(),
            );
        }
        SocketEnd::Detached | SocketEnd::Replaced => {}
    }
}

fn too_large(limit: usize) -> String {
    format!("the frame is larger than the limit of {limit} bytes")
}

/// The largest frame read in full (and then refused when over the limit with a clean 1009);
/// larger ones fail the read at once.
pub fn read_limit(limit: usize) -> usize {
    limit.saturating_mul(4)
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

/// A simple client's frame.
async fn simple(
    shared: &Arc<WebPubSubState>,
    ctx: &EventContext,
    mode: &Mode,
    out: &Outbox<Closing>,
    payload: MessageData,
) {
    match mode {
        Mode::SendToGroup(group) => {
            let origin = Origin::Group {
                group: group.clone(),
                from_user: ctx.user.clone(),
            };
            shared.connections.send(
                &ctx.hub,
                &Recipients::Group(group.clone()),
                &[],
                None,
                &Delivery::new(&origin, &payload, None),
            );
        }
        Mode::SendEvent => {
            let ctx = current(shared, ctx);
            match shared.events.call(&ctx, Event::User("message"), payload.data_type.content_type(), payload.bytes()).await {
                Ok(None) => out.close(POLICY_VIOLATION, "no event handler takes this hub's `message` events, so the frame cannot be delivered"),
                Ok(Some(answer)) if answer.status.is_success() => {
                    remember_state(shared, &ctx, answer.state);
                    if !answer.body.is_empty() {
                        let binary = answer.content_type.as_deref().and_then(DataType::from_content_type) == Some(DataType::Binary);
                        let frame = if binary { Frame::binary(answer.body) } else { Frame::text(String::from_utf8_lossy(&answer.body)) };
                        out.push(frame);
                    }
                }
                Ok(Some(answer)) => out.close(1011, &format!("the event handler answered {}", answer.status)),
                Err(e) => out.close(1011, &e.to_string()),
            }
        }
    }
}

/// The connection's current context (its state may have changed since it connected).
fn current(shared: &WebPubSubState, ctx: &EventContext) -> EventContext {
    let mut ctx = ctx.clone();
    if let Some(state) = shared
        .connections
        .with(&ctx.hub, &ctx.connection_id, |c| c.connection_state.clone())
    {
        ctx.state = state;
    }
    ctx
}

fn remember_state(shared: &WebPubSubState, ctx: &EventContext, state: Option<String>) {
    if let Some(state) = state {
        shared.connections.with(&ctx.hub, &ctx.connection_id, |c| {
            c.connection_state = Some(state)
        });
    }
}

fn ack(out: &Outbox<Closing>, ack_id: Option<u64>, result: Result<(), (&str, String)>) {
    if let Some(ack_id) = ack_id {
        let text = match result {
            Ok(()) => frames::ack_ok(ack_id),
            Err((name, message)) => frames::ack_error(ack_id, name, &message),
        };
        out.push(Frame::text(text));
    }
}

/// A json client's frame.
async fn json(shared: &Arc<WebPubSubState>, ctx: &EventContext, out: &Outbox<Closing>, text: &str) {
    let request = match frames::parse(text) {
        Ok(request) => request,
        Err(FrameError::Close(reason)) => return out.close(POLICY_VIOLATION, &reason),
        Err(FrameError::BadRequest { ack_id, message }) => {
            return ack(out, Some(ack_id), Err(("BadRequest", message)))
        }
    };
    let registry = &shared.connections;
    let (hub, id) = (&ctx.hub, &ctx.connection_id);
    // Checks the permission and the ack id, then runs `apply` on the connection.
    let guarded = |ack_id: Option<u64>,
                   permission: Permission,
                   group: &str,
                   apply: &mut dyn FnMut(&mut Connection)| {
        let result = registry.with(hub, id, |conn| {
            if !conn.allows(permission, group) {
                let role = roles::role(permission);
                return Err(("Forbidden", format!("the connection has no permission for this: it needs the role {role} or {role}.{group}, or a runtime grant")));
            }
            if ack_id.is_some_and(|a| !conn.first_ack(a)) {
                return Err(("Duplicate", "this ackId was used before; the request was not run again".to_string()));
            }
            apply(conn);
            Ok(())
        });
        ack(
            out,
            ack_id,
            result.unwrap_or(Err((
                "InternalServerError",
                "the connection is gone".into(),
            ))),
        );
    };
    match request {
        Request::Ping => {
            out.push(Frame::text(r#"{"type":"pong"}"#));
        }
        Request::SequenceAck { sequence_id } => {
            registry.with(hub, id, |conn| conn.acknowledge(sequence_id));
        }
        Request::JoinGroup { group, ack_id } => {
            guarded(ack_id, Permission::JoinLeaveGroup, &group, &mut |c| {
                c.groups.insert(group.clone());
            })
        }
        Request::LeaveGroup { group, ack_id } => {
            guarded(ack_id, Permission::JoinLeaveGroup, &group, &mut |c| {
                c.groups.remove(&group);
            })
        }
        Request::SendToGroup {
            group,
            ack_id,
            no_echo,
            payload,
        } => {
            let mut allowed = false;
            guarded(ack_id, Permission::SendToGroup, &group, &mut |_| {
                allowed = true
            });
            if allowed {
                let origin = Origin::Group {
                    group: group.clone(),
                    from_user: ctx.user.clone(),
                };
                let excluded = if no_echo {
                    vec![id.clone()]
                } else {
                    Vec::new()
                };
                registry.send(
                    hub,
                    &Recipients::Group(group),
                    &excluded,
                    None,
                    &Delivery::new(&origin, &payload, None),
                );
            }
        }
        Request::Event {
            event,
            ack_id,
            payload,
        } => {
            if let Some(ack_id) = ack_id {
                if registry.with(hub, id, |c| c.first_ack(ack_id)) == Some(false) {
                    return ack(
                        out,
                        Some(ack_id),
                        Err((
                            "Duplicate",
                            "this ackId was used before; the event was not sent again".into(),
                        )),
                    );
                }
            }
            let ctx = current(shared, ctx);
            match shared
                .events
                .call(
                    &ctx,
                    Event::User(&event),
                    payload.data_type.content_type(),
                    payload.bytes(),
                )
                .await
            {
                Ok(None) => ack(out, ack_id, Ok(())),
                Ok(Some(answer)) if answer.status.is_success() => {
                    remember_state(shared, &ctx, answer.state);
                    if !answer.body.is_empty() {
                        let data_type = answer
                            .content_type
                            .as_deref()
                            .and_then(DataType::from_content_type)
                            .unwrap_or(DataType::Binary);
                        match MessageData::from_body(data_type, &answer.body) {
                            Ok(p) => {
                                let delivery = Delivery::new(&Origin::Server, &p, None);
                                registry.send(
                                    hub,
                                    &Recipients::Connection(id.clone()),
                                    &[],
                                    None,
                                    &delivery,
                                );
                            }
                            Err(e) => tracing::warn!(
                                "the event handler's answer to {event:?} is unusable: {e}"
                            ),
                        }
                    }
                    ack(out, ack_id, Ok(()));
                }
                Ok(Some(answer)) => {
                    ack(
                        out,
                        ack_id,
                        Err((
                            "InternalServerError",
                            format!("the event handler answered {}", answer.status),
                        )),
                    );
                    out.close(
                        1011,
                        &format!(
                            "the event handler refused event {event:?} with {}",
                            answer.status
                        ),
                    );
                }
                Err(e) => ack(out, ack_id, Err(("InternalServerError", e.to_string()))),
            }
        }
    }
}
