//! One operation on several endpoints at once, and what the caller is told. With one endpoint
//! the answer is exactly the single service's (its error as before). With several, any failure
//! is a `502 EndpointsFailed` whose message and `endpoints` details name the endpoints that
//! failed (with the service's status) and those that succeeded; a call that could not reach an
//! endpoint also marks it offline, and an offline endpoint is tried once, without retries.

use std::future::Future;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::Endpoint;
use crate::app::error::ApiError;
use crate::service::rest::{RestClient, RestError};

/// Each target's result, in the targets' order.
pub type Results<'a, T> = Vec<(&'a Endpoint, Result<T, RestError>)>;

/// Runs `op` with every target's REST client, concurrently; an endpoint known to be offline
/// gets one attempt, no retries.
pub async fn each<'a, T, F, Fut>(targets: &[&'a Endpoint], op: F) -> Results<'a, T>
where
    F: Fn(RestClient) -> Fut,
    Fut: Future<Output = Result<T, RestError>>,
{
    let results = futures_util::future::join_all(targets.iter().map(|endpoint| {
        let service = &endpoint.service;
        let rest = if endpoint.online() {
            &service.rest
        } else {
            &service.fail_fast
        };
        op(rest.clone())
    }))
    .await;
    for (endpoint, result) in targets.iter().zip(&results) {
        if let Err(e) = result {
            endpoint.note_failure(e);
        }
    }
    targets.iter().copied().zip(results).collect()
}

/// Every value when all targets succeeded; else the error described above. `what` names the
/// operation in the message (e.g. `the message`).
pub fn all<T>(results: Results<'_, T>, what: &str) -> Result<Vec<T>, ApiError> {
    if results.iter().all(|(_, r)| r.is_ok()) {
        return Ok(results.into_iter().filter_map(|(_, r)| r.ok()).collect());
    }
    Err(failure(results, what))
}

/// Whether any target said yes (an existence check: the user, group or connection lives on one
/// endpoint). A yes wins over other endpoints' errors; without one, an error is reported.
pub fn any<'a>(results: Results<'a, bool>, what: &str) -> Result<bool, ApiError> {
    if results.iter().any(|(_, r)| matches!(r, Ok(true))) {
        return Ok(true);
    }
    all(results, what).map(|_| false)
}

fn failure<T>(results: Results<'_, T>, what: &str) -> ApiError {
    let total = results.len();
    let caller_fault = results.iter().all(|(_, r)| {
        r.as_ref()
            .err()
            .is_none_or(|e| e.status_hint() == Some(400))
    });
    if total == 1 || caller_fault {
        // One endpoint, or input no endpoint accepts: the single service's answer, as before.
        let first = results.into_iter().find_map(|(_, r)| r.err());
        return first.map_or_else(
            || ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal", "no result"),
            ApiError::from,
        );
    }
    let mut failed: Vec<Value> = Vec::new();
    let mut failed_text: Vec<String> = Vec::new();
    let mut succeeded: Vec<Value> = Vec::new();
    let mut succeeded_text: Vec<String> = Vec::new();
    for (endpoint, result) in results {
        match result {
            Ok(_) => {
                succeeded.push(json!(endpoint.name));
                succeeded_text.push(endpoint.label());
            }
            Err(e) => {
                let error = ApiError::from(e);
                let mut entry = endpoint.describe();
                entry["code"] = json!(error.code);
                entry["message"] = json!(error.message);
                if let Some(Value::Object(details)) = error.details.as_deref() {
                    if let Some(status) = details.get("serviceStatus") {
                        entry["serviceStatus"] = status.clone();
                    }
                }
                failed_text.push(format!("{}: {}", endpoint.label(), error.message));
                failed.push(entry);
            }
        }
    }
    let outcome = if succeeded_text.is_empty() {
        format!("{what} failed on every endpoint ({total})")
    } else {
        format!(
            "{what} failed on {} of {total} endpoints (it succeeded on {})",
            failed.len(),
            succeeded_text.join(", ")
        )
    };
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "EndpointsFailed",
        format!("{outcome}: {}", failed_text.join("; ")),
    )
    .with_details(json!({ "endpoints": { "failed": failed, "succeeded": succeeded } }))
}
