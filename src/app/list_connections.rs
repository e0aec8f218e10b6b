//! `GET /api/hubs/{hub}/groups/{group}/connections` (SignalR) and
//! `GET /api/webpubsub/hubs/{hub}/groups/{group}/connections` (Web PubSub): a group's connections
//! with their users, a page at a time, as the services' 2024-12-01 operation lists them
//! (`docs/routes.md`, "Who is in a group"). `maxpagesize` (or `maxPageSize`), `top` and
//! `continuationToken` are read as the service reads them; the answer's `nextLink` is this app's
//! route (relative, without the caller's function key), so a caller follows it like the
//! service's.
//!
//! With several SignalR endpoints each connection lives on one of them, so the endpoints are
//! listed one after another in their configured order: the app's continuation token says which
//! endpoint is being listed, that endpoint's own token, and how many members were returned, so
//! `top` counts across endpoints and no member comes twice.

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::endpoints::fanout;
use super::error::ApiError;
use super::extract::PathParams;
use super::AppState;
use crate::service::rest::{GroupMember, GroupMemberPage, ListOptions};

/// The longest continuation token taken from a caller.
const MAX_TOKEN_CHARS: usize = 4096;

/// Where the listing stopped, as the app's `continuationToken` carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    /// The endpoint being listed (index in the configured order).
    e: usize,
    /// That endpoint's continuation token; none at its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
    /// Members returned before this endpoint's first page (its `top` is the rest of the caller's).
    b: u32,
    /// Members returned so far.
    n: u32,
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(token: &str) -> Result<Self, ApiError> {
        let bad = bad_token;
        if token.len() > MAX_TOKEN_CHARS {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        let cursor: Self = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if cursor.b > cursor.n {
            return Err(bad());
        }
        Ok(cursor)
    }
}

/// The answer to a continuation token this route did not issue (or for another `top`).
fn bad_token() -> ApiError {
    ApiError::bad_request(
        "InvalidContinuationToken",
        "continuationToken is not one this route issued: use the one from the previous page's nextLink (with the same top), or none for the first page",
    )
}

/// What the caller asked for.
#[derive(Debug, Default)]
struct Wanted {
    max_page_size: Option<u32>,
    top: Option<u32>,
    cursor: Cursor,
}

impl Wanted {
    fn parse(uri: &Uri) -> Result<Self, ApiError> {
        let mut wanted = Self::default();
        let query = uri.query().unwrap_or("");
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let number = || {
                value.trim().parse::<u32>().map_err(|_| {
                    ApiError::bad_request(
                        "InvalidQuery",
                        format!("{name} must be a whole number, got {value:?}"),
                    )
                })
            };
            match name.to_ascii_lowercase().as_str() {
                "maxpagesize" => wanted.max_page_size = Some(number()?),
                "top" => wanted.top = Some(number()?),
                "continuationtoken" if !value.is_empty() => {
                    wanted.cursor = Cursor::decode(&value)?;
                }
                _ => {}
            }
        }
        let check = ListOptions {
            max_page_size: wanted.max_page_size,
            top: wanted.top,
            continuation_token: None,
        };
        check
            .validate()
            .map_err(|e| ApiError::bad_request("InvalidQuery", e.to_string()))?;
        if wanted.top.is_some_and(|top| wanted.cursor.n >= top) {
            return Err(bad_token());
        }
        Ok(wanted)
    }

    /// The options of the next call to the endpoint the cursor names.
    fn options(&self) -> ListOptions {
        ListOptions {
            max_page_size: self.max_page_size,
            top: self.top.map(|top| top - self.cursor.b),
            continuation_token: self.cursor.t.clone(),
        }
    }

    /// How many more members the caller wants.
    fn remaining(&self) -> usize {
        self.top
            .map_or(usize::MAX, |top| (top - self.cursor.n) as usize)
    }
}

