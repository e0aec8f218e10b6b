//! One client connection's life, whatever the transport: handshake (with a timeout), registration
//! in the hub, keep-alive pings, client messages forwarded upstream, closes requested by REST or by
//! the emulator stopping, and clean-up. Transports only move bytes in and frames out. A WebSocket
//! connection with stateful reconnect lives on, detached, when its socket drops, until a new
//! socket takes over or the reconnect window ends ([`super::reattach`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use super::client_connection::ClientConnection;
use super::client_policy;
use super::incoming::Incoming;
use super::outbox::Outbox;
use super::outgoing::{self, Outgoing};
use super::reattach::{Attachment, ClientInput, Input};
use super::shutdown::Shutdown;
use super::upstream_event::UpstreamEvent;
use super::upstream_queue::{QueueFull, UpstreamQueue, QUEUE_FULL};
use super::Shared;
use crate::service::hub_protocol::json::{self, ClientMessage, Handshake, Records};
use crate::service::hub_protocol::Protocol;
use crate::service::transports::Transport;

/// How long `connected` / `disconnected` may wait for room in a full upstream queue.
const LIFECYCLE_WAIT: Duration = Duration::from_secs(5);

/// Counts live sessions so shutdown can wait for them.
struct Live(Arc<Shared>);

impl Live {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.sessions.send_modify(|n| *n += 1);
        Self(Arc::clone(shared))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.sessions.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Runs a connection until it ends. `input` carries the client's bytes and says when the client
/// goes away; frames for the client go to `outbox`.
pub async fn run(
    shared: Arc<Shared>,
    caller: ClientConnection,
    kind: Transport,
    mut input: ClientInput,
    outbox: Outbox<Shutdown>,
) {
    let _live = Live::new(&shared);
    let Some((handshake, records)) = handshake(&shared, &caller, kind, &mut input, &outbox).await
    else {
        outbox.end();
        return;
    };
    let (protocol, config) = (handshake.protocol, &shared.config);
    let mut incoming = Incoming::after_handshake(records, protocol, config.max_message_bytes);
    if let (2, Some(attachment)) = (handshake.version, input.attachment()) {
        // Before anyone can send to it: every numbered message is kept from the first.
        attachment.make_resumable(protocol);
        incoming.count_received();
    }
    let (hub, id) = (&caller.hub, &caller.connection_id);
    shared.hubs.add_connection(
        hub,
        id,
        caller.user_id.clone(),
        outbox.clone(),
        protocol,
        outgoing::handshake_ok(),
    );
    shared.activity.connected(
        hub,
        id,
        caller.user_id.clone(),
        kind,
        protocol,
        shared.hubs.groups_of(hub, id),
    );
    tracing::info!(%hub, connection = %id, user = ?caller.user_id, ?kind, ?protocol, version = handshake.version, "client connected");
    let worker = shared.upstream.spawn_worker(
        caller.clone(),
        outbox.clone(),
        protocol,
        config.max_upstream_queued_bytes,
    );
    worker
        .send_event(UpstreamEvent::Connected, LIFECYCLE_WAIT)
        .await;

    let connected = Connected {
        shared: &shared,
        caller: &caller,
        kind,
        worker: &worker,
        outbox: &outbox,
        protocol,
        attachment: input.attachment().map(Arc::clone),
    };
    let error = connected.serve(&mut input, &mut incoming).await;

    if let Some(token) = input.end() {
        shared.tokens.remove(token);
    }
    shared.hubs.remove_connection(hub, id);
    shared.invocations.end(id);
    shared.streams.end(id);
    shared.activity.disconnected(hub, id);
    outbox.end();
    tracing::info!(%hub, connection = %id, error = ?error, "client disconnected");
    if !worker
        .send_event(UpstreamEvent::Disconnected { error }, LIFECYCLE_WAIT)
        .await
    {
        tracing::warn!(%hub, connection = %id, "the upstream queue stayed full: `disconnected` was not sent");
    }
}

/// Waits for the handshake request (within the handshake timeout) and checks it. Returns the
/// protocol and version and the bytes read after it, or `None` when the connection must end
/// (the client went away, or it was told why its handshake was refused).
async fn handshake(
    shared: &Shared,
    caller: &ClientConnection,
    kind: Transport,
    input: &mut ClientInput,
    outbox: &Outbox<Shutdown>,
) -> Option<(Handshake, Records)> {
    let config = &shared.config;
    let mut records = Records::new(config.max_message_bytes);
    let max_version = input.max_version();
    let first = tokio::time::timeout(config.handshake_timeout, async {
        loop {
            // Nothing but bytes or the end before the handshake: no connection is resumable yet.
            let Input::Bytes(bytes) = input.next().await else {
                return Err(None);
            };
            records.feed(&bytes);
            match records.next_record() {
                None => {}
                Some(Err(e)) => return Err(Some(e.to_string())),
                Some(Ok(first)) => {
                    let binary = kind != Transport::ServerSentEvents;
                    return json::check_handshake_up_to(&first, binary, max_version)
                        .map_err(|e| Some(e.to_string()));
                }
            }
        }
    })
    .await;
    let refused = match first {
        Ok(Ok(handshake)) => return Some((handshake, records)),
        Ok(Err(None)) => return None,
        Ok(Err(Some(error))) => error,
        Err(_) => format!(
            "Handshake was canceled: no handshake request was received within {} seconds",
            config.handshake_timeout.as_secs_f32()
        ),
    };
    tracing::info!(hub = %caller.hub, connection = %caller.connection_id, "handshake refused: {refused}");
    // Before the handshake, the client reads JSON whatever it asked for.
    outbox.push(outgoing::handshake_error(&refused).frame(Protocol::Json));
    None
}

/// Why the loop ends early.
struct EndReason {
    message: Option<String>,
    tell_client: bool,
}

impl EndReason {
    fn error(message: String) -> Self {
        Self {
            message: Some(format!("Connection closed with an error. {message}")),
            tell_client: true,
        }
    }

