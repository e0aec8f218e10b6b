//! Who is calling: the caller's identity from a verified source, for negotiate to put in the
//! client token. Two sources, each switched on by a setting: an OIDC bearer token validated against
//! the issuer's keys ([`super::oidc`]), and App Service authentication (Easy Auth) headers, which
//! the platform sets after signing the user in (`docs/functions-host.md` §2).
//! Anything else is an anonymous caller, or a 401 when authentication is required.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header::AUTHORIZATION, HeaderMap};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::oidc::OidcValidator;
use super::oidc_keys::KeyRefresh;

/// Easy Auth header with the provider's id of the user.
pub const PRINCIPAL_ID_HEADER: &str = "x-ms-client-principal-id";
/// Easy Auth header with the user's human-readable name (email, UPN).
pub const PRINCIPAL_NAME_HEADER: &str = "x-ms-client-principal-name";
/// Easy Auth header with the identity provider's name.
pub const PRINCIPAL_IDP_HEADER: &str = "x-ms-client-principal-idp";
/// Easy Auth header with the whole principal as base64 JSON.
pub const PRINCIPAL_HEADER: &str = "x-ms-client-principal";
/// The role claim type .NET and Easy Auth use for Azure AD roles.
pub const DOTNET_ROLE_CLAIM: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";

/// How the caller may prove who they are; parsed once at start-up.
#[derive(Clone, Debug, Default)]
pub struct IdentitySettings {
    /// Trust the `x-ms-client-principal*` headers. Off by default: without App Service
    /// authentication in front of the app, anyone can send them.
    pub easy_auth: bool,
    /// Which Easy Auth header is the user id.
    pub easy_auth_user_id: EasyAuthUserId,
    /// Accept OIDC bearer tokens from this issuer.
    pub oidc: Option<OidcSettings>,
    /// Answer anonymous callers with 401 instead of serving them without a user id.
    pub require_authentication: bool,
}

/// Which Easy Auth header carries the user id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EasyAuthUserId {
    /// `x-ms-client-principal-id`: the provider's stable id of the user (the default).
    #[default]
    PrincipalId,
    /// `x-ms-client-principal-name`: the user's name, e.g. an email address.
    PrincipalName,
}

/// The one OIDC issuer whose bearer tokens are accepted.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// The exact `iss` tokens must carry.
    pub issuer: String,
    /// `aud` must contain one of these; the list must not be empty.
    pub audiences: Vec<String>,
    /// Where the issuer's metadata is; default `{issuer}/.well-known/openid-configuration`.
    /// Azure AD B2C needs the policy's URL here.
    pub metadata_url: Option<String>,
    /// The claim that is the user id (default `sub`; `oid` for a stable Azure AD object id).
    pub user_id_claim: String,
    /// Clock skew allowed on `exp` and `nbf` (default 60 s).
    pub leeway: Duration,
    /// Deadlines and intervals of fetching the issuer's keys.
    pub refresh: KeyRefresh,
}

impl OidcSettings {
    /// Settings for `issuer` and `audiences` with the defaults for everything else.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences,
            metadata_url: None,
            user_id_claim: "sub".to_owned(),
            leeway: Duration::from_secs(60),
            refresh: KeyRefresh::default(),
        }
    }

    /// The metadata document's URL: the configured one, else derived from the issuer.
    pub fn metadata_url(&self) -> String {
        match &self.metadata_url {
            Some(url) => url.clone(),
            None => format!(
                "{}/.well-known/openid-configuration",
                self.issuer.trim_end_matches('/')
            ),
        }
    }

    /// Checks the settings make sense (https URLs, an audience, a user-id claim), so a start-up
    /// can refuse them with a clear message instead of failing every request.
    pub fn check(&self) -> Result<(), IdentityError> {
        let bad = |msg: String| Err(IdentityError::Misconfigured(msg));
        if self.audiences.iter().all(|a| a.is_empty()) {
            return bad("OIDC: at least one audience is required".into());
        }
        if self.user_id_claim.is_empty() {
            return bad("OIDC: the user-id claim name is empty".into());
        }
        if self.issuer.is_empty() {
            return bad("OIDC: the issuer is empty".into());
        }
        super::oidc_fetch::check_url("OIDC metadata URL", &self.metadata_url())
    }
}

