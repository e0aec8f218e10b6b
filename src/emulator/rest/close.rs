//! Closing connections: `POST …/:closeConnections` for the hub, a user or a group (except the
//! `excluded` ones), and `DELETE …/connections/{id}` for one. Each closed client gets a Close
//! message with the `reason`, if any; closing nothing is not an error.

use axum::http::StatusCode;

use super::{Answer, HubRequest};
use crate::service::recipients::Recipients;

/// A close, parsed.
struct Close {
    recipients: Recipients,
    excluded: Vec<String>,
    reason: Option<String>,
}

impl Close {
    fn parse(request: &HubRequest) -> Self {
        Self {
            recipients: request.recipients(),
            excluded: request.query.excluded(),
            reason: request.query.reason(),
        }
    }

    fn apply(self, request: &HubRequest) {
        request.shared.hubs.close(
            &request.hub,
            &self.recipients,
            &self.excluded,
            self.reason.as_deref(),
        );
    }
}

/// `POST …/:closeConnections`: 204.
pub async fn many(request: HubRequest) -> Answer {
    Close::parse(&request).apply(&request);
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE …/connections/{connection}`: 202 in v1, 200 in 2022-06-01.
pub async fn one(request: HubRequest) -> Answer {
    let mut close = Close::parse(&request);
    close.excluded.clear();
    close.apply(&request);
    Ok(request.flavor.pick(StatusCode::ACCEPTED, StatusCode::OK))
}
