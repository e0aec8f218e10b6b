//! One client connection's life, whatever the transport: handshake (with a timeout), registration
//! in the hub, keep-alive pings, client messages forwarded upstream, closes requested by REST or by
//! the emulator stopping, and clean-up. Transports only move bytes in and frames out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::client_connection::ClientConnection;
use super::client_policy;
use super::incoming::Incoming;
use super::outbox::Outbox;
use super::outgoing::{self, Outgoing};
use super::shutdown::Shutdown;
use super::upstream_event::UpstreamEvent;
use super::upstream_queue::{QueueFull, UpstreamQueue, QUEUE_FULL};
use super::Shared;
use crate::service::hub_protocol::json::{self, ClientMessage, Records};
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

/// Runs a connection until it ends. `inbound` carries the client's bytes and closes when the
/// client goes away; frames for the client go to `outbox`.
pub async fn run(
    shared: Arc<Shared>,
    caller: ClientConnection,
    kind: Transport,
    mut inbound: mpsc::Receiver<Vec<u8>>,
    outbox: Outbox<Shutdown>,
) {
    let _live = Live::new(&shared);
    let Some((protocol, records)) = handshake(&shared, &caller, kind, &mut inbound, &outbox).await
    else {
        outbox.end();
        return;
    };
    let config = &shared.config;
    let mut incoming = Incoming::after_handshake(records, protocol, config.max_message_bytes);
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
    tracing::info!(%hub, connection = %id, user = ?caller.user_id, ?kind, ?protocol, "client connected");
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
    };
    let error = connected.serve(&mut inbound, &mut incoming).await;

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
/// protocol and the bytes read after it, or `None` when the connection must end (the client
/// went away, or it was told why its handshake was refused).
async fn handshake(
    shared: &Shared,
    caller: &ClientConnection,
    kind: Transport,
    inbound: &mut mpsc::Receiver<Vec<u8>>,
    outbox: &Outbox<Shutdown>,
) -> Option<(Protocol, Records)> {
    let config = &shared.config;
    let mut records = Records::new(config.max_message_bytes);
    let first = tokio::time::timeout(config.handshake_timeout, async {
        loop {
            records.feed(&inbound.recv().await.ok_or(None)?);
            match records.next_record() {
                None => {}
                Some(Err(e)) => return Err(Some(e.to_string())),
                Some(Ok(first)) => {
                    let binary = kind != Transport::ServerSentEvents;
                    return json::check_handshake(&first, binary).map_err(|e| Some(e.to_string()));
                }
            }
        }
    })
    .await;
    let refused = match first {
        Ok(Ok(protocol)) => return Some((protocol, records)),
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
}

/// A connection past its handshake: where its client's messages go and whom it tells.
struct Connected<'a> {
    shared: &'a Shared,
    caller: &'a ClientConnection,
    kind: Transport,
    worker: &'a UpstreamQueue,
    outbox: &'a Outbox<Shutdown>,
    protocol: Protocol,
}

impl Connected<'_> {
    /// Queues `message` for the client, in its protocol.
    fn send(&self, message: &Outgoing) {
        self.outbox.push(message.frame(self.protocol));
    }

    /// The loop: client messages, pings, the client timeout, closes asked for by REST, token
    /// expiry and the emulator stopping. Returns the error the connection ended with.
    async fn serve(
        &self,
        inbound: &mut mpsc::Receiver<Vec<u8>>,
        incoming: &mut Incoming,
    ) -> Option<String> {
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
        let mut deadline = Instant::now() + config.client_timeout;
        let watch_client = self.kind != Transport::LongPolling;
        // A token with `asrs.s.coae` closes the connection when it expires (checked at connect).
        let expires = client_policy::closes_at(&self.caller.claims).map(|at| {
            Instant::now() + Duration::from_secs(at.saturating_sub(client_policy::unix_now()))
        });
        while error.is_none() {
            tokio::select! {
                bytes = inbound.recv() => {
                    let Some(bytes) = bytes else { break };
                    deadline = Instant::now() + config.client_timeout;
                    incoming.feed(&bytes);
                    error = self.handle_messages(incoming);
                }
                _ = ping.tick() => self.send(&outgoing::ping()),
                _ = sleep_until(deadline), if watch_client => {
                    error = Some(EndReason::error(format!(
                        "Server timeout elapsed: nothing was received from the client for {} seconds",
                        config.client_timeout.as_secs()
                    )));
                }
                changed = shutdown.changed() => {
                    let request = if changed.is_ok() { shutdown.borrow_and_update().clone() } else { None };
                    match request {
                        Some(Shutdown::Close { reason }) => {
                            self.send(&outgoing::close(reason.as_deref(), true));
                            break;
                        }
                        Some(Shutdown::Failed { error: failure }) => {
                            error = Some(EndReason::error(failure));
                        }
                        Some(Shutdown::Overflow) => {
                            error = Some(EndReason::silent("the client did not read its messages fast enough"));
                        }
                        Some(Shutdown::Ended) | None => break,
                    }
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
                Ok(_) => {}
            }
        }
        incoming
            .check_complete()
            .err()
            .map(|e| EndReason::error(e.to_string()))
    }
}
