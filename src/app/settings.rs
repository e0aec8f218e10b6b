//! Every app setting, read once at start-up from flags or the environment (the Functions app
//! settings users already know, plus our own `SIGNALR_*` settings), validated into [`Settings`]
//! with errors that name the setting and say what to fix. `handler serve --help` lists them all.

use std::time::Duration;

use crate::app::forward::Webhook;
use crate::app::identity::{EasyAuthUserId, IdentitySettings, OidcSettings};
use crate::app::topics::{Publishers, TopicFilter, TopicSettings};
use crate::app::upstream::UpstreamSettings;
use crate::app::webpubsub::settings::{WebPubSubArgs, WebPubSubSettings};
use crate::service::names;
use crate::service::transports::Transports;
use crate::service::{ConnectionString, Secret};

mod emulator_entra;
pub mod endpoints;
pub mod identity_connection;
mod listen;
mod negotiate;
pub mod service_identity;
pub mod value;
pub use emulator_entra::EmulatorAuth;
pub use endpoints::{EndpointArgs, EndpointSetting, EndpointType};
pub use identity_connection::{IdentityBased, IdentityConnection, IdentityNames};
pub use listen::ListenAddress;
pub use service_identity::{ServiceIdentities, ServiceIdentityArgs};
pub use value::SettingsError;
use value::{boolean, err, list, nonempty, number, seconds};

