//! Reading request bodies: at most 1 MB (the service's own limit), JSON, one object or an array
//! of them, each turned into a typed value with an error that says which item is wrong and why.
//! A key may appear only once per object, and a body item's fields only once in any letter case:
//! serde_json would keep the last of two `userId`s, and the case-insensitive field matching one of
//! `userId`/`userid`, so `{"userId":"alice","userId":""}` would silently become a broadcast.

use axum::body::Body;
use axum::http::StatusCode;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize as _;
use serde_json::{Map, Value};

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
    let value = parse(bytes)?;
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
            fields_once(&item).map_err(|e| {
                e.context(format!("{what} {} of {total}", i + 1))
                    .with_details(serde_json::json!({ "index": i }))
            })?;
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
    let value = parse(bytes)?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "InvalidBody",
            format!("the body must be a JSON object {shape}"),
        ));
    }
    fields_once(&value)?;
    typed(value, fields)
        .map_err(|e| ApiError::bad_request("InvalidBody", format!("the body must be {shape}: {e}")))
}

/// Parses JSON, refusing an object that has the same key twice (400 `DuplicateKey`).
fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = UniqueKeys::deserialize(&mut de).and_then(|UniqueKeys(v)| de.end().map(|()| v));
    parsed.map_err(|e| {
        if e.is_data() {
            // The only data error of this visitor: a repeated key.
            ApiError::bad_request("DuplicateKey", format!("{e}; send each key once"))
        } else {
            ApiError::bad_request("InvalidJson", format!("the body is not valid JSON: {e}"))
        }
    })
}

/// 400 `DuplicateKey` when two keys of a body item differ only in letter case: fields are matched
/// case-insensitively, so only one of them could count.
fn fields_once(item: &Value) -> Result<(), ApiError> {
    let Value::Object(map) = item else {
        return Ok(());
    };
    let keys: Vec<&String> = map.keys().collect();
    for (i, key) in keys.iter().enumerate() {
        if let Some(other) = keys[i + 1..].iter().find(|k| k.eq_ignore_ascii_case(key)) {
            return Err(ApiError::bad_request(
                "DuplicateKey",
                format!(
                    "the keys {key:?} and {other:?} name the same field (names are matched ignoring case); send it once"
                ),
            ));
        }
    }
    Ok(())
}

/// A JSON value whose objects never repeat a key.
struct UniqueKeys(Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UniqueKeysVisitor)
            .map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let UniqueKeys(value) = access.next_value()?;
            if map.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "the key {key:?} appears twice in one object"
                )));
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(access.size_hint().unwrap_or(0).min(1024));
        while let Some(UniqueKeys(item)) = access.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        UniqueKeys::deserialize(deserializer).map(|UniqueKeys(v)| v)
    }
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
