//! Web PubSub token checks (`docs/webpubsub.md` §2, §3): HS256 only, signed with the UTF-8 bytes of
//! the access key, `exp` required, `nbf` honoured (the shared [`crate::emulator::auth::decode`]). A
//! REST token's `aud` is the request URL with or without its query, as the SDKs mint it; a client
//! token's `aud` is `<endpoint>/client/hubs/<hub>` on this host and port. Audiences are compared
//! ignoring percent-encoding and a trailing `/`, and ignoring case but in the names that keep it:
//! user ids, groups and connection ids (in the path or the query) are case-sensitive, so a token
//! for `…/users/alice/:send` does not serve `…/users/Alice/:send` (`docs/webpubsub.md` §3.1).
//! Messages never contain the token.

use axum::http::{header, HeaderMap, Uri};
use jsonwebtoken::Algorithm;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use crate::emulator::auth::{decode, AuthError};
use crate::service::Secret;

/// Why a Web PubSub token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WpsAuthError {
    /// Signature, expiry, format: the shared checks.
    #[error("{0}")]
    Token(AuthError),
    /// Not HS256.
    #[error(
        "the access token must be signed with HS256 (`alg` {0} is not accepted by Web PubSub)"
    )]
    Algorithm(String),
    /// `aud` is missing or not a string.
    #[error("the access token has no `aud` claim (a string); it is required")]
    NoAudience,
    /// `aud` names another URL.
    #[error("the access token's audience is wrong: expected {expected}, got {got} (user ids, groups, connection ids and the query keep their case; a trailing `/` and, for REST calls, the query may be left out)")]
    WrongAudience {
        /// What this request needs.
        expected: String,
        /// What the token says.
        got: String,
    },
    /// An Entra ID token of the emulator's identity endpoint, for another resource.
    #[error("the Entra ID token is for another resource: its audience is {got}, Web PubSub needs {expected} (ask the identity endpoint for resource {expected}, scope {expected}/.default)")]
    EntraAudience {
        /// `https://webpubsub.azure.com`.
        expected: &'static str,
        /// What the token says.
        got: String,
    },
    /// An Entra ID token of the emulator's identity endpoint that has expired.
    #[error("the Entra ID token has expired; get a new one from the identity endpoint")]
    EntraExpired,
    /// A token signed with the access key while local auth is disabled.
    #[error("local authentication is disabled (Entra ID mode with local auth off): tokens signed with the access key are refused; call the REST API with an Entra ID bearer token (resource https://webpubsub.azure.com) and give clients tokens from :generateToken")]
    LocalAuthDisabled,
}

impl From<AuthError> for WpsAuthError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Algorithm(alg) => Self::Algorithm(alg),
            other => Self::Token(other),
        }
    }
}

/// Scheme, host and port the request reached (`Host` header, `X-Forwarded-Proto`).
pub fn origin(headers: &HeaderMap) -> Result<String, WpsAuthError> {
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| v == "http" || v == "https")
        .unwrap_or_else(|| "http".into());
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && url::Url::parse(&format!("http://{h}/")).is_ok())
        .ok_or(WpsAuthError::Token(AuthError::NoHost))?;
    Ok(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

/// An audience in the form audiences are compared in: percent-decoded, without a trailing `/`
/// before the query or the end, lowercased but in the names that are case-sensitive — the
/// segment after `users`, `groups` or `connections` (a user id, group or connection id) — and
/// the query (whose values are such names).
fn normalise(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((u, q)) => (u, Some(q)),
        None => (url, None),
    };
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let path_at = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    let mut normal = url[..path_at].to_ascii_lowercase();
    let path = percent_decode_str(&url[path_at..]).decode_utf8_lossy();
    let mut name_next = false;
    for segment in path.trim_end_matches('/').split('/').skip(1) {
        normal.push('/');
        if std::mem::take(&mut name_next) {
            normal.push_str(segment);
        } else {
            let lower = segment.to_lowercase();
            name_next = matches!(lower.as_str(), "users" | "groups" | "connections");
            normal.push_str(&lower);
        }
    }
    if let Some(query) = query {
        normal.push('?');
        normal.push_str(&percent_decode_str(query).decode_utf8_lossy());
    }
    normal
}

fn claims(token: &str, key: &Secret) -> Result<(Map<String, Value>, String), WpsAuthError> {
    let claims = decode(token, key, &[Algorithm::HS256])?;
    let aud = match claims.get("aud") {
        Some(Value::String(aud)) => aud.clone(),
        Some(Value::Array(items)) if items.len() == 1 && items[0].is_string() => {
            items[0].as_str().unwrap_or_default().to_string()
        }
        _ => return Err(WpsAuthError::NoAudience),
    };
    Ok((claims, aud))
}

/// Verifies a REST call's bearer token against this request's URL.
pub fn verify_rest(
    token: &str,
    key: &Secret,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(), WpsAuthError> {
    let (_, aud) = claims(token, key)?;
    let origin = origin(headers)?;
    let without_query = format!("{origin}{}", uri.path());
    let full = uri
        .query()
        .map_or_else(|| without_query.clone(), |q| format!("{without_query}?{q}"));
    let got = normalise(&aud);
    if got == normalise(&full) || got == normalise(&without_query) {
        Ok(())
    } else {
        Err(WpsAuthError::WrongAudience {
            expected: without_query,
            got: aud,
        })
    }
}

/// The client endpoint of `hub` on this host: what a client token's `aud` must be.
pub fn client_audience(origin: &str, hub: &str) -> String {
    format!("{origin}/client/hubs/{hub}")
}

/// Verifies a client token for `hub`; returns its claims.
pub fn verify_client(
    token: &str,
    key: &Secret,
    origin: &str,
    hub: &str,
) -> Result<Map<String, Value>, WpsAuthError> {
    let (claims, aud) = claims(token, key)?;
    let expected = client_audience(origin, hub);
    let got = normalise(aud.split('?').next().unwrap_or_default());
    if got == normalise(&expected) {
        Ok(claims)
    } else {
        Err(WpsAuthError::WrongAudience { expected, got: aud })
    }
}

/// The strings of a claim that may be one string or an array of them.
pub fn claim_list(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_compare_without_encoding_and_slash_and_case_but_in_names() {
        assert_eq!(
            normalise("HTTP://Host:8080/api/hubs/My%20Hub/?api-version=1"),
            "http://host:8080/api/hubs/my hub?api-version=1"
        );
        assert_eq!(
            normalise("http://h/client/hubs/Chat/"),
            "http://h/client/hubs/chat"
        );
        assert_eq!(
            normalise("http://h/API/Hubs/Chat/users/Alice/groups/ROOM?excluded=C1"),
            "http://h/api/hubs/chat/users/Alice/groups/ROOM?excluded=C1"
        );
        assert_eq!(
            normalise("http://h/api/hubs/c/Groups/G/Connections/C/"),
            "http://h/api/hubs/c/groups/G/connections/C"
        );
        assert_eq!(
            normalise("http://h/api/hubs/c/users/groups/:SEND"),
            "http://h/api/hubs/c/users/groups/:send"
        );
        assert_ne!(
            normalise("http://h/api/hubs/chat/users/alice/:send"),
            normalise("http://h/api/hubs/chat/users/Alice/:send")
        );
        assert_eq!(
            normalise("http://h/api/hubs/chat/users/a%6Cice/%3Asend"),
            normalise("http://h/api/hubs/chat/users/alice/:send")
        );
        assert_eq!(normalise("http://h"), "http://h");
    }
}