/// Raw settings as given on the command line or in the environment. Everything is text, so that
/// a bad value is refused by [`Settings`] with the setting's name, and values that do not apply
/// (e.g. `PORT` under the host) can be ignored instead of stopping the handler.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServeArgs {
    /// Port to listen on outside the Functions host (default 7071; 0 = any free port). Ignored
    /// under the host, which chooses the port (FUNCTIONS_CUSTOMHANDLER_PORT).
    #[arg(long, env = "PORT")]
    pub port: Option<String>,
    /// Address to bind outside the Functions host (default 127.0.0.1). Ignored under the host:
    /// it calls 127.0.0.1 and checks keys itself, so the handler must not be reachable elsewhere.
    #[arg(long, env = "BIND_ADDRESS")]
    pub bind: Option<String>,
    /// Port of the embedded emulator in the local stack (default 8888; 0 = any free port).
    /// Ignored under the host, where the emulator never starts.
    #[arg(long, env = "EMULATOR_PORT")]
    pub emulator_port: Option<String>,
    /// Port of the embedded Web PubSub emulator in the local stack (default 8080, skipped with a
    /// warning when taken; 0 = any free port). Ignored under the host.
    #[arg(long, env = "WEBPUBSUB_EMULATOR_PORT")]
    pub webpubsub_emulator_port: Option<String>,
    /// Run the embedded emulator in Entra ID mode: the app authenticates with the emulator's
    /// managed-identity endpoint, no key (`true`, `false` (default) or `disable-local-auth` to
    /// also refuse access-key tokens). Ignored under the host and with a connection string.
    #[arg(long, env = "SIGNALR_EMULATOR_ENTRA")]
    pub emulator_entra: Option<String>,
    /// Inject faults into the embedded emulator, e.g. `seed=7,rest=0.1` (as `handler emulator
    /// --faults`; README, "Fault injection"). Ignored under the host and with a connection string.
    #[arg(long, env = "EMULATOR_FAULTS")]
    pub emulator_faults: Option<String>,
    /// [setting FUNCTIONS_CUSTOMHANDLER_PORT] Set by the Functions host.
    #[arg(skip)]
    pub host_port: Option<String>,
    /// [setting AzureSignalRConnectionString] The service; absent outside the host = local emulator.
    #[arg(skip)]
    pub connection_string: Option<String>,
    /// [setting AzureSignalRConnectionString__serviceUri, __credential, …] The identity-based form.
    #[arg(skip)]
    pub identity_connection: IdentityConnection,
    /// [setting `Azure:SignalR:Endpoints:<name>[:primary|:secondary]`, or with `__`] More endpoints.
    #[arg(skip)]
    pub endpoints: EndpointArgs,
    /// Seconds between health probes of each endpoint when there are several (1..=3600,
    /// default 10; each wait is jittered by ±20 %).
    #[arg(long, env = "SIGNALR_ENDPOINT_PROBE_SECONDS")]
    pub endpoint_probe_seconds: Option<String>,
    /// Seconds `/api/health` reuses its answer, so anonymous callers cannot make it probe the
    /// service on every request (0..=300, default 5; 0 = probe on every call).
    #[arg(long, env = "SIGNALR_HEALTH_CACHE_SECONDS")]
    pub health_cache_seconds: Option<String>,
    /// Seconds the invoke route waits for a client's result (1..=120, default 30).
    #[arg(long, env = "SIGNALR_INVOKE_TIMEOUT_SECONDS")]
    pub invoke_timeout_seconds: Option<String>,
    /// Default hub for routes without `{hub}` (AzureSignalRHubName, default `default`).
    #[arg(long, env = "AzureSignalRHubName")]
    pub hub: Option<String>,
    /// Trust App Service authentication headers (x-ms-client-principal*). Only with Easy Auth on!
    #[arg(long, env = "SIGNALR_EASY_AUTH")]
    pub easy_auth: Option<String>,
    /// Which Easy Auth header is the user id: `principal-id` (default) or `principal-name`.
    #[arg(long, env = "SIGNALR_EASY_AUTH_USER_ID")]
    pub easy_auth_user_id: Option<String>,
    /// OIDC issuer whose bearer tokens identify callers (e.g. `https://login.microsoftonline.com/TENANT/v2.0`).
    #[arg(long, env = "SIGNALR_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// Accepted `aud` values of bearer tokens, comma-separated (required with the issuer).
    #[arg(long, env = "SIGNALR_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,
    /// OpenID metadata URL, when not `{issuer}/.well-known/openid-configuration` (AD B2C).
    #[arg(long, env = "SIGNALR_OIDC_METADATA_URL")]
    pub oidc_metadata_url: Option<String>,
    /// Claim of the bearer token that is the user id (default `sub`).
    #[arg(long, env = "SIGNALR_OIDC_USER_ID_CLAIM")]
    pub oidc_user_id_claim: Option<String>,
    /// Refuse anonymous negotiate with 401 (`true`/`false`, default false).
    #[arg(long, env = "SIGNALR_REQUIRE_AUTH")]
    pub require_auth: Option<String>,
    /// Claim types copied from the caller's identity into the client token, comma-separated.
    #[arg(long, env = "SIGNALR_TOKEN_CLAIMS")]
    pub token_claims: Option<String>,
    /// Copy the caller's roles into the client token (`true`/`false`, default false).
    #[arg(long, env = "SIGNALR_TOKEN_ROLES")]
    pub token_roles: Option<String>,
    /// Client token lifetime in seconds (60..=86400, default 3600).
    #[arg(long, env = "SIGNALR_TOKEN_LIFETIME")]
    pub token_lifetime: Option<String>,
    /// Ask the service to close each client when its token expires, with a close message that
    /// lets it reconnect (negotiate again, new token) (`true`/`false`, default false).
    #[arg(long, env = "SIGNALR_CLOSE_ON_TOKEN_EXPIRY")]
    pub close_on_token_expiry: Option<String>,
    /// Transports clients may use, comma-separated: WebSockets, ServerSentEvents, LongPolling
    /// (default all; e.g. `WebSockets` behind a proxy that only passes WebSockets).
    #[arg(long, env = "SIGNALR_ALLOWED_TRANSPORTS")]
    pub allowed_transports: Option<String>,
    /// Groups an authenticated user joins at negotiate: comma-separated templates over claims,
    /// e.g. `tenant-{tid},everyone`.
    #[arg(long, env = "SIGNALR_NEGOTIATE_GROUPS")]
    pub negotiate_groups: Option<String>,
    /// Serve the demo page at /api/demo (`true`/`false`, default true).
    #[arg(long, env = "SIGNALR_DEMO")]
    pub demo: Option<String>,
    /// Exact origins allowed by CORS (with credentials), comma-separated; off when unset.
    #[arg(long, env = "SIGNALR_CORS_ORIGINS")]
    pub cors_origins: Option<String>,
    /// Keys accepted for authLevel=function routes when running outside the host, comma-separated.
    #[arg(long, env = "SIGNALR_FUNCTION_KEYS", hide_env_values = true)]
    pub function_keys: Option<String>,
    /// Most messages or group actions in one request (default 1000).
    #[arg(long, env = "SIGNALR_MAX_BATCH")]
    pub max_batch: Option<String>,
    /// Access keys accepted in upstream signatures besides the connection string's, comma-separated
    /// (the service's other key, for key rotation).
    #[arg(long, env = "SIGNALR_UPSTREAM_SECONDARY_KEYS", hide_env_values = true)]
    pub upstream_secondary_keys: Option<String>,
    /// Groups a client joins when it connects: comma-separated templates over `{userId}`,
    /// `{connectionId}` and claims, e.g. `user-{userId},tenant-{tid}`.
    #[arg(long, env = "SIGNALR_UPSTREAM_GROUPS")]
    pub upstream_groups: Option<String>,
    /// Webhook that receives connect/disconnect events and unknown hub methods as JSON.
    #[arg(long, env = "SIGNALR_UPSTREAM_FORWARD_URL", hide_env_values = true)]
    pub upstream_forward_url: Option<String>,
    /// Signs every request to the forward webhook: `X-Signature-256: sha256=<hex HMAC-SHA256 of
    /// the body>`, so the webhook can trust the user id and claims it receives.
    #[arg(long, env = "SIGNALR_UPSTREAM_FORWARD_SECRET", hide_env_values = true)]
    pub upstream_forward_secret: Option<String>,
    /// Client method that receives pub/sub messages (default `message`).
    #[arg(long, env = "SIGNALR_PUBSUB_TARGET")]
    pub pubsub_target: Option<String>,
    /// Who may publish from a client: `anyone` (default), `authenticated` or `nobody`.
    #[arg(long, env = "SIGNALR_PUBSUB_PUBLISHERS")]
    pub pubsub_publishers: Option<String>,
    /// Topics clients may use, comma-separated exact names and `prefix*` patterns (default all).
    #[arg(long, env = "SIGNALR_PUBSUB_TOPICS")]
    pub pubsub_topics: Option<String>,
    /// The managed identity of the service calling `/api/upstream` and `/api/webpubsub/events`.
    #[command(flatten)]
    pub service_identity: ServiceIdentityArgs,
    /// Azure Web PubSub (WebPubSubConnectionString, WebPubSubHub, WEBPUBSUB_*).
    #[command(flatten)]
    pub webpubsub: WebPubSubArgs,
}

