//! The authority's OAuth 2.0 token endpoint, shared by every app-registration credential
//! (client secret, certificate, workload identity): `POST {authority}/{tenant}/oauth2/v2.0/token`
//! with the client credentials grant, the authority being `AZURE_AUTHORITY_HOST` (sovereign
//! clouds, e.g. `https://login.microsoftonline.us`) or `https://login.microsoftonline.com`
//! (`docs/protocol.md` §7).

use super::{read_token, unreachable, AccessToken, EntraError, Resource};

/// The public cloud's authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// `client_assertion_type` of a JWT client assertion (certificate, federated token).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The authority host from `AZURE_AUTHORITY_HOST`, else the public cloud; no trailing `/`.
pub fn from_env() -> String {
    std::env::var("AZURE_AUTHORITY_HOST")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_AUTHORITY.to_string())
        .trim()
        .trim_end_matches('/')
        .to_string()
}

/// `{authority}/{tenant}/oauth2/v2.0/token`.
pub fn token_endpoint(authority: &str, tenant_id: &str) -> String {
    format!("{authority}/{tenant_id}/oauth2/v2.0/token")
}

/// A client credentials grant for the scope of `resource` at `endpoint`: `client_id` and the
/// credential's own `fields` (a secret, or an assertion and its type).
pub async fn request_token(
    http: &reqwest::Client,
    endpoint: &str,
    resource: Resource,
    client_id: &str,
    fields: &[(&str, &str)],
) -> Result<AccessToken, EntraError> {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("scope", resource.scope()),
    ];
    form.extend_from_slice(fields);
    let response = http
        .post(endpoint)
        .form(&form)
        .send()
        .await
        .map_err(|e| unreachable(endpoint, &e))?;
    read_token(response, endpoint).await
}
