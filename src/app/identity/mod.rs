//! Who is calling: the caller's identity from a verified source, for negotiate to put in the
//! client token. Two sources, each switched on by a setting: an OIDC bearer token validated against
//! the issuer's keys ([`oidc`]), and App Service authentication (Easy Auth) headers, which
//! the platform sets after signing the user in (`docs/functions-host.md` §2).
//! Anything else is an anonymous caller, or a 401 when authentication is required.

use std::sync::Arc;

use axum::http::{header::AUTHORIZATION, HeaderMap, HeaderName};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

pub mod caller;
pub mod error;
pub mod oidc;
pub mod oidc_fetch;
pub mod oidc_keys;
pub mod oidc_url;
pub mod service_bearer;
pub mod settings;

pub use caller::{Caller, IdentitySource};
pub use error::IdentityError;
pub use service_bearer::{ServiceBearer, ServiceIdentitySettings};
pub use settings::{EasyAuthUserId, IdentitySettings, KeyRefresh, OidcSettings};

use oidc::OidcValidator;

/// Easy Auth header with the provider's id of the user.
pub const PRINCIPAL_ID_HEADER: &str = "x-ms-client-principal-id";
/// Easy Auth header with the user's human-readable name (email, UPN).
pub const PRINCIPAL_NAME_HEADER: &str = "x-ms-client-principal-name";
/// Easy Auth header with the identity provider's name.
pub const PRINCIPAL_IDP_HEADER: &str = "x-ms-client-principal-idp";
/// Easy Auth header with the whole principal as base64 JSON.
pub const PRINCIPAL_HEADER: &str = "x-ms-client-principal";
// The same names as `HeaderName`s: a lookup by `&str` parses the name on every request.
const PRINCIPAL_ID: HeaderName = HeaderName::from_static(PRINCIPAL_ID_HEADER);
const PRINCIPAL_NAME: HeaderName = HeaderName::from_static(PRINCIPAL_NAME_HEADER);
const PRINCIPAL: HeaderName = HeaderName::from_static(PRINCIPAL_HEADER);
/// The role claim type .NET and Easy Auth use for Azure AD roles.
pub const DOTNET_ROLE_CLAIM: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";

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
    /// checks every redirect ([`oidc_fetch`]).
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
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, IdentityError> {
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
    // One pass over the (few) request headers instead of three hashed look-ups when, as for
    // most negotiations without sign-in, there is no principal header at all.
    if !headers
        .keys()
        .any(|name| name.as_str().starts_with(PRINCIPAL_HEADER))
    {
        return Ok(None);
    }
    let id = header_str(headers, &PRINCIPAL_ID)?;
    let name = header_str(headers, &PRINCIPAL_NAME)?;
    let encoded = header_str(headers, &PRINCIPAL)?;
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
fn header_str<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h str>, IdentityError> {
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
