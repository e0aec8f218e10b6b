//! JSON text written straight into a byte buffer, for the two outputs on the negotiate path: the
//! JWT payload and the negotiate answer. The bytes are exactly what `serde_json` writes; strings
//! that need no escape (tokens, URLs, ids: nearly all of them) are copied as they are instead of
//! going through serde_json's per-byte escaping (`docs/performance.md`).

use serde_json::Value;

use super::byte_scan::any_byte;

/// Appends `text` as a JSON string: copied as is when it has no byte JSON escapes (`"`, `\`,
/// control characters), else written by `serde_json`.
pub fn push_string(out: &mut Vec<u8>, text: &str) {
    let escaped = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    if !any_byte(text.as_bytes(), escaped) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, text).is_err() {
        // Writing a string into a Vec cannot fail; keep the JSON well formed anyway.
        out.extend_from_slice(b"\"\"");
    }
}

/// Appends `value`: strings by [`push_string`], anything else by `serde_json`.
pub fn push_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(text) => push_string(out, text),
        // Writing into a Vec cannot fail; `null` keeps the JSON well formed anyway.
        other => {
            if serde_json::to_writer(&mut *out, other).is_err() {
                out.extend_from_slice(b"null");
            }
        }
    }
}

/// Appends `"name":` and `value`, preceded by a comma unless `out` ends with `{`.
pub fn push_field(out: &mut Vec<u8>, name: &str, value: &Value) {
    if out.last() != Some(&b'{') {
        out.push(b',');
    }
    push_string(out, name);
    out.push(b':');
    push_value(out, value);
}

/// A JSON object of string fields, such as the official binding's `SignalRConnectionInfo`
/// (`{"url":…,"accessToken":…}`).
pub fn string_object(fields: &[(&str, &str)]) -> Vec<u8> {
    let size: usize = fields.iter().map(|(k, v)| k.len() + v.len() + 6).sum();
    let mut json = Vec::with_capacity(size + 2);
    json.push(b'{');
    for (name, value) in fields {
        if json.len() > 1 {
            json.push(b',');
        }
        push_string(&mut json, name);
        json.push(b':');
        push_string(&mut json, value);
    }
    json.push(b'}');
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STRINGS: [&str; 6] = [
        "http://localhost:8888/client/?hub=chat",
        "eyJh.eyJ-_.sig",
        "a\"b\\c",
        "t\u{1}\n\u{7f}é",
        "",
        "exactly thirty-two bytes long!!!",
    ];

    /// The hand-written text is byte for byte what `serde_json` writes, escapes included.
    #[test]
    fn strings_and_objects_are_what_serde_json_writes() {
        for text in STRINGS {
            let long = text.repeat(5);
            for text in [text, long.as_str()] {
                let mut out = Vec::new();
                push_string(&mut out, text);
                assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
            }
        }
        for (url, token) in STRINGS.iter().zip(STRINGS.iter().rev()) {
            let expected = json!({ "baseUrl": url, "url": token, "accessToken": token });
            let written =
                string_object(&[("baseUrl", url), ("url", token), ("accessToken", token)]);
            assert_eq!(written, serde_json::to_vec(&expected).unwrap());
        }
        assert_eq!(string_object(&[]), b"{}");
    }

    #[test]
    fn fields_of_any_value_are_what_serde_json_writes() {
        let object = json!({
            "s": "x\"y", "n": 12, "f": 1.5, "b": true, "z": null, "a": ["r", 1], "o": {"k": "v"}
        });
        let mut out = vec![b'{'];
        for (name, value) in object.as_object().unwrap() {
            push_field(&mut out, name, value);
        }
        out.push(b'}');
        assert_eq!(out, serde_json::to_vec(&object).unwrap());
    }
}
