//! The local stack: with no connection string outside the Functions host, `handler serve` starts
//! the SignalR emulator and the Web PubSub emulator beside the app, points the app at them (with
//! the emulators' managed identity in Entra mode) and prints where everything is.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::{local_entra, upstream_url, BoxError};
use crate::app::settings::{EmulatorAuth, Settings};
use crate::emulator::browser_policy::BrowserPolicy;
use crate::emulator::entra::EntraMode;
use crate::emulator::{self, webpubsub, EmulatorConfig, EmulatorHandle, UpstreamTemplate};
use crate::service::connection_string::DEV_ACCESS_KEY;
use crate::service::entra::TokenSource;
use crate::service::webpubsub::connection_string::WebPubSubConnectionString;
use crate::service::{ConnectionString, Secret};

/// Roles Web PubSub negotiate grants in the local stack when `WEBPUBSUB_TOKEN_ROLES` is not set:
/// join, leave and send to every group.
const LOCAL_WEBPUBSUB_ROLES: [&str; 2] = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"];

/// The emulators the local stack runs, and how the app reaches them.
pub struct LocalStack {
    /// The SignalR emulator's connection string for the app.
    pub connection: ConnectionString,
    /// The app's managed identity for SignalR in Entra mode.
    pub identity: Option<TokenSource>,
    /// The app's managed identity for Web PubSub in Entra mode.
    pub webpubsub_identity: Option<TokenSource>,
    emulator: EmulatorHandle,
    webpubsub: Option<webpubsub::WebPubSubHandle>,
}

impl LocalStack {
    /// Starts both emulators for the app at `app` and points `settings` at them.
    pub async fn start(settings: &mut Settings, app: SocketAddr) -> Result<Self, BoxError> {
        let (emulator, entra) = start_signalr(settings, app).await?;
        announce_local_stack(app, &emulator, settings);
        let (connection, identity) = match &entra {
            None => (
                ConnectionString::parse(&emulator.connection_string())?,
                None,
            ),
            Some(mode) => {
                let (cs, source) = local_entra::identity(&emulator, mode)?;
                local_entra::announce(&cs, mode);
                (cs, Some(source))
            }
        };
        let mut stack = Self {
            connection,
            identity,
            webpubsub_identity: None,
            emulator,
            webpubsub: None,
        };
        stack.start_webpubsub(settings, app, entra).await?;
        Ok(stack)
    }

    /// Stops the emulators (after the app has drained).
    pub async fn shutdown(self) {
        if let Some(handle) = self.webpubsub {
            handle.shutdown().await;
        }
        self.emulator.shutdown().await;
    }

    /// Starts the Web PubSub emulator (when its port is free) and, unless the app has a Web
    /// PubSub connection string of its own, points the app at it.
    async fn start_webpubsub(
        &mut self,
        settings: &mut Settings,
        app: SocketAddr,
        entra: Option<EntraMode>,
    ) -> Result<(), BoxError> {
        let events = upstream_url(app, settings).replace("/api/upstream", "/api/webpubsub/events");
        let browser = BrowserPolicy::new(&settings.cors_origins);
        let mode = entra.clone();
        let Some(wps) = webpubsub::local::start_local(
            settings.listen.bind,
            settings.listen.webpubsub_emulator_port,
            &events,
            entra,
            browser,
        )
        .await?
        else {
            return Ok(());
        };
        announce_webpubsub(&wps, app, &events);
        // Each dashboard links to the other.
        self.emulator
            .link_dashboard("Web PubSub", wps.local_addr().port());
        wps.link_dashboard("SignalR", self.emulator.local_addr().port());
        if settings.webpubsub.connection.is_none() {
            self.use_webpubsub(settings, &wps, mode.as_ref())?;
        }
        self.webpubsub = Some(wps);
        Ok(())
    }

    /// The app's Web PubSub routes talk to the embedded emulator, as its SignalR routes talk to
    /// the SignalR one (with the same managed identity in Entra mode).
    fn use_webpubsub(
        &mut self,
        settings: &mut Settings,
        wps: &webpubsub::WebPubSubHandle,
        entra: Option<&EntraMode>,
    ) -> Result<(), BoxError> {
        settings.webpubsub.connection = Some(match &self.identity {
            None => WebPubSubConnectionString::parse(&wps.connection_string())?,
            Some(source) => {
                self.webpubsub_identity = Some(source.clone());
                if let Some(mode) = entra {
                    local_entra::trust_webpubsub(settings, mode);
                }
                println!("  Web PubSub Entra:  the app uses AuthType=azure.msi for Web PubSub too (the same managed identity, no access key)");
                local_entra::webpubsub(wps)?
            }
        });
        if settings.webpubsub.token_roles.is_empty() {
            // The demo page's group chat works out of the box, as loopback origins pass CORS
            // here; never with a real service.
            settings.webpubsub.token_roles = LOCAL_WEBPUBSUB_ROLES.map(String::from).to_vec();
            println!("  Web PubSub roles:  {} in every client token (local stack; WEBPUBSUB_TOKEN_ROLES narrows them)", LOCAL_WEBPUBSUB_ROLES.join(","));
        }
        Ok(())
    }
}

/// Starts the SignalR emulator with the app as its upstream; its Entra mode, if the settings ask.
async fn start_signalr(
    settings: &mut Settings,
    app: SocketAddr,
) -> Result<(EmulatorHandle, Option<EntraMode>), BoxError> {
    let port = settings.listen.emulator_port;
    let listener = TcpListener::bind(SocketAddr::new(settings.listen.bind, port))
        .await
        .map_err(|e| {
            format!("cannot start the emulator on port {port}: {e} (set EMULATOR_PORT)")
        })?;
    let mut config = EmulatorConfig::new(Secret::new(DEV_ACCESS_KEY));
    config.upstream = vec![UpstreamTemplate::all(upstream_url(app, settings))];
    if let Some(spec) = &settings.emulator_faults {
        config.faults =
            emulator::faults::spec::parse(spec).map_err(|e| format!("EMULATOR_FAULTS: {e}"))?;
    }
    if let EmulatorAuth::Entra { disable_local_auth } = settings.emulator_auth {
        config.entra = Some(EntraMode::generate(disable_local_auth));
    }
    // Browsers reach the emulators through negotiate, from the app's allowed origins.
    config.browser = BrowserPolicy::new(&settings.cors_origins);
    let entra = config.entra.clone();
    let emulator = emulator::start(config, listener).await?;
    if let Some(mode) = &entra {
        // The issuer is the emulator's address, known now.
        local_entra::trust_signalr(settings, mode);
    }
    Ok((emulator, entra))
}

fn announce_local_stack(app: SocketAddr, emulator: &EmulatorHandle, settings: &Settings) {
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
    println!("  Web PubSub dashboard: {base}/ (its connections, sends, event handler calls, invocations and streams, live)");
    println!(
        "  Web PubSub try:    curl -X POST http://{app}/api/webpubsub/actions -H 'content-type: application/json' -d '{{\"actionName\":\"sendToAll\",\"data\":\"hello\",\"dataType\":\"text\"}}'"
    );
}
