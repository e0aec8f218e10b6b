//! The identity settings: which sources to trust (Easy Auth headers, an OIDC issuer) and how to
//! read the user id from them; checked once at start-up.

use std::time::Duration;

use super::error::IdentityError;

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
        super::oidc_url::check_url("OIDC metadata URL", &self.metadata_url())
    }
}

/// How the keys are refreshed; the defaults suit a real issuer, tests shorten them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRefresh {
    /// The whole refresh (metadata and JWKS, redirects included) must finish within this
    /// (default 10 s), else it fails.
    pub deadline: Duration,
    /// How long a request that needs keys the cache lacks waits for the refresh before a 503
    /// (default 2 s).
    pub wait: Duration,
    /// Unknown `kid`s start at most one refresh per this interval (default 10 s), so made-up
    /// key ids cannot hammer the issuer.
    pub min_interval: Duration,
    /// After a failed refresh, no new one for this long (default 5 s): requests that need keys
    /// fail fast with a 503 instead.
    pub retry_after_failure: Duration,
    /// Keys older than this are refreshed in the background (default 24 h), so keys the issuer
    /// retired stop working.
    pub max_age: Duration,
}

impl Default for KeyRefresh {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(10),
            wait: Duration::from_secs(2),
            min_interval: Duration::from_secs(10),
            retry_after_failure: Duration::from_secs(5),
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}
