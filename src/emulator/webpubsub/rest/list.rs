//! `GET …/groups/{group}/connections` (api-version 2024-12-01): a group's connections, sorted
//! by id, `maxpagesize` (at most 200) at a time; `top` limits the total, and `nextLink` carries
//! the query on with a `continuationToken` (the last id of the page).

use axum::response::IntoResponse;
use serde_json::{json, Value};

use super::{Answer, WpsRequest};
use crate::emulator::webpubsub::error::WpsError;

/// The api-version that has this operation.
const VERSION: &str = "2024-12-01";
/// The largest page.
const MAX_PAGE: u64 = 200;

/// `listConnections`.
pub async fn handle(request: WpsRequest) -> Answer {
    if request.version != VERSION {
        return Err(WpsError::bad(
            "api-version",
            "listing a group's connections needs api-version 2024-12-01",
        ));
    }
    let group = request.name("group").unwrap_or_default();
    let members = request.state.connections.members(&request.hub, group);
    let page = request
        .number("maxpagesize", 1..=MAX_PAGE)?
        .unwrap_or(MAX_PAGE) as usize;
    let top = request
        .number("top", 1..=u64::MAX)?
        .map_or(usize::MAX, |t| t as usize);
    let after = request.query.first("continuationToken").unwrap_or_default();
    let remaining: Vec<_> = members
        .into_iter()
        .filter(|(id, _)| after.is_empty() || id.as_str() > after)
        .take(top)
        .collect();
    let value: Vec<Value> = remaining
        .iter()
        .take(page)
        .map(|(id, user)| json!({ "connectionId": id, "userId": user }))
        .collect();
    let mut body = json!({ "value": value });
    if remaining.len() > page {
        body["nextLink"] = next_link(&request, &remaining[page - 1].0, top, page).into();
    }
    Ok(axum::Json(body).into_response())
}

/// The next page's path and query: the same query with `top` lowered and the last id seen.
fn next_link(request: &WpsRequest, last: &str, top: usize, page: usize) -> String {
    let mut next = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in request.query.pairs() {
        if !k.eq_ignore_ascii_case("continuationToken") && !k.eq_ignore_ascii_case("top") {
            next.append_pair(k, v);
        }
    }
    if top != usize::MAX {
        next.append_pair("top", &(top - page).to_string());
    }
    next.append_pair("continuationToken", last);
    format!("{}?{}", request.uri.path(), next.finish())
}
