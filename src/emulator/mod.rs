//! The embedded local SignalR Service emulator.

/// Command-line options of `handler emulator`.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {}

/// Runs the emulator until Ctrl-C / SIGTERM.
pub async fn run(_args: EmulatorArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err("the emulator is not built yet".into())
}

/// Placeholder.
pub const DEV_ACCESS_KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH";
/// Placeholder.
pub struct EmulatorConfig;
impl EmulatorConfig {
    /// Placeholder.
    pub fn new(_key: crate::service::Secret) -> Self {
        Self
    }
}
/// Placeholder.
pub struct EmulatorHandle;
impl EmulatorHandle {
    /// Placeholder.
    pub fn connection_string(&self) -> String {
        String::new()
    }
    /// Placeholder.
    pub async fn shutdown(self) {}
}
/// Placeholder.
pub async fn start(
    _c: EmulatorConfig,
    _l: tokio::net::TcpListener,
) -> std::io::Result<EmulatorHandle> {
    Err(std::io::Error::other("not built"))
}
