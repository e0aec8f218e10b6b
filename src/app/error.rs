//! The one place errors become HTTP responses: `{"error": {"code", "message"}}` with a 4xx/5xx.
//! Messages say what to fix; they never contain a key or a token.

use crate::service::entra::EntraError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::identity::IdentityError;
use crate::service::names::NameError;
use crate::service::rest::RestError;
use crate::service::token::TokenError;

/// An error answer of the app.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `InvalidBody`.
    pub code: &'static str,
    /// What went wrong and what to do about it.
    pub message: String,
    /// Extra fields merged into the `error` object (e.g. the failing item's index).
    /// Boxed: a JSON value (an ordered map) would make every `Result<_, ApiError>` large.
    pub details: Option<Box<Value>>,
    /// Seconds for a `Retry-After` header (503s that will pass).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// Adds `Retry-After: seconds` to the answer.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 400 Bad Request.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Adds fields to the error object (merged with fields added before).
    pub fn with_details(mut self, details: Value) -> Self {
        match (self.details.as_deref_mut(), details) {
            (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
            (_, details) => self.details = Some(Box::new(details)),
        }
        self
    }

    /// Prefixes the message with context (e.g. "message 3 of 5").
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(
                status = self.status.as_u16(),
                code = self.code,
                "{}",
                self.message
            );
        } else {
            tracing::info!(
                status = self.status.as_u16(),
                code = self.code,
                "{}",
                self.message
            );
        }
        let mut error = json!({ "code": self.code, "message": self.message });
        if let (Some(Value::Object(extra)), Some(obj)) =
            (self.details.map(|d| *d), error.as_object_mut())
        {
            obj.extend(extra);
        }
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<NameError> for ApiError {
    fn from(e: NameError) -> Self {
        Self::bad_request("InvalidName", e.to_string())
    }
}

impl From<IdentityError> for ApiError {
    /// Who is calling could not be established: the identity error's own status and code, with
    /// `Retry-After` for the ones that pass (the issuer's keys are being fetched).
    fn from(e: IdentityError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        let error = Self::new(status, e.code(), e.to_string());
        match e.retry_after() {
            Some(seconds) => error.with_retry_after(seconds),
            None => error,
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::TooLong(_) => {
                Self::new(StatusCode::BAD_REQUEST, "TokenTooLong", e.to_string())
            }
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "TokenError",
                e.to_string(),
            ),
        }
    }
}

impl From<EntraError> for ApiError {
    /// No Entra ID token or temporary key: the app cannot reach the service until the identity
    /// works, so 503 (the message says what to check; it never contains a token).
    fn from(e: EntraError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "IdentityUnavailable",
            e.to_string(),
        )
    }
}

impl From<RestError> for ApiError {
    /// The status is the REST client's [`RestError::status_hint`]; this only adds the code.
    fn from(e: RestError) -> Self {
        let code = match &e {
            RestError::Token(t) => return t.clone().into(),
            RestError::Identity(i) => return i.clone().into(),
            // The same code as a name refused by the app itself (e.g. negotiate's hub).
            RestError::InvalidName(_) => "InvalidName",
            RestError::InvalidArgument(_) => "InvalidArgument",
            RestError::Service { .. } => "ServiceError",
            RestError::Timeout { .. } => "ServiceTimeout",
            RestError::Unreachable { .. } => "ServiceUnreachable",
        };
        let status = e
            .status_hint()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let error = Self::new(status, code, e.to_string());
        match &e {
            RestError::Service { status, code, .. } => {
                error.with_details(json!({ "serviceStatus": status, "serviceCode": code }))
            }
            _ => error,
        }
    }
}
