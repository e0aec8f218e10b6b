//! Running the app: bind 127.0.0.1 on the host's port (or `--port`/`PORT`, default 7071), start the
//! embedded emulator when there is no connection string outside the host, serve until SIGTERM or
//! Ctrl-C and drain in-flight requests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpListener;

use super::{misconfigured, router, AppState};
use crate::emulator::{self, webpubsub, EmulatorConfig, UpstreamTemplate, DEV_ACCESS_KEY};
use crate::http_server::{self, ServerLimits};
use crate::service::{ConnectionString, Secret};
use crate::settings::{ListenAddress, ServeArgs, ServiceMode, Settings};

/// Error type of the binary's commands.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `handler serve`: the function app, plus the emulator in the local stack. A settings error
/// does not crash-loop under the host: the handler stays up and answers every route with it.
/// Only an address it cannot listen on (a bad `PORT`, `BIND_ADDRESS` or `EMULATOR_PORT`
/// outside the host) stops it, with the error on stderr and a non-zero exit.
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

async fn serve_app(settings: Settings) -> Result<(), BoxError> {
    for setting in &settings.listen.ignored {
        tracing::info!("{setting} is ignored under the Functions host: the handler listens on 127.0.0.1, where only the host calls it");
    }
    let listener =
        bind_listener(SocketAddr::new(settings.listen.bind, settings.listen.port)).await?;
    let app_addr = listener.local_addr()?;
    let mut emulator_handle = None;
    let mut webpubsub_handle = None;
    let connection = match &settings.service {
        ServiceMode::Remote(cs) => (**cs).clone(),
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
            let handle = emulator::start(config, listener).await?;
            let cs = ConnectionString::parse(&handle.connection_string())?;
            announce_local_stack(app_addr, &handle, &settings);
            emulator_handle = Some(handle);
            let events =
                upstream_url(app_addr, &settings).replace("/api/upstream", "/api/webpubsub/events");
            webpubsub_handle = webpubsub::local::start_local(settings.listen.bind, &events).await?;
            if let Some(wps) = &webpubsub_handle {
                announce_webpubsub(wps, &events);
            }
            cs
        }
    };
    tracing::info!(address = %app_addr, service = %connection, "function app listening");
    let app = router(AppState::new(settings, Some(&connection)));
    http_server::serve(listener, app, ServerLimits::default(), shutdown_signal()).await?;
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

fn announce_webpubsub(wps: &webpubsub::WebPubSubHandle, events: &str) {
    let cs = wps.connection_string();
    let base = format!("http://{}", wps.local_addr());
    println!("  Web PubSub:        WebPubSubConnectionString={cs}");
    println!(
        "  Web PubSub events: {}",
        events.split('?').next().unwrap_or(events)
    );
    println!("  Web PubSub REST:   {base}/api/hubs/<hub>/:send?api-version=2024-01-01 (Bearer token, aud = the URL)");
}

/// Resolves on SIGTERM (the host stopping us) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down: draining in-flight requests");
}
