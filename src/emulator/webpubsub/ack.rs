//! The `ack` a json client gets for a frame with an `ackId` (`docs/webpubsub.md` §4): success,
//! or the error's name (`Forbidden`, `BadRequest`, `Duplicate`, `InternalServerError`) and what
//! happened.

use serde_json::json;

use crate::emulator::outbox::Frame;

/// Why a frame with an `ackId` failed: the ack's `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckError {
    /// `Forbidden`, `BadRequest`, `Duplicate` or `InternalServerError`.
    pub name: &'static str,
    /// What happened.
    pub message: String,
}

impl AckError {
    /// The connection lacks the permission.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::named("Forbidden", message)
    }

    /// A field is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::named("BadRequest", message)
    }

    /// The `ackId` was used before.
    pub fn duplicate(message: impl Into<String>) -> Self {
        Self::named("Duplicate", message)
    }

    /// The service could not do it.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::named("InternalServerError", message)
    }

    fn named(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }
}

/// The ack of `ack_id`: `{"type":"ack","ackId":…,"success":…}` with the error if it failed.
pub fn ack(ack_id: u64, result: Result<(), AckError>) -> Frame {
    let value = match result {
        Ok(()) => json!({ "type": "ack", "ackId": ack_id, "success": true }),
        Err(AckError { name, message }) => json!({
            "type": "ack", "ackId": ack_id, "success": false,
            "error": { "name": name, "message": message },
        }),
    };
    Frame::text(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn acks_name_their_error() {
        let failed = ack(7, Err(AckError::duplicate("again")));
        assert_eq!(
            serde_json::from_slice::<Value>(&failed.data).unwrap(),
            json!({"type":"ack","ackId":7,"success":false,"error":{"name":"Duplicate","message":"again"}})
        );
        let ok = ack(8, Ok(()));
        assert_eq!(
            serde_json::from_slice::<Value>(&ok.data).unwrap(),
            json!({"type":"ack","ackId":8,"success":true})
        );
    }
}
