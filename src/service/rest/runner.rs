//! Runs a [`Call`] for both REST clients: signs each attempt with a token for its audience
//! (re-used per audience, see `token_cache`) or the Entra ID token, sends it through the one
//! pooled `reqwest::Client` with a per-attempt timeout, retries where `retry` allows, and turns
//! the final answer into `Ok(true)` (2xx), `Ok(false)` (an expected 404) or a [`RestError`]. Logs
//! at debug level without query strings or tokens.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Response};

use super::call::Call;
use super::error::{entra_role_hint, service_message, RestError};
use super::retry::{delay, retry_after, Failure};
use super::token_cache::{SignedUrl, TokenCache};
use super::RestOptions;
use crate::service::entra::EntraCredential;
use crate::service::lazy_client::LazyClient;
use crate::service::token::TokenMinter;
use crate::service::{ConnectionString, Secret};

/// Header carrying the service's machine-readable error code.
const ERROR_CODE: &str = "x-ms-error-code";
/// Most of an error body read into a message; the rest is dropped.
const MAX_ERROR_BODY: usize = 16 * 1024;
/// Most of a success answer's body kept (`:generateToken` answers a token of a few KB).
const MAX_ANSWER_BODY: usize = 1024 * 1024;

/// How calls are authorised.
enum Auth {
    /// HS256 REST tokens signed with the access key.
    Key(TokenMinter),
    /// The Entra ID token as bearer.
    Entra(EntraCredential),
}

/// Runs calls: everything a call needs (the pooled HTTP client, the server base, how calls are
/// authorised and the token cache), shared by all clones of a REST client. Not a SignalR
/// transport ([`crate::service::transports`]): those are how clients connect.
pub(crate) struct CallRunner {
    http: LazyClient,
    server_base: String,
    auth: Auth,
    tokens: TokenCache,
    access_key: Option<Secret>,
    pub(crate) options: RestOptions,
}

impl CallRunner {
    pub(super) fn new(
        connection: &ConnectionString,
        options: RestOptions,
        entra: Option<EntraCredential>,
    ) -> Result<Self, RestError> {
        if options.timeout.is_zero() {
            return Err(RestError::InvalidArgument(
                "the REST timeout must be longer than zero".into(),
            ));
        }
        let auth = match entra {
            Some(credential) => Auth::Entra(credential),
            None => Auth::Key(TokenMinter::new(connection)?),
        };
        Self::build(
            connection.server_base(),
            auth,
            connection.access_key().cloned(),
            options,
        )
    }

    /// A runner for `server_base` (ending in `/`) whose calls are signed by `minter` with the
    /// access key `key` (Web PubSub builds its own minter from its own connection string).
    pub(crate) fn with_minter(
        server_base: String,
        minter: TokenMinter,
        key: Secret,
        options: RestOptions,
    ) -> Result<Self, RestError> {
        if options.timeout.is_zero() {
            return Err(RestError::InvalidArgument(
                "the REST timeout must be longer than zero".into(),
            ));
        }
        Self::build(server_base, Auth::Key(minter), Some(key), options)
    }

    /// A runner for `server_base` (ending in `/`) whose calls carry `credential`'s Entra
    /// token; `key` (when the connection string also has one) is only redacted from errors.
    pub(crate) fn with_entra(
        server_base: String,
        credential: EntraCredential,
        key: Option<Secret>,
        options: RestOptions,
    ) -> Result<Self, RestError> {
        if options.timeout.is_zero() {
            return Err(RestError::InvalidArgument(
                "the REST timeout must be longer than zero".into(),
            ));
        }
        Self::build(server_base, Auth::Entra(credential), key, options)
    }

