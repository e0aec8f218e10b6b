//! Sending a message: `POST …/:send` to the hub, a user, a group or a connection. The body is a
//! JSON `{target, arguments}` or a MessagePack frame (see [`PayloadMessage`]); `excluded`
//! connections are skipped. Answers 202 once the message is queued for every recipient.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};

use super::{Answer, HubRequest};
use crate::emulator::activity::{now_ms, Sent};
use crate::emulator::body::read_body;
use crate::emulator::outgoing::Outgoing;
use crate::emulator::payload::PayloadMessage;
use crate::service::hub_protocol::HubMessage;
use crate::service::recipients::Recipients;

/// A send, parsed.
struct Send {
    recipients: Recipients,
    payload: PayloadMessage,
    excluded: Vec<String>,
}

impl Send {
    async fn parse(
        request: &HubRequest,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Self, crate::emulator::error::EmulatorError> {
        let bytes = read_body(headers, body, request.shared.config.max_body_bytes).await?;
        Ok(Self {
            recipients: request.recipients(),
            payload: PayloadMessage::parse(headers, &bytes)?,
            excluded: request.query.excluded(),
        })
    }

    fn apply(self, request: &HubRequest) -> StatusCode {
        let Self {
            recipients,
            payload,
            excluded,
        } = self;
        let hub = &request.hub;
        let frame = Outgoing::prepared(
            HubMessage::Invocation {
                target: payload.target.clone(),
                arguments: payload.arguments,
            },
            payload.frames.json,
            payload.frames.msgpack,
        );
        let shared = &request.shared;
        let received = shared.hubs.send(hub, &recipients, &excluded, frame);
        tracing::debug!(hub, ?recipients, target = %payload.target, received, "REST send");
        let (kind, name) = recipients.kind_and_name();
        shared.activity.sent(Sent {
            at: now_ms(),
            hub: hub.clone(),
            recipients: kind,
            name,
            target: payload.target,
            excluded: excluded.len(),
            received,
        });
        StatusCode::ACCEPTED
    }
}

/// Every send route.
pub async fn handle(request: HubRequest, headers: HeaderMap, body: Body) -> Answer {
    Ok(Send::parse(&request, &headers, body).await?.apply(&request))
}
