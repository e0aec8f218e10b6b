//! The message body of every `:send` call: the JSON `PayloadMessage` of the REST API
//! (`docs/protocol.md` §4), `{"target": …, "arguments": […]}`.

use serde::Serialize;
use serde_json::Value;

use super::error::RestError;

/// Largest request body the service accepts (`docs/protocol.md` §3: body ≤ 1 MB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A hub method invocation to deliver to clients: clients run their handler for `target` with
/// `arguments`. Serialises exactly as `{"target":…,"arguments":[…]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payload {
    /// The client-side method name; must not be empty (the service requires at least one character).
    pub target: String,
    /// The arguments, in order; any JSON values.
    pub arguments: Vec<Value>,
}

impl Payload {
    /// A payload for `target` with `arguments`.
    pub fn new(target: impl Into<String>, arguments: Vec<Value>) -> Self {
        Self {
            target: target.into(),
            arguments,
        }
    }

    /// Checks the payload and serialises it once, so retries resend the same bytes.
    pub(super) fn to_body(&self) -> Result<Vec<u8>, RestError> {
        if self.target.trim().is_empty() {
            return Err(RestError::InvalidArgument(
                "target must name the client method to invoke; it is empty".into(),
            ));
        }
        let body = serde_json::to_vec(self).map_err(|e| {
            RestError::InvalidArgument(format!("the payload is not valid JSON: {e}"))
        })?;
        if body.len() > MAX_BODY_BYTES {
            return Err(RestError::InvalidArgument(format!(
                "the message is {} bytes as JSON; the service accepts at most {MAX_BODY_BYTES} (1 MB)",
                body.len()
            )));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_exactly_target_and_arguments() {
        let payload = Payload::new("newMessage", vec![json!("hi"), json!({"n": 1})]);
        let body = payload.to_body().expect("valid payload");
        assert_eq!(
            String::from_utf8(body).expect("utf-8"),
            r#"{"target":"newMessage","arguments":["hi",{"n":1}]}"#
        );
    }

    #[test]
    fn oversized_payload_is_refused_before_sending() {
        let big = Payload::new("t", vec![json!("x".repeat(MAX_BODY_BYTES))]);
        assert!(matches!(big.to_body(), Err(RestError::InvalidArgument(m)) if m.contains("1 MB")));
    }

    #[test]
    fn empty_target_is_refused() {
        assert!(matches!(
            Payload::new(" ", vec![]).to_body(),
            Err(RestError::InvalidArgument(_))
        ));
    }
}