/// Where the caller's identity came from.
#[derive(Clone, Debug, PartialEq)]
pub enum IdentitySource {
    /// No credentials (or none that are trusted).
    Anonymous,
    /// App Service authentication headers.
    EasyAuth,
    /// A validated OIDC bearer token.
    Bearer,
}

/// The caller of a request, as far as it could be verified.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The user id for the client token; `None` for anonymous callers.
    pub user_id: Option<String>,
    /// Every claim, in order; a type may repeat. Values are strings for Easy Auth, any JSON for
    /// bearer tokens (arrays stay arrays).
    pub claims: Vec<(String, Value)>,
    /// The caller's roles.
    pub roles: Vec<String>,
    /// Where this came from.
    pub source: IdentitySource,
}

impl Caller {
    /// A caller without credentials.
    pub fn anonymous() -> Self {
        Self {
            user_id: None,
            claims: Vec::new(),
            roles: Vec::new(),
            source: IdentitySource::Anonymous,
        }
    }
}

/// Why the caller could not be identified. `Display` tells the caller or operator what is wrong;
/// no message ever contains the token.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Anonymous caller while authentication is required.
    #[error("authentication required: {0}")]
    AuthenticationRequired(String),
    /// The bearer token is not a well-formed JWT.
    #[error("bearer token is malformed: {0}")]
    MalformedToken(String),
    /// The token's `alg` is not RS256 or ES256.
    #[error("bearer token signed with alg {0} is not accepted; use RS256 or ES256")]
    AlgorithmNotAccepted(String),
    /// The token names no `kid` and the issuer has more than one key.
    #[error("bearer token has no kid and the issuer publishes {0} usable keys; cannot pick one")]
    MissingKid(usize),
    /// The issuer publishes no key with the token's `kid`.
    #[error("no signing key with kid {kid} at the issuer {issuer}")]
    UnknownKey {
        /// The token's key id.
        kid: String,
        /// The configured issuer.
        issuer: String,
    },
    /// The issuer's key with that `kid` is not for the token's algorithm.
    #[error(
        "bearer token alg {alg} does not match the issuer's key {kid}, which is for {key_alg}"
    )]
    KeyMismatch {
        /// The token's key id.
        kid: String,
        /// The token's algorithm.
        alg: String,
        /// What the key is for.
        key_alg: String,
    },
    /// The signature does not verify.
    #[error("bearer token signature does not verify with the issuer's key {0}")]
    BadSignature(String),
    /// `exp` is in the past (beyond the leeway).
    #[error("bearer token expired at {exp} (unix time; now {now}, leeway {leeway} s)")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The time of the check.
        now: i64,
        /// The allowed skew.
        leeway: u64,
    },
    /// `nbf` is in the future (beyond the leeway).
    #[error("bearer token is not valid before {nbf} (unix time; now {now}, leeway {leeway} s)")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The time of the check.
        now: i64,
        /// The allowed skew.
        leeway: u64,
    },
    /// `iss` is not the configured issuer.
    #[error("bearer token issuer {found} is not the configured issuer {expected}")]
    WrongIssuer {
        /// The token's `iss` (or "(none)").
        found: String,
        /// The configured issuer.
        expected: String,
    },
    /// `aud` contains none of the configured audiences.
    #[error("bearer token audience {found} is not one of the configured audiences {expected}")]
    WrongAudience {
        /// The token's `aud` (or "(none)").
        found: String,
        /// The configured audiences, comma-separated.
        expected: String,
    },
    /// A required claim is missing or has the wrong type.
    #[error("bearer token claim {claim}: {problem}")]
    BadClaim {
        /// The claim's name.
        claim: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The issuer's metadata or keys could not be fetched.
    #[error("the OIDC issuer is unreachable, cannot validate bearer tokens: {reason}; retry in {retry_after} s")]
    IssuerUnreachable {
        /// What failed.
        reason: String,
        /// Seconds until a retry may work (`Retry-After`).
        retry_after: u64,
    },
    /// The keys are still being fetched from a slow issuer and none is cached for the token.
    #[error("the OIDC issuer {issuer} has not handed out its signing keys yet (still fetching after {waited}); retry in {retry_after} s")]
    KeysPending {
        /// The configured issuer.
        issuer: String,
        /// How long this request waited.
        waited: String,
        /// Seconds until the fetch gives up (`Retry-After`).
        retry_after: u64,
    },
    /// The identity settings cannot work.
    #[error("identity settings: {0}")]
    Misconfigured(String),
    /// An Easy Auth header is not what App Service sends.
    #[error("malformed App Service authentication header: {0}")]
    MalformedPrincipal(String),
}