/// Where the app's service is.
#[derive(Debug, Clone)]
pub enum ServiceMode {
    /// A real (or external) service, from the connection string.
    Remote(Box<ConnectionString>),
    /// No connection string outside the host: start the embedded emulator.
    LocalEmulator,
    /// No `AzureSignalRConnectionString`, but named endpoints (`Azure:SignalR:Endpoints:*`).
    NamedEndpoints,
    /// No connection string under the host, but Web PubSub is configured: the SignalR routes
    /// answer that AzureSignalRConnectionString is not set, the Web PubSub routes work.
    NotConfigured,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen, and whether the Functions host started us.
    pub listen: ListenAddress,
    /// The service.
    pub service: ServiceMode,
    /// The named endpoints besides `AzureSignalRConnectionString` (the unnamed primary).
    pub endpoints: Vec<EndpointSetting>,
    /// Time between health probes of the endpoints (when there are several).
    pub endpoint_probe: Duration,
    /// How long `/api/health` reuses its answer (zero: never).
    pub health_cache: Duration,
    /// How long the invoke route waits for a client's result.
    pub invoke_timeout: Duration,
    /// How the embedded emulator (local stack only) authenticates the app.
    pub emulator_auth: EmulatorAuth,
    /// The faults the embedded emulator (local stack only) injects from the start, as given
    /// (`EMULATOR_FAULTS`; the local stack parses it when it starts the emulator).
    pub emulator_faults: Option<String>,
    /// Default hub.
    pub hub: String,
    /// Identity sources.
    pub identity: IdentitySettings,
    /// Claims copied into client tokens.
    pub token_claims: Vec<String>,
    /// Copy roles into client tokens.
    pub token_roles: bool,
    /// Client token lifetime.
    pub token_lifetime: Duration,
    /// Client tokens ask the service to close the connection when they expire.
    pub close_on_token_expiry: bool,
    /// Transports client tokens allow (`None` = all, no claim).
    pub allowed_transports: Option<Transports>,
    /// Group templates joined at negotiate.
    pub negotiate_groups: Vec<String>,
    /// Serve the demo page at /api/demo.
    pub demo: bool,
    /// CORS origins (empty = CORS off).
    pub cors_origins: Vec<String>,
    /// Keys for authLevel=function routes outside the host.
    pub function_keys: Vec<Secret>,
    /// Most items per request.
    pub max_batch: usize,
    /// The upstream endpoint.
    pub upstream: UpstreamSettings,
    /// Topic pub/sub over the upstream.
    pub topics: TopicSettings,
    /// The services' managed identities the webhooks require.
    pub service_identity: ServiceIdentities,
    /// Azure Web PubSub.
    pub webpubsub: WebPubSubSettings,
}

