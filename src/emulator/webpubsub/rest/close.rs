//! Closing connections: `POST …/:closeConnections` for the hub, a user or a group (`excluded`
//! left open) and `DELETE …/connections/{id}`; each client is told the `reason`. Answers 204.

use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{Answer, WpsRequest};

/// `:closeConnections` of the hub, a user or a group.
pub async fn many(request: WpsRequest) -> Answer {
    let excluded = request.excluded();
    close(&request, &excluded)
}

/// `DELETE …/connections/{connection}`.
pub async fn one(request: WpsRequest) -> Answer {
    close(&request, &[])
}

fn close(request: &WpsRequest, excluded: &[String]) -> Answer {
    let recipients = request.recipients();
    let reason = request.reason();
    request
        .state
        .connections
        .close(&request.hub, &recipients, excluded, &reason);
    Ok(StatusCode::NO_CONTENT.into_response())
}