    fn silent(message: &str) -> Self {
        Self {
            message: Some(message.to_string()),
            tell_client: false,
        }
    }

    /// The connection ends without an error.
    fn quiet() -> Self {
        Self {
            message: None,
            tell_client: false,
        }
    }
}

/// A connection past its handshake: where its client's messages go and whom it tells.
struct Connected<'a> {
    shared: &'a Shared,
    caller: &'a ClientConnection,
    kind: Transport,
    worker: &'a UpstreamQueue,
    outbox: &'a Outbox<Shutdown>,
    protocol: Protocol,
    /// A WebSocket connection's attachment (its Acks go there).
    attachment: Option<Arc<Attachment>>,
}

impl Connected<'_> {
    /// Queues `message` for the client, in its protocol.
    fn send(&self, message: &Outgoing) {
        self.outbox.push(message.frame(self.protocol));
    }

    /// The loop: client messages, pings, the client timeout, closes asked for by REST, token
    /// expiry and the emulator stopping; with stateful reconnect, sockets that drop and take
    /// over. Returns the error the connection ended with.
    async fn serve(&self, input: &mut ClientInput, incoming: &mut Incoming) -> Option<String> {
        let config = &self.shared.config;
        // Bytes after the handshake record are messages.
        let mut error = self.handle_messages(incoming);
        let mut shutdown = self.outbox.ending_signal();
        let mut stopping = self.shared.stopping.subscribe();
        let stop = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        tokio::pin!(stop);
        let mut ping = tokio::time::interval_at(
            Instant::now() + config.keep_alive_interval,
            config.keep_alive_interval,
        );
        // No burst of the pings skipped while the client was away.
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut deadline = Instant::now() + config.client_timeout;
        let watch_client = self.kind != Transport::LongPolling;
        // A token with `asrs.s.coae` closes the connection when it expires (checked at connect).
        let expires = client_policy::closes_at(&self.caller.claims).map(|at| {
            Instant::now() + Duration::from_secs(at.saturating_sub(client_policy::unix_now()))
        });
        while error.is_none() {
            tokio::select! {
                next = input.next() => match next {
                    Input::Bytes(bytes) => {
                        deadline = Instant::now() + config.client_timeout;
                        incoming.feed(&bytes);
                        error = self.handle_messages(incoming);
                    }
                    Input::Detached => self.socket_changed(false),
                    Input::Reattached => {
                        deadline = Instant::now() + config.client_timeout;
                        incoming.reconnected();
                        self.socket_changed(true);
                    }
                    Input::Gone => break,
                },
                _ = ping.tick(), if input.attached() => self.send(&outgoing::ping()),
                _ = sleep_until(deadline), if watch_client && input.attached() => {
                    error = Some(EndReason::error(format!(
                        "Server timeout elapsed: nothing was received from the client for {} seconds",
                        config.client_timeout.as_secs()
                    )));
                }
                changed = shutdown.changed() => {
                    let request = if changed.is_ok() { shutdown.borrow_and_update().clone() } else { None };
                    error = Some(self.ending(request, input.attached()));
                }
                _ = sleep_until(expires.unwrap_or(deadline)), if expires.is_some() => {
                    self.send(&outgoing::close(Some(client_policy::EXPIRED), true));
                    error = Some(EndReason::silent(client_policy::EXPIRED));
                }
                _ = &mut stop => {
                    self.send(&outgoing::close(Some("The emulator is shutting down."), true));
                    break;
                }
            }
        }
        error.and_then(|reason| {
            if reason.tell_client {
                self.send(&outgoing::close(reason.message.as_deref(), false));
            }
            reason.message
        })
    }

    /// Registers a stream the client opened, for REST to feed (`streams.rs`); past the limit
    /// the client is told at once.
    fn open_stream(&self, stream: &str) {
        let streams = &self.shared.streams;
        if !streams.open(&self.caller.connection_id, stream) {
            let error = format!(
                "Too many open streams: a connection may hold {} at once",
                streams.limit()
            );
            self.send(&outgoing::completion_error(stream, &error));
        }
    }

    /// How a request to end the connection ends it (`None`: the queue is gone).
    fn ending(&self, request: Option<Shutdown>, attached: bool) -> EndReason {
        match request {
            Some(Shutdown::Close { reason }) => {
                self.send(&outgoing::close(reason.as_deref(), true));
                EndReason::quiet()
            }
            Some(Shutdown::Failed { error }) => EndReason::error(error),
            Some(Shutdown::Overflow) if attached => {
                EndReason::silent("the client did not read its messages fast enough")
            }
            Some(Shutdown::Overflow) => EndReason::silent(
                "more was sent to the client while it was away than the emulator keeps for it",
            ),
            Some(Shutdown::Ended) | None => EndReason::quiet(),
        }
    }

    /// Logs and shows a socket that dropped (the client may come back) or took over.
    fn socket_changed(&self, attached: bool) {
        let (hub, id) = (&self.caller.hub, &self.caller.connection_id);
        if attached {
            tracing::info!(%hub, connection = %id, "client reconnected (stateful reconnect)");
        } else {
            let window = self.shared.config.reconnect_window.as_secs_f32();
            tracing::info!(%hub, connection = %id, "client socket dropped; waiting {window} s for it to reconnect");
        }
        self.shared.activity.socket_changed(hub, id, attached);
    }

    /// Handles the complete messages buffered so far; returns why to stop, if the client asked to or
    /// broke the protocol (the messages after that one are never looked at).
    fn handle_messages(&self, incoming: &mut Incoming) -> Option<EndReason> {
        while let Some(message) = incoming.next_message() {
            match message {
                Err(e) => return Some(EndReason::error(e.to_string())),
                Ok(ClientMessage::Invocation {
                    raw,
                    content_type,
                    invocation_id,
                    target,
                }) => {
                    let event = UpstreamEvent::Invocation {
                        raw,
                        content_type,
                        target,
                        invocation_id,
                    };
                    if let Err(QueueFull(UpstreamEvent::Invocation {
                        target,
                        invocation_id,
                        ..
                    })) = self.worker.try_send_message(event)
                    {
                        match invocation_id {
                            Some(id) => self.send(&outgoing::completion_error(&id, QUEUE_FULL)),
                            None => tracing::warn!(
                                ?target,
                                "upstream queue full: a client invocation without an invocationId was dropped"
                            ),
                        }
                    }
                }
                Ok(ClientMessage::StreamInvocation {
                    invocation_id: Some(id),
                }) => self.open_stream(&id),
                Ok(ClientMessage::Completion {
                    invocation_id,
                    outcome,
                }) => {
                    // An answer to `:invoke`; never forwarded upstream, dropped when unknown.
                    let id = &self.caller.connection_id;
                    self.shared
                        .invocations
                        .complete(id, &invocation_id, outcome);
                }
                Ok(ClientMessage::CancelInvocation { invocation_id }) => {
                    let id = &self.caller.connection_id;
                    self.shared.streams.close(id, &invocation_id);
                }
                Ok(ClientMessage::Close { error }) => {
                    return Some(EndReason {
                        message: error,
                        tell_client: false,
                    })
                }
                Ok(ClientMessage::Ack { sequence_id }) => {
                    if let Some(attachment) = &self.attachment {
                        attachment.acknowledge(sequence_id);
                    }
                }
                Ok(_) => {}
            }
        }
        if let Some(sequence_id) = incoming.ack_due() {
            self.send(&outgoing::ack(sequence_id));
        }
        incoming
            .check_complete()
            .err()
            .map(|e| EndReason::error(e.to_string()))
    }
}
