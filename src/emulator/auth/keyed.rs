//! The common case of the token check without `jsonwebtoken`'s per-call set-up: an HS256/HS512
//! signature checked with an HMAC keyed once per access key (and cloned per check), the claims
//! parsed once. It only ever *accepts*: a token it is not sure about (anything unusual in the
//! header, the signature, the registered claims or the times) makes it answer `None`, and the
//! caller then runs the full `jsonwebtoken` check, which gives the same verdict and error as
//! always. So every rule of the check stays in one place, `super::decode`.

use std::cell::RefCell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use jsonwebtoken::Algorithm;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Sha256, Sha512};

use super::LEEWAY_SECONDS;
use crate::service::Secret;

/// The claims `jsonwebtoken` reads for its own checks; a repeated one is an error there.
const REGISTERED: [&str; 5] = ["exp", "nbf", "sub", "iss", "aud"];

/// Keys whose HMAC states each thread keeps (the access key, an Entra temporary key, Web
/// PubSub's key); beyond, the oldest is replaced.
const MAX_KEYS: usize = 4;

/// HMAC states keyed with one access key.
struct Keyed {
    key: Vec<u8>,
    hs256: Hmac<Sha256>,
    hs512: Hmac<Sha512>,
}

thread_local! {
    static KEYED: RefCell<Vec<Keyed>> = const { RefCell::new(Vec::new()) };
}

/// The header fields an HS256/HS512 token of the SDKs carries; anything else goes the long way.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    #[allow(dead_code)]
    typ: Option<String>,
    #[allow(dead_code)]
    kid: Option<String>,
}

/// The claims of a token whose signature is good, when `jsonwebtoken` would accept them as they
/// are; `None` leaves the verdict (and its error) to the full check.
pub(super) fn accept(
    token: &str,
    key: &Secret,
    algorithms: &[Algorithm],
) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let algorithm = match header.alg.as_str() {
        "HS256" => Algorithm::HS256,
        "HS512" => Algorithm::HS512,
        _ => return None,
    };
    if !algorithms.contains(&algorithm) {
        return None;
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let message = &token[..header_and_payload_len(token)?];
    if !signature_matches(key, algorithm, message.as_bytes(), &signature) {
        return None;
    }
    let claims = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let Claims { map, repeated } = serde_json::from_slice(&claims).ok()?;
    (!repeated && registered_claims_fit(&map)).then_some(map)
}

/// The length of `header.payload`, the signed part.
fn header_and_payload_len(token: &str) -> Option<usize> {
    token.rfind('.')
}

fn signature_matches(key: &Secret, algorithm: Algorithm, message: &[u8], signature: &[u8]) -> bool {
    KEYED.with(|cell| {
        let mut keyed = cell.borrow_mut();
        let index = match keyed.iter().position(|k| k.key == key.as_bytes()) {
            Some(index) => index,
            None => {
                let (Ok(hs256), Ok(hs512)) = (
                    Hmac::<Sha256>::new_from_slice(key.as_bytes()),
                    Hmac::<Sha512>::new_from_slice(key.as_bytes()),
                ) else {
                    return false;
                };
                if keyed.len() == MAX_KEYS {
                    keyed.remove(0);
                }
                keyed.push(Keyed {
                    key: key.as_bytes().to_vec(),
                    hs256,
                    hs512,
                });
                keyed.len() - 1
            }
        };
        let keyed = &keyed[index];
        match algorithm {
            Algorithm::HS256 => keyed
                .hs256
                .clone()
                .chain_update(message)
                .verify_slice(signature),
            _ => keyed
                .hs512
                .clone()
                .chain_update(message)
                .verify_slice(signature),
        }
        .is_ok()
    })
}