/// Lists pages of `endpoints` endpoints with `list(index, options)` from where the caller's token
/// stopped, until a page has members or the listing ends; answers `{"value", "nextLink"?}`.
async fn pages<F, Fut>(uri: &Uri, endpoints: usize, list: F) -> Result<Response, ApiError>
where
    F: Fn(usize, ListOptions) -> Fut,
    Fut: std::future::Future<Output = Result<GroupMemberPage, ApiError>>,
{
    let mut wanted = Wanted::parse(uri)?;
    if wanted.cursor.e >= endpoints {
        return Err(bad_token());
    }
    let mut value: Vec<GroupMember> = Vec::new();
    let next = loop {
        let page = list(wanted.cursor.e, wanted.options()).await?;
        let token = page.continuation_token();
        let mut members = page.value;
        members.truncate(wanted.remaining());
        let cursor = &mut wanted.cursor;
        cursor.n += members.len() as u32;
        value.extend(members);
        if wanted.top.is_some_and(|top| cursor.n >= top) {
            break None;
        }
        match token {
            Some(token) => cursor.t = Some(token),
            None if cursor.e + 1 < endpoints => {
                (cursor.e, cursor.t, cursor.b) = (cursor.e + 1, None, cursor.n);
            }
            None => break None,
        }
        // An endpoint's empty last page: go on to the next endpoint in this request.
        if !value.is_empty() || cursor.t.is_some() {
            break Some(cursor.encode());
        }
    };
    let mut body = json!({ "value": value });
    if let Some(token) = next {
        body["nextLink"] = next_link(uri, &token).into();
    }
    Ok(axum::Json(body).into_response())
}

/// This route with the caller's paging query and the next token (never the caller's `code`).
fn next_link(uri: &Uri, token: &str) -> String {
    let mut next = url::form_urlencoded::Serializer::new(String::new());
    let query = uri.query().unwrap_or("");
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if matches!(name.to_ascii_lowercase().as_str(), "maxpagesize" | "top") {
            next.append_pair(&name, &value);
        }
    }
    next.append_pair("continuationToken", token);
    format!("{}?{}", uri.path(), next.finish())
}

/// `GET /api/hubs/{hub}/groups/{group}/connections`: every endpoint's members, one endpoint after
/// another.
pub async fn signalr(
    State(s): State<AppState>,
    PathParams((hub, group)): PathParams<(String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let all = s.endpoints()?.targets(None)?;
    let (hub, group) = (hub.as_str(), group.as_str());
    pages(&uri, all.len(), |index, options| {
        let endpoint = [all[index]];
        async move {
            let options = &options;
            let results = fanout::each(&endpoint, |rest| async move {
                rest.list_connections_in_group(hub, group, options).await
            })
            .await;
            let mut pages = fanout::all(results, "listing the group")?;
            Ok(pages.pop().unwrap_or_default())
        }
    })
    .await
}

/// `GET /api/webpubsub/hubs/{hub}/groups/{group}/connections`.
pub async fn webpubsub(
    State(s): State<AppState>,
    PathParams((hub, group)): PathParams<(String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let rest = &s.webpubsub().service()?.rest;
    let (hub, group) = (hub.as_str(), group.as_str());
    pages(&uri, 1, |_, options| async move {
        Ok(rest.list_connections_in_group(hub, group, &options).await?)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_strangers_are_refused() {
        let cursor = Cursor {
            e: 1,
            t: Some("abc".into()),
            b: 3,
            n: 7,
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in ["", "%%", "bm90IGpzb24", &"a".repeat(5000)] {
            let error = Cursor::decode(bad).unwrap_err();
            assert_eq!(error.code, "InvalidContinuationToken", "{bad}");
        }
    }

    #[test]
    fn next_links_keep_paging_and_drop_the_key() {
        let uri: Uri = "/api/hubs/chat/groups/g/connections?code=SECRET&maxPageSize=2&top=9&continuationToken=old"
            .parse()
            .unwrap();
        assert_eq!(
            next_link(&uri, "new"),
            "/api/hubs/chat/groups/g/connections?maxPageSize=2&top=9&continuationToken=new"
        );
    }
}
