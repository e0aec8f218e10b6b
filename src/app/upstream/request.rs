//! The upstream request's headers, checked in the order that keeps forgeries cheap: the signature
//! (`X-ASRS-Signature` over `X-ASRS-Connection-Id`) first, then the content type, then the other
//! `X-ASRS-*` headers, and finally whether category, event and body agree.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};

use super::connection_event::ConnectionEvent;
use crate::app::error::ApiError;
use crate::app::AppState;
use crate::service::hub_protocol::msgpack;
use crate::service::names;
use crate::service::signature;
use crate::service::user_claims::{self, UserClaims};

/// 401 unless `X-ASRS-Signature` signs `X-ASRS-Connection-Id` with a key this app knows. Without
/// a connection id there is nothing to check the signature against, so that is a 401 as well.
pub(super) fn check_signature(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let keys = state
        .access_keys()
        .into_iter()
        .chain(&state.settings().upstream.secondary_keys);
    let given = headers.get("x-asrs-signature").map(HeaderValue::as_bytes);
    let connection_id = headers
        .get("x-asrs-connection-id")
        .map(HeaderValue::as_bytes);
    let valid = connection_id.is_some_and(|id| signature::is_valid(given, id, keys));
    if valid {
        return Ok(());
    }
    let message = if given.is_none_or(<[u8]>::is_empty) {
        "X-ASRS-Signature is missing; only SignalR Service may call this route"
    } else {
        "X-ASRS-Signature does not match an access key of this app"
    };
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "InvalidSignature",
        message,
    ))
}

/// 415 unless the body is JSON or MessagePack; says which.
pub fn check_content_type(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = given.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") {
        return Ok(BodyFormat::Json);
    }
    if media.eq_ignore_ascii_case(msgpack::CONTENT_TYPE) {
        return Ok(BodyFormat::MessagePack);
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        format!(
            "content type {media:?} is not supported; the upstream body must be application/json or application/x-msgpack"
        ),
    ))
}

/// The hub protocol of an upstream body (and of the completion that answers it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json`: a JSON hub message.
    Json,
    /// `application/x-msgpack`: a MessagePack invocation from a MessagePack client.
    MessagePack,
}

/// What the `X-ASRS-*` headers say.
#[derive(Debug, Clone)]
pub struct Request {
    /// `X-ASRS-Hub`.
    pub hub: String,
    /// `X-ASRS-Category`, lowercased.
    pub category: String,
    /// `X-ASRS-Event`.
    pub event: String,
    /// `X-ASRS-Connection-Id`.
    pub connection_id: String,
    /// `X-ASRS-User-Id`, when present and not empty.
    pub user_id: Option<String>,
    /// `X-ASRS-User-Claims`; `None` when it cannot be read unambiguously (then no claim counts).
    pub claims: Option<UserClaims>,
}

impl Request {
    /// Reads and validates the headers: 400 for a missing one or a bad name.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let text = |name: &'static str| -> Result<Option<String>, ApiError> {
            match headers.get(name) {
                None => Ok(None),
                Some(v) => String::from_utf8(v.as_bytes().to_vec())
                    .map(|s| Some(s).filter(|s| !s.is_empty()))
                    .map_err(|_| {
                        ApiError::bad_request("InvalidHeader", format!("{name} is not UTF-8"))
                    }),
            }
        };
        let required = |name: &'static str| -> Result<String, ApiError> {
            text(name)?.ok_or_else(|| {
                ApiError::bad_request("MissingHeader", format!("{name} is missing or empty"))
            })
        };
        let hub = required("X-ASRS-Hub")?;
        let category = required("X-ASRS-Category")?;
        let event = required("X-ASRS-Event")?;
        let connection_id = required("X-ASRS-Connection-Id")?;
        names::validate_hub(&hub)?;
        names::validate_connection_id(&connection_id)?;
        let user_id = text("X-ASRS-User-Id")?;
        if let Some(user) = &user_id {
            names::validate_user(user)?;
        }
        let claims = claims(headers)?;
        Ok(Self {
            hub,
            category: category.to_ascii_lowercase(),
            event,
            connection_id,
            user_id,
            claims,
        })
    }

    /// The category, event and body type must agree.
    pub fn check_matches(&self, message: &ConnectionEvent<'_>) -> Result<(), ApiError> {
        let bad = |m: String| ApiError::bad_request("EventMismatch", m);
        let event = self.event.to_ascii_lowercase();
        match (self.category.as_str(), message) {
            ("connections", ConnectionEvent::Connected) if event == "connected" => Ok(()),
            ("connections", ConnectionEvent::Disconnected { .. }) if event == "disconnected" => {
                Ok(())
            }
            ("messages", ConnectionEvent::Invocation { target, .. }) => {
                if target.eq_ignore_ascii_case(&self.event) {
                    Ok(())
                } else {
                    Err(bad(format!(
                        "the invocation's target {target:?} differs from X-ASRS-Event {:?}",
                        self.event
                    )))
                }
            }
            ("connections" | "messages", _) => Err(bad(format!(
                "a {} message does not fit X-ASRS-Category {:?} and X-ASRS-Event {:?}",
                message.kind(),
                self.category,
                self.event
            ))),
            (other, _) => Err(bad(format!(
                "X-ASRS-Category {other:?} is not connections or messages"
            ))),
        }
    }
}

/// `X-ASRS-User-Claims`, every header line joined as one list (RFC 9110 §5.3). An unreadable
/// header is logged and yields `None`, so that no value from it is used; the event still counts.
fn claims(headers: &HeaderMap) -> Result<Option<UserClaims>, ApiError> {
    let mut lines = Vec::new();
    for value in headers.get_all("X-ASRS-User-Claims") {
        lines.push(std::str::from_utf8(value.as_bytes()).map_err(|_| {
            ApiError::bad_request("InvalidHeader", "X-ASRS-User-Claims is not UTF-8")
        })?);
    }
    match user_claims::parse(&lines.join(",")) {
        Ok(claims) => Ok(Some(claims)),
        Err(e) => {
            tracing::warn!("{e}");
            Ok(None)
        }
    }
}