/// `exp` a whole number not in the past, `nbf` absent or a whole number not in the future (both
/// with the leeway), `sub` absent or a string: what `jsonwebtoken` accepts without a question.
fn registered_claims_fit(claims: &Map<String, Value>) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let Some(exp) = claims.get("exp").and_then(Value::as_u64) else {
        return false;
    };
    let nbf_fits = match claims.get("nbf") {
        None | Some(Value::Null) => true,
        Some(nbf) => nbf.as_u64().is_some_and(|nbf| nbf <= now + LEEWAY_SECONDS),
    };
    let sub_fits = matches!(
        claims.get("sub"),
        None | Some(Value::Null | Value::String(_))
    );
    exp >= now.saturating_sub(LEEWAY_SECONDS) && nbf_fits && sub_fits
}

/// The claims as a JSON object, parsed once, noting whether a registered claim is repeated.
struct Claims {
    map: Map<String, Value>,
    repeated: bool,
}

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ClaimsVisitor)
    }
}

struct ClaimsVisitor;

impl<'de> Visitor<'de> for ClaimsVisitor {
    type Value = Claims;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Claims, A::Error> {
        let mut claims = Claims {
            map: Map::new(),
            repeated: false,
        };
        while let Some((name, value)) = access.next_entry::<String, Value>()? {
            let registered = REGISTERED.contains(&name.as_str());
            if claims.map.insert(name, value).is_some() && registered {
                claims.repeated = true;
            }
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::connection_string::DEV_ACCESS_KEY;

    fn sign(header: &str, claims: &str, key: &str) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(message.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{message}.{signature}")
    }

    /// Every token the short cut accepts, the full check accepts with the same claims; the ones
    /// it leaves alone include each case where `jsonwebtoken` would refuse.
    #[test]
    fn accepts_only_what_the_full_check_accepts() {
        let key = Secret::new(DEV_ACCESS_KEY);
        let hs256 = r#"{"alg":"HS256","typ":"JWT"}"#;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let (later, past, soon) = (now + 600, now - 600, now + 600);
        let cases = [
            (
                hs256,
                format!(r#"{{"aud":"a","exp":{later},"nbf":{now}}}"#),
                true,
            ),
            (
                hs256,
                format!(r#"{{"aud":"a","exp":{later},"sub":"s"}}"#),
                true,
            ),
            (hs256, format!(r#"{{"exp":{past}}}"#), false),
            (hs256, format!(r#"{{"exp":{later},"nbf":{soon}}}"#), false),
            (hs256, format!(r#"{{"exp":{later}.5}}"#), false),
            (hs256, format!(r#"{{"exp":"{later}"}}"#), false),
            (hs256, format!(r#"{{"exp":{later},"exp":{later}}}"#), false),
            (hs256, format!(r#"{{"exp":{later},"sub":[1]}}"#), false),
            (hs256, r#"{"aud":"a"}"#.to_string(), false),
            (hs256, format!("[{later}]"), false),
            (
                r#"{"alg":"HS256","x5u":"u"}"#,
                format!(r#"{{"exp":{later}}}"#),
                false,
            ),
            (r#"{"alg":"RS256"}"#, format!(r#"{{"exp":{later}}}"#), false),
        ];
        for (header, claims, fast) in cases {
            let token = sign(header, &claims, DEV_ACCESS_KEY);
            let short = accept(&token, &key, &[Algorithm::HS256, Algorithm::HS512]);
            assert_eq!(short.is_some(), fast, "{header} {claims}");
            if let Some(short) = short {
                let full = super::super::decode_slowly(&token, &key, &[Algorithm::HS256]);
                assert_eq!(full, Ok(short), "{claims}");
            }
        }
        let token = sign(hs256, &format!(r#"{{"exp":{later}}}"#), "another key");
        assert!(accept(&token, &key, &[Algorithm::HS256]).is_none());
        assert!(accept(&format!("{token}."), &key, &[Algorithm::HS256]).is_none());
        let token = sign(hs256, &format!(r#"{{"exp":{later}}}"#), DEV_ACCESS_KEY);
        assert!(accept(&token, &key, &[Algorithm::HS512]).is_none());
    }
}