impl IdentityError {
    /// The HTTP status for this error: 401 for bad or absent credentials, 400 for a malformed
    /// Easy Auth header, 503 when the issuer cannot be reached, 500 for bad settings.
    pub fn status(&self) -> u16 {
        match self {
            Self::MalformedPrincipal(_) => 400,
            Self::IssuerUnreachable { .. } | Self::KeysPending { .. } => 503,
            Self::Misconfigured(_) => 500,
            _ => 401,
        }
    }

    /// A short machine-readable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AuthenticationRequired(_) => "AuthenticationRequired",
            Self::MalformedPrincipal(_) => "MalformedPrincipal",
            Self::IssuerUnreachable { .. } => "IssuerUnreachable",
            Self::KeysPending { .. } => "IssuerKeysPending",
            Self::Misconfigured(_) => "IdentityMisconfigured",
            _ => "InvalidToken",
        }
    }

    /// Seconds the caller should wait before retrying (`Retry-After`), for the 503s.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::IssuerUnreachable { retry_after, .. } | Self::KeysPending { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }
}

/// Works out the caller of a request. Cheap to clone: the settings and the key cache are shared.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

struct Inner {
    settings: IdentitySettings,
    oidc: Option<OidcValidator>,
}

impl Authenticator {
    /// An authenticator for `settings`. OIDC keys are fetched with a client of their own that
    /// checks every redirect ([`super::oidc_fetch`]).
    pub fn new(settings: IdentitySettings) -> Self {
        let oidc = settings.oidc.clone().map(OidcValidator::new);
        Self {
            inner: Arc::new(Inner { settings, oidc }),
        }
    }

    /// The settings this authenticator was built with.
    pub fn settings(&self) -> &IdentitySettings {
        &self.inner.settings
    }

    /// The caller of a request with these headers. A bearer token, when OIDC is configured, must
    /// validate; then Easy Auth headers when trusted; else anonymous (or 401 when required).
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, IdentityError> {
        let settings = &self.inner.settings;
        if let Some(token) = bearer_token(headers)? {
            match &self.inner.oidc {
                Some(oidc) => return oidc.validate(token).await,
                None => tracing::debug!("ignoring a bearer token: OIDC is not configured"),
            }
        }
        if settings.easy_auth {
            if let Some(caller) = easy_auth_caller(headers, settings.easy_auth_user_id)? {
                if caller.user_id.is_none() && settings.require_authentication {
                    // Required authentication means an identified user: a principal without the
                    // configured user id would get a token that names nobody.
                    return Err(IdentityError::AuthenticationRequired(
                        easy_auth_without_user_id(settings.easy_auth_user_id),
                    ));
                }
                return Ok(caller);
            }
        }
        if settings.require_authentication {
            return Err(IdentityError::AuthenticationRequired(
                self.how_to_authenticate(),
            ));
        }
        Ok(Caller::anonymous())
    }

    fn how_to_authenticate(&self) -> String {
        let settings = &self.inner.settings;
        match (&settings.oidc, settings.easy_auth) {
            (Some(oidc), true) => format!(
                "sign in with App Service authentication or send `Authorization: Bearer <token>` from {}",
                oidc.issuer
            ),
            (Some(oidc), false) => {
                format!("send `Authorization: Bearer <token>` from {}", oidc.issuer)
            }
            (None, true) => "sign in with App Service authentication".to_owned(),
            (None, false) => {
                "no identity source is configured (enable Easy Auth or OIDC), so nobody can sign in"
                    .to_owned()
            }
        }
    }
}

