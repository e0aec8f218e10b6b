//! How both emulators run: serve their routes on a listener until told to stop, sweep their
//! state once a second, name the address an app's connection string points at, and stop in
//! order (stop signal, the product's own draining, janitor, then the listener).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::http_server::ServerLimits;

/// How long stopping waits for the product's draining, and then for the listener.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// A running emulator's server: its address, stop signal, server task and janitor.
pub struct EmulatorServer {
    local_addr: SocketAddr,
    stopping: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    janitor: JoinHandle<()>,
}

impl EmulatorServer {
    /// Serves `routes` on `listener` under `limits` until `stopping` becomes true, and runs
    /// `janitor` every second meanwhile.
    pub fn start(
        listener: TcpListener,
        routes: Router,
        limits: ServerLimits,
        stopping: &watch::Sender<bool>,
        mut janitor: impl FnMut() + Send + 'static,
    ) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let server = crate::http_server::spawn_until(listener, routes, limits, stopping);
        let janitor = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                janitor();
            }
        });
        Ok(Self {
            local_addr,
            stopping: stopping.clone(),
            server,
            janitor,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The host an app reaches it at: `127.0.0.1` for a wildcard or the loopback address, an
    /// IPv6 address in brackets.
    pub fn host(&self) -> String {
        match self.local_addr.ip() {
            ip if ip.is_unspecified() || ip == IpAddr::V4(Ipv4Addr::LOCALHOST) => {
                "127.0.0.1".to_string()
            }
            IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        }
    }

    /// Stops: raises the stop signal, waits for `drained` (clients told, sessions over), stops
    /// the janitor, then lets requests in progress finish. Waits at most a few seconds for each.
    pub async fn stop(self, drained: impl Future<Output = ()>) {
        self.stopping.send_replace(true);
        let _ = tokio::time::timeout(STOP_WAIT, drained).await;
        self.janitor.abort();
        let mut server = self.server;
        if tokio::time::timeout(STOP_WAIT, &mut server).await.is_err() {
            server.abort();
        }
    }
}
