//! Validation and URL encoding of the names the service accepts: hubs, groups, users and
//! connection ids (`docs/protocol.md` §4). Names are checked here, once, before any
//! request is built, so a bad name is a clear 400 for the caller instead of a confusing service error.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::byte_scan::any_byte;

/// Longest hub name the service accepts (first character plus 127 more).
pub const MAX_HUB_LEN: usize = 128;
/// Longest group name, user id or connection id the service accepts.
pub const MAX_NAME_LEN: usize = 1024;

/// Why a name was refused. The message names the field and says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty (or only whitespace, for groups and users).
    #[error("{kind} must not be empty")]
    Empty {
        /// Which kind of name (`hub`, `group name`, `user id`, `connection id`).
        kind: &'static str,
    },
    /// The name is longer than the service allows.
    #[error("{kind} is {len} characters long; the limit is {max}")]
    TooLong {
        /// Which kind of name.
        kind: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The name contains a character the service does not allow.
    #[error("{kind} {shown:?} is not valid: {rule}")]
    Invalid {
        /// Which kind of name.
        kind: &'static str,
        /// The offending name (truncated for display).
        shown: String,
        /// The rule it breaks.
        rule: &'static str,
    },
}

const HUB_RULE: &str =
    "it must start with a letter and contain only letters, digits and _ ` , . [ ] (at most 128)";

/// Checks a hub name against `^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$`.
pub fn validate_hub(hub: &str) -> Result<(), NameError> {
    let kind = "hub";
    if hub.is_empty() {
        return Err(NameError::Empty { kind });
    }
    let len = hub.chars().count();
    if len > MAX_HUB_LEN {
        return Err(NameError::TooLong {
            kind,
            len,
            max: MAX_HUB_LEN,
        });
    }
    let mut chars = hub.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_`,.[]".contains(c));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(NameError::Invalid {
            kind,
            shown: shown(hub),
            rule: HUB_RULE,
        })
    }
}

/// Checks a group name: 1..=1024 characters, not only whitespace, no control characters, not
/// `.` or `..`.
pub fn validate_group(group: &str) -> Result<(), NameError> {
    validate_text("group name", group)
}

/// Checks a user id: 1..=1024 characters, not only whitespace, no control characters, not `.`
/// or `..`.
pub fn validate_user(user: &str) -> Result<(), NameError> {
    validate_text("user id", user)
}

/// Checks a connection id: 1..=1024 characters, not only whitespace, no control characters, not
/// `.` or `..`.
pub fn validate_connection_id(id: &str) -> Result<(), NameError> {
    validate_text("connection id", id)
}

fn validate_text(kind: &'static str, value: &str) -> Result<(), NameError> {
    if value.trim().is_empty() {
        return Err(NameError::Empty { kind });
    }
    let len = value.chars().count();
    if len > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            kind,
            len,
            max: MAX_NAME_LEN,
        });
    }
    if value.chars().any(char::is_control) {
        return Err(NameError::Invalid {
            kind,
            shown: shown(value),
            rule: "control characters are not allowed",
        });
    }
    if value == "." || value == ".." {
        // URL parsers (the service's too) collapse these path segments even when
        // percent-encoded, which would silently change which resource a call addresses.
        return Err(NameError::Invalid {
            kind,
            shown: shown(value),
            rule: "\".\" and \"..\" cannot be used: the service would read them as a relative path",
        });
    }
    Ok(())
}

fn shown(value: &str) -> String {
    value.chars().take(64).collect()
}

/// Everything except the RFC 3986 unreserved characters, as .NET's `Uri.EscapeDataString` encodes.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment or query value so that `/`, `?`, `#`, `%` and spaces in a
/// name reach the service intact instead of changing the URL.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_encoded(&mut out, value);
    out
}

/// Appends [`encode`]`(value)` to `out`: copied at once when nothing needs encoding (a token, a
/// plain name), else chunk by chunk (no formatting machinery).
pub fn push_encoded(out: &mut String, value: &str) {
    // The bytes `SEGMENT` encodes: all but letters, digits and `-_.~`.
    let encoded = |b: u8| {
        let letter = (b | 0x20).wrapping_sub(b'a') < 26;
        let digit = b.wrapping_sub(b'0') < 10;
        let mark = (b == b'-') | (b == b'_') | (b == b'.') | (b == b'~');
        !(letter | digit | mark)
    };
    if !any_byte(value.as_bytes(), encoded) {
        out.push_str(value);
    } else {
        out.extend(utf8_percent_encode(value, SEGMENT));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path leaves alone exactly what the encode set leaves alone.
    #[test]
    fn plain_values_are_copied_and_others_encoded() {
        for b in 0..=u8::MAX {
            let text = String::from_utf8_lossy(&[b]).repeat(40);
            let expected = utf8_percent_encode(&text, SEGMENT).to_string();
            assert_eq!(encode(&text), expected, "byte {b:#x}");
        }
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.sig-_~".repeat(9);
        assert_eq!(encode(&token), token);
        assert_eq!(encode("a b/c?d#é"), "a%20b%2Fc%3Fd%23%C3%A9");
    }

    #[test]
    fn hub_names() {
        for ok in ["chat", "Chat", "a", "h_1`,.[]", &"a".repeat(128)] {
            assert_eq!(validate_hub(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1chat",
            "_x",
            "chat room",
            "chat/x",
            "héllo",
            &"a".repeat(129),
        ] {
            assert!(validate_hub(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_names() {
        assert!(validate_group("  ").is_err());
        assert!(validate_group("a b/c?d").is_ok());
        assert!(validate_user(&"u".repeat(1024)).is_ok());
        assert!(validate_user(&"u".repeat(1025)).is_err());
        assert!(validate_connection_id("x\ny").is_err());
        for dots in [".", ".."] {
            assert!(validate_user(dots).is_err());
            assert!(validate_group(dots).is_err());
            assert!(validate_connection_id(dots).is_err());
        }
        assert!(validate_user("...").is_ok());
        assert!(validate_group(".a").is_ok());
    }

    #[test]
    fn encoding_keeps_names_intact() {
        assert_eq!(encode("a/b?c#d"), "a%2Fb%3Fc%23d");
        assert_eq!(encode("Az09-_.~"), "Az09-_.~");
        assert_eq!(encode("a b%"), "a%20b%25");
        assert_eq!(encode("ü"), "%C3%BC");
    }
}
