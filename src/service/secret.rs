//! Secrets (access keys, client secrets, tokens) kept in a type that never prints itself.

use std::fmt;

/// A secret string: an access key (tokens are signed with the UTF-8 bytes of the key string, used
/// as-is, not base64-decoded), a client secret or a function key. `Debug` and `Display` print `***`,
/// so a secret cannot reach a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The bytes (for an access key: the HMAC key).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The secret itself, for the few places that must hand it on (e.g. printing the emulator's
    /// well-known development connection string). Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn never_prints_the_key() {
        let key = Secret::new("super-secret-value");
        assert!(!format!("{key:?} {key}").contains("super-secret"));
    }
}
