//! What every hub operation checks before it runs, in the service's order: the token (for this
//! URL, and the `application` it names), the hub, then each name in the path.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::Flavor;
use crate::emulator::auth::{self, Audience};
use crate::emulator::error::EmulatorError;
use crate::emulator::request::Query;
use crate::emulator::reroute::called_uri;
use crate::emulator::Shared;
use crate::service::names;
use crate::service::recipients::Recipients;

/// An authorized request for one hub, with its validated path names.
pub struct HubRequest {
    /// The emulator.
    pub shared: Arc<Shared>,
    /// Which prefix it came in under.
    pub flavor: Flavor,
    /// The hub, as `{application}_{hub}` when the request names an `application`.
    pub hub: String,
    /// The decoded query.
    pub query: Query,
    names: HashMap<String, String>,
}

impl HubRequest {
    /// A path name the route declared (`user`, `group`, `connection`).
    fn name(&self, kind: &str) -> Option<String> {
        self.names.get(kind).cloned()
    }

    /// The user in the path.
    pub fn user(&self) -> Option<String> {
        self.name("user")
    }

    /// The group in the path.
    pub fn group(&self) -> Option<String> {
        self.name("group")
    }

    /// The connection in the path.
    pub fn connection(&self) -> Option<String> {
        self.name("connection")
    }

    /// The stream in the path (checked by its operation, `stream.rs`).
    pub fn stream(&self) -> Option<String> {
        self.name("stream")
    }

    /// The `ttl` in seconds (a non-negative integer) of a user's group membership.
    pub fn ttl(&self) -> Result<Option<Duration>, EmulatorError> {
        ttl(&self.query)
    }

    /// Refuses an `api-version` older than `since` (or none), for `what`, an operation that
    /// first appeared in `since` (versions are dates, `YYYY-MM-DD[-preview]`, so they sort as text).
    pub fn require_version(&self, since: &str, what: &str) -> Result<(), EmulatorError> {
        match self.query.get("api-version") {
            Some(v) if v.get(..since.len()).is_some_and(|date| date >= since) => Ok(()),
            got => Err(EmulatorError::BadRequest(format!(
                "{what} needs api-version {since} or later (got {})",
                got.map_or_else(|| "none".to_string(), |v| format!("{v:?}"))
            ))),
        }
    }

    /// Who the path names: a connection, a user or a group, else the whole hub.
    pub fn recipients(&self) -> Recipients {
        match (self.connection(), self.user(), self.group()) {
            (Some(connection), _, _) => Recipients::Connection(connection),
            (None, Some(user), _) => Recipients::User(user),
            (None, None, Some(group)) => Recipients::Group(group),
            (None, None, None) => Recipients::All,
        }
    }
}

fn ttl(query: &Query) -> Result<Option<Duration>, EmulatorError> {
    let Some(raw) = query.get("ttl") else {
        return Ok(None);
    };
    raw.trim()
        .parse::<u32>()
        .map(|secs| Some(Duration::from_secs(secs.into())))
        .map_err(|_| {
            EmulatorError::BadRequest(format!(
                "ttl must be a whole number of seconds, 0 or more (got {raw:?})"
            ))
        })
}

impl FromRequestParts<Arc<Shared>> for HubRequest {
    type Rejection = EmulatorError;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, EmulatorError> {
        let uri = called_uri(parts);
        // Set by the prefix's routes (`hub_routes`).
        let flavor = parts
            .extensions
            .get::<Flavor>()
            .copied()
            .unwrap_or(Flavor::V2022);
        let Path(mut names) = Path::<HashMap<String, String>>::from_request_parts(parts, shared)
            .await
            .map_err(|e| EmulatorError::BadRequest(format!("the path cannot be read: {e}")))?;
        let token = auth::token_from(&parts.headers, &uri, false)?;
        let query = Query::of(&uri);
        // `application` picks the hub (`{application}_{hub}`), so the token's audience names it.
        crate::emulator::entra::verify_rest(
            shared,
            &token,
            &Audience::rest(&parts.headers, &uri, query.get("application"))?,
        )?;
        let hub = names.remove("hub").unwrap_or_default();
        names::validate_hub(&hub)?;
        let hub = match query.get("application") {
            Some(app) => {
                names::validate_hub(app)?;
                format!("{app}_{hub}")
            }
            None => hub,
        };
        if let Some(user) = names.get("user") {
            names::validate_user(user)?;
        }
        if let Some(group) = names.get("group") {
            names::validate_group(group)?;
        }
        if let Some(connection) = names.get("connection") {
            names::validate_connection_id(connection)?;
        }
        Ok(Self {
            shared: Arc::clone(shared),
            flavor,
            hub,
            query,
            names,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        let of = |uri: &str| ttl(&Query::of(&uri.parse().unwrap()));
        assert_eq!(of("/x?ttl=5").unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(of("/x").unwrap(), None);
        assert!(of("/x?ttl=-1").is_err());
    }
}
