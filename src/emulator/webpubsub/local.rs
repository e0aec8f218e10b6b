//! The Web PubSub emulator in the local stack (`cargo run` without connection strings): on
//! the port the settings name (default 8080; when 8080 is taken and no port was named, it is
//! skipped with a warning), its event handler the app's `/api/webpubsub/events`, in Entra ID
//! mode when the SignalR emulator is (`SIGNALR_EMULATOR_ENTRA`, one flag for both).

use std::net::{IpAddr, SocketAddr};

use super::{start, EventHandler, WebPubSubConfig, WebPubSubHandle, DEFAULT_PORT};
use crate::emulator::browser_policy::BrowserPolicy;
use crate::emulator::entra::EntraMode;
use crate::service::Secret;

/// Starts it on `bind` with the development key, sending every event to `events_url`, in the
/// SignalR emulator's Entra mode `entra` when given, for the browsers `browser` allows; `None`
/// (logged) when it cannot listen on the default port. A taken `port` that was named is an
/// error.
pub async fn start_local(
    bind: IpAddr,
    port: Option<u16>,
    events_url: &str,
    entra: Option<EntraMode>,
    browser: BrowserPolicy,
) -> Result<Option<WebPubSubHandle>, Box<dyn std::error::Error + Send + Sync>> {
    let address = SocketAddr::new(bind, port.unwrap_or(DEFAULT_PORT));
    let listener = match (tokio::net::TcpListener::bind(address).await, port) {
        (Ok(listener), _) => listener,
        (Err(e), Some(_)) => {
            return Err(format!("cannot start the Web PubSub emulator on {address}: {e}").into())
        }
        (Err(e), None) => {
            tracing::warn!("Web PubSub emulator not started: cannot listen on {address}: {e} (set WEBPUBSUB_EMULATOR_PORT)");
            return Ok(None);
        }
    };
    let mut config = WebPubSubConfig::new(Secret::new(
        crate::service::connection_string::DEV_ACCESS_KEY,
    ));
    config.event_handlers = vec![EventHandler::parse(events_url)?];
    config.entra = entra;
    config.browser = browser;
    Ok(Some(start(config, listener).await?))
}
