//! The `endpoints` field of a message or group action: which endpoints it goes to. The official
//! binding takes the endpoint objects of its `signalREndpoints` input binding,
//! `{"endpointType", "name", "endpoint", "online"}`, and matches them by name and type
//! (`docs/protocol.md` §8); here the name decides, so plain name strings are accepted too.

use serde_json::Value;

use crate::app::error::ApiError;

/// The endpoint names of an `endpoints` value; `None` when it is absent or `null` (every
/// endpoint). A 400 says what to fix for anything else.
pub fn names(value: Option<&Value>) -> Result<Option<Vec<String>>, ApiError> {
    let bad = |m: String| ApiError::bad_request("InvalidEndpoints", m);
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(bad(
                "endpoints must be an array of endpoint objects ({\"name\": …}) or names".into(),
            ))
        }
    };
    if items.is_empty() {
        return Err(bad(
            "endpoints is empty; leave it out to reach every endpoint, or name at least one".into(),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(name) => Ok(name.clone()),
            Value::Object(fields) => fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("name"))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| bad(format!("endpoints[{i}] has no \"name\" string"))),
            _ => Err(bad(format!(
                "endpoints[{i}] is neither an endpoint object nor a name"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_names_and_mistakes() {
        let official = json!([{"endpointType": "Primary", "name": "east", "endpoint": "https://e", "online": true}, "west"]);
        assert_eq!(
            names(Some(&official)).unwrap(),
            Some(vec!["east".to_string(), "west".to_string()])
        );
        assert_eq!(names(Some(&Value::Null)).unwrap(), None);
        assert_eq!(names(None).unwrap(), None);
        assert!(names(Some(&json!([]))).is_err());
        assert!(names(Some(&json!("east"))).is_err());
        let e = names(Some(&json!([{"endpoint": "https://e"}]))).unwrap_err();
        assert!(e.message.contains("endpoints[0]"), "{}", e.message);
    }
}