    fn build(
        server_base: String,
        auth: Auth,
        access_key: Option<Secret>,
        options: RestOptions,
    ) -> Result<Self, RestError> {
        let connect_timeout = options.timeout;
        let http = LazyClient::new(move |builder| {
            builder
                .connect_timeout(connect_timeout)
                .redirect(reqwest::redirect::Policy::none())
                // The runner retries itself (`retry`); reqwest's own policy would copy every
                // request's headers and body before sending it, in case of a retry it never makes
                // on HTTP/1.1.
                .retry(reqwest::retry::never().max_retries_per_request(0))
                .pool_idle_timeout(Duration::from_secs(60))
                .user_agent(concat!("serverless-signalr/", env!("CARGO_PKG_VERSION")))
        });
        Ok(Self {
            http,
            server_base,
            auth,
            tokens: TokenCache::default(),
            access_key,
            options,
        })
    }

    pub(crate) fn uses_entra(&self) -> bool {
        matches!(self.auth, Auth::Entra(_))
    }

    /// The minter that signs this runner's calls with the access key (none under Entra ID).
    pub(crate) fn key_minter(&self) -> Option<&TokenMinter> {
        match &self.auth {
            Auth::Key(minter) => Some(minter),
            Auth::Entra(_) => None,
        }
    }

    pub(crate) fn server_base(&self) -> &str {
        &self.server_base
    }

    /// Runs `call` to its final outcome: `Ok(true)` on 2xx, `Ok(false)` on an expected 404.
    pub(crate) async fn execute(&self, call: &Call) -> Result<bool, RestError> {
        self.execute_answer(call).await.map(|(found, _)| found)
    }

    /// Like [`Self::execute`], with the body of a success answer when the call asks for it
    /// ([`Call::with_answer_body`]), at most 1 MB.
    pub(crate) async fn execute_answer(&self, call: &Call) -> Result<(bool, Vec<u8>), RestError> {
        let http = self.http.get().map_err(|e| {
            RestError::InvalidArgument(format!("cannot create the HTTP client: {e}"))
        })?;
        let url = call.url(&self.server_base);
        // Formatted only when the token cache has no token for `url` (once per audience).
        let audience = |minter: &TokenMinter| match call.audience_is_url {
            true => url.clone(),
            false => minter.rest_audience(&call.audience_path()),
        };
        let idempotent = call.is_idempotent();
        let max_retries = call.max_retries.unwrap_or(self.options.max_retries);
        let mut retries = 0;
        loop {
            let attempt = retries + 1;
            let target = self.signed_url(&url, audience).await?;
            let token = &target.token;
            let (failure, wait) = match self.attempt(http, call, &target).await {
                Ok(response) => {
                    let status = response.status();
                    tracing::debug!(method = %call.method, path = %call.path, status = status.as_u16(), attempt, "SignalR REST answer");
                    if status.is_success() {
                        let body = if call.wants_body {
                            read_body(response, MAX_ANSWER_BODY).await
                        } else {
                            Vec::new()
                        };
                        return Ok((true, body));
                    }
                    let code = error_code(response.headers());
                    if status.as_u16() == 404 && call.is_expected_not_found(code.as_deref()) {
                        return Ok((false, Vec::new()));
                    }
                    let failure = Failure::Status(status.as_u16());
                    let asked = retry_after(response.headers());
                    let wait = self.backoff(retries, asked);
                    match wait {
                        Some(wait) if retries < max_retries && failure.is_retryable(idempotent) => {
                            (failure, wait)
                        }
                        _ => return Err(self.refusal(call, response, code, token, asked).await),
                    }
                }
                Err(error) => {
                    let failure = Failure::from_transport(&error);
                    tracing::debug!(method = %call.method, path = %call.path, ?failure, attempt, "SignalR REST call failed");
                    match self.backoff(retries, None) {
                        Some(wait) if retries < max_retries && failure.is_retryable(idempotent) => {
                            (failure, wait)
                        }
                        _ => return Err(network_error(call, &self.server_base, failure, error)),
                    }
                }
            };
            tracing::debug!(method = %call.method, path = %call.path, ?failure, attempt, wait_ms = wait.as_millis() as u64, "retrying SignalR REST call");
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    async fn attempt(
        &self,
        http: &reqwest::Client,
        call: &Call,
        target: &SignedUrl,
    ) -> reqwest::Result<Response> {
        let mut request = http
            .request(call.method.clone(), target.url.clone())
            .header(AUTHORIZATION, target.authorization.clone())
            .timeout(match call.timeout {
                Some(t) if call.exact_timeout => t,
                Some(t) => t.min(self.options.timeout),
                None => self.options.timeout,
            });
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, call.content_type)
                .body(body.clone());
        } else if call.method == Method::POST || call.method == Method::PUT {
            // An explicit empty body sends `Content-Length: 0`, which some gateways require.
            request = request.body(Vec::new());
        }
        request.send().await
    }

