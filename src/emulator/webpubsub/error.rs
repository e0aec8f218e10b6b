//! Errors of the Web PubSub REST API and client endpoint: a status, the `x-ms-error-code` header
//! and the service's `ErrorDetail` body `{code, message, target?}` (`docs/webpubsub.md` §8).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::WpsAuthError;
use crate::emulator::body::BodyError;
use crate::emulator::uri_limit::UriTooLong;
use crate::service::filter::FilterError;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WpsError {
    /// The bearer token is missing or invalid (401).
    #[error(transparent)]
    Unauthorized(#[from] WpsAuthError),
    /// A bad query value, body or name (400); `target` names the parameter.
    #[error("{message}")]
    BadRequest {
        /// The parameter at fault.
        target: &'static str,
        /// What to fix.
        message: String,
    },
    /// The OData filter does not parse (400).
    #[error("{0}")]
    Filter(#[from] FilterError),
    /// The body is too large (413) or too slow to arrive (408).
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The path and query are longer than the emulators' limit (414).
    #[error("the URL's path and query are longer than the limit of {limit} bytes; send fewer or shorter query values")]
    UriTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The content type is not accepted (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The addressed thing does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// No operation at this path (404).
    #[error(
        "no Web PubSub API at {0}; see the data-plane REST API reference for the supported paths"
    )]
    NoRoute(String),
    /// Wrong method for the path (405).
    #[error("method {method} is not allowed here; allowed: {allowed}")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The allowed ones.
        allowed: &'static str,
    },
    /// The connect handler refused the client (its status).
    #[error("{message}")]
    Refused {
        /// The handler's status.
        status: StatusCode,
        /// The handler's text, or why it failed.
        message: String,
    },
}

impl WpsError {
    /// A 400 about `target`.
    pub fn bad(target: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            target,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::BadRequest { .. } | Self::Filter(_) => StatusCode::BAD_REQUEST,
            Self::Body(e) => e.status(),
            Self::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotFound(_) | Self::NoRoute(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Refused { status, .. } => *status,
        }
    }

    /// The `ErrorDetail.code` / `x-ms-error-code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "Unauthorized",
            Self::BadRequest { .. } => "InvalidArgument",
            Self::Filter(_) => "InvalidFilter",
            Self::Body(BodyError::TooLarge { .. }) => "RequestTooLarge",
            Self::Body(BodyError::Timeout(_)) => "RequestTimeout",
            Self::UriTooLong { .. } => "UriTooLong",
            Self::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Self::NotFound(_) => "NotFound",
            Self::NoRoute(_) => "RouteNotFound",
            Self::MethodNotAllowed { .. } => "MethodNotAllowed",
            Self::Refused { .. } => "ConnectRefused",
        }
    }

    fn target(&self) -> Option<&'static str> {
        match self {
            Self::BadRequest { target, .. } => Some(target),
            Self::Filter(_) => Some("filter"),
            _ => None,
        }
    }
}

impl From<UriTooLong> for WpsError {
    fn from(e: UriTooLong) -> Self {
        Self::UriTooLong { limit: e.limit }
    }
}

impl IntoResponse for WpsError {
    fn into_response(self) -> Response {
        let code = self.code();
        let mut body = serde_json::json!({ "code": code, "message": self.to_string() });
        if let Some(target) = self.target() {
            body["target"] = target.into();
        }
        let mut response = (self.status(), axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert("x-ms-error-code", HeaderValue::from_static(code));
        response
    }
}
