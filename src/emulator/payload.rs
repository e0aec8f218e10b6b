//! What a REST request carries besides its path: the query parameters (`excluded`, `reason`,
//! `ttl`, `application`) and the JSON `PayloadMessage` body, read with a size limit and accepted in
//! camelCase or PascalCase.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Uri};
use serde_json::Value;

use super::error::ApiError;

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

    fn all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.to_string();
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, if any and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all(name).find(|v| !v.is_empty())
    }

    /// The connection ids in `excluded`, repeated (`?excluded=a&excluded=b`) or comma-joined.
    pub fn excluded(&self) -> Vec<String> {
        self.all("excluded")
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
    pub fn ttl(&self) -> Result<Option<Duration>, ApiError> {
        match self.get("ttl") {
            None => Ok(None),
            Some(raw) => raw
                .trim()
                .parse::<u32>()
                .map(|secs| Some(Duration::from_secs(secs.into())))
                .map_err(|_| {
                    ApiError::BadRequest(format!(
                        "ttl must be a whole number of seconds, 0 or more (got {raw:?})"
                    ))
                }),
        }
    }
}

/// Reads a body of at most `limit` bytes (413 beyond), arriving within the body-read timeout
/// (408 otherwise).
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        match crate::http_server::body_timeout(&e) {
            Some(timeout) => ApiError::BodyTimeout(timeout),
            None => ApiError::TooLarge { limit },
        }
    })
}

/// A validated `PayloadMessage`: what to invoke on the clients.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The client method name, never empty.
    pub target: String,
    /// The arguments array.
    pub arguments: Value,
    /// Frames the sender made itself (`application/octet-stream`), sent as they are.
    pub frames: Frames,
}

/// Complete invocation frames per hub protocol, when the sender supplied them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frames {
    /// The JSON record, ending in `0x1E`.
    pub json: Option<Vec<u8>>,
    /// The MessagePack message with its length prefix.
    pub msgpack: Option<Vec<u8>>,
}

impl Message {
    /// Parses a JSON body `{target, arguments}` (any casing of the names).
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        if let Some(kind) = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            let media = kind
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if media == "application/x-msgpack" {
                return super::payload_msgpack::parse_payload(body);
            }
            if media == "application/octet-stream" {
                return super::payload_msgpack::parse_frames(body);
            }
            if !(media.is_empty()
                || media == "application/json"
                || media == "text/json"
                || media.ends_with("+json"))
            {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "Content-Type {media} is not supported; send application/json, \
                     application/x-msgpack or application/octet-stream"
                )));
            }
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadRequest(
                "the body is empty; send a JSON object {\"target\": \"…\", \"arguments\": […]}"
                    .into(),
            ));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(ApiError::BadRequest(
                "the body must be a JSON object {\"target\": \"…\", \"arguments\": […]}".into(),
            ));
        };
        let field = |name: &str| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let target = match field("target") {
            Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
            Some(Value::String(_)) => {
                return Err(ApiError::BadRequest("target must not be empty".into()))
            }
            Some(_) => return Err(ApiError::BadRequest("target must be a string".into())),
            None => return Err(ApiError::BadRequest("the body has no target".into())),
        };
        let arguments = match field("arguments") {
            None | Some(Value::Null) => Value::Array(Vec::new()),
            Some(Value::Array(items)) => Value::Array(items.clone()),
            Some(_) => return Err(ApiError::BadRequest("arguments must be an array".into())),
        };
        Ok(Self {
            target,
            arguments,
            frames: Frames::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_casings_and_excluded_forms() {
        let h = HeaderMap::new();
        let m = Message::parse(&h, br#"{"Target":"t","Arguments":[1]}"#).unwrap();
        assert_eq!(m.target, "t");
        assert!(Message::parse(&h, br#"{"target":""}"#).is_err());
        assert!(Message::parse(&h, br#"{"arguments":[]}"#).is_err());
        let q = Query::of(&"/x?excluded=a&excluded=b,c&ttl=5".parse().unwrap());
        assert_eq!(q.excluded(), vec!["a", "b", "c"]);
        assert_eq!(q.ttl().unwrap(), Some(Duration::from_secs(5)));
        assert!(Query::of(&"/x?ttl=-1".parse().unwrap()).ttl().is_err());
    }
}
