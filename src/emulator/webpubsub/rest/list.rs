//! `GET …/groups/{group}/connections` (api-version 2024-12-01): a group's connections, a page at
//! a time, with the SignalR emulator's paging ([`crate::emulator::paging`]): sorted by id,
//! `maxpagesize` (at most 200), `top` across pages, and a `nextLink` (this path, the query as
//! sent) carrying the next `continuationToken`.

use super::{Answer, WpsRequest};
use crate::emulator::paging::{self, NoUser, PageRequest};
use crate::emulator::webpubsub::error::WpsError;

/// The api-version that has this operation.
const VERSION: &str = "2024-12-01";

/// `listConnections`.
pub async fn handle(request: WpsRequest) -> Answer {
    if request.version != VERSION {
        return Err(WpsError::bad(
            "api-version",
            "listing a group's connections needs api-version 2024-12-01",
        ));
    }
    let group = request.name("group").unwrap_or_default();
    let wanted =
        PageRequest::parse(&request.query).map_err(|e| WpsError::bad(e.name, e.message))?;
    let page = request
        .state
        .connections
        .page_group(&request.hub, group, &wanted);
    let next_link = page
        .next
        .as_ref()
        .map(|token| paging::next_link(request.uri.path(), &request.query, token));
    Ok(page.answer(next_link.as_deref(), NoUser::Null))
}
