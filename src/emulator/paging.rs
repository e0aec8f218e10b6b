//! Paging a group's connections, for both emulators' "list connections in a group" operations
//! (`docs/protocol.md` §4.5): `maxpagesize` (1–200, default 200; the SDK's `maxPageSize` casing
//! too), `top` (at least 1; all when absent) and an opaque `continuationToken`. Members come out
//! sorted by connection id: both emulators keep a group's members in id order and read them from
//! the token's id on ([`page_sorted`]: a seek and the page, whatever the group's size), and only
//! the page is cloned.
//! The token carries the last id returned and how many have been returned, so `top` holds across
//! pages while the `nextLink` keeps the original query, as the service's example shows.

use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;

use super::request::Query;

/// The largest page the service documents.
pub const MAX_PAGE: usize = 200;

/// The largest `top` (the swagger's int32 maximum).
const MAX_TOP: usize = i32::MAX as usize;

/// The longest continuation token taken (a connection id is at most a few hundred characters).
const MAX_TOKEN_CHARS: usize = 2048;

/// A query value the paging refuses: which parameter, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PagingError {
    /// The query parameter at fault.
    pub name: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// Where a previous page stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Cursor {
    /// How many members earlier pages returned.
    returned: usize,
    /// The last connection id returned.
    after: String,
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.returned, self.after))
    }

    fn decode(token: &str) -> Option<Self> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (returned, after) = text.split_once(':')?;
        Some(Self {
            returned: returned.parse().ok()?,
            after: after.to_string(),
        })
    }
}

/// What page a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    size: usize,
    top: usize,
    cursor: Cursor,
}

impl PageRequest {
    /// Reads `maxpagesize`, `top` and `continuationToken` (names ignoring case).
    pub fn parse(query: &Query) -> Result<Self, PagingError> {
        let size = number(query, "maxpagesize", MAX_PAGE)?.unwrap_or(MAX_PAGE);
        let top = number(query, "top", MAX_TOP)?.unwrap_or(usize::MAX);
        let cursor = match query.first("continuationToken") {
            None | Some("") => Cursor::default(),
            Some(token) => Cursor::decode(token).ok_or_else(|| PagingError {
                name: "continuationToken",
                message: "continuationToken is not one this service issued: use the one from the previous page's nextLink, or none for the first page".into(),
            })?,
        };
        Ok(Self { size, top, cursor })
    }

    /// How many members this page may hold.
    fn take(&self) -> usize {
        self.size.min(self.top.saturating_sub(self.cursor.returned))
    }

    /// The last id earlier pages returned (empty on the first page): this page's members are
    /// the ids after it.
    pub fn after(&self) -> &str {
        &self.cursor.after
    }
}

/// A whole number in `1..=max`, when given.
fn number(query: &Query, name: &'static str, max: usize) -> Result<Option<usize>, PagingError> {
    let Some(raw) = query.first(name) else {
        return Ok(None);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
        _ => Err(PagingError {
            name,
            message: format!("{name} must be a whole number from 1 to {max}, got {raw:?}"),
        }),
    }
}

/// One page: the members (connection id, user id) in id order, and the token of the next page
/// when there is one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// `(connectionId, userId)` pairs, sorted by connection id.
    pub members: Vec<(String, Option<String>)>,
    /// The `continuationToken` of the next page.
    pub next: Option<String>,
}

/// The page `request` asks for out of `members` given in ascending id order (each id once),
/// none of them at or before [`PageRequest::after`] (e.g. an ordered set's range after it): only
/// the page and one more member are read.
pub fn page_sorted<'a>(
    members: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    request: &PageRequest,
) -> Page {
    let take = request.take();
    if take == 0 {
        return Page::default();
    }
    // One more than the page holds says "more".
    let mut sorted: Vec<_> = members.take(take + 1).collect();
    let more = sorted.len() > take;
    sorted.truncate(take);
    let returned = request.cursor.returned + sorted.len();
    let next = (more && returned < request.top).then(|| {
        Cursor {
            returned,
            after: sorted.last().map(|m| m.0.to_string()).unwrap_or_default(),
        }
        .encode()
    });
    Page {
        members: sorted
            .into_iter()
            .map(|(id, user)| (id.to_string(), user.map(str::to_string)))
            .collect(),
        next,
    }
}

/// How a listed connection without a user is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoUser {
    /// `userId` left out (the SignalR service).
    Omitted,
    /// `"userId": null` (Web PubSub).
    Null,
}

/// One listed connection as the answer writes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed<'a> {
    connection_id: &'a str,
    /// `None`: left out; `Some(None)`: `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<Option<&'a str>>,
}

/// A page's answer body.
#[derive(Serialize)]
struct Listing<'a> {
    value: Vec<Listed<'a>>,
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<&'a str>,
}

