//! The body of a Web PubSub send (`docs/webpubsub.md` §3.3): JSON, text or binary, each with its media type
//! (`application/json`, `text/plain`, `application/octet-stream`). Checked once, before anything
//! is sent: JSON must parse, and no body may exceed the service's 1 MB.

use crate::service::rest::{RestError, MAX_BODY_BYTES};

/// A message for Web PubSub clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// JSON text; JSON clients receive it as `dataType: json`.
    Json(String),
    /// Plain text (`dataType: text`).
    Text(String),
    /// Bytes (`dataType: binary`; base64 for JSON clients).
    Binary(Vec<u8>),
}

impl Content {
    /// The media type the body is sent with.
    pub fn content_type(&self) -> &'static str {
        match self {
            Self::Json(_) => "application/json",
            Self::Text(_) => "text/plain",
            Self::Binary(_) => "application/octet-stream",
        }
    }

    /// The bytes of the body.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Json(text) | Self::Text(text) => text.as_bytes(),
            Self::Binary(bytes) => bytes,
        }
    }

    /// Checks the content can be sent: JSON parses, at most 1 MB.
    pub fn check(&self) -> Result<(), RestError> {
        if let Self::Json(text) = self {
            serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| {
                RestError::InvalidArgument(format!("the data is not valid JSON text: {e}"))
            })?;
        }
        let len = self.bytes().len();
        if len > MAX_BODY_BYTES {
            return Err(RestError::InvalidArgument(format!(
                "the message is {len} bytes; Web PubSub accepts at most {MAX_BODY_BYTES} (1 MB)"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_and_checks() {
        assert_eq!(
            Content::Json("{}".into()).content_type(),
            "application/json"
        );
        assert_eq!(Content::Text("x".into()).content_type(), "text/plain");
        assert_eq!(
            Content::Binary(vec![1]).content_type(),
            "application/octet-stream"
        );
        assert!(Content::Json("{\"a\":1}".into()).check().is_ok());
        assert!(Content::Json("{oops".into()).check().is_err());
        assert!(Content::Text("x".repeat(MAX_BODY_BYTES + 1))
            .check()
            .is_err());
    }
}
