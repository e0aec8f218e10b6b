//! Minting of the two kinds of access token (`docs/protocol.md` §2–§3): client tokens
//! handed to browsers by negotiate, and short-lived server tokens for REST calls. Both are HS256
//! JWTs signed with the UTF-8 bytes of the access key; audiences are built from the audience base
//! (`scheme://host/` of `Endpoint`, never a port), hubs are lowercased, as the official SDK does.
//!
//! Signing is done here rather than with `jsonwebtoken::encode`: negotiate is mostly token
//! minting, and a pre-keyed HMAC state, a constant header and one serialisation straight into the
//! output buffer halve its cost (see BENCHMARKS.md). Verification stays with `jsonwebtoken`.
//!
//! Anonymous client tokens are memoised per hub and second ([`super::token_memo`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use hyper::body::Bytes;
use serde_json::{Map, Value};
use sha2::Sha256;

use super::connection_string::ConnectionString;
use super::json_text;
use super::secret::Secret;
use super::token_memo::{AnonymousTokens, Flavour, Key};
use super::transports::{self, Transports};

/// Lifetime of client tokens unless configured otherwise (the SDK's default).
pub const DEFAULT_CLIENT_LIFETIME: Duration = Duration::from_secs(3600);
/// Lifetime of REST tokens: each is minted for one request, so it need not live long.
pub const REST_LIFETIME: Duration = Duration::from_secs(600);
/// Longest token the service accepts.
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest lifetime we sign: far beyond any sensible token, well inside every `exp` parser.
pub const MAX_LIFETIME_SECS: u64 = 100 * 365 * 24 * 3600;

/// `base64url({"alg":"HS256","typ":"JWT"})`: the header of every token we sign.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Claim types the service treats as its own; a custom claim of one of these types is renamed
/// `asrs.u.<type>` so it cannot override them (the SDK's rule, extended to our user-id claims).
const RESERVED: [&str; 13] = [
    "aud", "exp", "iat", "nbf", "iss", "actort", "acr", "azp", "c_hash", "jti", "nonce", "nameid",
    "role",
];

/// Why a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The connection string has no access key (it uses Entra ID: see `service::entra`).
    #[error("the connection string has no AccessKey; with AuthType (Entra ID) tokens are signed with the service's temporary key")]
    NoAccessKey,
    /// The signed token is longer than the service accepts.
    #[error("the access token would be {0} characters long; the service accepts at most 4096 — copy fewer claims")]
    TooLong(usize),
    /// The lifetime is zero.
    #[error("token lifetime must be at least one second")]
    ZeroLifetime,
    /// The lifetime would put `exp` past any date a JWT library can represent.
    #[error(
        "token lifetime of {0} seconds is too long; use at most {MAX_LIFETIME_SECS} (100 years)"
    )]
    LifetimeTooLong(u64),
    /// Signing failed.
    #[error("signing the token failed: {0}")]
    Signing(String),
}

/// What goes into a client access token.
#[derive(Debug, Clone, Default)]
pub struct ClientClaims {
    /// The user id (`asrs.s.uid` and `nameid`), when the caller is known.
    pub user_id: Option<String>,
    /// Extra claims, in order; a repeated type becomes a JSON array.
    pub claims: Vec<(String, Value)>,
    /// Roles, emitted as `role`.
    pub roles: Vec<String>,
    /// How long the token is valid.
    pub lifetime: Option<Duration>,
    /// The transports the client may use (`asrs.s.htt`); `None` = all, and no claim.
    pub transports: Option<Transports>,
    /// Ask the service to close the connection when the token expires, allowing a reconnect
    /// (`asrs.s.coae` = `true` and `asrs.s.aeo` = the token's `exp`).
    pub close_on_expiry: bool,
}

impl ClientClaims {
    /// No user, claims or roles: the token is the same for every such client of a hub within a
    /// second ([`super::token_memo`]).
    pub fn is_anonymous(&self) -> bool {
        self.user_id.is_none() && self.claims.is_empty() && self.roles.is_empty()
    }

    /// Adds the service's system claims asked for (`asrs.s.htt`, `asrs.s.coae`, `asrs.s.aeo`)
    /// to `payload`, for a token expiring at `exp`, as the SDK writes them: strings.
    fn add_system_claims(&self, payload: &mut Claims, exp: u64) {
        if let Some(transports) = self.transports {
            payload.push((
                transports::CLAIM.into(),
                Value::String(transports.claim_value()),
            ));
        }
        if self.close_on_expiry {
            payload.push((CLOSE_ON_EXPIRY_CLAIM.into(), Value::String("true".into())));
            payload.push((EXPIRES_ON_CLAIM.into(), Value::String(exp.to_string())));
        }
    }
}

