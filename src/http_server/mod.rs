//! The HTTP server plumbing shared by the app and the emulator: one accept loop with a
//! connection cap, HTTP/1.1 connections (with upgrades, for WebSockets) under header-read,
//! body-read and idle timeouts ([`ServerLimits`]), and graceful shutdown.
//!
//! * [`cors`]: CORS for the requests it applies to;
//! * [`limits`]: the limits and their defaults;
//! * `connection.rs`: what a connection is doing, which decides its timeouts;
//! * [`body`]: request bodies with a deadline;
//! * [`reset`]: resetting a connection from a handler (fault injection);
//! * [`origins`]: which browser origins and `Host` names a server answers.

pub mod body;
mod connection;
pub mod cors;
pub mod limits;
pub mod origins;
pub mod reset;
mod signal;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};
use tower::ServiceExt;

pub use body::{body_timeout, BodyTimeout};
pub use cors::CrossOriginOnly;
pub use limits::ServerLimits;
pub use reset::ConnectionReset;
pub use signal::stop_signal;

use connection::{BusyBody, ConnectionActivity, Expired, Tracked};

/// Serves `router` on `listener` in a task until `stopping` turns true (how the emulators run).
pub fn spawn_until(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    stopping: &watch::Sender<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let mut stopping = stopping.subscribe();
    tokio::spawn(serve(listener, router, limits, async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    }))
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves, then stops accepting,
/// lets requests in progress finish and returns when every connection has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, _) = watch::channel(false);
    // Every connection task holds a sender; when all are gone, every connection has closed.
    let (alive, mut closed) = mpsc::channel::<()>(1);
    let mut accept_errors = AcceptErrors::default();
    let mut cap_logged_at: Option<tokio::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if cap_logged_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                    tracing::warn!(
                        limit = limits.max_connections,
                        "connection limit reached: new connections wait until one closes"
                    );
                    cap_logged_at = Some(tokio::time::Instant::now());
                }
                tokio::select! {
                    permit = Arc::clone(&slots).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    accept_errors.recovered();
                    (stream, peer)
                }
                Err(e) => {
                    accept_errors.failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let activity = ConnectionActivity::new();
        let reset = Arc::new(reset::ResetSwitch::default());
        let io = Tracked::new(stream, peer, Arc::clone(&activity), reset, permit);
        tokio::spawn(connection(
            io,
            activity,
            router.clone(),
            limits,
            stop.subscribe(),
            alive.clone(),
        ));
    }
    drop(listener);
    stop.send_replace(true);
    drop(alive);
    let _ = closed.recv().await;
    Ok(())
}

/// Serves one connection until it ends, is upgraded, times out or the server stops. Each request
/// carries the peer's address ([`ConnectInfo`]) and a [`ConnectionReset`].
async fn connection(
    io: Tracked,
    activity: Arc<ConnectionActivity>,
    router: Router,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) {
    let (peer, reset) = (io.peer(), io.reset_switch());
    let service_activity = Arc::clone(&activity);
    let service_reset = ConnectionReset(Arc::clone(&reset));
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let busy = service_activity.request();
        let mut request = request
            .map(|incoming| Body::new(body::DeadlineBody::new(incoming, limits.body_read_timeout)));
        request.extensions_mut().insert(service_reset.clone());
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await?;
            // hyper takes any body type: no second box around the router's.
            Ok::<_, Infallible>(response.map(|b| BusyBody::new(b, busy)))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The head timeout is ours (`ConnectionActivity`): hyper's would also cut idle keep-alive connections.
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection ended with an error: {e}");
                }
                return;
            }
            expired = activity.expired(&limits), if !stopping => {
                match expired {
                    Expired::Header => tracing::debug!(
                        "closing a connection: no complete request head within {:?}",
                        limits.header_read_timeout
                    ),
                    Expired::Idle => tracing::debug!(
                        "closing a connection idle for {:?}",
                        limits.idle_timeout
                    ),
                }
                return;
            }
            () = reset.requested() => {
                tracing::debug!("resetting a connection as a handler asked");
                return;
            }
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Failed accepts (e.g. too many open files): logged once per run of failures, with a growing
/// pause between attempts so that the loop does not spin.
#[derive(Default)]
struct AcceptErrors {
    failures: u64,
}

impl AcceptErrors {
    const FIRST_PAUSE: Duration = Duration::from_millis(10);
    const MAX_PAUSE: Duration = Duration::from_secs(1);

    async fn failed(&mut self, error: &std::io::Error) {
        use std::io::ErrorKind;
        // The client gave up before we accepted: nothing wrong with us.
        if matches!(
            error.kind(),
            ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
        ) {
            return;
        }
        if self.failures == 0 {
            tracing::error!(
                "cannot accept connections: {error}; retrying, not logged again until accepting works (raise the open-file limit if it says too many open files)"
            );
        }
        self.failures += 1;
        let exponent = u32::try_from(self.failures.min(8)).unwrap_or(8) - 1;
        tokio::time::sleep((Self::FIRST_PAUSE * 2u32.pow(exponent)).min(Self::MAX_PAUSE)).await;
    }

    fn recovered(&mut self) {
        if self.failures > 0 {
            tracing::info!(failures = self.failures, "accepting connections again");
            self.failures = 0;
        }
    }
}
