//! One client connection's life, whatever the transport: handshake (with a timeout), registration
//! in the hub, keep-alive pings, client messages forwarded upstream, closes requested by REST or by
//! the emulator stopping, and clean-up. Transports only move bytes in and frames out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::client_connection::ClientConnection;
use super::client_policy;
use super::connection_event::ConnectionEvent;
use super::incoming::Incoming;
use super::outbox::{Outbox, Shutdown};
use super::outgoing;
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
    outbox: Outbox,
) {
    let _live = Live::new(&shared);
    let Some((protocol, records)) = handshake(&shared, &caller, kind, &mut inbound, &outbox).await
    else {
        outbox.end();
        return;
    };
    outbox.set_protocol(protocol);
    let config = &shared.config;
    let mut incoming = Incoming::after_handshake(records, protocol, config.max_message_bytes);
    let (hub, id) = (&caller.hub, &caller.connection_id);
    shared.hubs.add_connection(
        hub,
        id,
        caller.user_id.clone(),
        outbox.clone(),
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
        config.max_upstream_queued_bytes,
    );
    worker
        .send_event(ConnectionEvent::Connected, LIFECYCLE_WAIT)
        .await;

    let error = serve(
        &shared,
        &caller,
        kind,
        &mut inbound,
        &mut incoming,
        &worker,
        &outbox,
    )
    .await;

    shared.hubs.remove_connection(hub, id);
    shared.activity.disconnected(hub, id);
    outbox.end();
    tracing::info!(%hub, connection = %id, error = ?error, "client disconnected");
    if !worker
        .send_event(ConnectionEvent::Disconnected { error }, LIFECYCLE_WAIT)
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
    outbox: &Outbox,
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
    outbox.push(outgoing::handshake_error(&refused));
    None
}

/// The connected connection's loop: client messages, pings, the client timeout, closes asked for
/// by REST, token expiry and the emulator stopping. Returns the error the connection ended with.
async fn serve(
    shared: &Shared,
    caller: &ClientConnection,
    kind: Transport,
    inbound: &mut mpsc::Receiver<Vec<u8>>,
    incoming: &mut Incoming,
    worker: &UpstreamQueue,
    outbox: &Outbox,
) -> Option<String> {
    let config = &shared.config;
    // Bytes after the handshake record are messages.
    let mut error = handle_messages(incoming, worker, outbox);
    let mut shutdown = outbox.shutdown_signal();
    let mut stopping = shared.stopping.subscribe();
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    tokio::pin!(stop);
    let mut ping = tokio::time::interval_at(
        Instant::now() + config.keep_alive_interval,
        config.keep_alive_interval,
    );
    let mut deadline = Instant::now() + config.client_timeout;
    let watch_client = kind != Transport::LongPolling;
    // A token with `asrs.s.coae` closes the connection when it expires (checked at connect).
    let expires = client_policy::closes_at(&caller.claims).map(|at| {
        Instant::now() + Duration::from_secs(at.saturating_sub(client_policy::unix_now()))
    });
    while error.is_none() {
        tokio::select! {
            bytes = inbound.recv() => {
                let Some(bytes) = bytes else { break };
                deadline = Instant::now() + config.client_timeout;
                incoming.feed(&bytes);
                error = handle_messages(incoming, worker, outbox);
            }
            _ = ping.tick() => {
                outbox.push(outgoing::ping());
            }
            _ = sleep_until(deadline), if watch_client => {
                error = Some(Closing::error(format!(
                    "Server timeout elapsed: nothing was received from the client for {} seconds",
                    config.client_timeout.as_secs()
                )));
            }
            changed = shutdown.changed() => {
                let request = if changed.is_ok() { shutdown.borrow_and_update().clone() } else { None };
                match request {
                    Some(Shutdown::Close { reason }) => {
                        outbox.push(outgoing::close(reason.as_deref(), true));
                        break;
                    }
                    Some(Shutdown::Failed { error: failure }) => {
                        error = Some(Closing::error(failure));
                    }
                    Some(Shutdown::Overflow) => {
                        error = Some(Closing::silent("the client did not read its messages fast enough"));
                    }
                    Some(Shutdown::Ended) | None => break,
                }
            }
            _ = sleep_until(expires.unwrap_or(deadline)), if expires.is_some() => {
                outbox.push(outgoing::close(Some(client_policy::EXPIRED), true));
                error = Some(Closing::silent(client_policy::EXPIRED));
            }
            _ = &mut stop => {
                outbox.push(outgoing::close(Some("The emulator is shutting down."), true));
                break;
            }
        }
    }
    error.and_then(|closing| {
        if closing.tell_client {
            outbox.push(outgoing::close(closing.message.as_deref(), false));
        }
        closing.message
    })
}

/// Why the loop ends early.
struct Closing {
    message: Option<String>,
    tell_client: bool,
}

impl Closing {
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

/// Handles the complete messages buffered so far; returns why to stop, if the client asked to or
/// broke the protocol (the messages after that one are never looked at).
fn handle_messages(
    incoming: &mut Incoming,
    worker: &UpstreamQueue,
    outbox: &Outbox,
) -> Option<Closing> {
    while let Some(message) = incoming.next_message() {
        match message {
            Err(e) => return Some(Closing::error(e.to_string())),
            Ok(ClientMessage::Invocation {
                raw,
                content_type,
                invocation_id,
                target,
            }) => {
                let event = ConnectionEvent::Invocation {
                    raw,
                    content_type,
                    target,
                    invocation_id,
                };
                if let Err(QueueFull(ConnectionEvent::Invocation {
                    target,
                    invocation_id,
                    ..
                })) = worker.try_send_message(event)
                {
                    match invocation_id {
                        Some(id) => {
                            outbox.push(outgoing::completion_error(&id, QUEUE_FULL));
                        }
                        None => tracing::warn!(
                            ?target,
                            "upstream queue full: a client invocation without an invocationId was dropped"
                        ),
                    }
                }
            }
            Ok(ClientMessage::StreamInvocation {
                invocation_id: Some(id),
            }) => {
                outbox.push(outgoing::completion_error(
                    &id,
                    "Streaming invocations are not supported in serverless mode",
                ));
            }
            Ok(ClientMessage::Close { error }) => {
                return Some(Closing {
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
        .map(|e| Closing::error(e.to_string()))
}
