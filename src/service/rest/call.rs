//! One REST operation described as data: method, path, extra query and body, built from
//! validated names. It knows the two URLs of `docs/protocol.md` §3: the request URL (server base + path +
//! `api-version` + extra query) and the token audience path (path + `api-version` only).

use std::time::Duration;

use hyper::body::Bytes;
use reqwest::Method;

use super::error::RestError;
use crate::service::names;

/// The data-plane API version of every call that 2022-06-01 has (the Management SDK keeps it for
/// them, `docs/protocol.md` §4.4).
pub const API_VERSION: &str = "2022-06-01";

/// The api-version of the operations added since 2022-06-01 (listing a group, `:execute`,
/// `:generateToken`, client results and streams), for both services.
pub const NEWER_API_VERSION: &str = "2024-12-01";

/// What a 404 means for an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotFound {
    /// A 404 is a failure like any other.
    Fails,
    /// A 404 says "does not exist / not a member": the call answers `false` (checks, adding a
    /// connection) or succeeds (removals, closing).
    Expected,
}

/// A fully built REST operation.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub operation: &'static str,
    pub method: Method,
    /// The path without a leading `/`, segments already encoded, e.g. `api/hubs/chat/:send`.
    pub path: String,
    /// Extra query parameters (not part of the audience), values already encoded.
    pub query: Vec<(&'static str, String)>,
    /// The JSON body, serialised once; each attempt hands reqwest a reference-counted view of
    /// it, not a copy.
    pub body: Option<Bytes>,
    pub not_found: NotFound,
    /// Overrides of the client's options for this call: most retries and per-attempt timeout.
    pub max_retries: Option<u32>,
    pub timeout: Option<Duration>,
    /// The `api-version` of the call (default [`API_VERSION`]).
    pub api_version: &'static str,
    /// The body's media type (default `application/json`).
    pub content_type: &'static str,
    /// The token audience is the whole request URL, query included (Web PubSub, as its SDKs
    /// sign), instead of the audience base + path + `api-version` (SignalR).
    pub audience_is_url: bool,
    /// Keep the body of a success answer (e.g. `:generateToken`).
    pub wants_body: bool,
    /// `timeout` holds even when longer than the client's (`:invoke` waits for a client).
    pub exact_timeout: bool,
}

impl Call {
    /// A call of `method` to `path` (built with [`super::paths::HubPath`]).
    pub fn new(operation: &'static str, method: Method, path: String) -> Self {
        Self {
            operation,
            method,
            path,
            query: Vec::new(),
            body: None,
            not_found: NotFound::Fails,
            max_retries: None,
            timeout: None,
            api_version: API_VERSION,
            content_type: "application/json",
            audience_is_url: false,
            wants_body: false,
            exact_timeout: false,
        }
    }

    /// A call of another product's API: `api_version`, and the whole URL as the token audience.
    pub fn for_api(mut self, api_version: &'static str) -> Self {
        self.api_version = api_version;
        self.audience_is_url = true;
        self
    }

    /// Adds `name=<value>` (encoded here) to the query.
    pub fn query(mut self, name: &'static str, value: &str) -> Self {
        self.query.push((name, names::encode(value)));
        self
    }

    /// Sets the body and its media type.
    pub fn typed_body(mut self, body: Vec<u8>, content_type: &'static str) -> Self {
        self.body = Some(body.into());
        self.content_type = content_type;
        self
    }

    /// Keeps the body of the success answer.
    pub fn with_answer_body(mut self) -> Self {
        self.wants_body = true;
        self
    }

    /// One attempt only, within `timeout` (or the client's timeout when shorter): for probes
    /// that must answer quickly rather than eventually.
    pub fn probe(mut self, timeout: Duration) -> Self {
        self.max_retries = Some(0);
        self.timeout = Some(timeout);
        self
    }

    /// Adds `excluded=<id>` once per connection id, each validated, all of them within
    /// [`MAX_EXCLUDED_QUERY_CHARS`] (see [`check_excluded`]).
    pub fn excluded(mut self, excluded: &[String]) -> Result<Self, RestError> {
        check_excluded(excluded)?;
        for id in excluded {
            self.query.push(("excluded", names::encode(id)));
        }
        Ok(self)
    }

    /// Adds `reason=<text>` when given.
    pub fn reason(mut self, reason: Option<&str>) -> Self {
        if let Some(reason) = reason {
            self.query.push(("reason", names::encode(reason)));
        }
        self
    }

    /// Adds `ttl=<seconds>` when given (see [`check_ttl`]).
    pub fn ttl(mut self, ttl: Option<u32>) -> Result<Self, RestError> {
        if let Some(ttl) = ttl {
            check_ttl(ttl)?;
            self.query.push(("ttl", ttl.to_string()));
        }
        Ok(self)
    }

    /// Sets the JSON body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Marks a 404 as an expected answer.
    pub fn not_found_expected(mut self) -> Self {
        self.not_found = NotFound::Expected;
        self
    }

