//! The Web PubSub side of the function app, a peer of the SignalR routes: negotiate
//! (`webPubSubConnection`), actions (the `webPubSub` output binding's JSON), existence / close /
//! permission routes, and the CloudEvents handler (`webPubSubTrigger`) with built-in behaviours.
//! Everything here uses [`crate::service::webpubsub`]; identity, errors and body reading are the
//! app's shared pieces.

pub mod action;
pub mod actions;
pub mod events;
pub mod events_request;
pub mod manage;
pub mod negotiate;
pub mod settings;

use axum::http::StatusCode;

use crate::app::error::ApiError;
use crate::service::rest::RestOptions;
use crate::service::webpubsub::client_token::ClientTokenMinter;
use crate::service::webpubsub::{WebPubSubClient, WebPubSubConnectionString};
use settings::WebPubSubSettings;

/// The Web PubSub service the app talks to.
#[derive(Debug)]
pub struct WebPubSubService {
    /// The connection string.
    pub connection: WebPubSubConnectionString,
    /// Signs client tokens.
    pub minter: ClientTokenMinter,
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
    /// Builds the service from the settings.
    pub fn new(settings: WebPubSubSettings) -> Self {
        let service = match &settings.connection {
            None => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "NotConfigured",
                "WebPubSubConnectionString is not set; add it to the app settings to use the /api/webpubsub routes",
            )),
            Some(cs) => ClientTokenMinter::new(cs)
                .map_err(ApiError::from)
                .and_then(|minter| {
                    Ok(WebPubSubService {
                        connection: cs.clone(),
                        minter,
                        rest: WebPubSubClient::new(cs, RestOptions::default())?,
                    })
                }),
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
