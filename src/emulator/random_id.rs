//! Unguessable ids for connections and connection tokens: 128 random bits, URL-safe base64
//! (22 characters), so they can stand in a URL without escaping.

use base64::Engine as _;

/// A new random id.
pub fn random_id() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}
