//! Running the app: bind 127.0.0.1 on the host's port (or `--port`/`PORT`, default 7071), start the
//! embedded emulator when there is no connection string outside the host, serve until SIGTERM or
//! Ctrl-C and drain in-flight requests.

mod local_entra;
mod local_stack;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpListener;

use crate::app::settings::{ListenAddress, ServeArgs, ServiceMode, Settings};
use crate::app::{misconfigured, router, AppState};
use crate::http_server::{self, ServerLimits};
use crate::service::ConnectionString;
use local_stack::LocalStack;

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
    let (connection, stack) = match &settings.service {
        ServiceMode::Remote(cs) => (Some((**cs).clone()), None),
        ServiceMode::NotConfigured | ServiceMode::NamedEndpoints => (None, None),
        ServiceMode::LocalEmulator => {
            let stack = LocalStack::start(&mut settings, app_addr).await?;
            (Some(stack.connection.clone()), Some(stack))
        }
    };
    log_configuration(&settings, connection.as_ref(), app_addr);
    let (identity, webpubsub_identity) = stack.as_ref().map_or((None, None), |s| {
        (s.identity.clone(), s.webpubsub_identity.clone())
    });
    let app = router(AppState::with_identities(
        settings,
        connection.as_ref(),
        identity,
        webpubsub_identity,
    ));
    http_server::serve(listener, app, ServerLimits::default(), stop).await?;
    if let Some(stack) = stack {
        stack.shutdown().await;
    }
    Ok(())
}

/// The start-up log lines: the endpoints, where the app listens, and which services it talks to.
fn log_configuration(settings: &Settings, connection: Option<&ConnectionString>, app: SocketAddr) {
    for endpoint in &settings.endpoints {
        tracing::info!(name = %endpoint.name, kind = %endpoint.kind, service = %endpoint.connection, "SignalR endpoint");
    }
    match connection {
        Some(cs) => tracing::info!(address = %app, service = %cs, "function app listening"),
        None if !settings.endpoints.is_empty() => {
            tracing::info!(address = %app, "function app listening")
        }
        None => {
            tracing::info!(address = %app, "function app listening (SignalR not configured: AzureSignalRConnectionString is not set)")
        }
    }
    if let Some(cs) = &settings.webpubsub.connection {
        tracing::info!(webpubsub = %cs, "Web PubSub configured");
    }
}

/// The app's `/api/upstream` as the embedded emulator calls it: on loopback when the app listens
/// on every address, with the first function key when keys are configured.
pub(crate) fn upstream_url(app: SocketAddr, settings: &Settings) -> String {
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

/// Resolves on SIGTERM (the host stopping us) or Ctrl-C, with the handlers installed now.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let stop = http_server::stop_signal();
    async move {
        stop.await;
        tracing::info!("shutting down: draining in-flight requests");
    }
}