/// A token's custom claims in their order, each type once (see [`add_claim`]): a client token
/// carries a handful, so a list searched from the start costs less than a map, which would hash
/// every claim type and allocate its table for each identified negotiation.
type Claims = Vec<(String, Value)>;

/// `asrs.s.coae`: close the connection when its authentication expires (value `true`).
pub const CLOSE_ON_EXPIRY_CLAIM: &str = "asrs.s.coae";
/// `asrs.s.aeo`: when the authentication expires, in Unix seconds (a decimal string).
pub const EXPIRES_ON_CLAIM: &str = "asrs.s.aeo";

/// Signs tokens for one connection string. Clones share one signer (a negotiation takes one).
#[derive(Clone)]
pub struct TokenMinter(Arc<Signer>);

struct Signer {
    /// HMAC-SHA256 already keyed with the access key; cloned per token.
    mac: Hmac<Sha256>,
    /// `base64url` of the JWT header: [`HEADER_B64`], or with `kid` under Entra ID.
    header: String,
    audience_base: String,
    client_base: String,
    server_id: String,
    anonymous: AnonymousTokens,
}

impl std::fmt::Debug for TokenMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenMinter")
            .field("audience_base", &self.0.audience_base)
            .field("client_base", &self.0.client_base)
            .finish_non_exhaustive()
    }
}

impl TokenMinter {
    /// A minter for the connection string's access key.
    pub fn new(connection: &ConnectionString) -> Result<Self, TokenError> {
        let key = connection.access_key().ok_or(TokenError::NoAccessKey)?;
        Self::with_key(connection, key, None)
    }

    /// A minter signing with `key` and naming it `kid` in the token header: the temporary access
    /// key an Entra-authorised app gets from the service (`docs/protocol.md` §7.3).
    pub fn with_key(
        connection: &ConnectionString,
        key: &Secret,
        kid: Option<&str>,
    ) -> Result<Self, TokenError> {
        let header = match kid {
            None => HEADER_B64.to_string(),
            Some(kid) => URL_SAFE_NO_PAD.encode(
                serde_json::json!({ "alg": "HS256", "kid": kid, "typ": "JWT" }).to_string(),
            ),
        };
        Ok(Self(Arc::new(Signer {
            // HMAC takes keys of any length; the error case cannot happen.
            mac: Hmac::new_from_slice(key.as_bytes())
                .map_err(|e| TokenError::Signing(e.to_string()))?,
            header,
            audience_base: connection.audience_base(),
            client_base: connection.client_base(),
            server_id: format!("serverless-signalr_{:032x}", rand::random::<u128>()),
            anonymous: AnonymousTokens::default(),
        })))
    }

    /// A minter signing with `key` (no `kid`) whose REST audiences start with `audience_base`
    /// and client URLs with `client_base` (both ending in `/`): for another product's connection
    /// string (Web PubSub), which builds its own audiences.
    pub fn from_parts(
        key: &Secret,
        audience_base: String,
        client_base: String,
    ) -> Result<Self, TokenError> {
        Ok(Self(Arc::new(Signer {
            mac: Hmac::new_from_slice(key.as_bytes())
                .map_err(|e| TokenError::Signing(e.to_string()))?,
            header: HEADER_B64.to_string(),
            audience_base,
            client_base,
            server_id: format!("serverless-signalr_{:032x}", rand::random::<u128>()),
            anonymous: AnonymousTokens::default(),
        })))
    }

    /// Signs `claims` followed by `nbf`, `exp`, `iat` and `aud`, valid for `lifetime` from now:
    /// the HS256 signing shared by every token this crate mints.
    pub fn sign_claims(
        &self,
        claims: Map<String, Value>,
        aud: String,
        lifetime: Duration,
    ) -> Result<String, TokenError> {
        self.sign(fields_of(&claims), aud, lifetime, now())
    }

    /// The URL clients connect to: `{client base}client/?hub={hub lowercased}`.
    pub fn client_url(&self, hub: &str) -> String {
        hub_url(&self.0.client_base, hub)
    }

    /// The audience of client tokens: `{audience base}client/?hub={hub lowercased}`.
    pub fn client_audience(&self, hub: &str) -> String {
        hub_url(&self.0.audience_base, hub)
    }

