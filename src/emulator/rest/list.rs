//! `GET /api/hubs/{hub}/groups/{group}/connections` (api-version 2024-12-01,
//! `docs/protocol.md` §4.5): a group's connections with their users, a page at a time
//! ([`crate::emulator::paging`]); an unknown group is an empty list, not a 404.

use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use super::HubRequest;
use crate::emulator::error::EmulatorError;
use crate::emulator::paging::{self, NoUser, PageRequest};

/// The first api-version with this operation.
pub const SINCE: &str = "2024-12-01";

/// `HubProxyV20241201_ListConnectionsInGroup`.
pub async fn handle(
    request: HubRequest,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, EmulatorError> {
    request.require_version(SINCE, "listing a group's connections")?;
    let group = request
        .group()
        .ok_or_else(|| EmulatorError::BadRequest("the path names no group".into()))?;
    let wanted =
        PageRequest::parse(&request.query).map_err(|e| EmulatorError::BadRequest(e.to_string()))?;
    let page = request
        .shared
        .hubs
        .page_group(&request.hub, &group, &wanted);
    let next_link = page.next.as_ref().map(|token| {
        let base = format!("{}{}", origin(&headers), uri.path());
        paging::next_link(&base, &request.query, token)
    });
    Ok(page.answer(next_link.as_deref(), NoUser::Omitted))
}

/// `scheme://host[:port]` of the request, for the absolute `nextLink`.
fn origin(headers: &HeaderMap) -> String {
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.eq_ignore_ascii_case("https"))
        .map_or("http", |_| "https");
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}
