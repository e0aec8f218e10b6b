//! What can go wrong with a REST call, and how the service's error answer becomes a readable
//! message. Messages never carry the access key or a token: service text is redacted and
//! truncated before it goes into an error.

use crate::service::names::NameError;
use crate::service::token::TokenError;

/// Longest service message kept in an error, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// Why a REST call failed.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// A hub, group, user or connection id breaks the service's rules; nothing was sent.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// No token could be signed (e.g. the connection string has no access key).
    #[error("cannot sign the REST call: {0}")]
    Token(#[from] TokenError),
    /// No Entra ID token could be had for the call (`AuthType=…`); nothing was sent.
    #[error("cannot authorise the REST call with Entra ID: {0}")]
    Identity(crate::service::entra::EntraError),
    /// Another argument cannot be sent as given; nothing was sent. The text says what to fix.
    #[error("{0}")]
    InvalidArgument(String),
    /// The service answered with a status that is not success (after any retries).
    #[error("{operation}: {} answered {status}{}: {message}", product(operation), code_suffix(.code.as_deref()))]
    Service {
        /// The client method that failed, e.g. `send_to_group`.
        operation: &'static str,
        /// The HTTP status of the last answer.
        status: u16,
        /// The `x-ms-error-code` header, when present.
        code: Option<String>,
        /// The service's message (its `ErrorDetail.message`, else the body text), trimmed,
        /// redacted and truncated to [`MAX_MESSAGE_CHARS`].
        message: String,
    },
    /// The service did not answer within `RestOptions::timeout`. A send that timed out may or
    /// may not have been delivered, so it is not retried.
    #[error(
        "{operation}: {} did not answer in time; a message may or may not have been delivered",
        product(operation)
    )]
    Timeout {
        /// The client method that failed.
        operation: &'static str,
    },
    /// The service could not be reached (connection refused, DNS, TLS, connection lost).
    #[error("{operation}: cannot reach {}: {detail}", product(operation))]
    Unreachable {
        /// The client method that failed.
        operation: &'static str,
        /// What the transport reported, without URL query or credentials.
        detail: String,
    },
}

impl RestError {
    /// The HTTP status an app should answer its own caller with: 400 when the caller's input was
    /// refused (`InvalidName`, `InvalidArgument`), 502 when the service failed or is unreachable,
    /// 504 on a timeout, 503 when no Entra ID token could be had. `None` for `Token`: a configuration fault of this app, i.e. a plain 500.
    pub fn status_hint(&self) -> Option<u16> {
        match self {
            Self::InvalidName(_) | Self::InvalidArgument(_) => Some(400),
            Self::Service { .. } | Self::Unreachable { .. } => Some(502),
            Self::Timeout { .. } => Some(504),
            Self::Identity(_) => Some(503),
            Self::Token(_) => None,
        }
    }
}

/// The service an operation belongs to: Web PubSub operations are named `webpubsub.<name>`.
fn product(operation: &str) -> &'static str {
    if operation.starts_with("webpubsub.") {
        "Web PubSub"
    } else {
        "SignalR Service"
    }
}

/// What to do when the service refuses the app's Entra identity (403) for `operation`.
pub(super) fn entra_role_hint(operation: &str) -> &'static str {
    if operation.starts_with("webpubsub.") {
        "the app's identity has no role for this on the service; assign it \"Web PubSub Service Owner\""
    } else {
        "the app's identity has no role for this on the service; assign it \"SignalR REST API Owner\" or \"SignalR Service Owner\""
    }
}

fn code_suffix(code: Option<&str>) -> String {
    code.map(|c| format!(" ({c})")).unwrap_or_default()
}

/// Turns an error body into a message: the `message` of a JSON `ErrorDetail` when there is one,
/// else the trimmed text; every secret in `secrets` replaced by `***`; at most
/// [`MAX_MESSAGE_CHARS`] characters. An empty body gives the status's reason phrase.
pub(super) fn service_message(body: &[u8], reason: &str, secrets: &[&str]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("message"))
                .and_then(|(_, m)| m.as_str().map(str::to_owned))
        });
    let mut message = from_json.unwrap_or_else(|| text.into_owned());
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        message = message.replace(secret, "***");
    }
    let message = message.trim();
    if message.is_empty() {
        return reason.to_string();
    }
    let mut chars = message.chars();
    let kept: String = chars.by_ref().take(MAX_MESSAGE_CHARS).collect();
    if chars.next().is_some() {
        format!("{kept}…")
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_error_detail_message() {
        let body = br#"{"code":"Error.Bad","message":" target is required "}"#;
        assert_eq!(
            service_message(body, "Bad Request", &[]),
            "target is required"
        );
    }

    #[test]
    fn falls_back_to_text_then_reason() {
        assert_eq!(service_message(b" oops\n", "x", &[]), "oops");
        assert_eq!(service_message(b"", "Not Found", &[]), "Not Found");
        assert_eq!(service_message(b"[1]", "x", &[]), "[1]");
    }

    #[test]
    fn redacts_and_truncates() {
        let body = format!("key=SECRET token=TOKEN {}", "x".repeat(1000));
        let message = service_message(body.as_bytes(), "", &["SECRET", "TOKEN", ""]);
        assert!(message.starts_with("key=*** token=*** x"));
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn status_hints() {
        let service = RestError::Service {
            operation: "send_to_all",
            status: 500,
            code: Some("Error.X".into()),
            message: "boom".into(),
        };
        assert_eq!(service.status_hint(), Some(502));
        assert_eq!(
            service.to_string(),
            "send_to_all: SignalR Service answered 500 (Error.X): boom"
        );
        assert_eq!(
            RestError::Timeout { operation: "x" }.status_hint(),
            Some(504)
        );
        assert_eq!(
            RestError::InvalidArgument("x".into()).status_hint(),
            Some(400)
        );
        assert_eq!(
            RestError::Token(TokenError::NoAccessKey).status_hint(),
            None
        );
    }
}