    /// The audience of a REST call: the audience base followed by the request's path and query
    /// (e.g. `api/hubs/chat/:send?api-version=2022-06-01`), as the SDK builds it.
    pub fn rest_audience(&self, path_and_query: &str) -> String {
        format!(
            "{}{}",
            self.0.audience_base,
            path_and_query.trim_start_matches('/')
        )
    }

    /// Mints a client access token for `hub`.
    pub fn client_token(&self, hub: &str, claims: &ClientClaims) -> Result<String, TokenError> {
        if claims.is_anonymous() {
            return self.anonymous_token(hub, claims);
        }
        let lifetime = claims.lifetime.unwrap_or(DEFAULT_CLIENT_LIFETIME);
        let now = now();
        let mut payload = Claims::with_capacity(claims.claims.len() + 5);
        for (kind, value) in &claims.claims {
            let kind = if RESERVED.contains(&kind.as_str()) || kind.starts_with("asrs.s.") {
                format!("asrs.u.{kind}")
            } else {
                kind.clone()
            };
            if kind == "sub" && payload.iter().any(|(k, _)| k == "sub") {
                add_claim(&mut payload, "asrs.u.sub".into(), value.clone());
            } else {
                add_claim(&mut payload, kind, value.clone());
            }
        }
        for role in &claims.roles {
            add_claim(&mut payload, "role".into(), Value::String(role.clone()));
        }
        // Neither type can be a custom claim's (those are renamed above), so they are new.
        if let Some(user) = &claims.user_id {
            payload.push(("asrs.s.uid".into(), Value::String(user.clone())));
            payload.push(("nameid".into(), Value::String(user.clone())));
        }
        claims.add_system_claims(&mut payload, now.saturating_add(lifetime.as_secs()));
        let fields = payload.iter().map(|(kind, value)| (kind.as_str(), value));
        self.sign(fields, self.client_audience(hub), lifetime, now)
    }

    /// The anonymous SignalR token of `hub` for this second: the memoised one, or a new one.
    fn anonymous_token(&self, hub: &str, claims: &ClientClaims) -> Result<String, TokenError> {
        let second = now();
        let sign = || self.sign_anonymous(hub, claims, second);
        self.0
            .anonymous
            .get_or_sign(anonymous_key(hub, claims), second, sign)
    }

    /// The negotiate answer for an anonymous SignalR client of `hub` (no user, claims or roles):
    /// `write(token)` with this second's token, written once per second and then shared
    /// ([`AnonymousTokens::answer`]); `None` for `claims` that are not anonymous.
    pub fn anonymous_answer(
        &self,
        hub: &str,
        claims: &ClientClaims,
        write: impl FnOnce(&str) -> Bytes,
    ) -> Option<Result<Bytes, TokenError>> {
        if !claims.is_anonymous() {
            return None;
        }
        let second = now();
        let sign = || self.sign_anonymous(hub, claims, second);
        let key = anonymous_key(hub, claims);
        Some(self.0.anonymous.answer(key, second, sign, write))
    }

    /// Signs the anonymous SignalR token of `hub` in `second`.
    fn sign_anonymous(
        &self,
        hub: &str,
        claims: &ClientClaims,
        second: u64,
    ) -> Result<String, TokenError> {
        let lifetime = claims.lifetime.unwrap_or(DEFAULT_CLIENT_LIFETIME);
        let mut payload = Claims::new();
        claims.add_system_claims(&mut payload, second.saturating_add(lifetime.as_secs()));
        let fields = payload.iter().map(|(kind, value)| (kind.as_str(), value));
        self.sign(fields, self.client_audience(hub), lifetime, second)
    }

    /// A Web PubSub token without a user for `key` (its hub, client path, roles and groups, and
    /// lifetime): `claims()` then `nbf`, `exp`, `iat` and `aud` (`audience()`); the one already
    /// signed this second for the same key when there is one (the same bytes a new one would
    /// be).
    pub fn anonymous_token_for(
        &self,
        key: Key<'_>,
        claims: impl FnOnce() -> Map<String, Value>,
        audience: impl FnOnce() -> String,
    ) -> Result<String, TokenError> {
        let second = now();
        let lifetime = Duration::from_secs(key.lifetime);
        let sign = || self.sign(fields_of(&claims()), audience(), lifetime, second);
        self.0.anonymous.get_or_sign(key, second, sign)
    }

