//! The upstream's `X-ASRS-User-Claims` header: how the claims of a client's token reach the app.
//!
//! The only known encoder, Microsoft's emulator, writes each claim as .NET's `Claim.ToString()`,
//! `"{type}: {value}"`, and joins them with `", "`, with no escaping; the Functions extension
//! splits on `,`, then on `": "`, trims, and keeps the first value per type (`docs/protocol.md`
//! §5.1). How the real service escapes is not documented. With no
//! escaping, a value holding `,` or `": "` is indistinguishable from more claims: a `name` of
//! `"Eve, tid: t-victim"` reads as a second `tid`. So:
//!
//! * [`check`] says which claims can travel unambiguously; the app's negotiate refuses to mint a
//!   token with any other, so every header built from its tokens parses back to what was signed.
//! * [`encode`] is what the embedded emulator sends.
//! * [`parse`] reads every pair and keeps repeated types as repeated; a piece that is not exactly
//!   one `type: value` proves an encoder we cannot read unambiguously, so the whole header is
//!   refused. [`UserClaims::single`] refuses a repeated type, so a group template is never filled
//!   from a value that had a rival.

use serde_json::{Map, Value};

/// Between a claim's type and value.
const SEPARATOR: &str = ": ";

/// Why a claim cannot travel in the header without being misread.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("claim {kind:?} cannot be passed to the upstream unambiguously: its {part} {problem}")]
pub struct ClaimError {
    /// The claim's type (shortened for display).
    pub kind: String,
    /// `type` or `value`.
    pub part: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Checks that a claim reads back as itself from `X-ASRS-User-Claims`: type and value not empty,
/// without `,`, without `": "`, without control characters and without leading or trailing
/// whitespace (the reader trims).
pub fn check(kind: &str, value: &str) -> Result<(), ClaimError> {
    let fail = |part, problem| ClaimError {
        kind: kind.chars().take(64).collect(),
        part,
        problem,
    };
    if kind.is_empty() {
        return Err(fail("type", "is empty"));
    }
    for (part, text) in [("type", kind), ("value", value)] {
        if text.contains(',') {
            return Err(fail(
                part,
                "contains ',' (the header separates claims with commas)",
            ));
        }
        if text.contains(SEPARATOR) {
            return Err(fail(
                part,
                "contains \": \" (the header separates type and value with it)",
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(fail(part, "contains control characters"));
        }
        if text.trim() != text {
            return Err(fail(part, "starts or ends with whitespace"));
        }
    }
    if value.is_empty() {
        // A header's trailing whitespace is dropped in transit: `k: ` would arrive as `k:`.
        return Err(fail("value", "is empty"));
    }
    Ok(())
}

/// The header value for `pairs`: `type: value` joined by `", "`, as Microsoft's emulator sends it.
pub fn encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}{SEPARATOR}{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The header could not be read unambiguously.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("X-ASRS-User-Claims has an entry that is not exactly one `type: value` (a value with ',' or \": \" in it?), so no claim in it can be trusted; claims are ignored for this call")]
pub struct Unreadable;

/// A claim type appears more than once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("claim {0:?} has more than one value")]
pub struct Repeated(pub String);

/// The claims of the header, in order; a type may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserClaims(pub Vec<(String, String)>);

/// Parses the header (multiple header lines already joined with `,`). Empty → no claims.
pub fn parse(header: &str) -> Result<UserClaims, Unreadable> {
    let mut pairs = Vec::new();
    for entry in header.split(',') {
        if entry.trim().is_empty() {
            continue;
        }
        let mut parts = entry.split(SEPARATOR);
        let (Some(kind), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Unreadable);
        };
        let kind = kind.trim();
        if kind.is_empty() {
            return Err(Unreadable);
        }
        pairs.push((kind.to_string(), value.trim().to_string()));
    }
    Ok(UserClaims(pairs))
}

impl UserClaims {
    /// The value of `kind`: `None` when absent, `Err` when it appears more than once.
    pub fn single(&self, kind: &str) -> Result<Option<&str>, Repeated> {
        let mut values = self.0.iter().filter(|(k, _)| k == kind).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(v), None) => Ok(Some(v)),
            (Some(_), Some(_)) => Err(Repeated(kind.to_string())),
        }
    }

    /// A JSON object: each type's value, or an array of its values when it repeats.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        for (kind, value) in &self.0 {
            match map.get_mut(kind) {
                None => {
                    map.insert(kind.clone(), Value::from(value.as_str()));
                }
                Some(Value::Array(values)) => values.push(Value::from(value.as_str())),
                Some(first) => {
                    let first = first.take();
                    map.insert(
                        kind.clone(),
                        Value::Array(vec![first, Value::from(value.as_str())]),
                    );
                }
            }
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn checked_claims_read_back_as_themselves() {
        let claims = pairs(&[
            ("asrs.s.uid", "eve"),
            ("name", "Eve Example"),
            ("tid", "t-eve"),
            ("role", "a"),
            ("role", "b"),
            ("http://schemas/x:y", "v:w"),
            ("k:", ":v:"),
        ]);
        for (k, v) in &claims {
            assert_eq!(check(k, v), Ok(()), "{k}: {v}");
        }
        assert_eq!(parse(&encode(&claims)), Ok(UserClaims(claims)));
    }

    #[test]
    fn claims_that_would_be_misread_are_refused() {
        for (k, v) in [
            ("name", "Eve, tid: t-victim"),
            ("name", "Doe,John"),
            ("name", "a: b"),
            ("name", " padded"),
            ("name", "tab\there"),
            ("a, b", "x"),
            ("a: b", "x"),
            ("", "x"),
            ("k", ""),
        ] {
            assert!(check(k, v).is_err(), "{k:?}: {v:?}");
        }
        let e = check("name", "Eve, tid: t-victim").unwrap_err();
        assert!(e.to_string().contains("contains ','"), "{e}");
    }

    #[test]
    fn ambiguous_headers_are_unreadable_and_repeats_are_not_single() {
        // Injected through an unescaped comma: the rival `tid` makes `tid` unusable.
        let claims = parse("asrs.s.uid: eve, name: Eve, tid: t-victim, tid: t-eve").unwrap();
        assert_eq!(claims.single("tid"), Err(Repeated("tid".into())));
        assert_eq!(claims.single("name"), Ok(Some("Eve")));
        assert_eq!(claims.single("oid"), Ok(None));
        assert_eq!(
            claims.to_json(),
            serde_json::json!({"asrs.s.uid": "eve", "name": "Eve", "tid": ["t-victim", "t-eve"]})
        );
        for bad in ["name: Doe, John", "tid: t: x", ": x", "name: a, junk"] {
            assert_eq!(parse(bad), Err(Unreadable), "{bad}");
        }
        assert_eq!(parse(""), Ok(UserClaims::default()));
        assert_eq!(parse(" , "), Ok(UserClaims::default()));
    }
}
