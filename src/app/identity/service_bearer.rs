//! The service's own bearer token on the app's webhooks (`/api/upstream`,
//! `/api/webpubsub/events`): when SignalR Service or Web PubSub calls with its managed identity,
//! it sends an Entra ID access token for a configured resource (`docs/protocol.md` §5.4,
//! `docs/upstream.md`, "Managed identity"). This checks it with the OIDC code negotiate uses
//! ([`super::oidc`]): RS256/ES256 signature with the issuer's published keys, `iss` (one of the
//! tenant's issuers), `aud` (the configured resource), `exp`/`nbf`, and then that the caller is
//! the service: `oid`, `appid` or `azp` in the allow-list.

use std::sync::Arc;

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::error::IdentityError;
use super::oidc::OidcValidator;
use super::settings::OidcSettings;

/// Claims that name the calling application or principal, in the order they are reported.
const CALLER_CLAIMS: [&str; 3] = ["oid", "appid", "azp"];
/// Longest token whose payload is read to find its issuer.
const MAX_TOKEN: usize = 16 * 1024;

/// What a webhook accepts as the service's identity; parsed once at start-up.
#[derive(Clone, Debug)]
pub struct ServiceIdentitySettings {
    /// The issuers whose tokens are accepted (an Entra tenant has a v1 and a v2 issuer), each
    /// with the accepted audiences (the configured resource).
    pub issuers: Vec<OidcSettings>,
    /// Object ids or client ids of the service's managed identity; a token passes only when its
    /// `oid`, `appid` or `azp` is one of them.
    pub allowed_callers: Vec<String>,
    /// The settings' prefix (e.g. `SIGNALR_UPSTREAM_IDENTITY`), named in error messages.
    pub setting: &'static str,
}

impl ServiceIdentitySettings {
    /// The Entra ID issuers of `tenant`: v1 (`https://sts.windows.net/<tenant>/`, what managed
    /// identities get by default) and v2 (`https://login.microsoftonline.com/<tenant>/v2.0`),
    /// each with its metadata at `login.microsoftonline.com`.
    pub fn entra_issuers(tenant: &str, audiences: &[String]) -> Vec<OidcSettings> {
        let v1 = OidcSettings {
            metadata_url: Some(format!(
                "https://login.microsoftonline.com/{tenant}/.well-known/openid-configuration"
            )),
            ..OidcSettings::new(
                format!("https://sts.windows.net/{tenant}/"),
                audiences.to_vec(),
            )
        };
        let v2 = OidcSettings::new(
            format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            audiences.to_vec(),
        );
        vec![v1, v2]
    }
}

/// Verifies the service's bearer token. Cheap to clone; clones share the issuers' key caches.
#[derive(Clone)]
pub struct ServiceBearer {
    validators: Arc<[(String, OidcValidator)]>,
    allowed: Arc<[String]>,
    setting: &'static str,
}

impl std::fmt::Debug for ServiceBearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceBearer")
            .field("setting", &self.setting)
            .finish_non_exhaustive()
    }
}

impl ServiceBearer {
    /// A verifier for `settings`. Nothing is fetched until the first token.
    pub fn new(settings: &ServiceIdentitySettings) -> Self {
        let validators = settings
            .issuers
            .iter()
            .map(|issuer| {
                let mut oidc = issuer.clone();
                // The webhook needs no user id; every Entra access token has `sub`.
                oidc.user_id_claim = "sub".into();
                (oidc.issuer.clone(), OidcValidator::new(oidc))
            })
            .collect();
        Self {
            validators,
            allowed: settings.allowed_callers.clone().into(),
            setting: settings.setting,
        }
    }

    /// Ok when `Authorization: Bearer <token>` verifies and names an allowed caller; else why
    /// not (the token itself is never in the error).
    pub async fn verify(&self, headers: &HeaderMap) -> Result<(), IdentityError> {
        let Some(token) = super::bearer_token(headers)? else {
            return Err(IdentityError::AuthenticationRequired(format!(
                "this route takes calls from the service's managed identity only ({}_* is set): send `Authorization: Bearer <token>`",
                self.setting
            )));
        };
        let issuer = unverified_issuer(token)?;
        let Some((_, validator)) = self.validators.iter().find(|(i, _)| *i == issuer) else {
            return Err(IdentityError::WrongIssuer {
                found: issuer.chars().take(200).collect(),
                expected: self
                    .validators
                    .iter()
                    .map(|(i, _)| i.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
            });
        };
        let caller = validator.validate(token).await?;
        let named: Vec<(&str, &str)> = CALLER_CLAIMS
            .iter()
            .filter_map(|name| {
                let value = caller.claims.iter().find(|(claim, _)| claim == name)?;
                Some((*name, value.1.as_str()?))
            })
            .collect();
        if named
            .iter()
            .any(|(_, id)| self.allowed.iter().any(|a| a.eq_ignore_ascii_case(id)))
        {
            return Ok(());
        }
        let shown = if named.is_empty() {
            "(no oid, appid or azp claim)".to_owned()
        } else {
            let parts: Vec<String> = named
                .iter()
                .map(|(name, id)| format!("{name} {}", id.chars().take(64).collect::<String>()))
                .collect();
            parts.join(", ")
        };
        Err(IdentityError::CallerNotAllowed {
            caller: shown,
            setting: format!("{}_ALLOWED_CALLERS", self.setting),
        })
    }
}

/// The `iss` of a token before it is verified, only to pick the issuer whose keys check it.
fn unverified_issuer(token: &str) -> Result<String, IdentityError> {
    let malformed = |why: &str| IdentityError::MalformedToken(why.to_owned());
    if token.len() > MAX_TOKEN {
        return Err(malformed("longer than 16 KB"));
    }
    let mut parts = token.split('.');
    let payload = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(payload), Some(_), None) => payload,
        _ => {
            return Err(malformed(
                "a JWT has three base64url parts separated by dots",
            ))
        }
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| malformed("the payload is not base64url"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|_| malformed("the payload is not a JSON object"))?;
    match claims.get("iss") {
        Some(Value::String(iss)) => Ok(iss.clone()),
        _ => Err(IdentityError::BadClaim {
            claim: "iss".into(),
            problem: "missing or not a string".into(),
        }),
    }
}
