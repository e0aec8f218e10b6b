//! Reading request bodies: at most 1 MB (the service's own limit), JSON, one object or an array
//! of them, each turned into a typed value with an error that says which item is wrong and why.

use axum::body::Body;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;

/// Largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;

/// Reads the whole body: 413 when it is larger than [`MAX_BODY`] bytes, 408 when it does not
/// arrive within the body-read timeout, 400 when it cannot be read (e.g. the connection ended
/// before the announced length, or broken chunked encoding).
pub async fn read(body: Body) -> Result<axum::body::Bytes, ApiError> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| match crate::http_server::body_timeout(&e) {
            Some(timeout) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "BodyTimeout",
                format!("{timeout}; send the whole body at once"),
            ),
            None => ApiError::bad_request(
                "BodyUnreadable",
                "the request body could not be read completely; send it again with a correct Content-Length or chunked encoding",
            ),
        })?;
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BodyTooLarge",
                "the request body is larger than 1 MB; split it into several requests",
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.into())
}

/// Parses a body that is one `T` or an array of `T` (1..=`max` items). Object keys that match one
/// of `fields` case-insensitively are renamed to it, so `Target`, `target` and `TARGET` all work.
pub fn one_or_many<T: DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    max: usize,
    fields: &[&str],
) -> Result<Vec<T>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "InvalidBody",
            format!("the body is empty; send a JSON {what} or an array of them"),
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("InvalidJson", format!("the body is not valid JSON: {e}"))
    })?;
    let items = match value {
        Value::Array(items) => items,
        item @ Value::Object(_) => vec![item],
        _ => {
            return Err(ApiError::bad_request(
                "InvalidBody",
                format!("the body must be a JSON {what} object or an array of them"),
            ))
        }
    };
    if items.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidBody",
            format!("the array is empty; send at least one {what}"),
        ));
    }
    if items.len() > max {
        return Err(ApiError::bad_request(
            "TooManyItems",
            format!("{} items in one request; the limit is {max}", items.len()),
        ));
    }
    let total = items.len();
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            typed(item, fields).map_err(|e| {
                ApiError::bad_request("InvalidBody", format!("{what} {} of {total}: {e}", i + 1))
                    .with_details(serde_json::json!({ "index": i }))
            })
        })
        .collect()
}

/// Parses a body that is one JSON object, with keys matched to `fields` case-insensitively as in
/// [`one_or_many`]; `shape` describes the object for the error message.
pub fn one<T: DeserializeOwned>(bytes: &[u8], shape: &str, fields: &[&str]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("InvalidJson", format!("the body is not valid JSON: {e}"))
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "InvalidBody",
            format!("the body must be a JSON object {shape}"),
        ));
    }
    typed(value, fields)
        .map_err(|e| ApiError::bad_request("InvalidBody", format!("the body must be {shape}: {e}")))
}

/// Deserializes one item after renaming its keys; the error names the field that is wrong
/// (`arguments: invalid type: string "x", expected a sequence`).
fn typed<T: DeserializeOwned>(item: Value, fields: &[&str]) -> Result<T, String> {
    serde_path_to_error::deserialize(canonical_keys(item, fields)).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("{path}: {}", e.into_inner())
        }
    })
}

/// Treats an empty string as absent, as the official bindings do. A whitespace-only value is
/// kept, so that validation refuses it instead of silently widening a send to everyone.
pub fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Renames keys that match a known field name case-insensitively to that name.
fn canonical_keys(item: Value, fields: &[&str]) -> Value {
    match item {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(
                    |(k, v)| match fields.iter().find(|f| f.eq_ignore_ascii_case(&k)) {
                        Some(f) => ((*f).to_string(), v),
                        None => (k, v),
                    },
                )
                .collect(),
        ),
        other => other,
    }
}
