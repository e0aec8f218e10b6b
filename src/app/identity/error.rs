//! Why a caller could not be identified, with the HTTP status and code each reason maps to.

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
    /// The token verified but names a caller that is not allowed (the service's bearer on a
    /// webhook, [`super::service_bearer`]).
    #[error("bearer token's caller ({caller}) is not allowed; add the service's managed identity (object id or client id) to {setting}")]
    CallerNotAllowed {
        /// The token's `oid`, `appid` and `azp`.
        caller: String,
        /// The allow-list setting.
        setting: String,
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
