//! The operations of the service's published swagger (api-version 2022-06-01), loaded from
//! `../shared/reference/swagger/signalr-2022-06-01.json` (the first `shared/` above the crate), so requests are checked against the
//! specification itself rather than against a copy of our own paths.

use std::path::Path;

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
    /// The first success status listed.
    pub success: u16,
}

/// Every operation of the swagger file.
pub fn operations() -> Vec<Operation> {
    // `../shared` next to the checkout; worktrees sit one level deeper, so look upwards.
    let relative = "shared/reference/swagger/signalr-2022-06-01.json";
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .skip(1)
        .map(|dir| dir.join(relative))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("../{relative} not found above the crate"));
    let text = std::fs::read_to_string(&path).expect("the swagger file is readable");
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
            let success = op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .filter_map(|k| k.parse::<u16>().ok())
                .find(|s| (200..300).contains(s))
                .expect("a success response");
            operations.push(Operation {
                id: op["operationId"].as_str().expect("operationId").to_string(),
                method: method.to_uppercase(),
                template: template.clone(),
                required_query: query(true),
                allowed_query: query(false),
                success,
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
