//! Sending a message: `POST …/:send` to the hub, a user, a group or a connection. The body's
//! content type is the message's `dataType` (`docs/webpubsub.md` §3); `excluded`, `filter` and
//! `messageTtlSeconds` come from the query. Answers 202 once every recipient has it queued.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;

use super::{Answer, WpsRequest};
use crate::emulator::body::read_body;
use crate::emulator::webpubsub::connections::Delivery;
use crate::emulator::webpubsub::error::WpsError;
use crate::emulator::webpubsub::message::{DataType, MessageData, Origin};
use crate::service::filter::Filter;
use crate::service::recipients::Recipients;

/// The longest `messageTtlSeconds`.
const MAX_TTL_SECONDS: u64 = 300;

/// A send, parsed.
struct Send {
    recipients: Recipients,
    excluded: Vec<String>,
    filter: Option<Filter>,
    ttl: Option<Duration>,
    payload: MessageData,
}

impl Send {
    async fn parse(
        request: &WpsRequest,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Self, WpsError> {
        let filter = request.filter()?;
        let ttl = request.number("messageTtlSeconds", 0..=MAX_TTL_SECONDS)?;
        let payload = read_payload(request, headers, body).await?;
        Ok(Self {
            recipients: request.recipients(),
            excluded: request.excluded(),
            filter,
            ttl: ttl.map(Duration::from_secs),
            payload,
        })
    }

    fn apply(self, request: &WpsRequest) -> StatusCode {
        let delivery = Delivery::new(&Origin::Server, &self.payload, self.ttl);
        let received = request.state.connections.send(
            &request.hub,
            &self.recipients,
            &self.excluded,
            self.filter.as_ref(),
            &delivery,
        );
        let data_type = self.payload.data_type.name();
        let state = &request.state;
        (state.activity).sent(&request.hub, &self.recipients, data_type, received);
        StatusCode::ACCEPTED
    }
}

/// The body as a message of the `dataType` its content type names.
async fn read_payload(
    request: &WpsRequest,
    headers: &HeaderMap,
    body: Body,
) -> Result<MessageData, WpsError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let data_type = DataType::from_content_type(content_type).ok_or_else(|| {
        WpsError::UnsupportedMediaType(format!(
            "Content-Type {content_type:?} is not accepted; send application/json, text/plain or application/octet-stream"
        ))
    })?;
    let bytes = read_body(headers, body, request.state.config.max_body_bytes).await?;
    MessageData::from_body(data_type, &bytes).map_err(|m| WpsError::bad("message", m))
}

/// Every send route.
pub async fn handle(request: WpsRequest, headers: HeaderMap, body: Body) -> Answer {
    let send = Send::parse(&request, &headers, body).await?;
    Ok(send.apply(&request).into_response())
}