    fn backoff(&self, retries: u32, retry_after: Option<Duration>) -> Option<Duration> {
        delay(
            retries,
            retry_after,
            self.options.base_backoff,
            self.options.max_backoff,
        )
    }

    /// The signed URL of one attempt: with the access key, a token for `audience` (re-used from the
    /// cache); under Entra ID, the credential's current token.
    async fn signed_url(
        &self,
        url: &str,
        audience: impl FnOnce(&TokenMinter) -> String,
    ) -> Result<Arc<SignedUrl>, RestError> {
        match &self.auth {
            Auth::Key(minter) => self.tokens.signed_url(minter, url, audience),
            Auth::Entra(credential) => {
                let token = credential.token().await.map_err(RestError::Identity)?;
                Ok(Arc::new(SignedUrl::new(
                    url,
                    token.token.expose().to_string(),
                )?))
            }
        }
    }

    /// The error for an answer that will not be retried: the service's message, with a hint
    /// for an Entra ID token the service refused (a new one is fetched for the next call) or a
    /// role it lacks, and the `Retry-After` the service asked for.
    async fn refusal(
        &self,
        call: &Call,
        response: Response,
        code: Option<String>,
        token: &str,
        asked: Option<Duration>,
    ) -> RestError {
        let hint = match (&self.auth, response.status().as_u16()) {
            (Auth::Entra(credential), 401) => {
                credential.invalidate().await;
                Some("the service did not accept the app's Entra ID token (wrong audience, expired, or from another tenant); a new token is fetched for the next call")
            }
            (Auth::Entra(_), 403) => Some(entra_role_hint(call.operation)),
            _ => None,
        };
        let mut error = self.service_error(call, response, code, token).await;
        if let RestError::Service { message, .. } = &mut error {
            if let Some(hint) = hint {
                message.push_str(&format!(" ({hint})"));
            }
            if let Some(asked) = asked {
                message.push_str(&format!(
                    " (the service asks to retry after {} s)",
                    asked.as_secs()
                ));
            }
        }
        error
    }

    async fn service_error(
        &self,
        call: &Call,
        response: Response,
        code: Option<String>,
        token: &str,
    ) -> RestError {
        let status = response.status();
        let body = read_body(response, MAX_ERROR_BODY).await;
        let key = self.access_key.as_ref().map_or("", Secret::expose);
        let reason = status.canonical_reason().unwrap_or("no message");
        RestError::Service {
            operation: call.operation,
            status: status.as_u16(),
            code,
            message: service_message(&body, reason, &[key, token]),
        }
    }
}

/// At most `limit` bytes of an answer's body (a broken body ends the reading).
async fn read_body(mut response: Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(limit);
    body
}

fn error_code(headers: &HeaderMap) -> Option<String> {
    headers
        .get(ERROR_CODE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

/// The error for a network failure (no answer) that will not be retried.
fn network_error(
    call: &Call,
    server_base: &str,
    failure: Failure,
    error: reqwest::Error,
) -> RestError {
    let operation = call.operation;
    let error = error.without_url();
    let mut detail = format!("{server_base}: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    match failure {
        Failure::TimedOut => RestError::Timeout { operation },
        Failure::Lost if !call.is_idempotent() => RestError::Unreachable {
            operation,
            detail: format!(
                "the connection was lost after the request was sent, so the message may or may not have been delivered ({detail})"
            ),
        },
        _ => RestError::Unreachable { operation, detail },
    }
}
