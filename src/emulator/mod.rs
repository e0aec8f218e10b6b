//! The embedded local SignalR Service emulator.

/// Command-line options of `handler emulator`.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {}

/// Runs the emulator until Ctrl-C / SIGTERM.
pub async fn run(_args: EmulatorArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err("the emulator is not built yet".into())
}
