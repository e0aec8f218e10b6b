//! A request's body, read with a size limit (413 beyond) and within the body-read timeout (408
//! otherwise), for both emulators: [`BodyError`] converts into either one's error with `?`.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};

use crate::http_server::BodyTimeout;

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than the limit (413).
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body did not arrive within the body-read timeout (408).
    #[error("{0}; send the whole body at once")]
    Timeout(BodyTimeout),
}

impl BodyError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
        }
    }
}

/// Reads a body of at most `limit` bytes (413 beyond), arriving within the body-read timeout
/// (408 otherwise); `?` turns the error into the caller's.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        match crate::http_server::body_timeout(&e) {
            Some(timeout) => BodyError::Timeout(timeout),
            None => BodyError::TooLarge { limit },
        }
    })
}
