//! The signal that stops a server: Ctrl-C (SIGINT) or SIGTERM (what the Functions host, systemd
//! and `kill` send). The handlers are installed when [`stop_signal`] is called, not when its
//! future is first polled: a signal arriving between the ready line and that first poll would
//! otherwise take the default action and kill the process without a clean stop.

use std::future::Future;
use std::pin::Pin;

/// Resolves on SIGINT or SIGTERM (elsewhere than Unix: on Ctrl-C). Needs a Tokio runtime.
pub fn stop_signal() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                return Box::pin(async move {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                });
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(
                    "cannot install the SIGINT/SIGTERM handlers ({e}): only Ctrl-C stops cleanly"
                );
            }
        }
    }
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