fn easy_auth_without_user_id(which: EasyAuthUserId) -> String {
    let (header, other) = match which {
        EasyAuthUserId::PrincipalId => (PRINCIPAL_ID_HEADER, "principal-name"),
        EasyAuthUserId::PrincipalName => (PRINCIPAL_NAME_HEADER, "principal-id"),
    };
    format!(
        "App Service authentication sent no user id ({header} is missing or empty, and the principal has none); sign in again, or set SIGNALR_EASY_AUTH_USER_ID={other} if your provider fills that header instead"
    )
}

/// The token of an `Authorization: Bearer …` header, if there is one.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, IdentityError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let Ok(value) = value.to_str() else {
        return Err(IdentityError::MalformedToken(
            "the Authorization header is not ASCII".into(),
        ));
    };
    let value = value.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    Ok(Some(token.trim()))
}

/// The `x-ms-client-principal` JSON: App Service's shape, or Static Web Apps' (`userId`, …).
#[derive(Deserialize)]
struct Principal {
    #[serde(default)]
    claims: Vec<PrincipalClaim>,
    #[serde(default)]
    name_typ: Option<String>,
    #[serde(default)]
    role_typ: Option<String>,
    #[serde(default, rename = "userId")]
    user_id: Option<String>,
    #[serde(default, rename = "userDetails")]
    user_details: Option<String>,
    #[serde(default, rename = "userRoles")]
    user_roles: Vec<String>,
}

#[derive(Deserialize)]
struct PrincipalClaim {
    typ: String,
    val: String,
}

/// The Easy Auth caller, when any principal header is present.
fn easy_auth_caller(
    headers: &HeaderMap,
    which: EasyAuthUserId,
) -> Result<Option<Caller>, IdentityError> {
    let id = header_str(headers, PRINCIPAL_ID_HEADER)?;
    let name = header_str(headers, PRINCIPAL_NAME_HEADER)?;
    let encoded = header_str(headers, PRINCIPAL_HEADER)?;
    if id.is_none() && name.is_none() && encoded.is_none() {
        return Ok(None);
    }
    let principal = encoded.map(decode_principal).transpose()?;
    let mut claims = Vec::new();
    let mut roles = Vec::new();
    let mut user_id = match which {
        EasyAuthUserId::PrincipalId => id.map(str::to_owned),
        EasyAuthUserId::PrincipalName => name.map(str::to_owned),
    };
    if let Some(p) = principal {
        let role_typ = p.role_typ.as_deref().unwrap_or(DOTNET_ROLE_CLAIM);
        for claim in p.claims {
            if [role_typ, "roles", "role", DOTNET_ROLE_CLAIM].contains(&claim.typ.as_str()) {
                roles.push(claim.val.clone());
            }
            if user_id.is_none()
                && which == EasyAuthUserId::PrincipalName
                && p.name_typ.as_deref() == Some(claim.typ.as_str())
            {
                user_id = Some(claim.val.clone());
            }
            claims.push((claim.typ, Value::String(claim.val)));
        }
        // Static Web Apps' shape.
        if user_id.is_none() {
            user_id = match which {
                EasyAuthUserId::PrincipalId => p.user_id.clone(),
                EasyAuthUserId::PrincipalName => p.user_details.clone(),
            };
        }
        roles.extend(p.user_roles);
    }
    Ok(Some(Caller {
        user_id: user_id.filter(|u| !u.is_empty()),
        claims,
        roles,
        source: IdentitySource::EasyAuth,
    }))
}

/// A header's value as text; absent or empty is `None`, non-text is a 400.
fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, IdentityError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => match value.to_str() {
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => Ok(Some(text.trim())),
            Err(_) => Err(IdentityError::MalformedPrincipal(format!(
                "{name} is not ASCII text"
            ))),
        },
    }
}

/// Decodes the base64 JSON of `x-ms-client-principal` (padded or not, standard or URL-safe).
fn decode_principal(encoded: &str) -> Result<Principal, IdentityError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(encoded).ok())
        .ok_or_else(|| {
            IdentityError::MalformedPrincipal(format!("{PRINCIPAL_HEADER} is not base64"))
        })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        IdentityError::MalformedPrincipal(format!(
            "{PRINCIPAL_HEADER} is not the principal JSON {{auth_typ, claims: [{{typ, val}}], name_typ, role_typ}}: {e}"
        ))
    })
}
