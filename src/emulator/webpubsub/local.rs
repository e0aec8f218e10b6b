//! The Web PubSub emulator in the local stack (`cargo run` without connection strings): on
//! `WEBPUBSUB_EMULATOR_PORT` (default 8080; when 8080 is taken and the variable is unset, it is
//! skipped with a warning), its event handler the app's `/api/webpubsub/events`.

use std::net::{IpAddr, SocketAddr};

use super::{start, EventHandler, WebPubSubConfig, WebPubSubHandle, DEFAULT_PORT};
use crate::service::Secret;

/// Starts it on `bind` with the development key, sending every event to `events_url`; `None`
/// (logged) when it cannot listen on the default port. A bad `WEBPUBSUB_EMULATOR_PORT` or a taken
/// port it names is an error.
pub async fn start_local(
    bind: IpAddr,
    events_url: &str,
) -> Result<Option<WebPubSubHandle>, Box<dyn std::error::Error + Send + Sync>> {
    let port = match std::env::var("WEBPUBSUB_EMULATOR_PORT") {
        Ok(raw) if !raw.trim().is_empty() => Some(raw.trim().parse::<u16>().map_err(|_| {
            format!("WEBPUBSUB_EMULATOR_PORT must be a port number (0-65535), got {raw:?}")
        })?),
        _ => None,
    };
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
    Ok(Some(start(config, listener).await?))
}
