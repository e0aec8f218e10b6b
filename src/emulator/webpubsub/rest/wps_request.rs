//! What every Web PubSub operation checks before it runs, in the service's order: the
//! `api-version`, the hub, the bearer token (for the URL as called), then each name in the path.
//! Also the query values several operations read (`excluded`, `filter`, numbers in a range).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::Uri;

use crate::emulator::auth::token_from;
use crate::emulator::request::Query;
use crate::emulator::reroute::called_uri;
use crate::emulator::webpubsub::auth::WpsAuthError;
use crate::emulator::webpubsub::error::WpsError;
use crate::emulator::webpubsub::{entra, WebPubSubState};
use crate::service::filter::Filter;
use crate::service::names;
use crate::service::recipients::Recipients;

/// The API versions accepted.
pub const VERSIONS: [&str; 5] = [
    "2021-10-01",
    "2022-11-01",
    "2023-07-01",
    "2024-01-01",
    "2024-12-01",
];

/// An authorized request for one hub, with its validated path names.
pub struct WpsRequest {
    /// The emulator.
    pub state: Arc<WebPubSubState>,
    /// The hub as the path names it.
    pub hub: String,
    /// The `api-version`, one of [`VERSIONS`].
    pub version: String,
    /// The decoded query.
    pub query: Query,
    /// The URL as the client called it.
    pub uri: Uri,
    names: HashMap<String, String>,
}

impl WpsRequest {
    /// A path name the route declared (`user`, `group`, `connection`, `permission`).
    pub fn name(&self, kind: &str) -> Option<&str> {
        self.names.get(kind).map(String::as_str)
    }

    /// Who the path names: a connection, a user or a group, else the whole hub.
    pub fn recipients(&self) -> Recipients {
        let name = |kind| self.name(kind).map(str::to_string);
        match (name("connection"), name("user"), name("group")) {
            (Some(connection), _, _) => Recipients::Connection(connection),
            (None, Some(user), _) => Recipients::User(user),
            (None, None, Some(group)) => Recipients::Group(group),
            (None, None, None) => Recipients::All,
        }
    }

    /// The connections `excluded` (the parameter repeated).
    pub fn excluded(&self) -> Vec<String> {
        self.query.values("excluded").map(str::to_string).collect()
    }

    /// The close `reason` (empty if none).
    pub fn reason(&self) -> String {
        self.query.first("reason").unwrap_or_default().to_string()
    }

    /// The whole number `name` in `range`, if given.
    pub fn number(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, WpsError> {
        let Some(raw) = self.query.first(name) else {
            return Ok(None);
        };
        match raw.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(WpsError::bad(
                name,
                format!(
                    "{name} must be a whole number from {} to {}, got {raw:?}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    /// The OData `filter`, if one is given.
    pub fn filter(&self) -> Result<Option<Filter>, WpsError> {
        match self.query.first("filter") {
            Some(text) if !text.trim().is_empty() => Ok(Some(Filter::parse(text)?)),
            _ => Ok(None),
        }
    }

    /// Checks a request for `hub` whose path names `names`, in the service's order.
    pub fn authorize(
        parts: &Parts,
        state: &Arc<WebPubSubState>,
        hub: String,
        names: HashMap<String, String>,
    ) -> Result<Self, WpsError> {
        let uri = called_uri(parts);
        let query = Query::of(&uri);
        let version = api_version(&query)?;
        names::validate_hub(&hub).map_err(|e| WpsError::bad("hub", e.to_string()))?;
        let token = token_from(&parts.headers, &uri, false)
            .map_err(|e| refused(parts, WpsAuthError::Token(e)))?;
        entra::verify_rest(&state.config, &token, &parts.headers, &uri)
            .map_err(|e| refused(parts, e))?;
        for (kind, target) in [("group", "group"), ("user", "userId")] {
            if let Some(name) = names.get(kind) {
                validate(kind, name).map_err(|e| WpsError::bad(target, e))?;
            }
        }
        if let Some(id) = names.get("connection") {
            validate("connection", id).map_err(|e| WpsError::bad("connectionId", e))?;
        }
        Ok(Self {
            state: Arc::clone(state),
            hub,
            version,
            query,
            uri,
            names,
        })
    }
}

fn api_version(query: &Query) -> Result<String, WpsError> {
    let Some(version) = query.first("api-version") else {
        return Err(WpsError::bad(
            "api-version",
            format!(
                "the api-version query parameter is required; use one of {}",
                VERSIONS.join(", ")
            ),
        ));
    };
    if !VERSIONS.contains(&version) {
        return Err(WpsError::bad(
            "api-version",
            format!(
                "api-version {version:?} is not supported; use one of {}",
                VERSIONS.join(", ")
            ),
        ));
    }
    Ok(version.to_string())
}

fn validate(kind: &str, name: &str) -> Result<(), String> {
    match kind {
        "group" => names::validate_group(name),
        "user" => names::validate_user(name),
        _ => names::validate_connection_id(name),
    }
    .map_err(|e| e.to_string())
}

/// A refused token, logged (without the token) before it is answered.
fn refused(parts: &Parts, error: WpsAuthError) -> WpsError {
    let (method, path) = (&parts.method, parts.uri.path());
    tracing::info!(%method, path, "Web PubSub REST call refused: {error}");
    WpsError::Unauthorized(error)
}

impl FromRequestParts<Arc<WebPubSubState>> for WpsRequest {
    type Rejection = WpsError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<WebPubSubState>,
    ) -> Result<Self, WpsError> {
        // The api-version is checked before anything in the path.
        api_version(&Query::of(&called_uri(parts)))?;
        let Path(mut names) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| WpsError::bad("path", format!("the path cannot be read: {e}")))?;
        let hub = names.remove("hub").unwrap_or_default();
        Self::authorize(parts, state, hub, names)
    }
}
