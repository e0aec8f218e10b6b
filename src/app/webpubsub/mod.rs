//! The Web PubSub side of the function app, a peer of the SignalR routes: negotiate
//! (`webPubSubConnection`), actions (the `webPubSub` output binding's JSON), existence / close /
//! permission routes, and the CloudEvents handler (`webPubSubTrigger`) with built-in behaviours.
//! Everything here uses [`crate::service::webpubsub`]; identity, errors and body reading are the
//! app's shared pieces.

pub mod action;
pub mod actions;
pub mod events;
pub mod events_request;
pub mod health;
pub mod manage;
pub mod negotiate;
pub mod raw_action;
pub mod role_template;
pub mod settings;

use axum::http::StatusCode;

use crate::app::error::ApiError;
use crate::service::entra::{EntraCredential, TokenSource};
use crate::service::rest::RestOptions;
use crate::service::webpubsub::{ClientTokens, WebPubSubClient, WebPubSubConnectionString};
use settings::WebPubSubSettings;

/// The Web PubSub service the app talks to.
#[derive(Debug)]
pub struct WebPubSubService {
    /// The connection string.
    pub connection: WebPubSubConnectionString,
    /// Issues client tokens: signed with the access key, or by the service under Entra ID.
    pub tokens: ClientTokens,
    /// Calls the REST API.
    pub rest: WebPubSubClient,
}

/// The Web PubSub part of the app state: the service, or why it is not available.
#[derive(Debug)]
pub struct WebPubSub {
    settings: WebPubSubSettings,
    service: Result<WebPubSubService, ApiError>,
}

impl WebPubSub {
    /// Builds the service from the settings, with the Entra ID token source the connection's
    /// `AuthType` names (read from the environment).
    pub fn new(settings: WebPubSubSettings) -> Self {
        Self::with_identity(settings, None)
    }

    /// [`WebPubSub::new`], with the Entra ID token source given instead of read from the
    /// environment (in the local stack, the emulator's managed identity).
    pub fn with_identity(settings: WebPubSubSettings, identity: Option<TokenSource>) -> Self {
        let service = match &settings.connection {
            None => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "NotConfigured",
                "WebPubSubConnectionString is not set; add it to the app settings to use the /api/webpubsub routes",
            )),
            Some(cs) => service(cs, identity),
        };
        Self { settings, service }
    }

    /// The settings.
    pub fn settings(&self) -> &WebPubSubSettings {
        &self.settings
    }

    /// The service, or the error that says which setting is missing.
    pub fn service(&self) -> Result<&WebPubSubService, ApiError> {
        self.service.as_ref().map_err(Clone::clone)
    }
}

/// The service of `cs`: REST with the access key, or with the Entra ID token of `identity` (else
/// of the source its `AuthType` names) and client tokens from `:generateToken`.
fn service(
    cs: &WebPubSubConnectionString,
    identity: Option<TokenSource>,
) -> Result<WebPubSubService, ApiError> {
    let rest = if cs.uses_entra() {
        let credential = identity
            .map_or_else(|| TokenSource::from_auth(cs.auth()), Ok)
            .and_then(EntraCredential::new)?;
        WebPubSubClient::with_entra(cs, RestOptions::default(), credential)?
    } else {
        WebPubSubClient::new(cs, RestOptions::default())?
    };
    Ok(WebPubSubService {
        connection: cs.clone(),
        tokens: ClientTokens::new(cs, &rest)?,
        rest,
    })
}