impl Page {
    /// The `200` answer: `{"value": [{"connectionId", "userId"}…], "nextLink"}` (`nextLink` only
    /// when given), written straight from the page's members. Building a `serde_json::Value` per
    /// member first cost ~6 k instructions per listed member, most of a page (BENCHMARKS.md,
    /// "Misses").
    pub fn answer(&self, next_link: Option<&str>, no_user: NoUser) -> Response {
        let value = self
            .members
            .iter()
            .map(|(id, user)| Listed {
                connection_id: id,
                user_id: match (user, no_user) {
                    (Some(user), _) => Some(Some(user.as_str())),
                    (None, NoUser::Null) => Some(None),
                    (None, NoUser::Omitted) => None,
                },
            })
            .collect();
        axum::Json(Listing { value, next_link }).into_response()
    }
}

/// The `nextLink` of a page: `base` (scheme, host and path) with the request's query, its
/// `continuationToken` replaced by `token`; every other parameter (`top` too) kept as sent.
pub fn next_link(base: &str, query: &Query, token: &str) -> String {
    let mut next = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query.pairs() {
        if !k.eq_ignore_ascii_case("continuationToken") {
            next.append_pair(k, v);
        }
    }
    next.append_pair("continuationToken", token);
    format!("{base}?{}", next.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer is the JSON the service writes: members in order, `connectionId` then `userId`
    /// (left out or `null` for a connection without a user, per product), `nextLink` last and
    /// only when there is one.
    #[tokio::test]
    async fn answer_writes_members_in_order_and_the_next_link() {
        let page = Page {
            members: vec![("a".into(), Some("u1".into())), ("b".into(), None)],
            next: Some("t".into()),
        };
        let body = |response: Response| async {
            assert_eq!(response.headers()["content-type"], "application/json");
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await;
            String::from_utf8(bytes.unwrap().to_vec()).unwrap()
        };
        assert_eq!(
            body(page.answer(Some("http://h/next"), NoUser::Omitted)).await,
            r#"{"value":[{"connectionId":"a","userId":"u1"},{"connectionId":"b"}],"nextLink":"http://h/next"}"#
        );
        assert_eq!(
            body(page.answer(None, NoUser::Null)).await,
            r#"{"value":[{"connectionId":"a","userId":"u1"},{"connectionId":"b","userId":null}]}"#
        );
        let empty = Page::default();
        assert_eq!(
            body(empty.answer(None, NoUser::Null)).await,
            r#"{"value":[]}"#
        );
    }

    fn request(query: &str) -> Result<PageRequest, PagingError> {
        PageRequest::parse(&Query::of(&format!("/x?{query}").parse().unwrap()))
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i:05}")).collect()
    }

    /// A page of `members` (sorted), read from the cursor on as an ordered set's range is.
    fn page_of(members: &[String], request: &PageRequest) -> Page {
        let after = members
            .iter()
            .filter(|m| m.as_str() > request.after())
            .map(|m| (m.as_str(), None));
        page_sorted(after, request)
    }

    fn all_pages(members: &[String], query: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let q = match &token {
                Some(t) => format!("{query}&continuationToken={t}"),
                None => query.to_string(),
            };
            let got = page_of(members, &request(&q).unwrap());
            seen.extend(got.members.into_iter().map(|(id, _)| id));
            match got.next {
                Some(next) => token = Some(next),
                None => return seen,
            }
        }
    }

    #[test]
    fn pages_cover_every_member_once_in_order() {
        let members = ids(1000);
        let seen = all_pages(&members, "maxpagesize=7");
        let mut expected = members.clone();
        expected.sort();
        assert_eq!(seen, expected);
    }

    #[test]
    fn top_holds_across_pages() {
        let members = ids(50);
        assert_eq!(all_pages(&members, "maxPageSize=7&top=20").len(), 20);
        assert_eq!(all_pages(&members, "top=3").len(), 3);
        // A page that ends exactly at `top` has no next page.
        let last = page_of(&members, &request("maxpagesize=10&top=10").unwrap());
        assert_eq!((last.members.len(), last.next), (10, None));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (query, name) in [
            ("maxpagesize=0", "maxpagesize"),
            ("maxpagesize=201", "maxpagesize"),
            ("maxpagesize=ten", "maxpagesize"),
            ("top=0", "top"),
            ("top=-1", "top"),
            ("top=2147483648", "top"),
            ("continuationToken=@@", "continuationToken"),
            ("continuationToken=bm8tY29sb24", "continuationToken"),
        ] {
            assert_eq!(request(query).unwrap_err().name, name, "{query}");
        }
        assert!(request("maxpagesize=200&top=2147483647").is_ok());
    }

    #[test]
    fn next_link_keeps_the_query_and_replaces_the_token() {
        let query = Query::of(
            &"/x?top=1000&maxpagesize=2&continuationToken=old&api-version=2024-12-01"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link("http://h:1/api/hubs/chat/groups/g/connections", &query, "new"),
            "http://h:1/api/hubs/chat/groups/g/connections?top=1000&maxpagesize=2&api-version=2024-12-01&continuationToken=new"
        );
    }
}