impl ServeArgs {
    /// Adds the settings that only come from the environment (the host's port variable and the
    /// connection string, which must not be a visible flag).
    pub fn with_environment(mut self) -> Self {
        self.host_port = std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT").ok();
        self.connection_string = std::env::var("AzureSignalRConnectionString").ok();
        self.identity_connection = IdentityConnection::from_env();
        self.endpoints = EndpointArgs::from_env();
        self.webpubsub.connection_string = std::env::var("WebPubSubConnectionString").ok();
        self.webpubsub.identity_connection =
            IdentityConnection::from_env_for(&IdentityNames::WEBPUBSUB);
        self
    }
}

impl Settings {
    /// Reads the environment-only settings into `args` and validates everything.
    pub fn from_env(args: ServeArgs) -> Result<Self, SettingsError> {
        Self::from_args(args.with_environment())
    }

    /// Validates raw settings.
    pub fn from_args(args: ServeArgs) -> Result<Self, SettingsError> {
        let listen = ListenAddress::from_args(&args)?;
        let webpubsub = WebPubSubSettings::from_args(args.webpubsub.clone())?;
        let (service, endpoints) =
            service_and_endpoints(&args, listen.under_host, webpubsub.connection.is_some())?;
        let endpoint_probe = seconds(
            "SIGNALR_ENDPOINT_PROBE_SECONDS",
            args.endpoint_probe_seconds.clone(),
            1..=3600,
            10,
        )?;
        let health_cache = seconds(
            "SIGNALR_HEALTH_CACHE_SECONDS",
            args.health_cache_seconds.clone(),
            0..=300,
            5,
        )?;
        let identity = identity_settings(&args)?;
        let hub = nonempty(args.hub).unwrap_or_else(|| "default".into());
        names::validate_hub(&hub).map_err(|e| err("AzureSignalRHubName", e.to_string()))?;

        let upstream = upstream_settings(
            args.upstream_secondary_keys,
            args.upstream_groups,
            args.upstream_forward_url,
            args.upstream_forward_secret,
        )?;
        let topics = topic_settings(
            args.pubsub_target,
            args.pubsub_publishers,
            args.pubsub_topics,
        )?;
        let service_identity = args.service_identity.parse()?;
        Ok(Self {
            listen,
            service,
            endpoints,
            endpoint_probe,
            health_cache,
            invoke_timeout: seconds(
                "SIGNALR_INVOKE_TIMEOUT_SECONDS",
                args.invoke_timeout_seconds,
                1..=120,
                30,
            )?,
            emulator_auth: EmulatorAuth::parse(args.emulator_entra)?,
            emulator_faults: nonempty(args.emulator_faults),
            hub,
            identity,
            token_claims: list(args.token_claims),
            token_roles: boolean("SIGNALR_TOKEN_ROLES", args.token_roles)?,
            token_lifetime: negotiate::token_lifetime(args.token_lifetime)?,
            close_on_token_expiry: boolean(
                "SIGNALR_CLOSE_ON_TOKEN_EXPIRY",
                args.close_on_token_expiry,
            )?,
            allowed_transports: negotiate::allowed_transports(args.allowed_transports)?,
            negotiate_groups: negotiate::negotiate_groups(args.negotiate_groups)?,
            demo: match nonempty(args.demo) {
                None => true,
                value => boolean("SIGNALR_DEMO", value)?,
            },
            cors_origins: negotiate::cors_origins(args.cors_origins)?,
            function_keys: list(args.function_keys)
                .into_iter()
                .map(Secret::new)
                .collect(),
            max_batch: max_batch(args.max_batch)?,
            upstream,
            topics,
            service_identity,
            webpubsub,
        })
    }
}

