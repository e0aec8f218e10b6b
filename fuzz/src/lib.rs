//! Structured inputs shared by the fuzz targets: JSON values, header maps and JWTs built from
//! the input, so that the fuzzer reaches the checks behind the parsers (a signed token
//! with odd claims, a request with the right headers and an odd body) instead of stopping at
//! the first syntax error.

use arbitrary::Arbitrary;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

/// A JSON value; its depth is bounded by the input's length.
#[derive(Arbitrary, Debug, Clone)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A large unsigned integer.
    Uint(u64),
    /// A float (NaN and infinities become `null`).
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The `serde_json` value.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(i) => Value::from(*i),
            Self::Uint(u) => Value::from(*u),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::Str(s) => Value::String(s.clone()),
            Self::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            Self::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// Reads `data` as an HTTP request's head and body: `name: value` lines up to the first empty
/// line, then the body. Lines that `http` cannot represent as a header are skipped, as a server
/// never hands them to a handler. Seeds are real requests written this way.
pub fn request(data: &[u8]) -> (HeaderMap, &[u8]) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut headers = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii_start());
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    (headers, body)
}

/// A claim or header value: the one the validator expects, or anything.
#[derive(Arbitrary, Debug, Clone)]
pub enum ClaimValue {
    /// The value that passes this claim's check (see [`Expected`]).
    Expected,
    /// Any JSON.
    Json(Json),
}

/// Claim names the validators read, and any other.
#[derive(Arbitrary, Debug, Clone)]
pub enum ClaimName {
    /// `iss`.
    Iss,
    /// `aud`.
    Aud,
    /// `exp`.
    Exp,
    /// `nbf`.
    Nbf,
    /// `sub`.
    Sub,
    /// `roles`.
    Roles,
    /// `nameid` (the emulator's user id claim).
    NameId,
    /// Any name.
    Other(String),
}

impl ClaimName {
    fn as_str(&self) -> &str {
        match self {
            Self::Iss => "iss",
            Self::Aud => "aud",
            Self::Exp => "exp",
            Self::Nbf => "nbf",
            Self::Sub => "sub",
            Self::Roles => "roles",
            Self::NameId => "nameid",
            Self::Other(name) => name,
        }
    }
}

/// The values that pass a validator's checks.
pub struct Expected {
    /// `iss`.
    pub issuer: &'static str,
    /// `aud`.
    pub audience: &'static str,
    /// The current time (Unix seconds).
    pub now: i64,
}

/// A token: any string, or one signed with the validator's key whose header and claims come
/// from the input (so the claim checks behind the signature are reached).
#[derive(Arbitrary, Debug, Clone)]
pub enum Token {
    /// Any text as the token.
    Raw(String),
    /// A signed token.
    Signed {
        /// `None`: the right header for the key; otherwise these entries.
        header: Option<Vec<(String, Json)>>,
        /// Its claims.
        claims: Vec<(ClaimName, ClaimValue)>,
        /// Flips a byte of the result at this position, when given.
        tamper: Option<u16>,
    },
}

impl Token {
    /// The token text; `alg`/`kid` make the right header, `sign` signs the signing input.
    pub fn text(
        &self,
        expected: &Expected,
        alg: &str,
        kid: Option<&str>,
        sign: impl Fn(&[u8]) -> Vec<u8>,
    ) -> String {
        let (header, claims, tamper) = match self {
            Self::Raw(text) => return text.clone(),
            Self::Signed {
                header,
                claims,
                tamper,
            } => (header, claims, tamper),
        };
        let header = match header {
            None => {
                let mut map = Map::new();
                map.insert("alg".into(), Value::from(alg));
                map.insert("typ".into(), Value::from("JWT"));
                if let Some(kid) = kid {
                    map.insert("kid".into(), Value::from(kid));
                }
                Value::Object(map)
            }
            Some(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        };
        let mut map = Map::new();
        for (name, value) in claims {
            let value = match value {
                ClaimValue::Json(json) => json.to_value(),
                ClaimValue::Expected => match name {
                    ClaimName::Iss => Value::from(expected.issuer),
                    ClaimName::Aud => Value::from(expected.audience),
                    ClaimName::Exp => Value::from(expected.now + 3600),
                    ClaimName::Nbf => Value::from(expected.now - 10),
                    ClaimName::Roles => Value::from(vec!["reader"]),
                    _ => Value::from("user-1"),
                },
            };
            map.insert(name.as_str().to_owned(), value);
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(map).to_string())
        );
        let signature = URL_SAFE_NO_PAD.encode(sign(input.as_bytes()));
        let mut token = format!("{input}.{signature}").into_bytes();
        if let Some(at) = tamper {
            let len = token.len();
            token[usize::from(*at) % len] ^= 0x01;
        }
        String::from_utf8_lossy(&token).into_owned()
    }
}