    /// [`Self::anonymous_token_for`]'s token as the answer `write(token)`, written once per
    /// second and then shared ([`AnonymousTokens::answer`]).
    pub fn anonymous_answer_for(
        &self,
        key: Key<'_>,
        claims: impl FnOnce() -> Map<String, Value>,
        audience: impl FnOnce() -> String,
        write: impl FnOnce(&str) -> Bytes,
    ) -> Result<Bytes, TokenError> {
        let second = now();
        let lifetime = Duration::from_secs(key.lifetime);
        let sign = || self.sign(fields_of(&claims()), audience(), lifetime, second);
        self.0.anonymous.answer(key, second, sign, write)
    }

    /// Mints a REST token for one request, whose audience is [`Self::rest_audience`].
    pub fn rest_token(&self, audience: String) -> Result<String, TokenError> {
        let nameid = Value::String(self.0.server_id.clone());
        self.sign([("nameid", &nameid)], audience, REST_LIFETIME, now())
    }

    /// Signs `claims` followed by `nbf`, `exp`, `iat` and `aud` (the SDK's order) as an HS256 JWT
    /// issued at `now` (Unix seconds).
    fn sign<'a>(
        &self,
        claims: impl IntoIterator<Item = (&'a str, &'a Value)>,
        aud: String,
        lifetime: Duration,
        now: u64,
    ) -> Result<String, TokenError> {
        let lifetime = lifetime.as_secs();
        if lifetime == 0 {
            return Err(TokenError::ZeroLifetime);
        }
        if lifetime > MAX_LIFETIME_SECS {
            return Err(TokenError::LifetimeTooLong(lifetime));
        }
        let payload = payload(claims, now, now + lifetime, &aud);

        let mut token = String::with_capacity(self.0.header.len() + payload.len() * 4 / 3 + 48);
        token.push_str(&self.0.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let mut mac = self.0.mac.clone();
        mac.update(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut token);
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong(token.len()));
        }
        Ok(token)
    }
}

/// The JWT payload: custom claims first, then `nbf`, `exp`, `iat` and `aud`; the bytes
/// `serde_json` would write ([`json_text`]).
fn payload<'a>(
    claims: impl IntoIterator<Item = (&'a str, &'a Value)>,
    now: u64,
    exp: u64,
    aud: &str,
) -> Vec<u8> {
    let mut json = Vec::with_capacity(aud.len() + 256);
    json.push(b'{');
    for (name, value) in claims {
        json_text::push_field(&mut json, name, value);
    }
    json_text::push_field(&mut json, "nbf", &Value::from(now));
    json_text::push_field(&mut json, "exp", &Value::from(exp));
    json_text::push_field(&mut json, "iat", &Value::from(now));
    if json.last() != Some(&b'{') {
        json.push(b',');
    }
    json.extend_from_slice(b"\"aud\":");
    json_text::push_string(&mut json, aud);
    json.push(b'}');
    json
}

/// The memo key of the anonymous SignalR token of `hub`.
fn anonymous_key<'a>(hub: &'a str, claims: &ClientClaims) -> Key<'a> {
    Key {
        hub,
        flavour: Flavour::SignalR {
            transports: claims.transports,
            close_on_expiry: claims.close_on_expiry,
        },
        lists: &[],
        lifetime: claims.lifetime.unwrap_or(DEFAULT_CLIENT_LIFETIME).as_secs(),
    }
}

/// `{base}client/?hub={hub lowercased}`.
fn hub_url(base: &str, hub: &str) -> String {
    let mut url = String::with_capacity(base.len() + 12 + hub.len());
    url.push_str(base);
    url.push_str("client/?hub=");
    if hub.is_ascii() {
        url.push_str(hub);
        url[base.len() + 12..].make_ascii_lowercase();
    } else {
        url.push_str(&hub.to_lowercase());
    }
    url
}

/// The current Unix time in seconds.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The fields of a claims map, in its order.
fn fields_of(claims: &Map<String, Value>) -> impl Iterator<Item = (&str, &Value)> {
    claims.iter().map(|(kind, value)| (kind.as_str(), value))
}

/// Adds a claim; a second value of the same type turns the claim into an array (in the place of
/// the first).
fn add_claim(payload: &mut Claims, kind: String, value: Value) {
    match payload.iter_mut().find(|(k, _)| *k == kind).map(|(_, v)| v) {
        None => payload.push((kind, value)),
        Some(Value::Array(values)) => values.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

#[cfg(test)]
mod tests;
