//! The upstream signature (`X-ASRS-Signature`, `docs/protocol.md` §5.2): the service
//! signs the connection id with each of its access keys; a request is genuine when any
//! `sha256=<hex>` entry matches any key the app knows. Compared in constant time. The emulator
//! signs its upstream calls with [`sign`], and the app signs forwarded webhooks the same way.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::service::Secret;

/// Longest signature header looked at; a real one holds two 71-character entries.
const MAX_HEADER: usize = 4096;

/// Whether `header` (the `X-ASRS-Signature` value) holds a valid signature of `connection_id`
/// for one of `keys`. Missing, empty, malformed (`sha1=…`, no `=`, not hex) or forged → `false`.
/// Keys are borrowed, nothing is allocated: this runs before anything else on every request.
pub fn is_valid<'k>(
    header: Option<&[u8]>,
    connection_id: &[u8],
    keys: impl IntoIterator<Item = &'k Secret>,
) -> bool {
    let Some(header) = header.filter(|h| !h.is_empty() && h.len() <= MAX_HEADER) else {
        return false;
    };
    let mut valid = subtle::Choice::from(0);
    for key in keys {
        let Some(expected) = mac(key, connection_id) else {
            continue;
        };
        for entry in header.split(|b| *b == b',') {
            if let Some(digest) = entry_digest(entry.trim_ascii()) {
                valid |= expected.ct_eq(&digest);
            }
        }
    }
    valid.into()
}

/// `sha256=<lowercase hex of HMAC-SHA256(key, message)>`: the form of one `X-ASRS-Signature`
/// entry, and of the `X-Signature-256` header on forwarded events.
pub fn sign(key: &Secret, message: &[u8]) -> String {
    let digest = mac(key, message).unwrap_or_default();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// HMAC-SHA256 of `message` keyed with the UTF-8 bytes of `key` (HMAC takes keys of any
/// length, so this is always `Some`).
fn mac(key: &Secret, message: &[u8]) -> Option<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).ok()?;
    mac.update(message);
    Some(mac.finalize().into_bytes().into())
}

/// The 32 bytes of a `sha256=<64 hex digits>` entry (prefix and digits in any case).
fn entry_digest(entry: &[u8]) -> Option<[u8; 32]> {
    let (name, hex) = entry.split_at_checked(7)?;
    if !name.eq_ignore_ascii_case(b"sha256=") || hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<Secret> {
        vec![Secret::new("primary"), Secret::new("secondary")]
    }

    fn sign(key: &str, id: &str) -> String {
        super::sign(&Secret::new(key), id.as_bytes())
    }

    #[test]
    fn signs_with_hex_hmac_sha256() {
        // HMAC-SHA256(key "key", "The quick brown fox jumps over the lazy dog"), a published
        // test vector.
        assert_eq!(
            sign("key", "The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn accepts_any_entry_for_any_key_in_any_case() {
        let good = sign("secondary", "conn");
        assert!(is_valid(Some(good.as_bytes()), b"conn", &keys()));
        let upper = format!("sha256={}", good[7..].to_uppercase());
        let header = format!("sha256=00, {upper}");
        assert!(is_valid(Some(header.as_bytes()), b"conn", &keys()));
    }

    #[test]
    fn refuses_everything_else() {
        let good = sign("primary", "conn");
        for bad in [
            String::new(),
            sign("other", "conn"),
            sign("primary", "conn2"),
            good.replacen("sha256", "sha1", 1),
            good[7..].to_string(),
            format!("{good}0"),
            good.replacen('=', "", 1),
        ] {
            assert!(!is_valid(Some(bad.as_bytes()), b"conn", &keys()), "{bad}");
        }
        assert!(!is_valid(None, b"conn", &keys()));
        assert!(!is_valid(Some(good.as_bytes()), b"conn", &[]));
    }
}
