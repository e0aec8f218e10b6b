//! Existence checks (`HEAD`): a connection, a user with a connection, a group with a
//! connection. 200 when it exists, else 404, both without a body.

use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{Answer, WpsRequest};

/// Every existence route.
pub async fn handle(request: WpsRequest) -> Answer {
    let found = request
        .state
        .connections
        .exists(&request.hub, &request.recipients());
    let status = if found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(status.into_response())
}
