//! A connected Web PubSub client as its frames see it: the emulator, the connection as the event
//! handler hears of it, and its socket's queue; and what frames do through it (ack, act on the
//! connection under its permissions, send to other connections, call the event handler with the
//! connection's current state).

use std::sync::Arc;

use super::ack::{self, AckError};
use super::activity::InvocationRecord;
use super::closing::Closing;
use super::connections::{Connection, Delivery};
use super::events::{CallError, Event, EventContext, HandlerAnswer};
use super::invocations::Invocations;
use super::message::MessageData;
use super::roles;
use super::WebPubSubState;
use crate::emulator::activity::now_ms;
use crate::emulator::outbox::Outbox;
use crate::service::recipients::Recipients;
use crate::service::webpubsub::Permission;

/// One connected client (a clone is the same client, for work done in the background).
#[derive(Clone)]
pub struct Connected {
    /// The emulator.
    pub state: Arc<WebPubSubState>,
    /// The connection as the event handler hears of it, as of its connect.
    pub context: EventContext,
    /// Its socket's queue.
    pub outbox: Outbox<Closing>,
    /// Its socket's invocations waiting for the event handler.
    pub invocations: Invocations,
}

impl Connected {
    /// Answers the frame of `ack_id`, if it has one.
    pub fn ack(&self, ack_id: Option<u64>, result: Result<(), AckError>) {
        if let Some(ack_id) = ack_id {
            self.outbox.push(ack::ack(ack_id, result));
        }
    }

    /// Tells the dashboard how invocation `id` (of user event `event`, if known) ended.
    pub fn record_invocation(&self, id: &str, event: Option<&str>, outcome: &str) {
        self.state.activity.invocation(InvocationRecord {
            at: now_ms(),
            hub: self.context.hub.clone(),
            connection: self.context.connection_id.clone(),
            invocation_id: id.to_string(),
            event: event.map(str::to_string),
            outcome: outcome.to_string(),
        });
    }

    /// Runs `f` on the connection; `None` when it is gone.
    pub fn with<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> Option<R> {
        let context = &self.context;
        self.state
            .connections
            .with(&context.hub, &context.connection_id, f)
    }

    /// Runs `apply` on the connection if it holds `permission` on `group` and `ack_id` is new,
    /// and acks the frame either way (with `apply`'s error if it fails); returns whether it ran.
    /// The permission is checked on a copy of the connection's roles and grants, outside the
    /// registry's lock, so a costly wildcard role never holds up other connections.
    pub fn guarded(
        &self,
        ack_id: Option<u64>,
        permission: Permission,
        group: &str,
        apply: impl FnOnce(&mut Connection) -> Result<(), AckError>,
    ) -> bool {
        let gone = || AckError::internal("the connection is gone");
        let result = match self.permitted(permission, group) {
            None => Err(gone()),
            Some(Err(refusal)) => Err(AckError::forbidden(refusal)),
            Some(Ok(())) => self
                .with(|conn| {
                    if ack_id.is_some_and(|a| !conn.first_ack(a)) {
                        return Err(AckError::duplicate(
                            "this ackId was used before; the request was not run again",
                        ));
                    }
                    apply(conn)
                })
                .unwrap_or_else(|| Err(gone())),
        };
        let ran = result.is_ok();
        self.ack(ack_id, result);
        ran
    }

    /// Whether the connection holds `permission` on `group` (else why not); `None` when it is
    /// gone. Checked on a copy of its roles and grants, outside the registry's lock.
    pub fn permitted(&self, permission: Permission, group: &str) -> Option<Result<(), String>> {
        let (roles, grants) = self.with(|conn| (conn.roles.clone(), conn.grants.clone()))?;
        if roles::allows(&roles, &grants, permission, group) {
            return Some(Ok(()));
        }
        let role = roles::role(permission);
        Some(Err(format!("the connection has no permission for this: it needs the role {role} or {role}.{group}, or a runtime grant")))
    }

    /// Sends `delivery` to the `recipients` of this hub but the `excluded` connections.
    pub fn send(&self, recipients: &Recipients, excluded: &[String], delivery: &Delivery) {
        self.state
            .connections
            .send(&self.context.hub, recipients, excluded, None, delivery);
    }

    /// Calls the event handler with `event` and `data`, about the connection as it is now (its
    /// `ce-connectionState` may have changed since it connected); a successful answer's new state
    /// is remembered.
    pub async fn call(
        &self,
        event: Event<'_>,
        data: &MessageData,
    ) -> Result<Option<HandlerAnswer>, CallError> {
        let mut context = self.context.clone();
        if let Some(state) = self.with(|c| c.connection_state.clone()) {
            context.state = state;
        }
        let answer = self
            .state
            .events
            .call(&context, event, data.data_type.content_type(), data.bytes())
            .await?;
        if let Some(HandlerAnswer {
            status,
            state: Some(state),
            ..
        }) = &answer
        {
            if status.is_success() {
                self.with(|c| c.connection_state = Some(state.clone()));
            }
        }
        Ok(answer)
    }
}