/// `SIGNALR_MAX_BATCH`: the most messages one batch request may carry (1000 when unset).
fn max_batch(value: Option<String>) -> Result<usize, SettingsError> {
    Ok(number(
        "SIGNALR_MAX_BATCH",
        value,
        1..=10_000,
        "a number from 1 to 10000",
    )?
    .map_or(1000, |n| n as usize))
}

/// The service mode and the named endpoints: named endpoints alone (no single connection string
/// or identity-based connection) select [`ServiceMode::NamedEndpoints`].
fn service_and_endpoints(
    args: &ServeArgs,
    under_host: bool,
    webpubsub_configured: bool,
) -> Result<(ServiceMode, Vec<EndpointSetting>), SettingsError> {
    let endpoints = args.endpoints.parse()?;
    let single = nonempty(args.connection_string.clone()).is_some()
        || !args.identity_connection.0.is_empty();
    let service = if !single && !endpoints.is_empty() {
        ServiceMode::NamedEndpoints
    } else {
        service_mode(args, under_host, webpubsub_configured)?
    };
    Ok((service, endpoints))
}

/// Where the SignalR service is: the connection string or the identity-based settings, the
/// embedded emulator outside the host, or nothing under the host when only Web PubSub is set.
fn service_mode(
    args: &ServeArgs,
    under_host: bool,
    webpubsub_configured: bool,
) -> Result<ServiceMode, SettingsError> {
    let identity_based = args.identity_connection.parse()?;
    Ok(match (nonempty(args.connection_string.clone()), identity_based) {
        (Some(_), Some(_)) => return Err(err("AzureSignalRConnectionString", "and AzureSignalRConnectionString__serviceUri are both set; keep one: the connection string, or the identity-based settings")),
        (None, Some(cs)) => ServiceMode::Remote(Box::new(cs)),
        (Some(cs), None) => ServiceMode::Remote(Box::new(
            ConnectionString::parse(&cs).map_err(|e| err("AzureSignalRConnectionString", e.to_string()))?,
        )),
        (None, None) if under_host && webpubsub_configured => ServiceMode::NotConfigured,
        (None, None) if under_host => {
            return Err(err(
                "AzureSignalRConnectionString",
                "is not set; add it to the app settings (the local emulator only starts outside the Functions host)",
            ))
        }
        (None, None) => ServiceMode::LocalEmulator,
    })
}

