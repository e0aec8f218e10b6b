//! The function app: the HTTP routes the Functions host forwards to. The router is built from
//! the one table of functions in [`crate::functions`], so routes and function.json never drift.
//! Handlers are a few lines each — extract, call the library, map the error.

pub mod body;
pub mod content_type;
pub mod cors;
pub mod demo;
pub mod error;
pub mod extract;
pub mod forward;
pub mod functions;
pub mod groups;
pub mod identity;
pub mod keys;
pub mod manage;
pub mod messages;
pub mod negotiate;
pub mod settings;
pub mod topics;
pub mod upstream;
pub mod webpubsub;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::settings::{ServiceMode, Settings};
use crate::service::connection_string::AuthType;
use crate::service::entra::signer::EntraSigner;
use crate::service::entra::{EntraCredential, TokenSource};
use crate::service::rest::{RestClient, RestOptions};
use crate::service::token::TokenMinter;
use crate::service::{ConnectionString, Secret};
use error::ApiError;
use functions::{AuthLevel, BodyKind, Function, FUNCTIONS};
use identity::Authenticator;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    settings: Settings,
    service: Result<Service, ApiError>,
    access_key: Option<Secret>,
    authenticator: Authenticator,
    client_base: Option<String>,
    webpubsub: webpubsub::WebPubSub,
}

/// Signs client tokens: with the access key, or with the service's temporary key under Entra ID.
pub enum ClientSigner {
    /// The connection string's access key.
    AccessKey(TokenMinter),
    /// The temporary key fetched with the app's Entra ID token.
    Entra(EntraSigner),
}

impl ClientSigner {
    /// The minter to sign with now.
    pub async fn minter(&self) -> Result<TokenMinter, ApiError> {
        match self {
            Self::AccessKey(minter) => Ok(minter.clone()),
            Self::Entra(signer) => Ok(signer.minter().await?),
        }
    }
}

/// The service the app talks to.
pub struct Service {
    /// Signs client tokens.
    pub signer: ClientSigner,
    /// Calls the REST API.
    pub rest: RestClient,
}

impl AppState {
    /// State for a service at `connection` (from the settings, or the embedded emulator's).
    pub fn new(settings: Settings, connection: Option<&ConnectionString>) -> Self {
        Self::with_identity(settings, connection, None)
    }

    /// [`AppState::new`], with the Entra ID token source given instead of read from the
    /// environment (the local stack's emulator in Entra mode is the app's managed identity).
    pub fn with_identity(
        settings: Settings,
        connection: Option<&ConnectionString>,
        identity: Option<TokenSource>,
    ) -> Self {
        Self::with_identities(settings, connection, identity, None)
    }

    /// [`AppState::with_identity`], with a token source for Web PubSub too (the local stack's
    /// Web PubSub emulator in Entra mode trusts the same managed identity).
    pub fn with_identities(
        settings: Settings,
        connection: Option<&ConnectionString>,
        identity: Option<TokenSource>,
        webpubsub_identity: Option<TokenSource>,
    ) -> Self {
        let service = match connection {
            None => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "NotConfigured",
                "AzureSignalRConnectionString is not set; add it to the app settings",
            )),
            Some(cs) if *cs.auth() != AuthType::AccessKey => identity
                .map_or_else(|| TokenSource::from_auth(cs.auth()), Ok)
                .and_then(EntraCredential::new)
                .map_err(ApiError::from)
                .and_then(|credential| {
                    Ok(Service {
                        rest: RestClient::with_entra(
                            cs,
                            RestOptions::default(),
                            credential.clone(),
                        )?,
                        signer: ClientSigner::Entra(EntraSigner::new(cs, credential)),
                    })
                }),
            // One minter for the key: the REST client's, which also signs client tokens.
            Some(cs) => RestClient::new(cs, RestOptions::default())
                .map_err(ApiError::from)
                .and_then(|rest| {
                    let minter = rest.key_minter().cloned().ok_or_else(|| {
                        ApiError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "Misconfigured",
                            "AzureSignalRConnectionString has no AccessKey",
                        )
                    })?;
                    Ok(Service {
                        signer: ClientSigner::AccessKey(minter),
                        rest,
                    })
                }),
        };
        let authenticator = Authenticator::new(settings.identity.clone());
        let webpubsub =
            webpubsub::WebPubSub::with_identity(settings.webpubsub.clone(), webpubsub_identity);
        Self(Arc::new(Inner {
            webpubsub,
            settings,
            service,
            access_key: connection.and_then(|cs| cs.access_key().cloned()),
            authenticator,
            client_base: connection.map(ConnectionString::client_base),
        }))
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The service, or the reason it is not available.
    pub fn service(&self) -> Result<&Service, ApiError> {
        self.0.service.as_ref().map_err(Clone::clone)
    }

    /// The REST client, or the reason it is not available.
    pub fn rest(&self) -> Result<&RestClient, ApiError> {
        Ok(&self.service()?.rest)
    }

    /// The connection string's access key, which signs upstream requests.
    pub fn access_key(&self) -> Option<&Secret> {
        self.0.access_key.as_ref()
    }

    /// The service's client endpoint (where clients connect), for the demo page's CSP.
    pub fn client_base(&self) -> Option<&str> {
        self.0.client_base.as_deref()
    }

    /// Who is calling.
    pub fn authenticator(&self) -> &Authenticator {
        &self.0.authenticator
    }

    /// The Web PubSub side: its settings and service.
    pub fn webpubsub(&self) -> &webpubsub::WebPubSub {
        &self.0.webpubsub
    }
}

/// The app's router: `GET /` for the host's readiness ping, then one route per function.
pub fn router(state: AppState) -> Router {
    let route = |function: &Function| {
        let mut route = (function.handler)();
        if function.body == BodyKind::Json {
            route = route.layer(axum::middleware::from_fn(content_type::require_json));
        }
        if function.auth_level == AuthLevel::Function {
            route = route.layer(axum::middleware::from_fn_with_state(
                state.clone(),
                keys::require_key,
            ));
        }
        route
    };
    let mut router = Router::new().route("/", get(|| async { "ok" }));
    for function in FUNCTIONS
        .iter()
        .filter(|f| f.body != BodyKind::OwnWithoutCors)
    {
        router = router.route(&function.path(), route(function));
    }
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let settings = state.settings();
    let local_stack = matches!(settings.service, ServiceMode::LocalEmulator);
    let mut router = cors::layer(router, &settings.cors_origins, local_stack);
    // Added after the CORS layer, so that it does not answer their OPTIONS as a preflight.
    for function in FUNCTIONS
        .iter()
        .filter(|f| f.body == BodyKind::OwnWithoutCors)
    {
        router = router.route(&function.path(), route(function));
    }
    router.with_state(state)
}

/// A router that answers every function route with the configuration error, so a broken
/// setting shows up on every request and in the log instead of a crash loop under the host.
pub fn misconfigured(message: String) -> Router {
    let error = ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Misconfigured", message);
    Router::new()
        .route("/", get(|| async { "ok" }))
        .fallback(move || {
            let error = error.clone();
            async move { error.into_response() }
        })
}

async fn not_found(uri: axum::http::Uri) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("no function serves {}", uri.path()),
    )
    .into_response()
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
    .into_response()
}
