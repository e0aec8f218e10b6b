//! Extractors whose rejections are the app's JSON errors. axum's own `Path` and `Query` answer a
//! bad request with `text/plain`; every route here answers `{"error": {"code", "message"}}`
//! instead, with a message that says what to fix.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::StatusCode;
use percent_encoding::percent_decode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The route's `{…}` parameters, percent-decoded; like axum's `Path`, with JSON rejections.
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_error(&rejection)),
        }
    }
}

fn path_error(rejection: &PathRejection) -> ApiError {
    use axum::extract::path::ErrorKind;
    if let PathRejection::FailedToDeserializePathParams(e) = rejection {
        if let ErrorKind::InvalidUtf8InPathParam { key } = e.kind() {
            return ApiError::bad_request(
                "InvalidPath",
                format!(
                    "the {key} in the URL path is not valid UTF-8 once percent-decoded; percent-encode it as UTF-8 (e.g. é as %C3%A9)"
                ),
            );
        }
    }
    let status = rejection.status();
    let code = if status.is_client_error() {
        "InvalidPath"
    } else {
        "PathNotReadable"
    };
    ApiError::new(
        status,
        code,
        format!("the URL path cannot be read: {}", rejection.body_text()),
    )
}

/// `?reason=` and `?excluded=` of the close routes. Repeated keys are allowed (`excluded=a&
/// excluded=b`, as a standalone caller sends them) as well as comma-joined values (`excluded=a,b`,
/// as the Functions host forwards repeated keys); other parameters (e.g. `code`) are not looked at.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CloseQuery {
    /// Why the connections are closed (the clients see it); repeated values are comma-joined,
    /// as the host does.
    pub reason: Option<String>,
    /// Connection ids not to close, in order.
    pub excluded: Vec<String>,
}

impl CloseQuery {
    /// Parses a query string (without the `?`).
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let mut reasons: Vec<String> = Vec::new();
        let mut excluded = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match decode(key)?.as_str() {
                "reason" => reasons.push(decode(value).map_err(|e| e.context("reason"))?),
                "excluded" => excluded.extend(
                    decode(value)
                        .map_err(|e| e.context("excluded"))?
                        .split(',')
                        .map(str::trim)
                        .filter(|id| !id.is_empty())
                        .map(String::from),
                ),
                _ => {}
            }
        }
        Ok(Self {
            reason: (!reasons.is_empty()).then(|| reasons.join(",")),
            excluded,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CloseQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::parse(parts.uri.query().unwrap_or(""))
    }
}

/// `application/x-www-form-urlencoded` decoding that refuses invalid UTF-8 instead of replacing
/// it (a connection id with U+FFFD in it would silently name another connection). The value is
/// never echoed: a query may carry a function key.
fn decode(text: &str) -> Result<String, ApiError> {
    let spaced = text.replace('+', " ");
    percent_decode(spaced.as_bytes())
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidQuery",
                "a query parameter is not valid UTF-8 once percent-decoded; percent-encode it as UTF-8",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::CloseQuery;

    #[test]
    fn repeated_and_comma_joined_keys() {
        let q = CloseQuery::parse("excluded=a&code=k&excluded=b,c&reason=x+y%21&excluded=")
            .unwrap_or_default();
        assert_eq!(q.excluded, ["a", "b", "c"]);
        assert_eq!(q.reason.as_deref(), Some("x y!"));
        assert_eq!(
            CloseQuery::parse("").unwrap_or_default(),
            CloseQuery::default()
        );
        let bad = CloseQuery::parse("excluded=%FF").map(|_| ()).unwrap_err();
        assert_eq!(bad.code, "InvalidQuery");
        assert!(bad.message.starts_with("excluded: "), "{}", bad.message);
    }
}