/// The identity sources: Easy Auth headers and an OIDC issuer, and whether one is required.
fn identity_settings(args: &ServeArgs) -> Result<IdentitySettings, SettingsError> {
    let oidc = match nonempty(args.oidc_issuer.clone()) {
        None => None,
        Some(issuer) => {
            let audiences = list(args.oidc_audience.clone());
            if audiences.is_empty() {
                return Err(err("SIGNALR_OIDC_AUDIENCE", "is required with SIGNALR_OIDC_ISSUER: list the accepted aud values (e.g. your app's client id)"));
            }
            let oidc = OidcSettings {
                issuer,
                audiences,
                metadata_url: nonempty(args.oidc_metadata_url.clone()),
                user_id_claim: nonempty(args.oidc_user_id_claim.clone())
                    .unwrap_or_else(|| "sub".into()),
                leeway: Duration::from_secs(60),
                refresh: Default::default(),
            };
            oidc.check()
                .map_err(|e| err("SIGNALR_OIDC_ISSUER", e.to_string()))?;
            Some(oidc)
        }
    };
    let easy_auth_user_id = match nonempty(args.easy_auth_user_id.clone()).as_deref() {
        None | Some("principal-id") => EasyAuthUserId::PrincipalId,
        Some("principal-name") => EasyAuthUserId::PrincipalName,
        Some(other) => {
            return Err(err(
                "SIGNALR_EASY_AUTH_USER_ID",
                format!("{other:?} is not one of principal-id, principal-name"),
            ))
        }
    };
    let identity = IdentitySettings {
        easy_auth: boolean("SIGNALR_EASY_AUTH", args.easy_auth.clone())?,
        easy_auth_user_id,
        oidc,
        require_authentication: boolean("SIGNALR_REQUIRE_AUTH", args.require_auth.clone())?,
    };
    if identity.require_authentication && !identity.easy_auth && identity.oidc.is_none() {
        return Err(err("SIGNALR_REQUIRE_AUTH", "is true but no identity source is on; set SIGNALR_EASY_AUTH=true or SIGNALR_OIDC_ISSUER"));
    }
    Ok(identity)
}

fn upstream_settings(
    secondary_keys: Option<String>,
    groups: Option<String>,
    forward_url: Option<String>,
    forward_secret: Option<String>,
) -> Result<UpstreamSettings, SettingsError> {
    let connect_groups = list(groups);
    for template in &connect_groups {
        crate::app::negotiate::validate_template(template)
            .map_err(|e| err("SIGNALR_UPSTREAM_GROUPS", e))?;
    }
    let forward_url = match nonempty(forward_url) {
        None => None,
        Some(url) => {
            // The URL may carry a key, so the message does not repeat it.
            let ok = url::Url::parse(&url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !ok {
                return Err(err(
                    "SIGNALR_UPSTREAM_FORWARD_URL",
                    "is not an absolute http:// or https:// URL",
                ));
            }
            Some(Secret::new(url))
        }
    };
    // Not trimmed: the secret is used byte for byte, as the receiver will use it.
    let forward_secret = forward_secret.filter(|s| !s.is_empty()).map(Secret::new);
    let forward = match (forward_url, forward_secret) {
        (Some(url), secret) => Some(Webhook { url, secret }),
        (None, None) => None,
        (None, Some(_)) => {
            return Err(err(
                "SIGNALR_UPSTREAM_FORWARD_SECRET",
                "is set but SIGNALR_UPSTREAM_FORWARD_URL is not; set the webhook URL too, or remove the secret",
            ))
        }
    };
    Ok(UpstreamSettings {
        secondary_keys: list(secondary_keys).into_iter().map(Secret::new).collect(),
        connect_groups,
        forward,
    })
}

fn topic_settings(
    target: Option<String>,
    publishers: Option<String>,
    topics: Option<String>,
) -> Result<TopicSettings, SettingsError> {
    let publishers = match nonempty(publishers) {
        None => Publishers::Anyone,
        Some(v) => Publishers::parse(&v).map_err(|e| err("SIGNALR_PUBSUB_PUBLISHERS", e))?,
    };
    let allowed = TopicFilter::parse(&list(topics)).map_err(|e| err("SIGNALR_PUBSUB_TOPICS", e))?;
    Ok(TopicSettings {
        target: nonempty(target).unwrap_or_else(|| "message".into()),
        publishers,
        allowed,
    })
}
