//! JSON-body routes (messages, groups, closes) take only `application/json` (or a `+json` type).
//! A browser sends `text/plain`, form and multipart bodies, or a body without a content type,
//! cross-site with no CORS preflight, so without this check any page the developer visits could
//! broadcast into an open local stack. Every other type needs a preflight, which the app's CORS
//! policy refuses unless the origin is allowed. The rule holds everywhere, not only when the
//! routes are open, so a caller that works locally works in Azure and the other way round.

use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};

use super::error::ApiError;

/// 415 unless the body is empty or declared JSON. Runs before the body is read.
pub fn check_request(request: &Request) -> Result<(), ApiError> {
    let empty = request.body().is_end_stream() || request.body().size_hint().exact() == Some(0);
    check(request.headers(), empty)
}

/// `Ok` for a JSON media type (parameters such as `charset` allowed) or an empty body.
pub fn check(headers: &HeaderMap, empty_body: bool) -> Result<(), ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let media = given
        .as_deref()
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    let json = media.as_deref().is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
    });
    if json || (empty_body && media.is_none()) {
        return Ok(());
    }
    let what = match &media {
        Some(m) => format!("Content-Type {m:?} is not accepted"),
        None => "the request has a body but no Content-Type".to_string(),
    };
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        format!(
            "{what}: send the JSON body with `Content-Type: application/json` (with curl: -H 'content-type: application/json')"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h
    }

    #[test]
    fn json_types_pass_and_browser_simple_types_do_not() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/cloudevents+json",
        ] {
            assert!(check(&with(ok), false).is_ok(), "{ok}");
        }
        for bad in [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/json",
        ] {
            let e = check(&with(bad), false).unwrap_err();
            assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{bad}");
        }
        assert!(check(&HeaderMap::new(), true).is_ok());
        assert!(check(&HeaderMap::new(), false).is_err());
        assert!(check(&with("text/plain"), true).is_err());
    }
}
