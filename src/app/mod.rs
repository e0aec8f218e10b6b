//! The function app: the HTTP routes the Functions host forwards to, for SignalR and for Web
//! PubSub ([`webpubsub`]). The router is built from the one table of functions,
//! [`functions::FUNCTIONS`], which also writes each `function.json` ([`crate::functions`]), so
//! routes and function.json never drift. Handlers extract what the request is for ([`hub::Hub`],
//! the caller's identity, the body), call the library — the output-binding bodies go through one
//! batch pipeline ([`batch`]) — and map errors once ([`error::ApiError`]).

pub mod batch;
pub mod body;
pub mod content_type;
pub mod cors;
pub mod demo;
pub mod endpoints;
pub mod error;
pub mod execute;
pub mod extract;
pub mod forward;
pub mod functions;
pub mod groups;
pub mod guard;
pub mod health;
pub mod health_cache;
pub mod hub;
pub mod identity;
pub mod invoke;
pub mod keys;
pub mod list_connections;
pub mod manage;
pub mod messages;
pub mod negotiate;
pub mod settings;
pub mod topics;
pub mod upstream;
pub mod webhook_auth;
pub mod webpubsub;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::settings::{EndpointType, ServiceMode, Settings};
use crate::service::connection_string::AuthType;
use crate::service::entra::signer::EntraSigner;
use crate::service::entra::{EntraCredential, TokenSource};
use crate::service::rest::{RestClient, RestOptions};
use crate::service::token::TokenMinter;
use crate::service::{ConnectionString, Secret};
use endpoints::{Endpoint, Endpoints};
use error::ApiError;
use functions::{AuthLevel, BodyKind, Function, FUNCTIONS};
use identity::Authenticator;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    settings: Settings,
    endpoints: Result<Endpoints, ApiError>,
    authenticator: Authenticator,
    webpubsub: webpubsub::WebPubSub,
    health_cache: health_cache::HealthCache,
    webhooks: webhook_auth::WebhookBearers,
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
    /// The same client without retries: for an endpoint known to be offline, so that a send to
    /// several endpoints is not held up by one that is down (the probe brings it back).
    pub fail_fast: RestClient,
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
        let endpoints = build_endpoints(&settings, connection, identity);
        if let Ok(endpoints) = &endpoints {
            endpoints.start_probe();
        }
        let authenticator = Authenticator::new(settings.identity.clone());
        let webpubsub =
            webpubsub::WebPubSub::with_identity(settings.webpubsub.clone(), webpubsub_identity);
        Self(Arc::new(Inner {
            webhooks: webhook_auth::WebhookBearers::new(
                settings.service_identity.upstream.as_ref(),
                settings.service_identity.webpubsub_events.as_ref(),
            ),
            health_cache: health_cache::HealthCache::new(settings.health_cache),
            webpubsub,
            settings,
            endpoints,
            authenticator,
        }))
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The service endpoints, or the reason there are none.
    pub fn endpoints(&self) -> Result<&Endpoints, ApiError> {
        self.0.endpoints.as_ref().map_err(Clone::clone)
    }

    /// The access keys of every endpoint, which sign upstream requests.
    pub fn access_keys(&self) -> Vec<&Secret> {
        self.0
            .endpoints
            .as_ref()
            .map(|e| e.access_keys().collect())
            .unwrap_or_default()
    }

    /// The service's client endpoint (where clients connect), for the demo page's CSP.
    pub fn client_base(&self) -> Option<&str> {
        self.0.endpoints.as_ref().ok().map(Endpoints::client_base)
    }

    /// Who is calling.
    pub fn authenticator(&self) -> &Authenticator {
        &self.0.authenticator
    }

    /// The last `/api/health` answer.
    pub fn health_cache(&self) -> &health_cache::HealthCache {
        &self.0.health_cache
    }

    /// The Web PubSub side: its settings and service.
    pub fn webpubsub(&self) -> &webpubsub::WebPubSub {
        &self.0.webpubsub
    }

    /// The managed-identity checks of the webhooks.
    pub fn webhooks(&self) -> &webhook_auth::WebhookBearers {
        &self.0.webhooks
    }
}

impl Service {
    /// The service of one connection string: an access key signs client tokens and REST calls,
    /// or under `AuthType=…` an Entra ID credential (`identity`, else read from the environment).
    pub fn build(cs: &ConnectionString, identity: Option<TokenSource>) -> Result<Self, ApiError> {
        if *cs.auth() != AuthType::AccessKey {
            let credential = identity
                .map_or_else(|| TokenSource::from_auth(cs.auth()), Ok)
                .and_then(EntraCredential::new)?;
            return Ok(Self {
                rest: RestClient::with_entra(cs, RestOptions::default(), credential.clone())?,
                fail_fast: RestClient::with_entra(cs, no_retries(), credential.clone())?,
                signer: ClientSigner::Entra(EntraSigner::new(cs, credential)),
            });
        }
        // One minter for the key: the REST client's, which also signs client tokens.
        let rest = RestClient::new(cs, RestOptions::default())?;
        let minter = rest.key_minter().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Misconfigured",
                "the connection string has no AccessKey",
            )
        })?;
        Ok(Self {
            signer: ClientSigner::AccessKey(minter),
            fail_fast: RestClient::new(cs, no_retries())?,
            rest,
        })
    }
}

fn no_retries() -> RestOptions {
    RestOptions {
        max_retries: 0,
        ..RestOptions::default()
    }
}

/// The endpoint set: `connection` (`AzureSignalRConnectionString`, the unnamed primary) and the
/// named endpoints of the settings. An endpoint that cannot be set up is the error, named.
fn build_endpoints(
    settings: &Settings,
    connection: Option<&ConnectionString>,
    identity: Option<TokenSource>,
) -> Result<Endpoints, ApiError> {
    let mut list = Vec::new();
    if let Some(cs) = connection {
        let service = Service::build(cs, identity)?;
        list.push(Endpoint::new(
            String::new(),
            EndpointType::Primary,
            service,
            cs,
        ));
    }
    for setting in &settings.endpoints {
        let service = Service::build(&setting.connection, None).map_err(|e| {
            e.context(format!(
                "endpoint {:?} ({}) of Azure:SignalR:Endpoints",
                setting.name, setting.kind
            ))
        })?;
        list.push(Endpoint::new(
            setting.name.clone(),
            setting.kind,
            service,
            &setting.connection,
        ));
    }
    if list.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NotConfigured",
            "AzureSignalRConnectionString is not set; add it (or Azure:SignalR:Endpoints:<name>) to the app settings",
        ));
    }
    Ok(Endpoints::new(list, settings.endpoint_probe))
}

/// The app's router: `GET /` for the host's readiness ping, then one route per function.
pub fn router(state: AppState) -> Router {
    let route = |function: &Function| {
        let route = (function.handler)();
        let guard = guard::Guard {
            state: state.clone(),
            key: function.auth_level == AuthLevel::Function,
            json: function.body == BodyKind::Json,
        };
        match guard.key || guard.json {
            true => route.layer(axum::middleware::from_fn_with_state(guard, guard::guard)),
            false => route,
        }
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
