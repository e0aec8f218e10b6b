//! Errors the SignalR emulator's HTTP surface answers with: one enum, mapped once to a status, an
//! `x-ms-error-code` header and the service's `ErrorDetail` JSON body `{code, message, target?}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::AuthError;
use super::body::BodyError;
use crate::service::names::NameError;

/// Why a REST or client-endpoint request was refused.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The bearer token is missing or invalid (401).
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// A hub, group, user or connection name is not valid (400).
    #[error("{0}")]
    InvalidName(#[from] NameError),
    /// The request is malformed: bad JSON, a missing `target`, a bad query value (400).
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the limit (413) or too slow to arrive (408).
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The path and query are longer than the limit (414), as the service answers.
    #[error("the URL's path and query are longer than the limit of {limit} bytes; send fewer or shorter query values")]
    UriTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body's media type is not accepted (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// An expected "not found" answer with the code the official SDKs look for (404).
    #[error("{message}")]
    NotFound {
        /// The `x-ms-error-code` value, e.g. `Warning.Connection.NotExisted`.
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// No operation lives at this path (404).
    #[error("no API at {0}; see the REST API reference for the supported paths")]
    NoRoute(String),
    /// The path exists but not for this method (405).
    #[error("method {method} is not allowed here; allowed: {allowed}")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The methods that are allowed, comma-separated.
        allowed: &'static str,
    },
    /// The token is valid but belongs to someone else than the connection (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the connection's state (409).
    #[error("{0}")]
    Conflict(String),
    /// The emulator is shutting down or otherwise cannot serve (503).
    #[error("{0}")]
    Unavailable(String),
    /// An `:invoke` that got no result: the client's error, a timeout, a connection that ended,
    /// too many waiting (`docs/protocol.md` §9.2 lists the statuses and codes, our choice).
    #[error("{message}")]
    Invocation {
        /// The HTTP status.
        status: StatusCode,
        /// The `x-ms-error-code` value.
        code: &'static str,
        /// What happened (the client's error text, as it sent it).
        message: String,
    },
}

impl EmulatorError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidName(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Body(e) => e.status(),
            Self::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotFound { .. } | Self::NoRoute(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Invocation { status, .. } => *status,
        }
    }

    /// The `ErrorDetail.code` and `x-ms-error-code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "Error.Auth.Unauthorized",
            Self::InvalidName(_) => "Error.Argument.Invalid",
            Self::BadRequest(_) => "Error.Request.Invalid",
            Self::Body(BodyError::TooLarge { .. }) => "Error.Request.TooLarge",
            Self::UriTooLong { .. } => "Error.Request.UriTooLong",
            Self::Body(BodyError::Timeout(_)) => "Error.Request.Timeout",
            Self::UnsupportedMediaType(_) => "Error.Request.UnsupportedMediaType",
            Self::NotFound { code, .. } => code,
            Self::NoRoute(_) => "Error.Route.NotFound",
            Self::MethodNotAllowed { .. } => "Error.Method.NotAllowed",
            Self::Forbidden(_) => "Error.Auth.Forbidden",
            Self::Conflict(_) => "Error.Connection.Conflict",
            Self::Unavailable(_) => "Error.Service.Unavailable",
            Self::Invocation { code, .. } => code,
        }
    }
}

impl IntoResponse for EmulatorError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let body = serde_json::json!({ "code": code, "message": self.to_string() });
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert("x-ms-error-code", HeaderValue::from_static(code));
        if let Self::MethodNotAllowed { allowed, .. } = &self {
            headers.insert(header::ALLOW, HeaderValue::from_static(allowed));
        }
        if let Self::Unauthorized(e) = &self {
            let challenge = format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                e.to_string().replace('"', "'")
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

impl From<crate::emulator::uri_limit::UriTooLong> for EmulatorError {
    fn from(e: crate::emulator::uri_limit::UriTooLong) -> Self {
        Self::UriTooLong { limit: e.limit }
    }
}
