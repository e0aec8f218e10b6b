//! Running the app: bind 127.0.0.1 on the host's port (or `--port`/`PORT`, default 7071), start the
//! embedded emulator when there is no connection string outside the host, serve until SIGTERM or
//! Ctrl-C and drain in-flight requests.

mod local_entra;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpListener;

use crate::app::settings::{EmulatorAuth, ListenAddress, ServeArgs, ServiceMode, Settings};
use crate::app::{misconfigured, router, AppState};
use crate::emulator::browser_policy::BrowserPolicy;
use crate::emulator::entra::EntraMode;
use crate::emulator::{self, webpubsub, EmulatorConfig, UpstreamTemplate};
use crate::http_server::{self, ServerLimits};
use crate::service::connection_string::DEV_ACCESS_KEY;
use crate::service::webpubsub::connection_string::WebPubSubConnectionString;
use crate::service::{ConnectionString, Secret};

/// Roles Web PubSub negotiate grants in the local stack when `WEBPUBSUB_TOKEN_ROLES` is not set:
/// join, leave and send to every group.
const LOCAL_WEBPUBSUB_ROLES: [&str; 2] = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"];

/// Error type of the binary's commands.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `handler serve`: the function app, plus the emulator in the local stack. A settings error
/// does not crash-loop under the host: the handler stays up and answers every route with it.
/// Only an address it cannot listen on (a bad `PORT`, `BIND_ADDRESS` or `EMULATOR_PORT`
/// outside the host) or a bad `EMULATOR_FAULTS` for the local stack's emulator stops it, with
/// the error on stderr and a non-zero exit.
pub async fn serve(args: ServeArgs) -> Result<(), BoxError> {
    let args = args.with_environment();
    let address = ListenAddress::from_args(&args)?;
    match Settings::from_args(args) {
        Ok(settings) => serve_app(settings).await,
        Err(e) => {
            tracing::error!("configuration error: {e}");
            let listener = bind_listener(SocketAddr::new(address.bind, address.port)).await?;
            http_server::serve(
                listener,
                misconfigured(e.to_string()),
                ServerLimits::default(),
                shutdown_signal(),
            )
            .await?;
            Ok(())
        }
    }
}

async fn serve_app(mut settings: Settings) -> Result<(), BoxError> {
    // Before the local stack's emulators serve and its banner is printed.
    let stop = shutdown_signal();
    for setting in &settings.listen.ignored {
        tracing::info!("{setting} is ignored under the Functions host: the handler listens on 127.0.0.1, where only the host calls it");
    }
    let listener =
        bind_listener(SocketAddr::new(settings.listen.bind, settings.listen.port)).await?;
    let app_addr = listener.local_addr()?;
    let mut emulator_handle = None;
    let mut identity = None;
    let mut webpubsub_handle = None;
    let mut webpubsub_identity = None;
    let connection = match &settings.service {
        ServiceMode::Remote(cs) => Some((**cs).clone()),
        ServiceMode::NotConfigured | ServiceMode::NamedEndpoints => None,
        ServiceMode::LocalEmulator => {
            let listener = TcpListener::bind(SocketAddr::new(
                settings.listen.bind,
                settings.listen.emulator_port,
            ))
            .await
            .map_err(|e| {
                format!(
                    "cannot start the emulator on port {}: {e} (set EMULATOR_PORT)",
                    settings.listen.emulator_port
                )
            })?;
            let mut config = EmulatorConfig::new(Secret::new(DEV_ACCESS_KEY));
            config.upstream = vec![UpstreamTemplate::all(upstream_url(app_addr, &settings))];
            if let Some(spec) = &settings.emulator_faults {
                config.faults = emulator::faults::spec::parse(spec)
                    .map_err(|e| format!("EMULATOR_FAULTS: {e}"))?;
            }
            if let EmulatorAuth::Entra { disable_local_auth } = settings.emulator_auth {
                config.entra = Some(EntraMode::generate(disable_local_auth));
                // The emulator still signs upstream calls with its access key.
                settings
                    .upstream
                    .secondary_keys
                    .push(Secret::new(DEV_ACCESS_KEY));
            }
            // Browsers reach the emulators through negotiate, from the app's allowed origins.
            config.browser = BrowserPolicy::new(&settings.cors_origins);
            let browser = config.browser.clone();
            let entra = config.entra.clone();
            let handle = emulator::start(config, listener).await?;
            announce_local_stack(app_addr, &handle, &settings);
            let cs = match &entra {
                None => ConnectionString::parse(&handle.connection_string())?,
                Some(mode) => {
                    let (cs, source) = local_entra::identity(&handle, mode)?;
                    local_entra::announce(&cs, mode);
                    identity = Some(source);
                    cs
                }
            };
            emulator_handle = Some(handle);
            let events =
                upstream_url(app_addr, &settings).replace("/api/upstream", "/api/webpubsub/events");
            webpubsub_handle = webpubsub::local::start_local(
                settings.listen.bind,
                settings.listen.webpubsub_emulator_port,
                &events,
                entra.clone(),
                browser,
            )
            .await?;
            if let Some(wps) = &webpubsub_handle {
                announce_webpubsub(wps, app_addr, &events);
                if settings.webpubsub.connection.is_none() {
                    // The app's Web PubSub routes talk to the embedded emulator, as its SignalR
                    // routes talk to the SignalR one (with the same managed identity in Entra
                    // mode).
                    settings.webpubsub.connection = Some(match &identity {
                        None => WebPubSubConnectionString::parse(&wps.connection_string())?,
                        Some(source) => {
                            webpubsub_identity = Some(source.clone());
                            // The emulator signs events with its access key.
                            settings
                                .webpubsub
                                .events
                                .secondary_keys
                                .push(Secret::new(DEV_ACCESS_KEY));
                            println!("  Web PubSub Entra:  the app uses AuthType=azure.msi for Web PubSub too (the same managed identity, no access key)");
                            local_entra::webpubsub(wps)?
                        }
                    });
                    if settings.webpubsub.token_roles.is_empty() {
                        // The demo page's group chat works out of the box, as loopback origins
                        // pass CORS here; never with a real service.
                        settings.webpubsub.token_roles =
                            LOCAL_WEBPUBSUB_ROLES.map(String::from).to_vec();
                        println!("  Web PubSub roles:  {} in every client token (local stack; WEBPUBSUB_TOKEN_ROLES narrows them)", LOCAL_WEBPUBSUB_ROLES.join(","));
                    }
                }
            }
            Some(cs)
        }
    };
    for endpoint in &settings.endpoints {
        tracing::info!(name = %endpoint.name, kind = %endpoint.kind, service = %endpoint.connection, "SignalR endpoint");
    }
    match &connection {
        Some(cs) => tracing::info!(address = %app_addr, service = %cs, "function app listening"),
        None if !settings.endpoints.is_empty() => {
            tracing::info!(address = %app_addr, "function app listening")
        }
        None => {
            tracing::info!(address = %app_addr, "function app listening (SignalR not configured: AzureSignalRConnectionString is not set)")
        }
    }
    if let Some(cs) = &settings.webpubsub.connection {
        tracing::info!(webpubsub = %cs, "Web PubSub configured");
    }
    let app = router(AppState::with_identities(
        settings,
        connection.as_ref(),
        identity,
        webpubsub_identity,
    ));
    http_server::serve(listener, app, ServerLimits::default(), stop).await?;
    if let Some(handle) = webpubsub_handle {
        handle.shutdown().await;
    }
    if let Some(handle) = emulator_handle {
        handle.shutdown().await;
    }
    Ok(())
}

