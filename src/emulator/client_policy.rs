//! What a client token's system claims ask of the service (`docs/protocol.md` §2), honoured as the
//! service does: `asrs.s.htt` limits the transports (negotiate lists only those, a connect over
//! another is refused), and `asrs.s.coae` = `true` closes the connection when `asrs.s.aeo` (Unix
//! seconds) passes, with a Close message that allows the client to reconnect.

use std::time::{SystemTime, UNIX_EPOCH};

use super::auth::{AuthError, Claims};
use super::error::EmulatorError;
use crate::service::token::{CLOSE_ON_EXPIRY_CLAIM, EXPIRES_ON_CLAIM};
use crate::service::transports::{self, Transport, Transports};

/// The limits a client token puts on its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPolicy {
    /// The transports it may use (all when the token has no `asrs.s.htt`).
    pub transports: Transports,
    /// When the connection is closed, in Unix seconds (with `asrs.s.coae` = `true`).
    pub closes_at: Option<u64>,
}

/// The close message's error when the token expired.
pub const EXPIRED: &str = "The access token expired (asrs.s.aeo). Negotiate again for a new token.";

impl ClientPolicy {
    /// Reads the policy from verified claims; a malformed `asrs.s.htt`, or `asrs.s.coae` without
    /// a usable `asrs.s.aeo`, is refused (401), as is a connection whose authentication already
    /// expired.
    pub fn of(claims: &Claims) -> Result<Self, EmulatorError> {
        let transports = match claims.0.get(transports::CLAIM) {
            None => Transports::default(),
            Some(value) => text(value)
                .and_then(|v| Transports::parse_claim(&v))
                .ok_or_else(|| AuthError::BadClaim(format!("{} (the transport flags: a number from 0 to 7, WebSockets = 1, ServerSentEvents = 2, LongPolling = 4)", transports::CLAIM)))?,
        };
        let close = claims
            .0
            .get(CLOSE_ON_EXPIRY_CLAIM)
            .and_then(text)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let closes_at = if close {
            let at = claims
                .0
                .get(EXPIRES_ON_CLAIM)
                .ok_or(AuthError::MissingClaim(EXPIRES_ON_CLAIM))?;
            let at = text(at)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| AuthError::BadClaim(format!("{EXPIRES_ON_CLAIM} (Unix seconds)")))?;
            if at <= unix_now() {
                return Err(EmulatorError::Unauthorized(
                    AuthError::AuthenticationExpired,
                ));
            }
            Some(at)
        } else {
            None
        };
        Ok(Self {
            transports,
            closes_at,
        })
    }

    /// Refuses (403) a transport the token does not allow, naming the ones it does.
    pub fn allow(&self, transport: Transport) -> Result<(), EmulatorError> {
        if self.transports.allows(transport) {
            return Ok(());
        }
        Err(EmulatorError::Forbidden(format!(
            "the access token does not allow the {} transport: its {} claim allows {}",
            transport.name(),
            transports::CLAIM,
            self.transports.names()
        )))
    }
}

/// When a connection whose claims are `pairs` (see [`Claims::pairs`]) must be closed: the
/// session's view of [`ClientPolicy::closes_at`], already checked at connect.
pub fn closes_at(pairs: &[(String, String)]) -> Option<u64> {
    let claim = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    if !claim(CLOSE_ON_EXPIRY_CLAIM).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    claim(EXPIRES_ON_CLAIM).and_then(|v| v.trim().parse().ok())
}

/// A claim value as text: strings as they are, numbers and booleans printed.
fn text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The current Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: serde_json::Value) -> Claims {
        Claims(value.as_object().unwrap().clone())
    }

    #[test]
    fn no_system_claims_allow_everything_forever() {
        let policy = ClientPolicy::of(&claims(json!({"exp": 1}))).unwrap();
        assert_eq!(policy.transports, Transports::default());
        assert_eq!(policy.closes_at, None);
        assert!(policy.allow(Transport::LongPolling).is_ok());
    }

    #[test]
    fn transports_and_expiry_are_read_and_checked() {
        let later = unix_now() + 100;
        let policy = ClientPolicy::of(&claims(
            json!({"asrs.s.htt": "1", "asrs.s.coae": "true", "asrs.s.aeo": later.to_string()}),
        ))
        .unwrap();
        assert_eq!(policy.closes_at, Some(later));
        let refused = policy.allow(Transport::ServerSentEvents).unwrap_err();
        assert_eq!(refused.status(), 403);
        assert!(
            refused.to_string().contains("allows WebSockets"),
            "{refused}"
        );

        for bad in [
            json!({"asrs.s.htt": "9"}),
            json!({"asrs.s.htt": "WebSockets"}),
            json!({"asrs.s.coae": "true"}),
            json!({"asrs.s.coae": "true", "asrs.s.aeo": "soon"}),
            json!({"asrs.s.coae": "true", "asrs.s.aeo": "1"}),
        ] {
            let e = ClientPolicy::of(&claims(bad.clone())).unwrap_err();
            assert_eq!(e.status(), 401, "{bad}: {e}");
        }
        // `coae` other than true: the service does not close.
        let open = ClientPolicy::of(&claims(json!({"asrs.s.coae": "false", "asrs.s.aeo": "1"})));
        assert_eq!(open.unwrap().closes_at, None);
    }

    #[test]
    fn the_session_reads_the_expiry_from_claim_pairs() {
        let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
            items
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            closes_at(&pairs(&[("asrs.s.coae", "true"), ("asrs.s.aeo", "42")])),
            Some(42)
        );
        assert_eq!(closes_at(&pairs(&[("asrs.s.aeo", "42")])), None);
    }
}
