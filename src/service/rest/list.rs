//! Listing a group's connections (`GET /api/hubs/{hub}/groups/{group}/connections`, api-version
//! 2024-12-01, `docs/protocol.md` §4.5), for both services: what a page request may say
//! ([`ListOptions`]), what a page is ([`GroupMemberPage`]), and the call both REST clients make.
//! A next page is asked for with the `continuationToken` of the previous page's `nextLink`
//! (with the same `top` and page size), so every request is built and signed like any other.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::call::{Call, NEWER_API_VERSION};
use super::error::RestError;
use super::runner::CallRunner;

/// The largest page the service serves.
pub const MAX_PAGE_SIZE: u32 = 200;

/// The longest continuation token sent on.
const MAX_TOKEN_CHARS: usize = 2048;

/// What page to ask for. All optional: the service's defaults are pages of 200 and every member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// At most this many members per page (`maxpagesize`, 1–200).
    pub max_page_size: Option<u32>,
    /// At most this many members in all (`top`, 1–2147483647).
    pub top: Option<u32>,
    /// Where the previous page stopped: [`GroupMemberPage::continuation_token`].
    pub continuation_token: Option<String>,
}

impl ListOptions {
    /// Checks the values against the service's ranges; nothing is sent when they break them.
    pub fn validate(&self) -> Result<(), RestError> {
        if let Some(size) = self.max_page_size {
            if !(1..=MAX_PAGE_SIZE).contains(&size) {
                return Err(RestError::InvalidArgument(format!(
                    "maxpagesize must be from 1 to {MAX_PAGE_SIZE}, got {size}"
                )));
            }
        }
        if let Some(top) = self.top {
            if top == 0 || top > i32::MAX as u32 {
                return Err(RestError::InvalidArgument(format!(
                    "top must be from 1 to {}, got {top}",
                    i32::MAX
                )));
            }
        }
        if let Some(token) = &self.continuation_token {
            if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
                return Err(RestError::InvalidArgument(format!(
                    "continuationToken must be 1 to {MAX_TOKEN_CHARS} characters"
                )));
            }
        }
        Ok(())
    }

    /// Adds the query of these options to `call`, in the order the swagger lists them.
    pub(crate) fn apply(&self, mut call: Call) -> Result<Call, RestError> {
        self.validate()?;
        if let Some(size) = self.max_page_size {
            call = call.query("maxpagesize", &size.to_string());
        }
        if let Some(top) = self.top {
            call = call.query("top", &top.to_string());
        }
        if let Some(token) = &self.continuation_token {
            call = call.query("continuationToken", token);
        }
        Ok(call)
    }
}

/// One connection in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMember {
    /// The connection id.
    pub connection_id: String,
    /// The connection's user, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// One page of a group's connections (`GroupMemberPagedValues`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberPage {
    /// The members on this page.
    pub value: Vec<GroupMember>,
    /// The URL of the next page, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

impl GroupMemberPage {
    /// The `continuationToken` of [`Self::next_link`] (an absolute or relative URL), to pass in
    /// [`ListOptions::continuation_token`] for the next page. `None` on the last page.
    pub fn continuation_token(&self) -> Option<String> {
        let link = self.next_link.as_deref()?;
        let url = url::Url::parse("http://next.invalid/")
            .ok()?
            .join(link)
            .ok()?;
        url.query_pairs()
            .find(|(k, v)| k.eq_ignore_ascii_case("continuationToken") && !v.is_empty())
            .map(|(_, v)| v.into_owned())
    }
}

/// Runs a list `call` (its path built by the caller's client) and reads its page.
pub(crate) async fn run(
    runner: &CallRunner,
    call: Call,
    options: &ListOptions,
) -> Result<GroupMemberPage, RestError> {
    let call = options.apply(call)?.with_answer_body();
    let operation = call.operation;
    let (_, body) = runner.execute_answer(&call).await?;
    serde_json::from_slice(&body).map_err(|e| RestError::Service {
        operation,
        status: 200,
        code: None,
        message: format!("the answer is not a page of group members: {e}"),
    })
}

/// A list call of `operation` to `path`: GET, api-version [`NEWER_API_VERSION`].
pub(crate) fn call(operation: &'static str, path: String) -> Call {
    let mut call = Call::new(operation, Method::GET, path);
    call.api_version = NEWER_API_VERSION;
    call
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_absolute_and_relative_next_links() {
        let page = |link: &str| GroupMemberPage {
            value: vec![],
            next_link: Some(link.into()),
        };
        assert_eq!(
            page("https://h.example/api/hubs/h/groups/g/connections?top=10&continuationToken=a%2Bb&api-version=2024-12-01")
                .continuation_token()
                .as_deref(),
            Some("a+b")
        );
        assert_eq!(
            page("/api/hubs/h/groups/g/connections?continuationToken=c2")
                .continuation_token()
                .as_deref(),
            Some("c2")
        );
        assert_eq!(GroupMemberPage::default().continuation_token(), None);
    }

    #[test]
    fn out_of_range_options_are_refused() {
        let bad = [
            ListOptions {
                max_page_size: Some(201),
                ..Default::default()
            },
            ListOptions {
                max_page_size: Some(0),
                ..Default::default()
            },
            ListOptions {
                top: Some(0),
                ..Default::default()
            },
            ListOptions {
                continuation_token: Some(String::new()),
                ..Default::default()
            },
        ];
        for options in bad {
            assert!(options.validate().is_err(), "{options:?}");
        }
        assert!(ListOptions::default().validate().is_ok());
    }
}