    /// HEAD, PUT and DELETE have the same effect done once or twice; POST (sends, closes) does not.
    pub fn is_idempotent(&self) -> bool {
        self.method != Method::POST
    }

    /// The path and query the token audience is built from: `{path}?api-version={version}`.
    pub fn audience_path(&self) -> String {
        format!("{}?api-version={}", self.path, self.api_version)
    }

    /// The request URL: `{server_base}{path}?api-version={version}[&name=value…]`.
    pub fn url(&self, server_base: &str) -> String {
        let mut url = format!("{server_base}{}", self.audience_path());
        for (name, value) in &self.query {
            url.push('&');
            url.push_str(name);
            url.push('=');
            url.push_str(value);
        }
        url
    }

    /// Whether a 404 with this `x-ms-error-code` (or none) means "does not exist" for this call.
    /// The service's "not existing" codes end in `.NotExisted` or `.NotInGroup` (e.g.
    /// `Warning.User.NotExisted`, `Info.User.NotInGroup`, `Error.Connection.NotExisted`); a 404
    /// with any other code is a real failure (e.g. a wrong `ServerEndpoint`).
    pub fn is_expected_not_found(&self, code: Option<&str>) -> bool {
        self.not_found == NotFound::Expected
            && code.is_none_or(|c| c.ends_with(".NotExisted") || c.ends_with(".NotInGroup"))
    }
}

/// The most characters the `excluded` ids may take in a REST URL, URL-encoded and counted with
/// their `excluded=` names and `&` separators. The service refuses request lines longer than
/// about 8 KB (a close with 6000 ids was dropped unanswered); this bound leaves the rest for the
/// path, `api-version` and a `reason`. About 130 ids of the usual 22 characters fit.
pub const MAX_EXCLUDED_QUERY_CHARS: usize = 4096;

/// Checks excluded connection ids before anything is sent: each must be a valid connection id,
/// and together they must fit in [`MAX_EXCLUDED_QUERY_CHARS`]. The service has no other way to
/// take them (closes take them only in the URL), so a longer list is refused, not split.
pub fn check_excluded(excluded: &[String]) -> Result<(), RestError> {
    let mut chars = 0;
    for id in excluded {
        names::validate_connection_id(id)?;
        chars += "&excluded=".len() + names::encode(id).len();
    }
    if chars > MAX_EXCLUDED_QUERY_CHARS {
        return Err(RestError::InvalidArgument(format!(
            "the {} excluded connection ids take {chars} characters of the service URL; the limit is {MAX_EXCLUDED_QUERY_CHARS} (about 130 ids): exclude fewer connections",
            excluded.len()
        )));
    }
    Ok(())
}

/// Refuses `excluded` ids for an operation that has no way to take them (a send to or close of
/// one user or connection); nothing is sent.
pub(crate) fn takes_no_excluded(operation: &str, excluded: &[String]) -> Result<(), RestError> {
    if excluded.is_empty() {
        Ok(())
    } else {
        Err(RestError::InvalidArgument(format!(
            "{operation} takes no excluded connections"
        )))
    }
}

/// Checks a group membership `ttl` in seconds: the service reads it as a 32-bit signed integer.
pub fn check_ttl(ttl: u32) -> Result<(), RestError> {
    if ttl > i32::MAX as u32 {
        return Err(RestError::InvalidArgument(format!(
            "ttl {ttl} is too large; the service accepts at most {} seconds",
            i32::MAX
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::paths::HubPath;
    use super::*;

    #[test]
    fn audience_has_only_api_version_and_url_has_everything() {
        let call = Call::new(
            "send_to_all",
            Method::POST,
            format!("{}/:send", HubPath::signalr("Chat").expect("valid hub")),
        )
        .excluded(&["a b".into(), "c".into()])
        .expect("valid ids")
        .reason(Some("bye/now"));
        assert_eq!(
            call.audience_path(),
            "api/hubs/chat/:send?api-version=2022-06-01"
        );
        assert_eq!(
            call.url("http://h:1/"),
            "http://h:1/api/hubs/chat/:send?api-version=2022-06-01&excluded=a%20b&excluded=c&reason=bye%2Fnow"
        );
    }

    #[test]
    fn ttl_must_fit_the_services_int32() {
        let call = || Call::new("add_user_to_group", Method::PUT, "p".into());
        assert!(call().ttl(Some(i32::MAX as u32)).is_ok());
        let error = call().ttl(Some(i32::MAX as u32 + 1)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "ttl 2147483648 is too large; the service accepts at most 2147483647 seconds"
        );
    }

    #[test]
    fn expected_not_found_codes() {
        let check = Call::new("user_exists", Method::HEAD, "p".into()).not_found_expected();
        assert!(check.is_expected_not_found(None));
        assert!(check.is_expected_not_found(Some("Warning.User.NotExisted")));
        assert!(check.is_expected_not_found(Some("Info.User.NotInGroup")));
        assert!(!check.is_expected_not_found(Some("Error.Route.NotFound")));
        let send = Call::new("send_to_user", Method::POST, "p".into());
        assert!(!send.is_expected_not_found(None));
    }
}
