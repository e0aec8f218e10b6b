//! The operations of the services' published swagger files (SignalR api-version 2022-06-01,
//! 2024-12-01 and v1, Web PubSub 2024-01-01), loaded from `tests/fixtures/swagger/` (unmodified copies of
//! Microsoft's specifications), so requests are checked against the specification itself rather
//! than against our own paths.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One operation of the swagger.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `operationId`, e.g. `SignalR_Broadcast`.
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template, e.g. `/api/hubs/{hub}/:send`.
    pub template: String,
    /// Query parameters with `required: true`.
    pub required_query: Vec<String>,
    /// Every declared query parameter.
    pub allowed_query: Vec<String>,
    /// The media types the operation consumes.
    pub consumes: Vec<String>,
    /// Whether a body parameter is required.
    pub body_required: bool,
    /// The first success status listed.
    pub success: u16,
    /// Every status code the operation documents (read by the emulator's swagger test).
    pub documented: BTreeSet<u16>,
}

/// The swagger of api-version 2022-06-01.
pub const V2022: &str = "signalr-2022-06-01.json";
/// The swagger of api-version 2024-12-01 (the 2022-06-01 operations plus `:execute`,
/// `:generateToken`, `auth/accessKey`, listing a group's connections, client results, streams).
pub const V2024: &str = "signalr-2024-12-01.json";
/// The swagger of the v1 API (`/api/v1/...`).
pub const V1: &str = "signalr-v1.json";
/// The Web PubSub swagger (api-version 2024-01-01).
pub const WEBPUBSUB: &str = "webpubsub-2024-01-01.json";
/// Its SHA-256 (see tests/fixtures/swagger/README.md).
pub const WEBPUBSUB_SHA256: &str =
    "a1fc29b91d68bac69a7d36bf539dd03ef4d40197345d108d1cc01c9be9133c4d";

/// The path of a swagger file in `tests/fixtures/swagger/`.
pub fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/swagger")
        .join(file)
}

/// Every operation of the SignalR 2022-06-01 swagger.
pub fn operations() -> Vec<Operation> {
    operations_of(V2022)
}

/// Every operation of a swagger file (19 in each SignalR one, 24 in Web PubSub's).
pub fn operations_of(file: &str) -> Vec<Operation> {
    let path = fixture(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is not readable: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("the swagger file is JSON");
    let mut operations = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if method == "parameters" {
                continue;
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let query = |required_only: bool| {
                params
                    .iter()
                    .filter(|p| p["in"] == "query")
                    .filter(|p| !required_only || p["required"] == true)
                    .map(|p| p["name"].as_str().expect("parameter name").to_string())
                    .collect::<Vec<_>>()
            };
            let documented: BTreeSet<u16> = op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .filter_map(|k| k.parse::<u16>().ok())
                .collect();
            let success = documented
                .iter()
                .copied()
                .find(|s| (200..300).contains(s))
                .expect("a success response");
            operations.push(Operation {
                id: op["operationId"].as_str().expect("operationId").to_string(),
                method: method.to_uppercase(),
                template: template.clone(),
                required_query: query(true),
                allowed_query: query(false),
                consumes: op["consumes"]
                    .as_array()
                    .map(|a| a.iter().map(|c| c.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default(),
                body_required: params
                    .iter()
                    .any(|p| p["in"] == "body" && p["required"] == true),
                success,
                documented,
            });
        }
    }
    assert!(operations.len() >= 19, "the swagger lists every operation");
    operations
}

/// The operation whose method and path template match a raw (still encoded) request path.
/// Template parameters match one non-empty segment; everything else must be equal.
pub fn find<'a>(
    operations: &'a [Operation],
    method: &str,
    raw_path: &str,
) -> Option<&'a Operation> {
    let segments: Vec<&str> = raw_path.split('/').collect();
    let mut found = operations.iter().filter(|op| {
        let template: Vec<&str> = op.template.split('/').collect();
        op.method == method
            && template.len() == segments.len()
            && template.iter().zip(&segments).all(|(t, s)| {
                if t.starts_with('{') && t.ends_with('}') {
                    !s.is_empty()
                } else {
                    t == s
                }
            })
    });
    let first = found.next();
    assert!(
        found.next().is_none(),
        "{method} {raw_path} matches more than one operation"
    );
    first
}