/// The app's `/api/upstream` as the embedded emulator calls it: on loopback when the app listens
/// on every address, with the first function key when keys are configured.
fn upstream_url(app: SocketAddr, settings: &Settings) -> String {
    let ip = match app.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let mut url = format!("http://{}/api/upstream", SocketAddr::new(ip, app.port()));
    if let Some(key) = settings.function_keys.first() {
        let code: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
        url.push_str("?code=");
        url.push_str(&code);
    }
    url
}

async fn bind_listener(addr: SocketAddr) -> Result<TcpListener, BoxError> {
    Ok(TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?)
}

fn announce_local_stack(app: SocketAddr, emulator: &emulator::EmulatorHandle, settings: &Settings) {
    let connection_string = emulator.connection_string();
    let hub = &settings.hub;
    println!("serverless-signalr local stack (no AzureSignalRConnectionString: embedded emulator)");
    if settings.demo {
        println!("  demo page:         http://{app}/api/demo   <- open this first");
    }
    println!("  function app:      http://{app}/api");
    println!("  emulator:          {connection_string}");
    println!(
        "  dashboard:         http://{}/ (the emulator's connections and calls, live)",
        emulator.local_addr()
    );
    println!("  negotiate:         curl -X POST http://{app}/api/negotiate");
    println!(
        "  broadcast:         curl -X POST http://{app}/api/messages -H 'content-type: application/json' -d '{{\"target\":\"newMessage\",\"arguments\":[\"hello\"]}}'"
    );
    println!("  upstream:          http://{app}/api/upstream (client methods subscribe, unsubscribe, publish, publishToTopic)");
    println!("  default hub:       {hub}");
    println!("  CORS:              loopback origins (localhost, 127.0.0.1, [::1], any port) are allowed with credentials, plus SIGNALR_CORS_ORIGINS");
}

fn announce_webpubsub(wps: &webpubsub::WebPubSubHandle, app: SocketAddr, events: &str) {
    let cs = wps.connection_string();
    let base = format!("http://{}", wps.local_addr());
    println!("  Web PubSub:        WebPubSubConnectionString={cs}");
    println!(
        "  Web PubSub events: {}",
        events.split('?').next().unwrap_or(events)
    );
    println!("  Web PubSub REST:   {base}/api/hubs/<hub>/:send?api-version=2024-01-01 (Bearer token, aud = the URL)");
    println!(
        "  Web PubSub try:    curl -X POST http://{app}/api/webpubsub/actions -H 'content-type: application/json' -d '{{\"actionName\":\"sendToAll\",\"data\":\"hello\",\"dataType\":\"text\"}}'"
    );
}

/// Resolves on SIGTERM (the host stopping us) or Ctrl-C, with the handlers installed now.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let stop = http_server::stop_signal();
    async move {
        stop.await;
        tracing::info!("shutting down: draining in-flight requests");
    }
}
