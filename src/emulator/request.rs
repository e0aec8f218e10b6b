//! What a request carries besides its path: the decoded query parameters (`excluded`,
//! `reason`, `ttl`, `application`), and the body, read with a size and time limit into either
//! emulator's error ([`BodyError`] converts into both).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode, Uri};

use super::error::EmulatorError;
use crate::http_server::BodyTimeout;

/// The decoded query parameters of a request.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes the query of `uri`.
    pub fn of(uri: &Uri) -> Self {
        let query = uri.query().unwrap_or("");
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Every value of `name` (compared ignoring case), in order.
    pub fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.to_string();
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, even an empty one.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    /// The first value of `name`, if any and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values(name).find(|v| !v.is_empty())
    }

    /// Every `(name, value)` pair, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The connection ids in `excluded`, repeated (`?excluded=a&excluded=b`) or comma-joined.
    pub fn excluded(&self) -> Vec<String> {
        self.values("excluded")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The close `reason`.
    pub fn reason(&self) -> Option<String> {
        self.get("reason").map(str::to_string)
    }

    /// The `ttl` in seconds (a non-negative integer) for a user's group membership.
    pub fn ttl(&self) -> Result<Option<Duration>, EmulatorError> {
        match self.get("ttl") {
            None => Ok(None),
            Some(raw) => raw
                .trim()
                .parse::<u32>()
                .map(|secs| Some(Duration::from_secs(secs.into())))
                .map_err(|_| {
                    EmulatorError::BadRequest(format!(
                        "ttl must be a whole number of seconds, 0 or more (got {raw:?})"
                    ))
                }),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excluded_forms_and_ttl() {
        let q = Query::of(&"/x?excluded=a&excluded=b,c&ttl=5".parse().unwrap());
        assert_eq!(q.excluded(), vec!["a", "b", "c"]);
        assert_eq!(q.ttl().unwrap(), Some(Duration::from_secs(5)));
        assert!(Query::of(&"/x?ttl=-1".parse().unwrap()).ttl().is_err());
    }
}
